"""Assertions: the catalogue of assertion types, the reading and validation of an assertion as a suite writes
it, and the dispatch that runs assertions on an answer and grades a case.

Type names follow promptfoo wherever promptfoo has the check, so an imported ``promptfooconfig.yaml`` keeps its
meaning. Every type can be negated with a ``not-`` prefix (``not-contains``) or ``negate: true``::

    >>> from modelswap.evals import Assertion, evaluate
    >>> evaluate(Assertion("icontains", "paris"), "The capital is Paris.").passed
    True
    >>> evaluate(Assertion("not-icontains", "sorry"), "Sorry, I cannot help.").passed
    False
    >>> evaluate(Assertion("choice", ["positive", "negative"]), "Positive!", expected="positive").reason
    "found label 'positive' at character 0; expected 'positive'"

A case passes when every assertion with a weight above zero passes (promptfoo's rule); its score is the
weighted mean of the assertions' scores. With a case ``threshold`` the case passes when the score reaches it
instead. ``weight: 0`` makes an assertion informational: it is evaluated and reported but never fails a case.

Types (``value`` defaults to the case's ``expected`` where marked *):

=================  ========================================================================================
equals*            trimmed output equals value; ``options.ignore_case``; a mapping or list compares parsed JSON
contains*          value occurs in the output (case-sensitive)
icontains*         the same, case-insensitive
contains-any/all   any / every item of ``value`` (a list, or comma-separated text) occurs; ``icontains-*`` too
starts-with*       the output, leading whitespace removed, starts with value
regex              ``re.search`` finds value; ``options.ignore_case``/``multiline``/``dotall``
is-json            the whole output parses as JSON; with a ``value`` it must also match that JSON Schema
contains-json      some JSON object or array inside the output (matching the schema in ``value``, if any)
json-schema        the output parses as JSON and validates against the schema in ``value``
json-path          the value at ``path`` (``$.a.b[0]``, ``$['key']``) equals ``value``; no value: the path exists
numeric*           the first number in the output is within ``options.tolerance`` (or ``threshold``, default
                   0) or ``options.rel_tolerance`` of value
choice             the earliest label of ``value`` mentioned in the output equals the case's ``expected``
similar*           text similarity >= ``threshold`` (default 0.8); ``options.method``: ``ratio`` or ``jaccard``
levenshtein*       edit distance to value <= ``threshold`` (default 5, as in promptfoo)
latency            the call took at most ``threshold`` milliseconds
cost               the call cost at most ``threshold`` (the model's configured currency)
llm-rubric         a judge model says the output meets the rubric in ``value``
=================  ========================================================================================

Decisions worth knowing:

* ``is-json``, ``json-schema`` and ``json-path`` parse the *whole* output, so a reply wrapped in a Markdown
  code fence fails them: a pipeline calling ``json.loads`` on the answer breaks the same way, and catching that
  is the point of a swap test. ``options.extract: true`` (or ``contains-json``) looks for JSON inside text.
* ``similar`` is lexical, not embedding-based (no model call, no extra dependency). ``ratio`` is difflib's
  ``SequenceMatcher`` ratio of the case-folded, whitespace-collapsed texts; ``jaccard`` is the overlap of
  their word sets. Both give 0..1, and the similarity is the score.
* ``choice`` is lexical too: ``"not positive"`` mentions ``positive``. Ask the model for the bare label, or
  grade free-text answers with ``llm-rubric``.
* A negated check whose measurement is missing (no latency, no price, an unreadable judge reply) still fails:
  not knowing is never a pass.


Where the types are implemented: ``_text_checks`` (equals, contains*, starts-with, regex, choice),
``_json_checks`` (is-json, contains-json, json-schema, json-path), ``_numeric_checks`` (numeric, latency, cost),
``_similarity_checks`` (similar, levenshtein) and ``_judge`` (llm-rubric). Each describes its types with a
:class:`~modelswap.evals._check.Check`; this module holds the rules every type shares.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._errors import ConfigError
from ._check import AssertionSpecError, Check, CheckContext, Outcome
from ._json_checks import CHECKS as _JSON_CHECKS
from ._judge import CHECKS as _JUDGE_CHECKS
from ._numeric_checks import CHECKS as _NUMERIC_CHECKS
from ._similarity_checks import CHECKS as _SIMILARITY_CHECKS
from ._text_checks import CHECKS as _TEXT_CHECKS
from ._transform import TransformError, apply_transform, compile_transform
from ._types import Assertion, AssertionResult, Case, CaseGrade, Judge
from ._values import closest, is_number, unknown

__all__ = [
    "ASSERTION_TYPES",
    "MEASUREMENT_TYPES",
    "check_assertion",
    "check_transform",
    "check_for_case",
    "default_assertion",
    "evaluate",
    "grade",
    "parse_assertion",
]

ASSERTION_TYPES: dict[str, str] = {
    "equals": "the trimmed output equals value",
    "contains": "value occurs in the output",
    "icontains": "value occurs in the output, ignoring case",
    "contains-any": "one of the values occurs in the output",
    "contains-all": "every value occurs in the output",
    "icontains-any": "one of the values occurs in the output, ignoring case",
    "icontains-all": "every value occurs in the output, ignoring case",
    "starts-with": "the output starts with value",
    "regex": "the regular expression in value matches the output",
    "is-json": "the output is JSON (matching the schema in value, if given)",
    "contains-json": "the output contains a JSON object or array (matching the schema in value, if given)",
    "json-schema": "the output is JSON valid against the schema in value",
    "json-path": "the JSON value at path equals value",
    "numeric": "the first number in the output is within tolerance of value",
    "choice": "the first label of value mentioned in the output is the expected label",
    "similar": "the output is at least threshold-similar to value",
    "levenshtein": "the edit distance to value is at most threshold",
    "latency": "the call took at most threshold milliseconds",
    "cost": "the call cost at most threshold",
    "llm-rubric": "a judge model says the output meets the rubric in value",
}
"""Every assertion type, in catalogue order, with one line on what it checks."""

# Checks that say nothing about the answer itself: a case holding only these still gets the default equality.
MEASUREMENT_TYPES = frozenset({"latency", "cost"})

_ASSERTION_KEYS = ("type", "value", "negate", "weight", "threshold", "path", "options", "metric", "transform")
_IMPLEMENTED: dict[str, Check] = {
    **_TEXT_CHECKS, **_JSON_CHECKS, **_NUMERIC_CHECKS, **_SIMILARITY_CHECKS, **_JUDGE_CHECKS
}
# One implementation per catalogued type; a type missing from the check modules fails here, at import.
_CHECKS: dict[str, Check] = {name: _IMPLEMENTED[name] for name in ASSERTION_TYPES}


def default_assertion() -> Assertion:
    """The check a case without ``assert`` gets: its ``expected``, trimmed and compared ignoring case."""
    return Assertion("equals", options={"ignore_case": True})


# -- parsing and validation ---------------------------------------------------------------------------------------


def parse_assertion(raw: Any) -> Assertion:
    """Build an :class:`~modelswap.evals.Assertion` from a suite's mapping and validate it.

    Raises:
        AssertionSpecError: naming the field at fault and the fix.
    """
    if not isinstance(raw, Mapping):
        raise AssertionSpecError(
            f"an assertion is a mapping such as {{type: icontains, value: Paris}}, not {type(raw).__name__} {raw!r}."
        )
    for key in raw:
        if key not in _ASSERTION_KEYS:
            raise AssertionSpecError(
                unknown("field", key, _ASSERTION_KEYS, "Assertion fields")[:-1]
                + "; type-specific settings go under `options:`.",
                str(key),
            )
    kind = raw.get("type")
    if not isinstance(kind, str) or not kind:
        raise AssertionSpecError("missing `type`: say which check to run, for example `type: icontains`.", "type")
    negate = raw.get("negate", False)
    if not isinstance(negate, bool):
        raise AssertionSpecError(f"`negate` must be true or false, not {negate!r}.", "negate")
    if kind.startswith("not-") and negate:
        raise AssertionSpecError(
            f"{kind!r} with `negate: true` negates twice; use either the not- prefix or negate.", "negate"
        )
    weight = raw.get("weight", 1.0)
    if not is_number(weight) or weight < 0:
        raise AssertionSpecError(f"`weight` must be a number >= 0 (0 = informational), not {weight!r}.", "weight")
    threshold = raw.get("threshold")
    if threshold is not None and not is_number(threshold):
        raise AssertionSpecError(f"`threshold` must be a number, not {threshold!r}.", "threshold")
    path = raw.get("path")
    if path is not None and not isinstance(path, str):
        raise AssertionSpecError(f"`path` must be text such as $.items[0].name, not {path!r}.", "path")
    options = raw.get("options") or {}
    if not isinstance(options, Mapping):
        raise AssertionSpecError(f"`options` must be a mapping, not {type(options).__name__}.", "options")
    metric = raw.get("metric")
    if metric is not None and (not isinstance(metric, str) or not metric):
        raise AssertionSpecError(f"`metric` is a name to group results under, not {metric!r}.", "metric")
    transform = raw.get("transform")
    if transform is not None:
        check_transform(transform, "transform")
    assertion = Assertion(
        kind, raw.get("value"), negate, float(weight), None if threshold is None else float(threshold), path,
        dict(options), metric, transform,
    )
    check_assertion(assertion)
    return assertion


def check_transform(expression: Any, field: str) -> None:
    """Check that ``expression`` is a transform modelswap can run (see :mod:`modelswap.evals._transform`).

    Raises:
        AssertionSpecError: it is not, naming ``field`` and why.
    """
    if not isinstance(expression, str) or not expression.strip():
        raise AssertionSpecError(f"`{field}` is an expression on `output` such as output.trim(), not {expression!r}.",
                                 field)
    try:
        compile_transform(expression)
    except TransformError as exc:
        raise AssertionSpecError(f"`{field}` {expression!r}: {exc}. modelswap runs no code from suites.", field) from None


def check_assertion(assertion: Assertion) -> None:
    """Validate what can be checked without the case: type, options, regex, schema, path, thresholds.

    A list type's comma-separated text ``value`` becomes a list, in place.

    Raises:
        AssertionSpecError: naming the field at fault and the fix.
    """
    a = assertion
    check = _CHECKS.get(a.type)
    if check is None:
        suggestion = closest(a.type, ASSERTION_TYPES)
        raise AssertionSpecError(
            f"unknown assertion type {a.label!r}"
            + (f"; did you mean {('not-' if a.negate else '') + suggestion!r}?" if suggestion else ".")
            + f" Known types: {', '.join(ASSERTION_TYPES)} (each also with a not- prefix).",
            "type",
        )
    for key in a.options:
        if key not in check.options:
            suggestion = closest(str(key), check.options)
            raise AssertionSpecError(
                f"{a.type} has no option {key!r}" + (f"; did you mean {suggestion!r}?" if suggestion else ".")
                + (f" Its options: {', '.join(sorted(check.options))}." if check.options else " It takes no options."),
                f"options.{key}",
            )
    if check.value == "required" and (a.value is None or a.value == "" or a.value == []):
        raise AssertionSpecError(f"{a.label} needs a `value`: {check.value_hint}", "value")
    if check.validate is not None:
        check.validate(a)


def check_for_case(assertion: Assertion, expected: Any) -> None:
    """Validate what needs the case: a value to compare with, and a numeric or label ``expected``.

    Raises:
        AssertionSpecError: naming the field at fault and the fix.
    """
    a = assertion
    check = _CHECKS.get(a.type)
    if check is None:
        return
    if check.value == "or-expected" and a.value is None and expected is None:
        raise AssertionSpecError(f"{a.label} has no `value` and the case has no `expected`: give one of them.", "value")
    if check.validate_for_case is not None:
        check.validate_for_case(a, expected)


# -- evaluation ---------------------------------------------------------------------------------------------------


def evaluate(
    assertion: Assertion,
    output: str | None,
    *,
    expected: Any = None,
    latency_s: float | None = None,
    cost: float | None = None,
    judge: Judge | None = None,
    question: str | None = None,
) -> AssertionResult:
    """Run one assertion on a model's output.

    Args:
        assertion: the check.
        output: the model's answer text; None (the call failed) fails every check.
        expected: the case's expected answer, used where the assertion has no ``value``.
        latency_s: the call's wall time, for ``latency``.
        cost: the call's cost, for ``cost``; None means the model has no configured price.
        judge: the judge model, for ``llm-rubric``.
        question: the prompt's last user message, shown to the judge.

    Returns:
        The result, negation applied.

    Raises:
        ConfigError: the assertion cannot run: unknown type, no value to compare with, or ``llm-rubric``
            without a judge.

    Example:
        >>> evaluate(Assertion("numeric", 42, options={"tolerance": 0.5}), "About 42.3 km").passed
        True
        >>> evaluate(Assertion("latency", threshold=500), "ok", latency_s=0.8).reason
        'took 800 ms; limit 500 ms'
    """
    check = _CHECKS.get(assertion.type)
    if check is None:
        # check_assertion words the error: the unknown type and the known one it most resembles.
        try:
            check_assertion(assertion)
        except AssertionSpecError as exc:
            raise ConfigError(exc.message, field=exc.field) from None
        raise ConfigError(f"unknown assertion type {assertion.label!r}.", field="type")
    if not isinstance(output, str):
        outcome = Outcome(False, 0.0, "no output: the call failed", definite=False)
    else:
        try:
            if assertion.transform:
                output = apply_transform(assertion.transform, output)
            outcome = check.run(assertion, output, CheckContext(expected, latency_s, cost, judge, question))
        except TransformError as exc:
            outcome = Outcome(False, 0.0, f"the transform failed: {exc}", definite=False)
    passed, score = outcome.passed, min(1.0, max(0.0, float(outcome.score)))
    if assertion.negate and outcome.definite:
        passed, score = not passed, 1.0 - score
    return AssertionResult(assertion.label, passed, score, outcome.reason, assertion.weight, assertion.metric)


def grade(
    case: Case,
    output: str | None,
    *,
    latency_s: float | None = None,
    cost: float | None = None,
    judge: Judge | None = None,
) -> CaseGrade:
    """Grade one case's output against all its assertions.

    The case passes when every assertion of weight > 0 passes; the score is the weighted mean of their
    scores (1.0 when nothing has weight). With ``case.threshold`` set, the case passes when the score
    reaches the threshold instead, as in promptfoo.

    Example:
        >>> from modelswap.evals import Case
        >>> case = Case("c1", [{"role": "user", "content": "2+2?"}], expected="4", asserts=[
        ...     Assertion("contains", "4", weight=3), Assertion("latency", threshold=1000, weight=1)])
        >>> g = grade(case, "4", latency_s=2.0, cost=None)
        >>> g.passed, g.score
        (False, 0.75)
    """
    question = next(
        (m.get("content") for m in reversed(case.messages) if m.get("role") == "user" and isinstance(m.get("content"), str)),
        None,
    )
    transform = getattr(case, "transform", None)
    if transform and isinstance(output, str):
        try:
            output = apply_transform(transform, output)
        except TransformError as exc:
            # As in promptfoo, a transform that fails on an answer fails the case (it is not a check's verdict).
            failed = [AssertionResult(a.label, False, 0.0, f"the transform failed: {exc}", a.weight, a.metric)
                      for a in case.asserts]
            return CaseGrade(False, 0.0, failed)
    results = [
        evaluate(a, output, expected=case.expected, latency_s=latency_s, cost=cost, judge=judge, question=question)
        for a in case.asserts
    ]
    counted = [r for r in results if r.weight > 0]
    total = sum(r.weight for r in counted)
    score = sum(r.weight * r.score for r in counted) / total if total else 1.0
    threshold = getattr(case, "threshold", None)
    passed = score >= threshold if threshold is not None else all(r.passed for r in counted)
    return CaseGrade(passed, score, results)
