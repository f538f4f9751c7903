"""transformers' ``apply_chat_template(tokenize=False)`` reproduced with jinja2, to run official chat templates.

The environment is transformers' own (utils/chat_template_utils.py, 5.x): an ImmutableSandboxedEnvironment with
trim_blocks, lstrip_blocks and the loopcontrols extension; Jinja's default keep_trailing_newline=False (one
trailing newline of the template source is dropped); a ``tojson`` that is plain ``json.dumps`` (Jinja's own
escapes <>&' as HTML); the globals ``raise_exception`` (a TemplateError) and ``strftime_now``. The context is
``messages`` (keys whose value is None dropped), ``tools``, ``documents``, ``add_generation_prompt``, the special
tokens (bos_token, eos_token, ...) and any extra template kwargs (e.g. Llama 3.2's ``date_string``).

Standalone on purpose (jinja2 and the standard library only): tests load it by path.
"""

from __future__ import annotations

import json
from datetime import datetime

import jinja2
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment


def _raise_exception(message: str):
    raise jinja2.exceptions.TemplateError(message)


def _tojson(value, ensure_ascii: bool = False, indent=None, separators=None, sort_keys: bool = False) -> str:
    return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def make_env() -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    env.filters["tojson"] = _tojson
    env.globals["raise_exception"] = _raise_exception
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    return env


def render(template_text: str, messages: list[dict], add_generation_prompt: bool = True,
           special_tokens: dict | None = None, tools: list | None = None, documents: list | None = None,
           **kwargs) -> str:
    """The prompt the template makes of `messages`; raises jinja2.TemplateError where the template refuses."""
    context = {**(special_tokens or {}), **kwargs}
    return make_env().from_string(template_text).render(
        messages=[{k: v for k, v in m.items() if v is not None} for m in messages],
        tools=tools, documents=documents, add_generation_prompt=add_generation_prompt, **context)
