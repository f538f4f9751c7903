"""Regression suites and assertions: prove a model swap safe before cutover.

A suite (JSONL, YAML, or an imported promptfoo config) lists cases: a prompt, an expected answer and checks.
The regression runner sends every case to the baseline and the candidate model and grades both answers here::

    >>> from modelswap.evals import load_suite, grade
    >>> suite = load_suite("suites/triage.yaml")                      # doctest: +SKIP
    >>> case = suite.cases[0]                                          # doctest: +SKIP
    >>> grade(case, "billing", latency_s=0.4, cost=0.0001).passed       # doctest: +SKIP
    True

See :mod:`modelswap.evals._suite` for the suite formats, :mod:`modelswap.evals._assertions` for the assertion
types, and :func:`load_promptfoo` for what a promptfoo import keeps.
"""

from __future__ import annotations

from ._assertions import (
    ASSERTION_TYPES,
    Assertion,
    AssertionResult,
    CaseGrade,
    Judge,
    default_assertion,
    evaluate,
    grade,
    parse_json_path,
    parse_verdict,
    rubric_prompt,
)
from ._promptfoo import load_promptfoo
from ._suite import Case, Suite, load_suite

__all__ = [
    "ASSERTION_TYPES",
    "Assertion",
    "AssertionResult",
    "Case",
    "CaseGrade",
    "Judge",
    "Suite",
    "default_assertion",
    "evaluate",
    "grade",
    "load_promptfoo",
    "load_suite",
    "parse_json_path",
    "parse_verdict",
    "rubric_prompt",
]
