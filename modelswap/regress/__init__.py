"""Prove a model swap safe: run an eval suite on both models, compare them, decide, report.

    >>> from modelswap.regress import run_regression, build_report, write_reports
    >>> results = run_regression(suite, "gpt-4o-mini", "llama-3.1-8b", repeat=3)             # doctest: +SKIP
    >>> report = build_report(results, suite={"name": "faq", "source": "evals/faq.yaml", "n_cases": 200},
    ...                       baseline="gpt-4o-mini", candidate="llama-3.1-8b",
    ...                       thresholds={"max_accuracy_drop": 0.02, "latency_sla_ms": 1500}, repeat=3)  # doctest: +SKIP
    >>> report["verdict"], report["reasons"]           # "promote" | "hold" | "rollback"     # doctest: +SKIP
    >>> write_reports(report, "out/")                  # report.json, report.md, report.html  # doctest: +SKIP

The statistics, the verdict and the reports use the standard library only; the runner and the pre-flight
checks load when first used, so importing this stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._html import render_html
from ._markdown import render_markdown
from ._files import write_reports
from ._format import accuracy_evidence, cases_needed, check_bounds, decision_rows
from ._plan import plan_cases, plan_from_report
from ._report import build_report, dumps_report
from ._stats import bootstrap_ci, mcnemar_exact, paired_bootstrap_ci, percentile, summary
from ._verdict import THRESHOLD_DEFAULTS, Verdict, accuracy_test, decide, normalize_thresholds

if TYPE_CHECKING:
    from ._preflight import NON_COMMERCIAL, preflight
    from ._runner import ROLES, arun_regression, compare, load_results, run_regression

__all__ = [
    "NON_COMMERCIAL",
    "ROLES",
    "THRESHOLD_DEFAULTS",
    "Verdict",
    "accuracy_evidence",
    "accuracy_test",
    "arun_regression",
    "bootstrap_ci",
    "build_report",
    "cases_needed",
    "check_bounds",
    "compare",
    "decide",
    "decision_rows",
    "dumps_report",
    "load_results",
    "mcnemar_exact",
    "normalize_thresholds",
    "paired_bootstrap_ci",
    "percentile",
    "plan_cases",
    "plan_from_report",
    "preflight",
    "render_html",
    "render_markdown",
    "run_regression",
    "summary",
    "write_reports",
]

_LAZY = {
    "ROLES": "_runner",
    "arun_regression": "_runner",
    "compare": "_runner",
    "load_results": "_runner",
    "run_regression": "_runner",
    "NON_COMMERCIAL": "_preflight",
    "preflight": "_preflight",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
