"""Prompt templates: ``{var}`` (Python ``str.format``) or ``{{ var }}`` (promptfoo/nunjucks-style), text or chat.

A template containing a ``{{ name }}`` placeholder is read nunjucks-style: only ``{{ name }}`` (and ``{{ a.b }}``)
are replaced and single braces stay literal. Otherwise it is ``str.format``. Nunjucks filters and tags are
refused, not half-rendered, and a variable the case lacks is an error, never an empty string.

A promptfoo import asks for promptfoo's nunjucks instead (``promptfoo=True``): filters and tags run, through
Jinja2's sandbox (the ``[promptfoo]`` extra; nunjucks is a port of Jinja2) with nunjucks' ``dump`` and
promptfoo's ``load`` filters added and the trailing newline kept, and every value prints as JavaScript prints
it (``true``, ``a,b`` for a list, ``[object Object]``, nothing for a missing one).
"""

from __future__ import annotations

import functools
import json
import re
import string
from collections.abc import Mapping
from typing import Any

from ._source import Location
from ._values import js_json, js_text

__all__ = ["Template", "TemplateError", "compile_template"]


_NJ_PLAIN = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)\s*\}\}")
_NJ_ANY = re.compile(r"\{\{(.*?)\}\}|\{%(.*?)%\}", re.DOTALL)


class TemplateError(Exception):
    """A template is badly written, or a case lacks a variable it uses.

    Attributes:
        message: what is wrong and the fix.
        var: the missing variable, when that is the problem.
    """

    def __init__(self, message: str, var: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.var = var


class Template:
    """A prompt template, text or a chat list, in ``{var}`` or ``{{ var }}`` syntax (see the module docs).

    Suite loaders build one with :func:`compile_template`, which reports bad syntax as a ConfigError.

    Args:
        raw: the template text, or chat messages whose ``content`` are templates.
        style: ``"nunjucks"`` (only ``{{ var }}`` is a placeholder) or ``"format"`` (``str.format``); None
            reads it from the text: nunjucks when a ``{{ var }}`` placeholder occurs.

    Raises:
        TemplateError: bad syntax, at construction; a missing variable, at render.

    Example:
        >>> Template("Review: {{ text }} {json}").render({"text": "Great"})
        'Review: Great {json}'
    """

    def __init__(self, raw: str | list[dict[str, Any]], style: str | None = None, *, promptfoo: bool = False) -> None:
        self.raw = raw
        self.promptfoo = promptfoo
        self._jinja: dict[str, Any] = {}  # text -> compiled Jinja2 template, for promptfoo's filters and tags
        texts = [raw] if isinstance(raw, str) else [str(m.get("content", "")) for m in raw]
        self.style = style or ("nunjucks" if any(_NJ_PLAIN.search(t) for t in texts) else "format")
        for text in texts:
            self._check(text)

    def _check(self, text: str) -> None:
        if self.style == "nunjucks" and self.promptfoo:
            if any(not _NJ_PLAIN.fullmatch(m.group(0)) for m in _NJ_ANY.finditer(text)):
                self._jinja[text] = _compile_nunjucks(text)
            return
        if self.style == "nunjucks":
            for match in _NJ_ANY.finditer(text):
                if match.group(2) is not None:
                    raise TemplateError(
                        f"the template uses a nunjucks tag {{%{match.group(2)}%}}, which modelswap does not run. "
                        "Use plain {{ var }} placeholders, or render the variants into separate cases."
                    )
                if not _NJ_PLAIN.fullmatch(match.group(0)):
                    raise TemplateError(
                        f"the template uses {match.group(0)!r}; only plain {{{{ var }}}} placeholders are supported "
                        "(no filters or expressions). Compute the value into the case's vars instead."
                    )
            return
        try:
            fields = [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]
        except ValueError as exc:
            raise TemplateError(
                f"the template is not valid str.format text ({exc}). Write {{{{ and }}}} for literal braces, "
                "or use {{ var }} placeholders (then single braces stay literal)."
            ) from None
        for name in fields:
            if name == "" or name.isdigit():
                raise TemplateError(
                    "the template has a positional field {} or {0}: name every placeholder, such as {text}."
                )

    def render(self, vars: Mapping[str, Any]) -> str | list[dict[str, Any]]:
        """The template filled from ``vars``: text, or the chat list with every ``content`` filled."""
        if isinstance(self.raw, str):
            return self._render(self.raw, vars)
        return [{**m, "content": self._render(str(m.get("content", "")), vars)} for m in self.raw]

    def _render(self, text: str, vars: Mapping[str, Any]) -> str:
        compiled = self._jinja.get(text)
        if compiled is not None:
            try:
                return str(compiled.render(dict(vars)))
            except Exception as exc:  # noqa: BLE001 (Jinja2 raises anything a filter raises; name it, then stop)
                raise TemplateError(f"the template could not be rendered ({exc.__class__.__name__}: {exc})") from None
        if self.style == "nunjucks" and self.promptfoo:
            # nunjucks prints what it does not find as nothing.
            return _NJ_PLAIN.sub(lambda m: js_text(v if (v := _lookup(vars, m.group(1))) is not _MISSING else None), text)
        if self.style == "nunjucks":
            return _NJ_PLAIN.sub(lambda m: _lookup_text(vars, m.group(1)), text)
        try:
            return text.format_map(_StrictVars(vars))
        except TemplateError:
            raise
        except (IndexError, AttributeError, ValueError, TypeError, KeyError) as exc:
            raise TemplateError(f"the template could not be filled ({exc.__class__.__name__}: {exc})") from None


class _StrictVars(dict):  # type: ignore[type-arg]
    def __missing__(self, key: str) -> Any:
        raise TemplateError(f"the prompt template uses {{{key}}}, which the case's vars lack", var=key)


def _lookup_text(vars: Mapping[str, Any], dotted: str) -> str:
    value = _lookup(vars, dotted)
    if value is _MISSING:
        raise TemplateError(f"the prompt template uses {{{{ {dotted} }}}}, which the case's vars lack", var=dotted)
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value, ensure_ascii=False, default=str)


_MISSING = object()


def _lookup(vars: Mapping[str, Any], dotted: str) -> Any:
    """The value at ``a.b.0``, or ``_MISSING``."""
    value: Any = vars
    for part in dotted.split("."):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return _MISSING
    return value


def _js_finalize(value: Any) -> Any:
    # Jinja2 hands every {{ }} result here; Undefined prints as nothing by itself.
    import jinja2

    return value if isinstance(value, jinja2.Undefined) else js_text(value)


def _compile_nunjucks(text: str) -> Any:
    """``text`` as a Jinja2 template that renders as promptfoo's nunjucks does."""
    try:
        env = _nunjucks_environment()
    except ImportError:
        raise TemplateError(
            "the template uses nunjucks filters or tags, which modelswap runs with Jinja2: pip install "
            "'modelswap[promptfoo]' (or jinja2), or use plain {{ var }} placeholders."
        ) from None
    import jinja2

    try:
        return env.from_string(text)
    except jinja2.TemplateError as exc:
        raise TemplateError(f"the template is not valid nunjucks ({exc})") from None


@functools.lru_cache(maxsize=1)
def _nunjucks_environment() -> Any:
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(autoescape=False, keep_trailing_newline=True, finalize=_js_finalize)
    # nunjucks' dump is JSON.stringify; promptfoo adds load (JSON.parse).
    env.filters["dump"] = lambda value, *_: js_json(value)
    env.filters["load"] = lambda value: json.loads(value)
    # Items print as JavaScript prints them (2.0 as 2), as nunjucks' join does.
    env.filters["join"] = lambda value, d="", attribute=None: d.join(
        js_text(v.get(attribute) if attribute and isinstance(v, Mapping) else v) for v in value)
    return env


def compile_template(raw: Any, loc: Location, key: str, style: str | None = None) -> Template:
    """A :class:`Template` from a suite's ``key`` field (text or a chat list), bad syntax reported there.

    Raises:
        ConfigError: the template is badly written, naming the file, line and ``key``.
    """
    try:
        return Template(raw, style)
    except TemplateError as exc:
        raise loc.error(exc.message, key) from None
