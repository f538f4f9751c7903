"""The contract between the assertion registry and the modules that implement the checks.

A check module (``_text_checks``, ``_json_checks``, ``_numeric_checks``, ``_similarity_checks``, ``_judge``)
describes each assertion type it implements with a :class:`Check`: the function that runs it on an answer,
and what a suite may write for it (options, whether ``value`` is needed, type-specific validation).
:mod:`modelswap.evals._assertions` collects them and dispatches. A check function receives the assertion, the
answer text and a :class:`CheckContext`, and returns an :class:`Outcome` before negation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Literal

from .._errors import ConfigError
from ._types import Assertion, Judge

__all__ = ["AssertionSpecError", "Check", "CheckContext", "CheckFn", "Outcome", "value_or_expected"]


class AssertionSpecError(Exception):
    """An assertion is badly written; the suite loader adds the file, line and field around it.

    Attributes:
        message: what is wrong and the fix.
        field: the assertion field at fault, dotted for nested ones (``options.tolerance``), or None.
    """

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    @property
    def path(self) -> tuple[str, ...]:
        """:attr:`field` split into its parts (``("options", "tolerance")``), to find its line in a suite."""
        return tuple(self.field.split(".")) if self.field else ()


@dataclass(slots=True)
class CheckContext:
    """What a check may use besides the assertion and the answer: the case and the call's measurements.

    Attributes:
        expected: the case's expected answer, or None.
        latency_s: the call's wall time in seconds, or None when not measured.
        cost: the call's cost, or None when the model has no configured price.
        judge: the judge model for ``llm-rubric``, or None.
        question: the prompt's last user message, shown to the judge.
    """

    expected: Any
    latency_s: float | None
    cost: float | None
    judge: Judge | None
    question: str | None


@dataclass(slots=True)
class Outcome:
    """A check's finding, before negation.

    Attributes:
        passed: whether the check holds.
        score: 0..1 (clamped by the dispatcher).
        reason: what was found, in words a report can show.
        definite: False when the check could not be made (no latency, no price, an unreadable judge reply):
            negation must not turn "unknown" into a pass.
    """

    passed: bool
    score: float
    reason: str
    definite: bool = True


CheckFn = Callable[[Assertion, str, CheckContext], Outcome]
"""Runs one assertion type on a model's answer text."""


@dataclass(frozen=True, slots=True)
class Check:
    """One assertion type: how it runs and what a suite may write for it.

    Attributes:
        run: evaluates the assertion on an answer.
        options: the names allowed under ``options:``.
        value: ``"optional"``; ``"required"`` (the assertion must give ``value``, :attr:`value_hint` says
            what); or ``"or-expected"`` (``value`` falls back to the case's ``expected``, one must exist).
        value_hint: for a required value, an example of what to write.
        validate: checks what needs no case (a regex compiles, a schema is valid), raising
            :class:`AssertionSpecError`; it may normalise the assertion in place (a text list into a list).
        validate_for_case: checks what needs the case's ``expected``, raising :class:`AssertionSpecError`.
    """

    run: CheckFn
    options: frozenset[str] = frozenset()
    value: Literal["optional", "required", "or-expected"] = "optional"
    value_hint: str = ""
    validate: Callable[[Assertion], None] | None = None
    validate_for_case: Callable[[Assertion, Any], None] | None = None


def value_or_expected(assertion: Assertion, ctx: CheckContext) -> Any:
    """What to compare the answer with: the assertion's ``value``, else the case's ``expected``.

    Raises:
        ConfigError: neither is given.
    """
    if assertion.value is not None:
        return assertion.value
    if ctx.expected is not None:
        return ctx.expected
    raise ConfigError(
        f"assertion {assertion.label!r} has no `value` and the case has no `expected`: give one of them.",
        field="value",
    )
