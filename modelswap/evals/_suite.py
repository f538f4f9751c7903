"""Regression suites: the cases a model swap must keep passing, loaded from JSONL or YAML.

A **JSONL** suite is one case per line::

    {"id": "refund-1", "prompt": "Can I return shoes after 40 days?", "expected": "no"}
    {"id": "chat-1", "messages": [{"role": "user", "content": "Hi"}], "assert": [{"type": "icontains", "value": "hello"}]}
    {"id": "cls-1", "vars": {"text": "Great service"}, "expected": "positive"}

``vars`` fill a prompt template; a JSONL file has none of its own, so pass one with
``load_suite(path, template="Classify: {text}")``.

A **YAML** suite adds settings shared by every case::

    name: ticket-triage
    description: Route support tickets to a queue.
    system: You are a support-ticket router. Answer with the queue name only.
    prompt: "Ticket: {{ ticket }}\\nQueue:"
    params: {temperature: 0, max_tokens: 8}
    thresholds: {max_accuracy_drop: 0.02, latency_sla_ms: 1500, max_error_rate: 0.01, alpha: 0.05}
    judge: gpt-4o-judge
    license_policy: {allow: [Apache-2.0, MIT, gemma]}
    defaults:
      assert: [{type: latency, threshold: 3000}]
    cases:
      - id: t1
        vars: {ticket: "I was charged twice"}
        expected: billing
      - id: t2
        vars: {ticket: "The app crashes on start"}
        assert:
          - {type: choice, value: [billing, bugs, account]}

Rules (each break is a :class:`~modelswap.ConfigError` naming the file, line and field, and the fix):

* Every case needs an ``id``, unique in the suite. Ids are never generated: the regression runner joins the
  baseline's and the candidate's results by id, and a position-based id would silently pair different cases
  once someone inserts a line. (promptfoo configs have no ids; their import names tests ``test-<n>``.)
* A case gives ``prompt`` (text, sent as one user message), ``messages`` (a chat list), or ``vars`` (filled into
  the suite template). With ``vars`` present, a case's own ``prompt``/``messages`` are templates too.
* **Templates** accept both syntaxes. A template containing a ``{{ name }}`` placeholder is read
  promptfoo/nunjucks-style: only ``{{ name }}`` (and ``{{ a.b }}``) are replaced and single braces stay
  literal, handy for JSON examples. Otherwise it is Python ``str.format``: ``{name}``, with ``{{``/``}}`` for
  literal braces. Nunjucks filters and tags (``{{ x | upper }}``, ``{% if %}``) are refused, not half-rendered,
  and a variable the case lacks is an error, never an empty string. ``system`` is a template the same way.
* The suite ``system`` prompt is prepended to every case, except a case whose ``messages`` start with its own
  system message.
* With no ``assert``, a case is checked by trimmed, case-insensitive equality with ``expected``. Latency and
  cost checks say nothing about the answer, so a case whose only assertions are those (its own or from
  ``defaults``) still gets that equality check.
* ``defaults.vars`` are under every case's vars; ``defaults.assert`` are appended to every case's assertions.
* ``choice`` without ``value`` takes its labels from the ``expected`` values across the suite.
* Assertion texts may use ``{{ var }}`` and ``{{ expected }}`` from their case.
* Keys a case does not know are kept in ``Case.metadata`` (datasets carry columns such as ``category``), unless
  they look like a typo of a known key (``expect``), which is an error.

Other suite formats reuse these rules through the public pieces here: :class:`Location` (file, line and field
for errors), :func:`compile_template`, :class:`CaseRules` (what every case of one suite shares) and
:func:`build_cases`, which turns rows of case mappings into checked :class:`~modelswap.evals.Case` objects.
:mod:`modelswap.evals._promptfoo` translates a promptfoo config through them, and
:func:`~modelswap.evals.load_suite` picks the loader by file.
"""

from __future__ import annotations

import json
import re
import string
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

from .._errors import ConfigError
from .._yaml import line_of
from .._yaml import parse_yaml as _parse_yaml
from ._assertions import MEASUREMENT_TYPES, check_for_case, default_assertion, parse_assertion
from ._check import AssertionSpecError
from ._types import Assertion, Case, Suite
from ._values import as_text, closest

__all__ = [
    "CASE_KEYS",
    "DEFAULTS_KEYS",
    "GENERIC_PARAMS",
    "SUITE_KEYS",
    "THRESHOLD_KEYS",
    "CaseRules",
    "Location",
    "Template",
    "TemplateError",
    "build_cases",
    "compile_template",
    "jsonl_rows",
    "load_jsonl_suite",
    "parse_messages",
    "parse_yaml",
    "read_text",
    "resolve_ref",
    "suite_from_data",
]

SUITE_KEYS = (
    "name", "description", "prompt", "system", "params", "thresholds", "judge", "license_policy", "cases", "tests",
    "defaults",
)
CASE_KEYS = ("id", "prompt", "messages", "vars", "expected", "assert", "threshold", "description", "metadata")
THRESHOLD_KEYS = ("max_accuracy_drop", "latency_sla_ms", "max_error_rate", "max_cost_increase", "alpha")
DEFAULTS_KEYS = ("assert", "vars", "threshold")
# The generation params every provider understands (modelswap's Client); near-misses of these are typos.
GENERIC_PARAMS = ("temperature", "top_p", "max_tokens", "stop", "seed")
_ROLES = ("system", "user", "assistant", "tool")


# -- locations ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Location:
    """Where a piece of a suite came from, to name file, line and field in errors.

    YAML pieces carry the composed node tree (line looked up by path); JSONL and CSV rows a fixed line.

    Attributes:
        source: the file, as shown in messages.
        root: the composed YAML node tree of the file, or None.
        line: the fixed 1-based line, for pieces without a node tree.
        prefix: the path from the root to this piece (keys and list indexes).

    Example:
        >>> Location("suite.jsonl", line=3).at("assert", 0).error("bad").args[0]
        'suite.jsonl:3: assert[0]: bad'
    """

    source: str
    root: Any = None
    line: int | None = None
    prefix: tuple[Any, ...] = ()

    def at(self, *path: Any) -> Location:
        """The location of a piece inside this one, ``path`` keys and indexes further down."""
        return replace(self, prefix=self.prefix + path)

    def line_of(self, *path: Any) -> int | None:
        """The 1-based line of the piece at ``path`` below this one, or None when unknown."""
        if self.root is not None:
            return line_of(self.root, self.prefix + path)
        return self.line

    def error(self, message: str, *path: Any) -> ConfigError:
        """A ConfigError for the piece at ``path`` below this one, its message led by ``file:line: field:``."""
        full = self.prefix + path
        line = self.line_of(*path)
        field_name = _field_name(full)
        where = f"{self.source}:{line}" if line else self.source
        return ConfigError(
            f"{where}: {field_name + ': ' if field_name else ''}{message}", file=self.source, line=line, field=field_name
        )


def _field_name(path: Sequence[Any]) -> str | None:
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text or None


# -- templates ---------------------------------------------------------------------------------------------------

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

    def __init__(self, raw: str | list[dict[str, Any]], style: str | None = None) -> None:
        self.raw = raw
        texts = [raw] if isinstance(raw, str) else [str(m.get("content", "")) for m in raw]
        self.style = style or ("nunjucks" if any(_NJ_PLAIN.search(t) for t in texts) else "format")
        for text in texts:
            self._check(text)

    def _check(self, text: str) -> None:
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
    value: Any = vars
    for part in dotted.split("."):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
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


# -- building cases ----------------------------------------------------------------------------------------------


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
                suggestion = closest(str(name), DEFAULTS_KEYS)
                raise loc.error(
                    f"unknown field {name!r}" + (f"; did you mean {suggestion!r}?" if suggestion else ".")
                    + f" Fields: {', '.join(DEFAULTS_KEYS)}.",
                    name,
                )
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

    def rendered(template: Template, where: tuple[Any, ...], what: str) -> Any:
        try:
            return template.render(vars)
        except TemplateError as exc:
            fix = f" Add `{exc.var}` to the case's vars." if exc.var else ""
            raise loc.error(f"case {ident!r}, {what}: {exc.message}.{fix}", *where) from None

    def as_template(text: Any, where: tuple[Any, ...]) -> Template:
        try:
            return Template(text, rules.template_style)
        except TemplateError as exc:
            raise loc.error(exc.message, *where) from None

    prompt, messages_in = raw.get("prompt"), raw.get("messages")
    has_prompt, has_messages = prompt not in (None, ""), messages_in not in (None, [])
    if has_prompt and has_messages:
        raise loc.error(f"case {ident!r} gives both `prompt` and `messages`; keep one.", "messages")
    messages: list[dict[str, Any]]
    if has_prompt and isinstance(prompt, str):
        text = rendered(as_template(prompt, ("prompt",)), ("prompt",), "its prompt") if own_vars else prompt
        messages = [{"role": "user", "content": text}]
    elif has_prompt and isinstance(prompt, list):
        # The batch input format allows a chat list under `prompt`; accept it the same way here.
        messages = parse_messages(prompt, loc, ("prompt",))
        if own_vars:
            messages = rendered(as_template(messages, ("prompt",)), ("prompt",), "its prompt")
    elif has_prompt:
        raise loc.error(f"`prompt` must be text (one user message), not {type(prompt).__name__}.", "prompt")
    elif has_messages:
        messages = parse_messages(messages_in, loc, ("messages",))
        if own_vars:
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

    raw_asserts = raw.get("assert")
    if raw_asserts is None:
        raw_asserts = []
    if not isinstance(raw_asserts, list):
        raise loc.error("`assert` must be a list of assertions, such as [{type: icontains, value: Paris}].", "assert")
    asserts: list[tuple[Assertion, tuple[Any, ...], str | None]] = []
    for i, item in enumerate(raw_asserts):
        try:
            assertion = parse_assertion(item)
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

    return replace(assertion, value=fill(assertion.value), options=dict(assertion.options))


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


# -- loading -----------------------------------------------------------------------------------------------------


def load_jsonl_suite(path: Path, template: str | None = None) -> Suite:
    """Load a JSONL suite: one case mapping per line, named after the file.

    Args:
        path: the ``.jsonl`` file.
        template: the prompt template for cases given by ``vars`` (a JSONL file has none of its own).

    Raises:
        ConfigError: the file is unreadable, a line is not JSON, or a case breaks a rule.
    """
    source = str(path)
    rules = CaseRules(source=source, template_hint="pass a template (load_suite(path, template=...) or --template)")
    if template is not None:
        rules.template = compile_template(template, Location(source), "template")
    cases = build_cases(jsonl_rows(path, source), rules)
    if not cases:
        raise ConfigError(f"{source}: the suite has no cases. Add one JSON object per line.", file=source)
    return Suite(name=path.stem, cases=cases, source=source, template=template)


def jsonl_rows(path: Path, source: str) -> Iterator[tuple[Any, Location]]:
    """The JSON value on each non-blank line of ``path``, with its location."""
    for line_no, raw in enumerate(read_text(path).splitlines(), 1):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw)
        except ValueError as exc:
            raise ConfigError(
                f"{source}:{line_no}: not valid JSON ({exc}). Each line must be one case, such as "
                '{"id": "c1", "prompt": "...", "expected": "..."}.',
                file=source, line=line_no,
            ) from None
        yield row, Location(source, line=line_no)


def suite_from_data(
    data: Any, root: Any, source: str, *, base_dir: Path, template: str | None = None
) -> Suite:
    """Build a suite from a parsed YAML document (``root`` is its composed node tree, for line numbers)."""
    loc = Location(source, root)
    if isinstance(data, list):
        # A bare list of cases is a suite with no settings.
        rows: Iterable[tuple[Any, Location]] = [(row, loc.at(i)) for i, row in enumerate(data)]
        return _suite_from_rows({}, rows, loc, source, base_dir, template, Path(source).stem)
    if not isinstance(data, Mapping):
        raise loc.error(
            "a suite is a mapping with `name` and `cases` (or a list of cases), "
            f"not {type(data).__name__ if data is not None else 'an empty file'}."
        )
    for key in data:
        if key not in SUITE_KEYS:
            suggestion = closest(str(key), SUITE_KEYS)
            raise loc.error(
                f"unknown field {key!r}" + (f"; did you mean {suggestion!r}?" if suggestion else ".")
                + f" Suite fields: {', '.join(SUITE_KEYS)}.",
                key,
            )
    if "cases" in data and "tests" in data:
        raise loc.error("give the cases under `cases` or `tests`, not both.", "tests")
    key = "cases" if "cases" in data else "tests"
    cases_in = data.get(key)
    if cases_in is None:
        raise loc.error("the suite has no `cases:`. Add a list of cases, each with an id.")
    if isinstance(cases_in, str):
        rows = _referenced_rows(cases_in, base_dir, loc, key)
    elif isinstance(cases_in, list):
        rows = [(row, loc.at(key, i)) for i, row in enumerate(cases_in)]
    else:
        raise loc.error(f"`{key}` must be a list of cases, or file://cases.jsonl.", key)
    name = data.get("name") or Path(source).stem
    if not isinstance(name, str):
        raise loc.error("`name` must be text.", "name")
    return _suite_from_rows(data, rows, loc, source, base_dir, template, name)


def _suite_from_rows(
    data: Mapping[str, Any],
    rows: Iterable[tuple[Any, Location]],
    loc: Location,
    source: str,
    base_dir: Path,
    template: str | None,
    name: str,
) -> Suite:
    rules = CaseRules(source=source)
    prompt = template if template is not None else data.get("prompt")
    if prompt is not None:
        if not isinstance(prompt, (str, list)) or (isinstance(prompt, list) and not prompt):
            raise loc.error("`prompt` must be text with placeholders, or a list of chat messages.", "prompt")
        if isinstance(prompt, list):
            prompt = parse_messages(prompt, loc, ("prompt",))
        rules.template = compile_template(prompt, loc, "prompt" if template is None else "template")
    system = data.get("system")
    if system is not None:
        if not isinstance(system, str):
            raise loc.error("`system` must be text.", "system")
        rules.system = compile_template(system, loc, "system")
    params = _params(data.get("params"), loc)
    thresholds = _thresholds(data.get("thresholds"), loc)
    judge = data.get("judge")
    if judge is not None and (not isinstance(judge, str) or not judge):
        raise loc.error("`judge` is a model alias (text), such as judge: gpt-4o.", "judge")
    description = data.get("description")
    if description is not None and not isinstance(description, str):
        raise loc.error("`description` must be text.", "description")
    rules.add_defaults(data.get("defaults"), loc.at("defaults"))
    license_policy = _license_policy(data.get("license_policy"), loc)
    cases = build_cases(rows, rules)
    if not cases:
        raise loc.error("the suite has no cases. Add at least one under `cases:`.", "cases")
    return Suite(
        name=name,
        cases=cases,
        params=params,
        thresholds=thresholds,
        judge=judge,
        source=source,
        system=system,
        description=description,
        template=prompt,
        license_policy=license_policy,
    )


def compile_template(raw: Any, loc: Location, key: str, style: str | None = None) -> Template:
    """A :class:`Template` from a suite's ``key`` field (text or a chat list), bad syntax reported there.

    Raises:
        ConfigError: the template is badly written, naming the file, line and ``key``.
    """
    try:
        return Template(raw, style)
    except TemplateError as exc:
        raise loc.error(exc.message, key) from None


def _referenced_rows(ref: str, base_dir: Path, loc: Location, key: str) -> list[tuple[Any, Location]]:
    if not ref.startswith("file://"):
        raise loc.error(f"`{key}` must be a list of cases, or a reference such as file://cases.jsonl.", key)
    target = resolve_ref(ref, base_dir)
    if not target.is_file():
        raise loc.error(f"{ref} not found (looked for {target}). Paths are relative to the suite file.", key)
    if target.suffix.lower() in (".jsonl", ".ndjson"):
        return list(jsonl_rows(target, str(target)))
    if target.suffix.lower() in (".yaml", ".yml", ".json"):
        root, data = parse_yaml(read_text(target), str(target))
        if not isinstance(data, list):
            raise ConfigError(f"{target}:1: must hold a list of cases.", file=str(target), line=1)
        sub = Location(str(target), root)
        return [(row, sub.at(i)) for i, row in enumerate(data)]
    raise loc.error(f"{ref}: cases files are .jsonl or .yaml.", key)


def _params(value: Any, loc: Location) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise loc.error("`params` must be a mapping such as {temperature: 0, max_tokens: 64}.", "params")
    for key, item in value.items():
        if key not in GENERIC_PARAMS:
            # Other names pass through to the provider, but a near-miss of a generic one is a typo.
            suggestion = closest(str(key), GENERIC_PARAMS, cutoff=0.8)
            if suggestion:
                raise loc.error(f"unknown param {key!r}; did you mean {suggestion!r}?", "params", key)
        if key == "max_tokens" and (isinstance(item, bool) or not isinstance(item, int) or item < 1):
            raise loc.error(f"max_tokens must be a whole number >= 1, not {item!r}.", "params", key)
        if key in ("temperature", "top_p") and (isinstance(item, bool) or not isinstance(item, (int, float)) or item < 0):
            raise loc.error(f"{key} must be a number >= 0, not {item!r}.", "params", key)
        if key == "stop" and not (isinstance(item, str) or (isinstance(item, list) and all(isinstance(s, str) for s in item))):
            raise loc.error("stop must be text or a list of texts.", "params", key)
    return dict(value)


def _thresholds(value: Any, loc: Location) -> dict[str, float]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise loc.error("`thresholds` must be a mapping such as {max_accuracy_drop: 0.02, alpha: 0.05}.", "thresholds")
    out: dict[str, float] = {}
    for key, item in value.items():
        if key not in THRESHOLD_KEYS:
            suggestion = closest(str(key), THRESHOLD_KEYS)
            raise loc.error(
                f"unknown threshold {key!r}" + (f"; did you mean {suggestion!r}?" if suggestion else ".")
                + f" Thresholds: {', '.join(THRESHOLD_KEYS)}.",
                "thresholds", key,
            )
        if isinstance(item, bool) or not isinstance(item, (int, float)) or item < 0:
            raise loc.error(f"{key} must be a number >= 0, not {item!r}.", "thresholds", key)
        if key == "alpha" and not 0 < item < 1:
            raise loc.error(f"alpha is a significance level between 0 and 1 (such as 0.05), not {item}.", "thresholds", key)
        if key in ("max_accuracy_drop", "max_error_rate") and item > 1:
            raise loc.error(
                f"{key} is a fraction: 0.02 means two percentage points; {item} is more than 100%.", "thresholds", key
            )
        out[str(key)] = float(item)
    return out


def _license_policy(value: Any, loc: Location) -> dict[str, list[str]]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise loc.error("`license_policy` must be a mapping such as {allow: [Apache-2.0, MIT]}.", "license_policy")
    out: dict[str, list[str]] = {}
    for key, names in value.items():
        if key not in ("allow", "deny"):
            suggestion = closest(str(key), ("allow", "deny"))
            raise loc.error(
                f"unknown field {key!r}" + (f"; did you mean {suggestion!r}?" if suggestion else ".")
                + " A license policy has `allow` and/or `deny`.",
                "license_policy", key,
            )
        if isinstance(names, str):
            names = [names]
        if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
            raise loc.error(f"`{key}` must list license names, such as [Apache-2.0, MIT].", "license_policy", key)
        out[str(key)] = list(names)
    return out


# -- files -------------------------------------------------------------------------------------------------------


def read_text(path: Path) -> str:
    """A suite file's text, or a ConfigError naming it."""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the file ({exc.__class__.__name__}: {exc}).", file=str(path)) from None


def resolve_ref(ref: str, base_dir: Path) -> Path:
    """The path a ``file://`` reference names; relative paths start at the referring file's folder."""
    target = Path(ref[len("file://"):] if ref.startswith("file://") else ref).expanduser()
    return target if target.is_absolute() else base_dir / target


def parse_yaml(text: str, source: str) -> tuple[Any, Any]:
    """``(node tree, data)`` of a YAML document; dates become ISO text and duplicate keys are refused.

    Raises:
        ConfigError: not YAML, or a key given twice in one mapping (YAML would silently keep the last).
    """
    root, data = _parse_yaml(text, source)
    _refuse_duplicate_keys(root, source)
    return root, data


def _refuse_duplicate_keys(node: Any, source: str, path: tuple[Any, ...] = ()) -> None:
    if node is None:
        return
    if node.id == "mapping":
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            if key in seen:
                field_name = _field_name((*path, key))
                raise ConfigError(
                    f"{source}:{line}: {field_name}: key {key!r} appears twice in one mapping (first on line "
                    f"{seen[key]}); YAML would keep only the last. Remove or rename one.",
                    file=source, line=line, field=field_name,
                )
            seen[key] = line
            _refuse_duplicate_keys(value_node, source, (*path, key))
    elif node.id == "sequence":
        for i, item in enumerate(node.value):
            _refuse_duplicate_keys(item, source, (*path, i))
