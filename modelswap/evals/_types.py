"""The data of an eval suite: a suite of cases, the assertions on a case, and the results of grading.

These are plain dataclasses. Loading them from files lives in :mod:`modelswap.evals._suite` (and
:mod:`modelswap.evals._promptfoo`); running the assertions in :mod:`modelswap.evals._assertions`. This module
imports nothing else from ``modelswap.evals``.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

__all__ = ["Assertion", "AssertionResult", "Case", "CaseGrade", "Judge", "Suite"]

Judge = Callable[[str], str]
"""A judge model for ``llm-rubric``: takes the grading prompt, returns the judge's reply text."""

# Chat templates add a few tokens of framing per message.
_TOKENS_PER_MESSAGE = 4


@dataclass(slots=True)
class Assertion:
    """One check on a model's answer.

    Attributes:
        type: a key of :data:`~modelswap.evals.ASSERTION_TYPES`; a ``not-`` prefix is moved into ``negate``.
        value: what to compare with; see :mod:`modelswap.evals._assertions` per type.
        negate: pass exactly when the check itself fails.
        weight: share in the case's score; 0 makes the assertion informational.
        threshold: a score, limit or tolerance, depending on the type.
        path: for ``json-path``, the path into the output's JSON.
        options: type-specific settings (``ignore_case``, ``tolerance``, ``method``, ``extract``, ...).
        metric: a name reports group results under (promptfoo's ``metric``), or None.
        transform: a promptfoo transform expression applied to the output before this check only, or None.

    Example:
        >>> Assertion("not-contains", "As an AI")
        Assertion(type='contains', value='As an AI', negate=True, weight=1.0, threshold=None, path=None, options={}, metric=None, transform=None)
    """

    type: str
    value: Any = None
    negate: bool = False
    weight: float = 1.0
    threshold: float | None = None
    path: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    metric: str | None = None
    transform: str | None = None

    def __post_init__(self) -> None:
        if self.type.startswith("not-"):
            self.type = self.type[4:]
            self.negate = True

    @property
    def label(self) -> str:
        """The type as written in a suite, ``not-`` prefix included."""
        return f"not-{self.type}" if self.negate else self.type


@dataclass(slots=True)
class AssertionResult:
    """The outcome of one assertion.

    Attributes:
        type: the assertion's label (``not-contains`` for a negated ``contains``).
        passed: whether it passed, negation applied.
        score: 0..1; binary checks give 0 or 1, ``similar`` and ``llm-rubric`` give the measured value.
        reason: what was found, in words a report can show.
        weight: the assertion's weight in the case score.
        metric: the assertion's metric name, or None.
    """

    type: str
    passed: bool
    score: float
    reason: str
    weight: float = 1.0
    metric: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class CaseGrade:
    """A case's verdict: passed, its weighted score and every assertion's result."""

    passed: bool
    score: float
    results: list[AssertionResult]

    @property
    def failures(self) -> list[AssertionResult]:
        """The failed assertions that count (weight above zero)."""
        return [r for r in self.results if not r.passed and r.weight > 0]

    @property
    def reason(self) -> str:
        """The failed assertions' reasons, joined; empty when the case passed on every assertion."""
        return "; ".join(f"{r.type}: {r.reason}" for r in self.failures)

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "score": self.score, "results": [r.to_dict() for r in self.results]}


@dataclass(slots=True)
class Case:
    """One regression case, its prompt fully rendered.

    Attributes:
        id: unique within the suite.
        messages: the chat messages to send, suite system prompt included.
        expected: the reference answer (text, number or JSON), or None.
        asserts: the checks, suite defaults included.
        vars: the variables the prompt was rendered with (suite defaults under the case's own).
        line: the 1-based line the case starts on, or None when built in code.
        threshold: when set, the case passes when its weighted score reaches this instead of on every assertion.
        description: free text from the suite.
        metadata: every other field of the case, for grouping in reports.
        transform: a promptfoo transform expression applied to the output before every check, or None.

    Example:
        >>> Case("c1", [{"role": "user", "content": "2+2?"}], expected="4").messages[0]["content"]
        '2+2?'
    """

    id: str
    messages: list[dict[str, Any]]
    expected: Any = None
    asserts: list[Assertion] = field(default_factory=list)
    vars: dict[str, Any] = field(default_factory=dict)
    line: int | None = None
    threshold: float | None = None
    description: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    transform: str | None = None


@dataclass(slots=True)
class Suite:
    """A loaded regression suite.

    Attributes:
        name: the suite's ``name``, else the file name without extension.
        cases: the cases, in file order.
        params: generation params for every call (``temperature``, ``max_tokens``, ``stop``, ...).
        thresholds: cutover gates (``max_accuracy_drop``, ``latency_sla_ms``, ``max_error_rate``,
            ``max_cost_increase``, ``alpha``); only those the suite sets.
        judge: the model alias that grades ``llm-rubric``, or None.
        source: the file the suite came from.
        system: the system prompt, as written (each case holds it rendered).
        description: free text from the suite.
        template: the prompt template, as written, or None.
        notes: what an import could not carry over (promptfoo: unmapped assertions, ignored settings).
        license_policy: ``allow``/``deny`` lists of license names for the candidate model, checked before a
            regression run; empty when the suite sets none.
        providers: the models an imported promptfoo config names (``id``, ``label``, ``model_id``, ``params``),
            compared when a regression run is given no baseline and candidate; empty otherwise.

    Example:
        >>> suite = load_suite("tests/unit/evals/data/triage.yaml")   # doctest: +SKIP
        >>> suite.required_context_tokens()                          # doctest: +SKIP
        67
    """

    name: str
    cases: list[Case]
    params: dict[str, Any] = field(default_factory=dict)
    thresholds: dict[str, float] = field(default_factory=dict)
    judge: str | None = None
    source: str = "<string>"
    system: str | None = None
    description: str | None = None
    template: str | list[dict[str, Any]] | None = None
    notes: list[str] = field(default_factory=list)
    license_policy: dict[str, list[str]] = field(default_factory=dict)
    providers: list[dict[str, Any]] = field(default_factory=list)

    @property
    def uses_judge(self) -> bool:
        """Whether any case has an ``llm-rubric`` assertion (so a judge model must be set)."""
        return any(a.type == "llm-rubric" for case in self.cases for a in case.asserts)

    def required_context_tokens(self, max_tokens: int | None = None) -> int:
        """A rough context size every case fits in: the longest rendered prompt plus the answer budget.

        Characters / 4 (rounded up) plus a few tokens per message, plus ``max_tokens`` (the argument, else the
        suite's ``params.max_tokens``, else nothing). It is an estimate for a pre-flight check against a
        model's ``context_window``, not a tokenizer count: allow a margin.

        Example:
            >>> case = Case("a", [{"role": "user", "content": "x" * 400}])
            >>> Suite("s", [case], params={"max_tokens": 50}).required_context_tokens()
            154
        """
        longest = 0
        for case in self.cases:
            chars = sum(len(_content_text(m.get("content"))) for m in case.messages)
            longest = max(longest, math.ceil(chars / 4) + _TOKENS_PER_MESSAGE * len(case.messages))
        budget = max_tokens if max_tokens is not None else self.params.get("max_tokens")
        return longest + (int(budget) if isinstance(budget, (int, float)) and not isinstance(budget, bool) else 0)


def _content_text(content: Any) -> str:
    return content if isinstance(content, str) else json.dumps(content, ensure_ascii=False, default=str)
