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

Inside, each module imports only those listed before it: ``_values`` (small value helpers) and ``_types``
(the data); ``_check`` (what a check takes and returns); the checks (``_json_checks``, ``_text_checks``,
``_numeric_checks``, ``_similarity_checks``, ``_judge``); ``_transform`` (promptfoo's transform expressions);
``_assertions`` (the catalogue, validation, dispatch and grading); ``_source`` (files, and the place of each piece
for errors); ``_template`` (prompt templates); ``_cases`` (the case rules every format shares); ``_suite``
(native JSONL and YAML suites); the promptfoo importer (``_promptfoo_map``: a test and its assertions,
``_promptfoo_files``: prompts, test files, providers, ``_promptfoo``: the cases); ``_load`` (:func:`load_suite`,
which picks the loader).
"""

from __future__ import annotations

from ._assertions import ASSERTION_TYPES, default_assertion, evaluate, grade
from ._json_checks import parse_json_path
from ._judge import parse_verdict, rubric_prompt
from ._load import load_suite
from ._promptfoo import load_promptfoo
from ._transform import TransformError, apply_transform
from ._types import Assertion, AssertionResult, Case, CaseGrade, Judge, Suite

__all__ = [
    "ASSERTION_TYPES",
    "Assertion",
    "AssertionResult",
    "Case",
    "CaseGrade",
    "Judge",
    "Suite",
    "TransformError",
    "apply_transform",
    "default_assertion",
    "evaluate",
    "grade",
    "load_promptfoo",
    "load_suite",
    "parse_json_path",
    "parse_verdict",
    "rubric_prompt",
]
