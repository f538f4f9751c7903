"""Case mappings to checked :class:`~modelswap.evals.Case` objects: the rules every suite format shares.

:class:`CaseRules` holds what the cases of one suite share (templates, defaults, strictness) and
:func:`build_cases` applies the rules of :mod:`modelswap.evals._suite`'s docs to rows of case mappings, whichever
file format they came from (native JSONL/YAML, or a translated promptfoo config).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ._assertions import (
    MEASUREMENT_TYPES,
    check_for_case,
    check_transform,
    default_assertion,
    parse_assertion,
)
from ._check import AssertionSpecError
from ._source import Location
from ._template import Template, TemplateError
from ._types import Assertion, Case
from ._values import as_text, closest, unknown

__all__ = ["CASE_KEYS", "DEFAULTS_KEYS", "CaseRules", "build_cases", "parse_messages"]

CASE_KEYS = (
    "id", "prompt", "messages", "vars", "expected", "assert", "threshold", "description", "metadata", "transform",
)
DEFAULTS_KEYS = ("assert", "vars", "threshold")
_ROLES = ("system", "user", "assistant", "tool")


@dataclass
class CaseRules:
    """What every case of one suite shares: the suite's templates and defaults, and how strict to be.

    Attributes:
        source: the suite file, as shown in messages.
        template: fills the prompt of cases given by ``vars`` alone.
        template_hint: the fix to suggest when a case gives ``vars`` and there is no template.
        system: the system prompt template, prepended to every case (unless it has its own system message).
        default_vars: vars under every case's own.
        default_asserts: assertions appended to every case's, each with where it was written
            (``defaults.assert[0]``) for messages.
        default_threshold: the passing score of cases that set none.
        allow_no_asserts: keep a case with nothing to check (else it is an error).
        template_style: the syntax of every case's own ``prompt``/``messages`` templates (``"nunjucks"`` or
            ``"format"``); None reads it from each template.
        always_render: render a case's own ``prompt``/``messages`` even when it has no vars (promptfoo renders
            every prompt; a placeholder with no var is then an error rather than text sent as written).
        promptfoo: render templates as promptfoo's nunjucks (filters and tags, JavaScript's printing of values;
            see :mod:`modelswap.evals._template`).
    """

    source: str
    template: Template | None = None
    template_hint: str = "add `prompt:` at the top of the suite"
    system: Template | None = None
    default_vars: dict[str, Any] = field(default_factory=dict)
    default_asserts: list[tuple[Assertion, str]] = field(default_factory=list)
    default_threshold: float | None = None
    allow_no_asserts: bool = False
    template_style: str | None = None
    always_render: bool = False
    promptfoo: bool = False

    def add_defaults(self, value: Any, loc: Location, label: str = "defaults") -> None:
        """Read a ``defaults`` mapping (``vars``, ``assert``, ``threshold``) into these rules.

        Args:
            value: the mapping, or None for nothing to add.
            loc: where the mapping is, for errors.
            label: its name in messages (``defaults``; the promptfoo import says ``defaultTest``).

        Raises:
            ConfigError: an unknown field, a bad value or a badly written assertion, naming file, line and field.
        """
        if value is None:
            return
        if not isinstance(value, Mapping):
            raise loc.error(f"`{label}` must be a mapping with `assert` and/or `vars`.")
        for name in value:
            if name not in DEFAULTS_KEYS:
                raise loc.error(unknown("field", name, DEFAULTS_KEYS, "Fields"), name)
        vars = value.get("vars")
        if vars is not None:
            if not isinstance(vars, Mapping):
                raise loc.error("`vars` must be a mapping.", "vars")
            self.default_vars = dict(vars)
        threshold = value.get("threshold")
        if threshold is not None:
            if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 <= threshold <= 1:
                raise loc.error(f"`threshold` is a passing score in 0..1, not {threshold!r}.", "threshold")
            self.default_threshold = float(threshold)
        asserts = value.get("assert")
        if asserts is None:
            return
        if not isinstance(asserts, list):
            raise loc.error("`assert` must be a list of assertions.", "assert")
        for i, item in enumerate(asserts):
            try:
                self.default_asserts.append((parse_assertion(item), f"{label}.assert[{i}]"))
            except AssertionSpecError as exc:
                raise loc.error(exc.message, "assert", i, *exc.path) from None


def build_cases(rows: Iterable[tuple[Any, Location]], rules: CaseRules) -> list[Case]:
    """Build and check the cases of one suite from their mappings, every rule of the module docs applied.

    Each row is a case mapping (``id``, ``prompt``/``messages``/``vars``, ``expected``, ``assert``, ...) and
    where it was written. Rows are read one at a time, so a generator may produce them lazily. After every
    case is built, ids must be unique and ``choice`` assertions without labels get the suite's expected values.

    Raises:
        ConfigError: a case breaks a rule, naming the file, line and field, and the fix.

    Example:
        >>> rows = [({"id": "a", "prompt": "2+2?", "expected": "4"}, Location("s.jsonl", line=1))]
        >>> build_cases(rows, CaseRules("s.jsonl"))[0].asserts[0].type
        'equals'
    """
    return _finish([(_build_case(raw, loc, rules), loc) for raw, loc in rows])


def _build_case(raw: Any, loc: Location, rules: CaseRules) -> Case:
    if not isinstance(raw, Mapping):
        raise loc.error(
            f"a case must be a mapping with id, prompt|messages|vars, expected and assert, not {type(raw).__name__}."
        )
    metadata: dict[str, Any] = {}
    if raw.get("metadata") is not None:
        if not isinstance(raw["metadata"], Mapping):
            raise loc.error("`metadata` must be a mapping.", "metadata")
        metadata.update(raw["metadata"])
    for key in raw:
        if key in CASE_KEYS:
            continue
        suggestion = closest(str(key), CASE_KEYS, cutoff=0.75)
        if suggestion:
            raise loc.error(
                f"unknown field {key!r}; did you mean {suggestion!r}? Case fields: {', '.join(CASE_KEYS)}.", key
            )
        metadata[str(key)] = raw[key]

    ident = raw.get("id")
    if ident is None or ident == "":
        raise loc.error(
            "the case has no `id`. Give every case a unique id: results of the baseline and the candidate are "
            "matched by id, so ids must not depend on position.",
            "id",
        )
    if isinstance(ident, bool) or not isinstance(ident, (str, int)):
        raise loc.error(f"`id` must be text or a whole number, not {ident!r}.", "id")
    ident = str(ident)

    own_vars = raw.get("vars")
    if own_vars is not None and not isinstance(own_vars, Mapping):
        raise loc.error(f"`vars` must be a mapping of name: value, not {type(own_vars).__name__}.", "vars")
    vars = {**rules.default_vars, **(own_vars or {})}
    render_own = bool(own_vars) or rules.always_render

    def rendered(template: Template, where: tuple[Any, ...], what: str) -> Any:
        try:
            return template.render(vars)
        except TemplateError as exc:
            fix = f" Add `{exc.var}` to the case's vars." if exc.var else ""
            raise loc.error(f"case {ident!r}, {what}: {exc.message}.{fix}", *where) from None

    def as_template(text: Any, where: tuple[Any, ...]) -> Template:
        try:
            return _template(text, rules.template_style, rules.promptfoo)
        except TemplateError as exc:
            raise loc.error(exc.message, *where) from None

    prompt, messages_in = raw.get("prompt"), raw.get("messages")
    has_prompt, has_messages = prompt not in (None, ""), messages_in not in (None, [])
    if has_prompt and has_messages:
        raise loc.error(f"case {ident!r} gives both `prompt` and `messages`; keep one.", "messages")
    messages: list[dict[str, Any]]
    if has_prompt and isinstance(prompt, str):
        text = rendered(as_template(prompt, ("prompt",)), ("prompt",), "its prompt") if render_own else prompt
        messages = [{"role": "user", "content": text}]
    elif has_prompt and isinstance(prompt, list):
        # The batch input format allows a chat list under `prompt`; accept it the same way here.
        messages = parse_messages(prompt, loc, ("prompt",))
        if render_own:
            messages = rendered(as_template(messages, ("prompt",)), ("prompt",), "its prompt")
    elif has_prompt:
        raise loc.error(f"`prompt` must be text (one user message), not {type(prompt).__name__}.", "prompt")
    elif has_messages:
        messages = parse_messages(messages_in, loc, ("messages",))
        if render_own:
            messages = rendered(as_template(messages, ("messages",)), ("messages",), "its messages")
    elif rules.template is not None:
        out = rendered(rules.template, ("vars",), "the suite template")
        messages = [{"role": "user", "content": out}] if isinstance(out, str) else out
    elif own_vars:
        raise loc.error(f"case {ident!r} has `vars` but the suite has no prompt template: {rules.template_hint}.", "vars")
    else:
        raise loc.error(
            f"case {ident!r} has no prompt: give `prompt` (text), `messages` (a chat list), or `vars` for the suite "
            "template.",
        )
    if rules.system is not None and not (messages and messages[0].get("role") == "system"):
        system_text = rendered(rules.system, ("vars",), "the suite system prompt")
        messages = [{"role": "system", "content": system_text}, *messages]

    expected = raw.get("expected")
    threshold = raw.get("threshold", rules.default_threshold)
    if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 <= threshold <= 1):
        raise loc.error(f"`threshold` is the case's passing score in 0..1, not {threshold!r}.", "threshold")
    description = raw.get("description")
    if description is not None and not isinstance(description, str):
        raise loc.error("`description` must be text.", "description")
    transform = raw.get("transform")
    if transform is not None:
        try:
            check_transform(transform, "transform")
        except AssertionSpecError as exc:
            raise loc.error(exc.message, "transform") from None

    raw_asserts = raw.get("assert")
    if raw_asserts is None:
        raw_asserts = []
    if not isinstance(raw_asserts, list):
        raise loc.error("`assert` must be a list of assertions, such as [{type: icontains, value: Paris}].", "assert")
    asserts: list[tuple[Assertion, tuple[Any, ...], str | None]] = []
    for i, item in enumerate(raw_asserts):
        try:
            # A translator (the promptfoo import) may hand over assertions it has already parsed.
            assertion = item if isinstance(item, Assertion) else parse_assertion(item)
        except AssertionSpecError as exc:
            raise loc.error(exc.message, "assert", i, *exc.path) from None
        asserts.append((_with_refs(assertion, vars, expected), ("assert", i), None))
    for assertion, origin in rules.default_asserts:
        asserts.append((_with_refs(assertion, vars, expected), (), origin))
    if expected is not None and all(a.type in MEASUREMENT_TYPES for a, _, _ in asserts):
        asserts.insert(0, (default_assertion(), ("expected",), None))
    if not asserts and not rules.allow_no_asserts:
        raise loc.error(
            f"case {ident!r} has neither `expected` nor `assert`, so nothing would be checked. Add `expected:` "
            "(compared trimmed, ignoring case) or an `assert:` list."
        )
    for assertion, where, origin in asserts:
        try:
            check_for_case(assertion, expected)
        except AssertionSpecError as exc:
            prefix = f"{origin}: " if origin else ""
            target = ("expected",) if exc.field == "expected" else (*where, *(exc.path if where else ()))
            raise loc.error(f"case {ident!r}: {prefix}{exc.message}", *target) from None

    return Case(
        id=ident,
        messages=messages,
        expected=expected,
        asserts=[a for a, _, _ in asserts],
        vars=vars,
        line=loc.line_of(),
        threshold=None if threshold is None else float(threshold),
        description=description,
        metadata=metadata,
        transform=transform,
    )


def _with_refs(assertion: Assertion, vars: Mapping[str, Any], expected: Any) -> Assertion:
    """A copy whose texts have ``{{ name }}`` filled from the case's vars (and ``{{ expected }}``).

    Only names the case defines are replaced, so regex braces and unknown names stay as written.
    """
    names: dict[str, Any] = dict(vars)
    if expected is not None:
        names.setdefault("expected", expected)

    def fill(value: Any) -> Any:
        if isinstance(value, str) and "{{" in value:
            return _REF.sub(lambda m: as_text(names[m.group(1)]) if m.group(1) in names else m.group(0), value)
        if isinstance(value, list):
            return [fill(v) for v in value]
        return value

    if not _has_refs(assertion.value):
        return assertion  # nothing to fill: cases may share it (nothing changes an assertion once built)
    return replace(assertion, value=fill(assertion.value), options=dict(assertion.options))


def _has_refs(value: Any) -> bool:
    if isinstance(value, str):
        return "{{" in value
    return isinstance(value, list) and any(_has_refs(v) for v in value)


def _template(raw: Any, style: str | None, promptfoo: bool) -> Template:
    """A Template, checked once per text and style: suites of thousands of cases share a handful of prompts."""
    if not isinstance(raw, str):
        return Template(raw, style, promptfoo=promptfoo)
    return _text_template(raw, style, promptfoo)


@functools.lru_cache(maxsize=4096)
def _text_template(raw: str, style: str | None, promptfoo: bool) -> Template:
    return Template(raw, style, promptfoo=promptfoo)


_REF = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


def parse_messages(value: Any, loc: Location, where: tuple[Any, ...]) -> list[dict[str, Any]]:
    """Check a chat list (``[{role, content}, ...]``, roles system/user/assistant/tool, text contents) and copy it.

    Args:
        value: the list as written.
        loc: where it was written; ``where`` is the path to it below ``loc``, for errors.

    Raises:
        ConfigError: not a list of such messages, naming the message and field at fault.
    """
    if not isinstance(value, list):
        raise loc.error("`messages` must be a list such as [{role: user, content: Hi}].", *where)
    out = []
    for i, message in enumerate(value):
        if not isinstance(message, Mapping):
            raise loc.error("each message must be a mapping with `role` and `content`.", *where, i)
        role = message.get("role")
        if role not in _ROLES:
            suggestion = closest(str(role), _ROLES)
            raise loc.error(
                f"role {role!r} is not one of {', '.join(_ROLES)}" + (f"; did you mean {suggestion!r}?" if suggestion else "."),
                *where, i, "role",
            )
        if not isinstance(message.get("content"), str):
            raise loc.error("`content` must be text.", *where, i, "content")
        out.append(dict(message))
    return out


def _finish(cases: list[tuple[Case, Location]]) -> list[Case]:
    """Suite-wide checks: unique ids, and labels for ``choice`` assertions written without any."""
    seen: dict[str, int | None] = {}
    for case, loc in cases:
        if case.id in seen:
            first = seen[case.id]
            raise loc.error(
                f"duplicate id {case.id!r}" + (f" (first used on line {first})" if first else "")
                + ". Give each case a unique id.",
                "id",
            )
        seen[case.id] = case.line
    labels: list[str] = []
    for case, _ in cases:
        if case.expected is not None and str(case.expected).strip().casefold() not in {x.casefold() for x in labels}:
            labels.append(str(case.expected).strip())
    for case, loc in cases:
        for i, assertion in enumerate(case.asserts):
            if assertion.type != "choice" or assertion.value is not None:
                continue
            if len(labels) < 2:
                raise loc.error(
                    f"case {case.id!r}: choice has no `value`, and the suite's expected values give fewer than two "
                    f"labels ({labels}). List the labels: value: [positive, negative, neutral].",
                    "assert",
                )
            case.asserts[i] = replace(assertion, value=list(labels))
    return [case for case, _ in cases]
