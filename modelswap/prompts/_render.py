"""Pure-Python renderers that reproduce each family's official chat template byte for byte.

Each renderer mirrors one official template (in ``tests/data/contracts/templates``; SmolLM2's in
``tests/data/templates``) as transformers' ``apply_chat_template(tokenize=False)`` runs it (``trim_blocks``,
``lstrip_blocks``, Jinja's ``trim`` filter being ``str.strip``, message keys whose value is None dropped). Where
the template calls ``raise_exception`` the renderer raises :class:`_Refusal`, which :func:`render` turns into a
:class:`~modelswap.PromptFormatError` that quotes the template's own words and says how to fix the conversation.

Scope: string ``content`` and the roles ``system``, ``user`` and ``assistant``. Tool definitions, tool calls and
tool results are refused with a clear error rather than rendered approximately: send tool conversations to a
chat endpoint, which applies the real template server-side.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal, cast

from modelswap._errors import PromptFormatError
from modelswap.prompts._families import PLAIN, Family, resolve, special_token_regex

__all__ = ["ZERO_WIDTH_SPACE", "SpecialTokens", "render"]

SpecialTokens = Literal["refuse", "escape", "allow"]

#: What ``special_tokens="escape"`` inserts after the first character of every special token in message text.
ZERO_WIDTH_SPACE = "\u200b"

_ROLES = ("system", "user", "assistant")
_TOOL_ROLES = frozenset({"tool", "ipython", "function", "observation", "tool_results"})
# Template variables we accept. A value of None counts as "not given" (transformers passes tools=None itself).
_KWARGS = ("date_string", "enable_thinking")
_TOOL_KWARGS = ("tools", "documents", "custom_tools", "builtin_tools", "tools_in_user_message")
_ALTERNATE = "Conversation roles must alternate user/assistant/user/assistant/..."
_HEADER = "<|start_header_id|>{}<|end_header_id|>\n\n"
_Renderer = Callable[[list["_Msg"], bool, str, str, Mapping[str, Any]], str]
_QWEN_SYSTEM = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."
# The chat template inside SmolLM2-135M-Instruct's GGUF (and its tokenizer_config.json) writes this when the
# conversation does not start with a system message.
_SMOLLM2_SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class _Msg:
    """One validated message. ``index`` is its position in the caller's list, for error messages."""

    index: int
    role: str
    content: str
    metadata: str | None = None  # GLM-4 renders it right after the role token
    reasoning: str | None = None  # GLM-4.6 `reasoning_content`


class _Refusal(Exception):
    """The official template would call ``raise_exception(official)`` for this conversation."""

    def __init__(self, official: str, index: int | None, problem: str, advice: str) -> None:
        super().__init__(official)
        self.official = official
        self.index = index
        self.problem = problem
        self.advice = advice


# -- the public entry point ---------------------------------------------------------------------------------------


def render(
    format: str,
    messages: Iterable[Mapping[str, Any]],
    add_generation_prompt: bool = True,
    *,
    include_bos: bool = True,
    special_tokens: SpecialTokens = "refuse",
    **template_kwargs: Any,
) -> str:
    """Render chat messages exactly as the family's official chat template does.

    The result is byte for byte what ``tokenizer.apply_chat_template(messages, tokenize=False,
    add_generation_prompt=...)`` returns for that model, checked against golden renders of the official
    templates.

    Args:
        format: a format name or alias from :func:`modelswap.prompts.formats` (``"llama3.1"``, ``"gemma"``,
            ``"chatml"``, ``"plain"``, ...). Case-insensitive.
        messages: ``{"role", "content"}`` mappings; roles ``system``, ``user`` and ``assistant``, content a
            string. Keys whose value is None are ignored, as transformers does. GLM-4 also renders a
            ``metadata`` key and GLM-4.6 a ``reasoning_content`` key, as their templates do.
        add_generation_prompt: end with the header that opens the assistant's turn. Mistral's templates have
            none and ignore it.
        include_bos: keep the BOS text the template writes first (``<|begin_of_text|>``, ``<bos>``, ``<s>``).
            Pass False for servers that add BOS themselves when they tokenize a string prompt (llama.cpp
            ``/completion``, vLLM/TGI ``/v1/completions``), or the model sees it twice. No effect on families
            without a BOS (Qwen, GLM, ChatML, plain).
        special_tokens: what to do when message text contains one of the family's special tokens
            (:attr:`Family.special_tokens`), which the server would otherwise read as a control token, letting
            the text forge a turn. ``"refuse"`` (the default) raises; ``"escape"`` inserts a zero-width space
            (U+200B) after the token's first character (``<|eot_id|>`` becomes ``<\\u200b|eot_id|>``), which
            no tokenizer reads as the token; ``"allow"`` passes the text through unchanged, as the official
            templates themselves do.
        **template_kwargs: extra template variables. ``date_string`` (Llama 3.1 defaults to ``"26 Jul
            2024"``, Llama 3.2 to today's date as ``"%d %b %Y"``: pin it for reproducible prompts) and
            ``enable_thinking`` (GLM-4.6: False appends ``/nothink`` to user turns and an empty think block
            to the generation prompt). Formats whose template does not use a variable ignore it. Tool
            variables (``tools``, ``documents``, ...) are accepted only as None.

    Returns:
        The prompt text.

    Raises:
        PromptFormatError: an unknown format; an empty list, or messages that are not system/user/assistant
            mappings with string content; a special token in message text under ``special_tokens="refuse"``;
            or a conversation the official template refuses (``format`` and ``index`` name the culprit; the
            message quotes the template's own error and says how to fix it).

    Example:
        >>> render("gemma3", [{"role": "user", "content": "Hi"}], include_bos=False)
        '<start_of_turn>user\\nHi<end_of_turn>\\n<start_of_turn>model\\n'
    """
    fam = resolve(format)
    if special_tokens not in ("refuse", "escape", "allow"):
        raise PromptFormatError(
            f"special_tokens must be 'refuse', 'escape' or 'allow', not {special_tokens!r}.",
            format=format,
            index=None,
        )
    kwargs = _check_kwargs(format, template_kwargs)
    msgs = _normalise(format, fam, messages)
    msgs = _screen(format, fam, msgs, special_tokens)
    bos = fam.bos if include_bos else ""
    try:
        return _RENDERERS[fam.name](msgs, bool(add_generation_prompt), bos, fam.eos, kwargs)
    except _Refusal as refusal:
        where = f"message {refusal.index} is " if refusal.index is not None else ""
        raise PromptFormatError(
            f"{fam.name}: {where}{refusal.problem} The official template raises {refusal.official!r}. "
            f"{refusal.advice}",
            format=format,
            index=refusal.index,
            template_error=refusal.official,
        ) from None


# -- input checks -------------------------------------------------------------------------------------------------


def _check_kwargs(fmt: str, given: Mapping[str, Any]) -> dict[str, Any]:
    """The template variables that were really given; refuses tool variables and unknown names (typos)."""
    kwargs: dict[str, Any] = {}
    for name, value in given.items():
        if value is None:
            continue
        if name in _TOOL_KWARGS:
            raise PromptFormatError(
                f"{name}= is not supported: modelswap renders prompts without tool definitions. Send tool "
                "conversations to a chat endpoint, which applies the model's own template server-side.",
                format=fmt,
                index=None,
            )
        if name not in _KWARGS:
            import difflib  # error path only

            close = difflib.get_close_matches(name, _KWARGS, n=1)
            hint = f"Did you mean {close[0]!r}? " if close else ""
            raise PromptFormatError(
                f"Unknown template variable {name!r}. {hint}Supported: {', '.join(_KWARGS)}.",
                format=fmt,
                index=None,
            )
        if name == "date_string" and not isinstance(value, str):
            raise PromptFormatError(
                f"date_string must be a string such as '26 Jul 2024', not {type(value).__name__} {value!r}.",
                format=fmt,
                index=None,
            )
        kwargs[name] = value
    return kwargs


def _normalise(fmt: str, fam: Family, messages: Iterable[Mapping[str, Any]]) -> list[_Msg]:
    """Validated copies of ``messages``: known roles, string content, None-valued keys dropped."""
    if isinstance(messages, (str, bytes)) or not isinstance(messages, Iterable):
        raise PromptFormatError(
            f"messages must be a list of {{'role', 'content'}} mappings, not {type(messages).__name__}; "
            "wrap a single prompt as [{'role': 'user', 'content': text}].",
            format=fmt,
            index=None,
        )
    out: list[_Msg] = []
    for i, raw in enumerate(messages):
        if not isinstance(raw, Mapping):
            raise PromptFormatError(
                f"Message {i} must be a mapping with 'role' and 'content', not {type(raw).__name__}.",
                format=fmt,
                index=i,
            )
        # transformers drops None-valued keys before rendering; so do we (`tool_calls: None` is common).
        m = {k: v for k, v in raw.items() if v is not None}
        role = m.get("role")
        if role not in _ROLES:
            if role in _TOOL_ROLES:
                why = ("tool results are not rendered client-side; send tool conversations to a chat endpoint, "
                       "which applies the model's own template.")
            elif role == "developer":
                why = "use role 'system' for instructions; the open-weight templates have no developer role."
            else:
                why = "roles must be 'system', 'user' or 'assistant'."
            raise PromptFormatError(f"Message {i} has role {role!r}: {why}", format=fmt, index=i)
        if "tool_calls" in m or "tools" in m:
            raise PromptFormatError(
                f"Message {i} carries {'tool_calls' if 'tool_calls' in m else 'tools'}, which modelswap does not "
                "render client-side; send tool conversations to a chat endpoint.",
                format=fmt,
                index=i,
            )
        content = m.get("content")
        if not isinstance(content, str):
            if content is None:
                why = "has no content"
            elif isinstance(content, list):
                why = "has a list of content parts; join the text parts into one string"
            else:
                why = f"has {type(content).__name__} content; content must be a string"
            raise PromptFormatError(f"Message {i} ({role}) {why}.", format=fmt, index=i)
        metadata = reasoning = None
        if fam.name == "glm4" and "metadata" in m:
            metadata = str(m["metadata"])  # Jinja renders any value with str()
        if fam.name == "glm4.6" and isinstance(m.get("reasoning_content"), str):
            reasoning = m["reasoning_content"]  # the template ignores a non-string one
        out.append(_Msg(i, role, content, metadata, reasoning))
    if not out:
        raise PromptFormatError(
            "messages is empty; give at least one user message.", format=fmt, index=None
        )
    return out


def _screen(fmt: str, fam: Family, msgs: list[_Msg], policy: SpecialTokens) -> list[_Msg]:
    """Refuse or escape the family's special tokens inside message text (``policy`` ``"allow"`` skips this)."""
    pattern = special_token_regex(fam)
    if pattern is None or policy == "allow":
        return msgs

    def clean(m: _Msg, what: str, text: str | None) -> str | None:
        if text is None:
            return None
        hit = pattern.search(text)
        if hit is None:
            return text
        if policy == "refuse":
            raise PromptFormatError(
                f"Message {m.index} ({m.role}) has {hit.group()!r} in its {what}: that is a {fam.name} special "
                "token, and passed through it would be read as a control token and could forge a turn. Remove "
                "it, pass special_tokens='escape' to break it with a zero-width space, or special_tokens='allow' "
                "if the text is trusted and the token is meant.",
                format=fmt,
                index=m.index,
                token=hit.group(),
            )
        while hit is not None:  # one pass always suffices; the loop only guarantees it
            text = pattern.sub(lambda h: h.group()[0] + ZERO_WIDTH_SPACE + h.group()[1:], text)
            hit = pattern.search(text)
        return text

    out: list[_Msg] = []
    for m in msgs:
        content = cast(str, clean(m, "content", m.content))  # a string in, a string out
        out.append(replace(m, content=content, metadata=clean(m, "metadata", m.metadata),
                           reasoning=clean(m, "reasoning_content", m.reasoning)))
    return out


# -- refusal helpers ----------------------------------------------------------------------------------------------

_MERGE = ("Start with a user message, alternate user and assistant, and merge consecutive messages of the same "
          "role into one.")


def _alternation(m: _Msg, position: int, official: str, no_system: str | None) -> _Refusal:
    """The refusal for a message that breaks user/assistant alternation at loop ``position``."""
    wanted = "a user" if position % 2 == 0 else "an assistant"
    found = {"system": "a system", "user": "a user", "assistant": "an assistant"}[m.role]
    problem = f"{found} message where the template needs {wanted} message."
    if m.role == "system":
        return _Refusal(official, m.index, problem, no_system or "Give at most one system message, and put it first.")
    return _Refusal(official, m.index, problem, _MERGE)


# -- Llama 3 ------------------------------------------------------------------------------------------------------


def _llama3(msgs: list[_Msg], gen: bool, bos: str, eos: str, kw: Mapping[str, Any]) -> str:
    out = [bos]
    for m in msgs:
        out.append(_HEADER.format(m.role) + m.content.strip() + "<|eot_id|>")
    if gen:
        out.append(_HEADER.format("assistant"))
    return "".join(out)


def _llama31_body(msgs: list[_Msg], gen: bool, bos: str, date: str) -> str:
    # 3.1 and 3.2 always open with a system turn carrying the knowledge cutoff and a date, system message or not.
    if msgs[0].role == "system":
        system, rest = msgs[0].content.strip(), msgs[1:]
    else:
        system, rest = "", msgs
    out = [bos, _HEADER.format("system"), "Cutting Knowledge Date: December 2023\n", f"Today Date: {date}\n\n",
           system, "<|eot_id|>"]
    for m in rest:
        out.append(_HEADER.format(m.role) + m.content.strip() + "<|eot_id|>")
    if gen:
        out.append(_HEADER.format("assistant"))
    return "".join(out)


def _llama31(msgs: list[_Msg], gen: bool, bos: str, eos: str, kw: Mapping[str, Any]) -> str:
    return _llama31_body(msgs, gen, bos, kw.get("date_string", "26 Jul 2024"))


def _llama32(msgs: list[_Msg], gen: bool, bos: str, eos: str, kw: Mapping[str, Any]) -> str:
    # The template calls strftime_now("%d %b %Y"); spelled out so the host locale cannot change the month name.
    if "date_string" in kw:
        date = kw["date_string"]
    else:
        import datetime  # only Llama 3.2 without a date_string needs it

        today = datetime.datetime.now()
        date = f"{today.day:02d} {_MONTHS[today.month - 1]} {today.year:04d}"
    return _llama31_body(msgs, gen, bos, date)


# -- Gemma --------------------------------------------------------------------------------------------------------

_GEMMA_NO_SYSTEM = ("Gemma 2 has no system role: put the instructions at the start of the first user message, or "
                    "use gemma3, which folds a system message into the first user turn.")


def _gemma_turn(role: str, text: str) -> str:
    return f"<start_of_turn>{'model' if role == 'assistant' else role}\n{text}<end_of_turn>\n"


def _gemma2(msgs: list[_Msg], gen: bool, bos: str, eos: str, kw: Mapping[str, Any]) -> str:
    if msgs[0].role == "system":
        raise _Refusal("System role not supported", msgs[0].index, "a system message.", _GEMMA_NO_SYSTEM)
    out = [bos]
    for pos, m in enumerate(msgs):
        # A system message at an odd position passes this check and renders as a "system" turn, as upstream.
        if (m.role == "user") != (pos % 2 == 0):
            raise _alternation(m, pos, _ALTERNATE, _GEMMA_NO_SYSTEM)
        out.append(_gemma_turn(m.role, m.content.strip()))
    if gen:
        out.append("<start_of_turn>model\n")
    return "".join(out)


def _gemma3(msgs: list[_Msg], gen: bool, bos: str, eos: str, kw: Mapping[str, Any]) -> str:
    # A leading system message is prepended, untrimmed, to the first turn (whatever its role).
    if msgs[0].role == "system":
        prefix, loop = msgs[0].content + "\n\n", msgs[1:]
    else:
        prefix, loop = "", msgs
    out = [bos]
    for pos, m in enumerate(loop):
        if (m.role == "user") != (pos % 2 == 0):
            raise _alternation(m, pos, _ALTERNATE, None)
        out.append(_gemma_turn(m.role, (prefix if pos == 0 else "") + m.content.strip()))
    if gen:
        out.append("<start_of_turn>model\n")
    return "".join(out)


# -- ChatML (Qwen 2.5, SmolLM2 and plain) ------------------------------------------------------------------------


def _chatml_turn(m: _Msg) -> str:
    return f"<|im_start|>{m.role}\n{m.content}<|im_end|>\n"


def _chatml(msgs: list[_Msg], gen: bool, bos: str, eos: str, kw: Mapping[str, Any]) -> str:
    # Plain ChatML: every turn as written, never trimmed.
    out = [_chatml_turn(m) for m in msgs]
    if gen:
        out.append("<|im_start|>assistant\n")
    return "".join(out)


def _chatml_with_default_system(system: str) -> _Renderer:
    """ChatML whose template injects ``system`` when the conversation does not start with a system turn
    (Qwen 2.5 and SmolLM2 differ only in that text)."""

    def render(msgs: list[_Msg], gen: bool, bos: str, eos: str, kw: Mapping[str, Any]) -> str:
        head = "" if msgs[0].role == "system" else f"<|im_start|>system\n{system}<|im_end|>\n"
        return head + _chatml(msgs, gen, bos, eos, kw)

    return render


_qwen25 = _chatml_with_default_system(_QWEN_SYSTEM)
_smollm2 = _chatml_with_default_system(_SMOLLM2_SYSTEM)


# -- Mistral ------------------------------------------------------------------------------------------------------

_MISTRAL_NO_SYSTEM = ("Mistral v0.2 has no system role: put the instructions at the start of the first user "
                      "message, or use mistral-nemo, whose template takes a system prompt.")
_V02_ROLES = "Only user and assistant roles are supported!"
_NEMO_ALTERNATE = ("After the optional system message, conversation roles must alternate "
                   "user/assistant/user/assistant/...")
_NEMO_ROLES = ("Only user and assistant roles are supported, with the exception of an initial optional system "
               "message!")


def _mistral_v02(msgs: list[_Msg], gen: bool, bos: str, eos: str, kw: Mapping[str, Any]) -> str:
    # No generation prompt: a prompt ending in [/INST] already hands the turn to the assistant.
    out = [bos]
    for pos, m in enumerate(msgs):
        if (m.role == "user") != (pos % 2 == 0):
            raise _alternation(m, pos, _ALTERNATE, _MISTRAL_NO_SYSTEM)
        if m.role == "user":
            out.append(f"[INST] {m.content} [/INST]")
        elif m.role == "assistant":
            out.append(m.content + eos)
        else:
            raise _Refusal(_V02_ROLES, m.index, "a system message.", _MISTRAL_NO_SYSTEM)
    return "".join(out)


def _mistral_nemo(msgs: list[_Msg], gen: bool, bos: str, eos: str, kw: Mapping[str, Any]) -> str:
    if msgs[0].role == "system":
        system: str | None = msgs[0].content
        loop = msgs[1:]
    else:
        system, loop = None, msgs
    # The template checks the whole conversation before it writes anything.
    for pos, m in enumerate(loop):
        if (m.role == "user") != (pos % 2 == 0):
            raise _alternation(m, pos, _NEMO_ALTERNATE, None)
    out = [bos]
    for pos, m in enumerate(loop):
        if m.role == "user":
            # The system prompt goes into the LAST turn, and only when that turn is a user turn.
            if pos == len(loop) - 1 and system is not None:
                out.append(f"[INST]{system}\n\n{m.content}[/INST]")
            else:
                out.append(f"[INST]{m.content}[/INST]")
        elif m.role == "assistant":
            out.append(m.content + eos)
        else:
            raise _Refusal(_NEMO_ROLES, m.index, "a system message after the first position.",
                           "Give at most one system message, and put it first.")
    return "".join(out)


# -- GLM ----------------------------------------------------------------------------------------------------------


def _glm4(msgs: list[_Msg], gen: bool, bos: str, eos: str, kw: Mapping[str, Any]) -> str:
    out = ["[gMASK]<sop>"]
    for m in msgs:
        if m.content:  # the template skips messages with empty content entirely
            out.append(f"<|{m.role}|>{m.metadata or ''}\n{m.content}")
    if gen:
        out.append("<|assistant|>")
    return "".join(out)


def _glm46(msgs: list[_Msg], gen: bool, bos: str, eos: str, kw: Mapping[str, Any]) -> str:
    thinking_off = "enable_thinking" in kw and not kw["enable_thinking"]
    last_user = max((i for i, m in enumerate(msgs) if m.role == "user"), default=-1)
    out = ["[gMASK]<sop>"]
    for i, m in enumerate(msgs):
        if m.role == "user":
            suffix = "/nothink" if thinking_off and not m.content.endswith("/nothink") else ""
            out.append(f"<|user|>\n{m.content}{suffix}")
        elif m.role == "assistant":
            content, reasoning = m.content, ""
            if m.reasoning is not None:
                reasoning = m.reasoning
            elif "</think>" in content:
                reasoning = content.split("</think>")[0].rstrip("\n").split("<think>")[-1].lstrip("\n")
                content = content.split("</think>")[-1].lstrip("\n")
            out.append("<|assistant|>")
            # Reasoning survives only on assistant turns after the last user turn; earlier ones get an empty block.
            if i > last_user and reasoning:
                out.append(f"\n<think>{reasoning.strip()}</think>")
            else:
                out.append("\n<think></think>")
            if content.strip():
                out.append("\n" + content.strip())
        else:
            out.append(f"<|system|>\n{m.content}")
    if gen:
        out.append("<|assistant|>" + ("\n<think></think>" if thinking_off else ""))
    return "".join(out)


# -- plain --------------------------------------------------------------------------------------------------------

_LABELS = {"system": "System", "user": "User", "assistant": "Assistant"}


def _plain(msgs: list[_Msg], gen: bool, bos: str, eos: str, kw: Mapping[str, Any]) -> str:
    """No chat template, for base models.

    One user message, optionally after system messages, is its text verbatim (system texts first, each
    followed by a blank line), which is what few-shot prompting wants. Anything with assistant turns or
    several user turns becomes a ``System:``/``User:``/``Assistant:`` transcript with blank lines between turns,
    ending in ``Assistant:`` when a generation prompt is asked for (stop on ``PLAIN.stop``).
    """
    leading = 0
    while leading < len(msgs) and msgs[leading].role == "system":
        leading += 1
    rest = msgs[leading:]
    if len(rest) == 1 and rest[0].role == "user":
        return "\n\n".join([m.content for m in msgs[:leading] if m.content] + [rest[0].content])
    text = "\n\n".join(f"{_LABELS[m.role]}: {m.content}" for m in msgs)
    return text + "\n\nAssistant:" if gen else text


_RENDERERS: dict[str, _Renderer] = {
    "llama3": _llama3,
    "llama3.1": _llama31,
    "llama3.2": _llama32,
    "gemma2": _gemma2,
    "gemma3": _gemma3,
    "qwen2.5": _qwen25,
    "mistral-v0.2": _mistral_v02,
    "mistral-nemo": _mistral_nemo,
    "glm4": _glm4,
    "glm4.6": _glm46,
    "chatml": _chatml,
    "smollm2": _smollm2,
    PLAIN.name: _plain,
}
