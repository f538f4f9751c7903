"""The checks that read the answer as text: ``equals``, ``contains``, ``icontains``, ``contains-any/-all``,
``icontains-any/-all``, ``starts-with``, ``regex`` and ``choice`` (which label the answer names).

All are lexical: ``"not positive"`` contains, and names, ``positive``. An ``equals`` whose value is a mapping or
a list compares the answer as JSON instead (key order and spacing do not matter). ``equals`` and
``starts-with`` ignore surrounding whitespace unless ``options: {exact: true}`` (what a promptfoo import sets,
since promptfoo compares as written).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from typing import Any

from .._errors import ConfigError
from ._check import AssertionSpecError, Check, CheckContext, Outcome, value_or_expected
from ._json_checks import json_equal
from ._types import Assertion
from ._values import as_text, closest, is_scalar, short, split_commas, to_json

__all__ = ["CHECKS"]


# -- the checks ---------------------------------------------------------------------------------------------------


def _equals(a: Assertion, out: str, ctx: CheckContext) -> Outcome:
    want = value_or_expected(a, ctx)
    if isinstance(want, (Mapping, list)):
        # A structured expected answer compares as JSON, so key order and spacing do not matter.
        try:
            got = json.loads(out)
        except ValueError:
            return Outcome(False, 0.0, f"output is not JSON, so it cannot equal {short(to_json(want))}")
        ok = json_equal(got, want)
        return Outcome(ok, float(ok), "output JSON equals the expected value" if ok else
                       f"output JSON {short(to_json(got))} differs from {short(to_json(want))}")
    # `exact` (set by the promptfoo import) compares as promptfoo does: as written, whitespace included.
    want_text, got_text = (as_text(want), out) if a.options.get("exact") else (as_text(want).strip(), out.strip())
    if a.options.get("ignore_case"):
        ok = want_text.casefold() == got_text.casefold()
    else:
        ok = want_text == got_text
    return Outcome(ok, float(ok), f"output equals {short(want_text)!r}" if ok else
                   f"output {short(got_text)!r} does not equal {short(want_text)!r}")


def _contains(a: Assertion, out: str, ctx: CheckContext) -> Outcome:
    needle = as_text(value_or_expected(a, ctx))
    fold = a.type == "icontains"
    ok = (needle.casefold() in out.casefold()) if fold else (needle in out)
    return Outcome(ok, float(ok), f"output {'contains' if ok else 'does not contain'} {short(needle)!r}"
                   + (" (ignoring case)" if fold else ""))


def _contains_many(a: Assertion, out: str, ctx: CheckContext) -> Outcome:
    items = [as_text(v) for v in (a.value if isinstance(a.value, list) else split_commas(as_text(a.value)))]
    fold = a.type.startswith("i")
    hay = out.casefold() if fold else out
    present = [v for v in items if (v.casefold() if fold else v) in hay]
    if a.type.endswith("-any"):
        ok = bool(present)
        reason = f"output contains {present[0]!r}" if ok else f"output contains none of {items}"
    else:
        missing = [v for v in items if v not in present]
        ok = not missing
        reason = f"output contains all of {items}" if ok else f"output lacks {missing}"
    return Outcome(ok, float(ok), reason + (" (ignoring case)" if fold else ""))


def _starts_with(a: Assertion, out: str, ctx: CheckContext) -> Outcome:
    # Leading whitespace is dropped (many servers emit a leading space or newline that no pipeline cares about),
    # unless `exact` asks for promptfoo's comparison as written.
    prefix = as_text(value_or_expected(a, ctx))
    text = out if a.options.get("exact") else out.lstrip()
    prefix = prefix if a.options.get("exact") else prefix.lstrip()
    ok = text.startswith(prefix)
    return Outcome(ok, float(ok), f"output starts with {short(prefix)!r}" if ok else
                   f"output starts with {short(text[: max(len(prefix), 10)])!r}, not {short(prefix)!r}")


def _regex(a: Assertion, out: str, ctx: CheckContext) -> Outcome:
    try:
        pattern = _compile(str(a.value), _regex_flags(a.options))
    except re.error as exc:
        raise ConfigError(f"bad regular expression {a.value!r}: {exc.msg}.", field="value") from None
    match = pattern.search(out)
    if match:
        return Outcome(True, 1.0, f"/{a.value}/ matches {short(match.group(0))!r} at character {match.start()}")
    return Outcome(False, 0.0, f"/{a.value}/ does not match the output")


def _choice(a: Assertion, out: str, ctx: CheckContext) -> Outcome:
    if not isinstance(a.value, list) or len(a.value) < 2:
        raise ConfigError("choice needs `value`: the labels, such as [positive, negative, neutral].", field="value")
    if ctx.expected is None:
        raise ConfigError("choice compares with the case's `expected` label: add `expected:` to the case.", field="expected")
    labels = tuple(str(v).strip() for v in a.value)
    found = _first_label(out, labels)
    if found is None:
        return Outcome(False, 0.0, f"no label of {list(labels)} found; expected {ctx.expected!r}")
    label, position = found
    ok = _norm_label(label) == _norm_label(ctx.expected)
    return Outcome(ok, float(ok), f"found label {label!r} at character {position}; expected {str(ctx.expected).strip()!r}")


# -- validation ---------------------------------------------------------------------------------------------------


def _validate_list(a: Assertion) -> None:
    if isinstance(a.value, str):
        a.value = split_commas(a.value)
    if not isinstance(a.value, list) or not all(is_scalar(v) for v in a.value):
        raise AssertionSpecError(f"{a.label} takes a list of texts as `value`, such as [Paris, Lyon].", "value")


def _validate_regex(a: Assertion) -> None:
    if not isinstance(a.value, str):
        raise AssertionSpecError(f"regex `value` must be text, not {a.value!r}.", "value")
    try:
        _compile(a.value, _regex_flags(a.options))
    except re.error as exc:
        raise AssertionSpecError(
            f"bad regular expression {a.value!r}: {exc.msg} at position {exc.pos}. Escape special characters "
            r"with a backslash (\. \( \[ \?), and in YAML quote the pattern with single quotes.",
            "value",
        ) from None


def _validate_choice(a: Assertion) -> None:
    if a.value is not None:
        labels = a.value
        if (
            not isinstance(labels, list) or len(labels) < 2 or not all(is_scalar(v) for v in labels)
            or len({str(v).strip().casefold() for v in labels}) != len(labels)
        ):
            raise AssertionSpecError(
                "choice `value` must list at least two distinct labels, such as [positive, negative, neutral] "
                "(or leave it out to use every case's expected value as the labels).",
                "value",
            )


def _validate_choice_for_case(a: Assertion, expected: Any) -> None:
    if expected is None:
        raise AssertionSpecError(
            "choice compares the label found in the output with the case's `expected`: add `expected: <label>`.",
            "expected",
        )
    if a.value is not None and _norm_label(expected) not in {_norm_label(v) for v in a.value}:
        suggestion = closest(str(expected), [str(v) for v in a.value])
        raise AssertionSpecError(
            f"expected {expected!r} is not one of the choice labels {a.value}"
            + (f"; did you mean {suggestion!r}?" if suggestion else ".")
            + " Fix the label, or add it to the assertion's value.",
            "expected",
        )


_ANY_HINT = "the texts to look for, such as [refund, return]."
_ALL_HINT = "the texts to look for, such as [refund, 30 days]."
_REGEX_OPTIONS = frozenset({"ignore_case", "multiline", "dotall"})

CHECKS: dict[str, Check] = {
    "equals": Check(_equals, frozenset({"ignore_case", "exact"}), "or-expected"),
    "contains": Check(_contains, value="or-expected"),
    "icontains": Check(_contains, value="or-expected"),
    "contains-any": Check(_contains_many, value="required", value_hint=_ANY_HINT, validate=_validate_list),
    "contains-all": Check(_contains_many, value="required", value_hint=_ALL_HINT, validate=_validate_list),
    "icontains-any": Check(_contains_many, value="required", value_hint=_ANY_HINT, validate=_validate_list),
    "icontains-all": Check(_contains_many, value="required", value_hint=_ALL_HINT, validate=_validate_list),
    "starts-with": Check(_starts_with, frozenset({"exact"}), value="or-expected"),
    "regex": Check(
        _regex, _REGEX_OPTIONS, "required", r"the pattern, such as '^\d{4}-\d{2}-\d{2}$'.", validate=_validate_regex
    ),
    "choice": Check(_choice, validate=_validate_choice, validate_for_case=_validate_choice_for_case),
}
"""The assertion types this module implements."""


# -- helpers ------------------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=512)
def _compile(pattern: str, flags: int) -> re.Pattern[str]:
    return re.compile(pattern, flags)


def _regex_flags(options: Mapping[str, Any]) -> int:
    return (
        (re.IGNORECASE if options.get("ignore_case") else 0)
        | (re.MULTILINE if options.get("multiline") else 0)
        | (re.DOTALL if options.get("dotall") else 0)
    )


@functools.lru_cache(maxsize=256)
def _label_patterns(labels: tuple[str, ...]) -> tuple[tuple[str, re.Pattern[str]], ...]:
    # Lookarounds rather than \b, so labels that start or end with punctuation (N/A, C++) still match whole.
    return tuple((label, re.compile(r"(?<!\w)" + re.escape(label) + r"(?!\w)", re.IGNORECASE)) for label in labels)


def _first_label(text: str, labels: tuple[str, ...]) -> tuple[str, int] | None:
    best: tuple[int, int, str] | None = None
    for label, pattern in _label_patterns(labels):
        match = pattern.search(text)
        if match is None:
            continue
        # Earliest mention wins; at the same position the longer label ("very positive" over "very").
        key = (match.start(), -len(label), label)
        if best is None or key < best:
            best = key
    return None if best is None else (best[2], best[0])


def _norm_label(value: Any) -> str:
    return str(value).strip().casefold()
