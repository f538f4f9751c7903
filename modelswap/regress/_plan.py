"""Size a suite before any call: how many paired cases the verdict needs, from stated accuracies or a pilot run.

The verdict proves non-inferiority (``_verdict``), so a suite too small for its margin can only ever HOLD. This
answers "how many cases?" up front, with the same sample-size formulas ``_power`` uses after a run.

Example:
    >>> from modelswap.regress import plan_cases
    >>> p = plan_cases(baseline_accuracy=0.80, candidate_accuracy=0.80, disagreement=0.10)
    >>> p["verdict_sought"], p["cases"]
    ('promote', 274)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._power import DEFAULT_POWER, cases_for_difference, cases_for_rate, least_cases

__all__ = ["plan_cases", "plan_from_report"]


def _independent_disagreement(baseline: float, candidate: float) -> float:
    # Models whose failures are unrelated disagree on p1(1-p2) + p2(1-p1) of the cases: the most likely
    # assumption when nothing is known, and conservative for models of one family (they fail together).
    return baseline * (1.0 - candidate) + candidate * (1.0 - baseline)


def plan_cases(
    *,
    baseline_accuracy: float,
    candidate_accuracy: float,
    disagreement: float | None = None,
    margin: float = 0.05,
    alpha: float = 0.05,
    power: float = DEFAULT_POWER,
    error_rate: float | None = None,
    max_error_rate: float | None = None,
    source: str = "stated",
) -> dict[str, Any]:
    """The paired cases needed to decide at ``margin`` with probability ``power``, if the truth is as stated.

    Args:
        baseline_accuracy: the baseline's expected accuracy on the suite (0-1).
        candidate_accuracy: the candidate's.
        disagreement: the share of cases on which the two models disagree (one right, one wrong); by default
            that of models whose failures are independent. At least ``|candidate - baseline|``.
        margin: the non-inferiority margin (``max_accuracy_drop``).
        alpha: the bounds' one-sided error rate.
        power: the chance of a decision the suite should have.
        error_rate, max_error_rate: the candidate's expected error rate and its limit: adds ``error_calls``.
        source: where the numbers come from (shown to the user).

    Returns:
        ``verdict_sought`` ("promote" when the stated candidate is within the margin, "rollback" when beyond it,
        ``None`` exactly at it), ``cases`` (``None`` when no number decides), ``least_cases`` (the floor with
        full agreement) and the assumptions.

    Raises:
        ValueError: a value out of range, naming it.
    """
    for name, value in (("baseline_accuracy", baseline_accuracy), ("candidate_accuracy", candidate_accuracy)):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} is a fraction such as 0.8, got {value:g}")
    if not 0.0 <= margin < 1.0:
        raise ValueError(f"the margin is a fraction (0.05 = 5 points), got {margin:g}")
    if not 0.0 < alpha < 0.5:
        raise ValueError(f"alpha is a probability such as 0.05, got {alpha:g}")
    if not 0.5 <= power < 1.0:
        raise ValueError(f"power is a probability such as 0.8, got {power:g}")
    difference = candidate_accuracy - baseline_accuracy
    if abs(difference + margin) < 1e-9:
        difference = -margin  # 0.75 - 0.80 is not exactly -0.05 in floating point; it is meant to be
    if disagreement is None:
        disagreement = _independent_disagreement(baseline_accuracy, candidate_accuracy)
    if not abs(difference) - 1e-9 <= disagreement <= 1.0:
        raise ValueError(
            f"disagreement must lie between |candidate - baseline| = {abs(difference):g} and 1, got {disagreement:g}"
        )
    if difference > -margin:
        sought: str | None = "promote"
        cases = cases_for_difference(difference, disagreement, -margin, alpha=alpha, power=power)
    elif difference < -margin:
        sought = "rollback"
        cases = cases_for_difference(-difference, disagreement, margin, alpha=alpha, power=power)
    else:
        sought, cases = None, None
    floor = least_cases(margin, alpha)
    if cases is not None and floor is not None:
        cases = max(cases, floor)
    out: dict[str, Any] = {
        "source": source,
        "baseline_accuracy": baseline_accuracy,
        "candidate_accuracy": candidate_accuracy,
        "difference": difference,
        "disagreement": disagreement,
        "margin": margin,
        "alpha": alpha,
        "power": power,
        "verdict_sought": sought,
        "cases": cases,
        "least_cases": floor,
    }
    if error_rate is not None and max_error_rate is not None:
        out["error_rate"], out["max_error_rate"] = error_rate, max_error_rate
        out["error_calls"] = cases_for_rate(error_rate, max_error_rate, alpha=alpha, power=power)
    return out


def plan_from_report(report: Mapping[str, Any], **options: Any) -> dict[str, Any]:
    """:func:`plan_cases` from a pilot run's ``report.json``: its accuracies and observed disagreement.

    ``options`` override (``margin``, ``alpha``, ``power``; ``margin`` and ``alpha`` default to the report's).

    Raises:
        ValueError: the report has no accuracy of both models.
    """
    models = report.get("models") or {}
    base = (models.get("baseline") or {}).get("accuracy")
    cand = (models.get("candidate") or {}).get("accuracy")
    if base is None or cand is None:
        raise ValueError("the report has no accuracy for both models (was the run interrupted before any case?)")
    counts = (report.get("evidence") or {}).get("accuracy") or {}
    if counts.get("n"):
        disagreement = (counts["regressed"] + counts["fixed"]) / counts["n"]
        n = counts.get("cases") or counts["n"]
    else:
        mc = (report.get("comparison") or {}).get("mcnemar") or {}
        n = ((report.get("comparison") or {}).get("cases") or {}).get("paired") or 0
        disagreement = (mc.get("b", 0) + mc.get("c", 0)) / n if n else None
    thresholds = report.get("thresholds") or {}
    options.setdefault("margin", thresholds.get("max_accuracy_drop", 0.05))
    options.setdefault("alpha", thresholds.get("alpha", 0.05))
    if disagreement is not None:
        # The observed disagreement cannot be below the observed difference; a pilot with none gets one case's.
        disagreement = max(disagreement, abs(cand - base), 1.0 / max(n, 1))
    return plan_cases(
        baseline_accuracy=base, candidate_accuracy=cand, disagreement=disagreement,
        source=f"pilot run of {n:,} cases", **options,
    )
