"""The cutover verdict: promote, hold or rollback, with the reasons in plain sentences.

``decide(metrics, thresholds)`` runs six checks. Each ends as ``pass``, ``hold``, ``rollback`` or ``skipped``
(no threshold given), and the verdict is the worst of them: any ``rollback`` -> **rollback**, else any
``hold`` -> **hold**, else **promote**.

Thresholds (all optional):

====================  =======  ==============================================================================
key                   default  meaning
====================  =======  ==============================================================================
``max_accuracy_drop``  0.0     largest tolerated fall in accuracy, absolute (0.02 = 2 points)
``alpha``              0.05    significance level of McNemar's test and 1 - level of the bootstrap intervals
``min_cases``          10      fewer cases answered by both models than this and we cannot tell
``max_error_rate``     --      largest tolerated share of calls that errored
``latency_sla_ms``     --      the candidate's p95 latency must not exceed this
``max_cost_increase``  --      largest tolerated relative rise in total cost (0.10 = +10%)
====================  =======  ==============================================================================

The checks:

1. **accuracy** -- the candidate's accuracy minus the baseline's (over all runs), against
   ``-max_accuracy_drop``. *Rollback* when the drop is beyond the tolerance **and** significant: McNemar's
   exact test on the cases where the models disagree gives p < alpha (with more cases regressed than
   fixed), or the whole bootstrap interval of the difference lies below ``-max_accuracy_drop``. *Hold*
   when the drop is beyond the tolerance but not significant (more cases or repeats would tell). *Pass*
   otherwise, including any gain. With the default tolerance of 0, any significant drop rolls back and any
   other drop holds.
2. **error_rate** -- the candidate's share of errored calls. *Rollback* when above ``max_error_rate``.
3. **latency_p95** -- the candidate's 95th-percentile latency. *Rollback* when above ``latency_sla_ms``;
   *hold* when an SLA is set but no latency was recorded.
4. **cost** -- the candidate's total cost relative to the baseline's. *Rollback* when the rise exceeds
   ``max_cost_increase``; *hold* when a limit is set but a call that did not error has no cost (a model
   without a price in the config).
5. **sample_size** -- *hold* when fewer than ``min_cases`` cases were answered by both models, or some case
   has results from one model only (an interrupted run).
6. **baseline_health** -- *hold* when the baseline itself errored on more than ``max_error_rate`` of its
   calls (50% when no ``max_error_rate`` is set): a broken baseline makes any candidate look good.

Latency, error-rate and cost checks use the point estimates: they are budgets, not hypotheses.

``metrics`` has the shape of the report (``build_report``) without its verdict, so a saved
``report.json`` can be re-decided with other thresholds: ``decide(json.load(f), {...})``. It reads
``models.{baseline,candidate}.{accuracy, error_rate, errors, n_runs, latency_p95_ms, cost,
cost_unknown_runs, error_types}`` and ``comparison.{mcnemar.{b, c, p_value}, accuracy_delta.{value, ci},
latency_p95_delta_ms, cases.{paired, baseline_only, candidate_only}}``; missing entries count as unknown.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from . import _format as F

__all__ = ["THRESHOLD_DEFAULTS", "Verdict", "decide", "normalize_thresholds"]

THRESHOLD_DEFAULTS: dict[str, float | int | None] = {
    "max_accuracy_drop": 0.0,
    "alpha": 0.05,
    "min_cases": 10,
    "max_error_rate": None,
    "latency_sla_ms": None,
    "max_cost_increase": None,
}
_BASELINE_ERROR_DEFAULT = 0.5
_GE = "\u2265"
_ORDER = {"rollback": 0, "hold": 1, "pass": 2, "skipped": 3}


@dataclass(frozen=True)
class Verdict:
    """``verdict`` is "promote", "hold" or "rollback"; ``reasons`` are sentences; ``checks`` are dicts with
    ``name``, ``value``, ``threshold``, ``passed``, ``significant``, ``detail`` and ``status``."""

    verdict: str
    reasons: list[str] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "reasons": list(self.reasons),
            "checks": [dict(c) for c in self.checks],
        }


def normalize_thresholds(thresholds: Mapping[str, Any] | None) -> dict[str, Any]:
    """The thresholds with defaults filled in; unknown keys and out-of-range values raise ValueError (a
    misspelt threshold silently ignored would let a bad model through)."""
    given = {k: v for k, v in (thresholds or {}).items() if v is not None}
    unknown = sorted(set(given) - set(THRESHOLD_DEFAULTS))
    if unknown:
        raise ValueError(f"unknown threshold(s) {', '.join(unknown)}; known: {', '.join(THRESHOLD_DEFAULTS)}")
    out = dict(THRESHOLD_DEFAULTS)
    for key, value in given.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"threshold {key} must be a finite number, got {value!r}")
        out[key] = value
    if not 0.0 <= out["max_accuracy_drop"] <= 1.0:
        raise ValueError(f"max_accuracy_drop is a fraction (0.02 = 2 points), got {out['max_accuracy_drop']}")
    if not 0.0 < out["alpha"] < 1.0:
        raise ValueError(f"alpha must be within (0, 1), got {out['alpha']}")
    if out["min_cases"] < 0:
        raise ValueError(f"min_cases must be non-negative, got {out['min_cases']}")
    out["min_cases"] = math.ceil(out["min_cases"])
    if out["max_error_rate"] is not None and not 0.0 <= out["max_error_rate"] <= 1.0:
        raise ValueError(f"max_error_rate is a fraction (0.05 = 5%), got {out['max_error_rate']}")
    if out["latency_sla_ms"] is not None and out["latency_sla_ms"] <= 0:
        raise ValueError(f"latency_sla_ms must be positive, got {out['latency_sla_ms']}")
    if out["max_cost_increase"] is not None and out["max_cost_increase"] < -1.0:
        raise ValueError(f"max_cost_increase is relative (0.10 = +10%), got {out['max_cost_increase']}")
    return out


def _check(
    name: str, status: str, value: Any, threshold: Any, detail: str, significant: bool | None = None
) -> dict[str, Any]:
    return {
        "name": name,
        "value": value,
        "threshold": threshold,
        "passed": status in ("pass", "skipped"),
        "significant": significant,
        "detail": detail,
        "status": status,
    }


def _get(d: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(d, Mapping):
            return None
        d = d.get(key)
    return d


def _top_errors(model: Mapping[str, Any] | None) -> str:
    types = _get(model, "error_types") or {}
    if not types:
        return ""
    top = sorted(types.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
    return " (most common: " + ", ".join(f"{name} \u00d7{n:,}" for name, n in top) + ")"


def _accuracy(metrics: Mapping[str, Any], t: Mapping[str, Any]) -> dict[str, Any]:
    base = _get(metrics, "models", "baseline", "accuracy")
    cand = _get(metrics, "models", "candidate", "accuracy")
    delta = _get(metrics, "comparison", "accuracy_delta", "value")
    if delta is None and base is not None and cand is not None:
        delta = cand - base
    ci = _get(metrics, "comparison", "accuracy_delta", "ci") or [None, None]
    b = _get(metrics, "comparison", "mcnemar", "b")
    c = _get(metrics, "comparison", "mcnemar", "c")
    p = _get(metrics, "comparison", "mcnemar", "p_value")
    max_drop, alpha = t["max_accuracy_drop"], t["alpha"]
    threshold = -max_drop
    if delta is None or base is None or cand is None:
        return _check(
            "accuracy",
            "hold",
            None,
            threshold,
            "accuracy could not be compared: no case has results from both models",
        )
    sig_mcnemar = p is not None and p < alpha and (b or 0) > (c or 0)
    ci_below = ci[1] is not None and ci[1] < threshold
    significant = bool(sig_mcnemar or ci_below)
    level = f"{(1 - alpha) * 100:g}%"
    stats = f"{F.points(delta)}, {level} CI {F.ci_points(ci)}; McNemar p = {F.p_value(p)}"
    if p is not None:
        stats += f" {'<' if p < alpha else _GE} {alpha:g}"
    if b is not None and c is not None:
        stats += f"; {b:,} case{'s' if b != 1 else ''} regressed, {c:,} fixed"
    allowed = f"{max_drop * 100:g} points"
    moved = "fell" if delta < 0 else "rose" if delta > 0 else "stayed"
    head = (
        f"accuracy {moved} from {F.pct(base)} to {F.pct(cand)}"
        if moved != "stayed"
        else f"accuracy stayed at {F.pct(cand)}"
    )
    if delta < threshold and significant:
        if sig_mcnemar:
            why = "statistically significant, and " + (
                f"more than the allowed {allowed}" if max_drop else "no drop is allowed"
            )
        elif max_drop:
            why = f"the whole {level} interval lies below \u2212{allowed}, the allowed drop"
        else:
            why = f"the whole {level} interval lies below zero, and no drop is allowed"
        return _check("accuracy", "rollback", delta, threshold, f"{head} ({stats}): {why}", True)
    if delta < threshold:
        limit = f"more than the allowed {allowed}" if max_drop else "a drop where none is allowed"
        return _check(
            "accuracy",
            "hold",
            delta,
            threshold,
            f"{head} ({stats}): {limit}, but not statistically significant; run more cases or repeats to tell",
            False,
        )
    within = f"within the allowed drop of {allowed}" if delta < 0 else "no drop"
    return _check(
        "accuracy", "pass", delta, threshold, f"{head} ({stats}): {within}", bool(p is not None and p < alpha)
    )


def _error_rate(metrics: Mapping[str, Any], t: Mapping[str, Any]) -> dict[str, Any]:
    model = _get(metrics, "models", "candidate")
    rate = _get(model, "error_rate")
    limit = t["max_error_rate"]
    counts = f" ({_get(model, 'errors') or 0:,} of {_get(model, 'n_runs') or 0:,} calls)"
    if limit is None:
        return _check(
            "error_rate",
            "skipped",
            rate,
            None,
            f"candidate error rate {F.pct(rate)}{counts}; no max_error_rate given",
        )
    if rate is None:
        return _check(
            "error_rate", "hold", None, limit, "the candidate has no results: its error rate is unknown"
        )
    if rate > limit:
        return _check(
            "error_rate",
            "rollback",
            rate,
            limit,
            f"candidate error rate {F.pct(rate)}{counts} exceeds the maximum {F.pct(limit)}{_top_errors(model)}",
        )
    return _check(
        "error_rate",
        "pass",
        rate,
        limit,
        f"candidate error rate {F.pct(rate)}{counts} is within the maximum {F.pct(limit)}",
    )


def _latency(metrics: Mapping[str, Any], t: Mapping[str, Any]) -> dict[str, Any]:
    p95 = _get(metrics, "models", "candidate", "latency_p95_ms")
    base = _get(metrics, "models", "baseline", "latency_p95_ms")
    sla = t["latency_sla_ms"]
    delta = _get(metrics, "comparison", "latency_p95_delta_ms", "value")
    ci = _get(metrics, "comparison", "latency_p95_delta_ms", "ci") or [None, None]
    extra = f"baseline p95 {F.ms(base)}"
    if delta is not None:
        extra += f"; \u0394 {F.signed_ms(delta)}"
        if ci[0] is not None and ci[1] is not None:
            extra += f", {(1 - t['alpha']) * 100:g}% CI {F.signed_ms(ci[0])} to {F.signed_ms(ci[1])}"
    if sla is None:
        return _check(
            "latency_p95",
            "skipped",
            p95,
            None,
            f"candidate p95 latency {F.ms(p95)} ({extra}); no latency_sla_ms given",
        )
    if p95 is None:
        return _check(
            "latency_p95",
            "hold",
            None,
            sla,
            f"no latency was recorded for the candidate: the SLA of {F.ms(sla)} cannot be checked",
        )
    if p95 > sla:
        return _check(
            "latency_p95",
            "rollback",
            p95,
            sla,
            f"candidate p95 latency {F.ms(p95)} exceeds the SLA of {F.ms(sla)} ({extra})",
        )
    return _check(
        "latency_p95",
        "pass",
        p95,
        sla,
        f"candidate p95 latency {F.ms(p95)} is within the SLA of {F.ms(sla)} ({extra})",
    )


def _cost(metrics: Mapping[str, Any], t: Mapping[str, Any]) -> dict[str, Any]:
    base = _get(metrics, "models", "baseline", "cost")
    cand = _get(metrics, "models", "candidate", "cost")
    limit = t["max_cost_increase"]
    unknown_b = _get(metrics, "models", "baseline", "cost_unknown_runs") or 0
    unknown_c = _get(metrics, "models", "candidate", "cost_unknown_runs") or 0
    if base is not None and cand is not None:
        if base > 0:
            rel: float | None = cand / base - 1.0
        else:
            rel = 0.0 if cand == 0 else math.inf
    else:
        rel = None
    if rel is None:
        change = "unknown"
    elif math.isinf(rel):
        change = f"from 0 to {F.cost(cand)}"
    else:
        change = f"{abs(rel) * 100:,.1f}% ({F.cost(base)} \u2192 {F.cost(cand)})"
    value = None if rel is None or math.isinf(rel) else rel
    if limit is None:
        return _check(
            "cost", "skipped", value, None, f"total cost change {change}; no max_cost_increase given"
        )
    if unknown_b or unknown_c or rel is None:
        who = [
            f"{n:,} {role} call{'s' if n != 1 else ''}"
            for role, n in (("baseline", unknown_b), ("candidate", unknown_c))
            if n
        ]
        missing = f"no cost for {' and '.join(who)} (no price in the config?)" if who else "no cost recorded"
        return _check(
            "cost",
            "hold",
            value,
            limit,
            f"{missing}: the cost limit of {F.signed(limit * 100, 0)}% cannot be checked",
        )
    if rel > limit:
        return _check(
            "cost",
            "rollback",
            value,
            limit,
            f"total cost rose {change}, above the allowed {F.signed(limit * 100, 0)}%",
        )
    verb = "rose" if rel > 0 else "fell" if rel < 0 else "did not change"
    text = f"total cost {verb} {change}" if rel else f"total cost did not change ({F.cost(cand)})"
    return _check("cost", "pass", value, limit, f"{text}, within the allowed {F.signed(limit * 100, 0)}%")


def _sample(metrics: Mapping[str, Any], t: Mapping[str, Any]) -> dict[str, Any]:
    paired = _get(metrics, "comparison", "cases", "paired") or 0
    only_b = _get(metrics, "comparison", "cases", "baseline_only") or 0
    only_c = _get(metrics, "comparison", "cases", "candidate_only") or 0
    need = t["min_cases"]
    if paired < need:
        return _check(
            "sample_size",
            "hold",
            paired,
            need,
            f"only {paired:,} case{'s' if paired != 1 else ''} answered by both models, fewer than {need:,}: too few to tell",
        )
    if only_b or only_c:
        parts = []
        if only_b:
            parts.append(f"{only_b:,} case{'s' if only_b != 1 else ''} have no candidate result")
        if only_c:
            parts.append(f"{only_c:,} case{'s' if only_c != 1 else ''} have no baseline result")
        return _check(
            "sample_size",
            "hold",
            paired,
            need,
            f"{' and '.join(parts)} (an interrupted run?): the comparison is incomplete",
        )
    return _check(
        "sample_size", "pass", paired, need, f"{paired:,} cases answered by both models (minimum {need:,})"
    )


def _baseline_health(metrics: Mapping[str, Any], t: Mapping[str, Any]) -> dict[str, Any]:
    model = _get(metrics, "models", "baseline")
    rate = _get(model, "error_rate")
    limit = t["max_error_rate"] if t["max_error_rate"] is not None else _BASELINE_ERROR_DEFAULT
    counts = f" ({_get(model, 'errors') or 0:,} of {_get(model, 'n_runs') or 0:,} calls)"
    if rate is None:
        return _check(
            "baseline_health",
            "hold",
            None,
            limit,
            "the baseline has no results: there is nothing to compare against",
        )
    if rate > limit:
        return _check(
            "baseline_health",
            "hold",
            rate,
            limit,
            f"the baseline itself errored on {F.pct(rate)} of calls{counts}, more than {F.pct(limit)}{_top_errors(model)}: "
            "a failing baseline makes any candidate look good, so the comparison proves nothing",
        )
    return _check(
        "baseline_health",
        "pass",
        rate,
        limit,
        f"baseline error rate {F.pct(rate)}{counts} is within {F.pct(limit)}",
    )


def decide(metrics: Mapping[str, Any], thresholds: Mapping[str, Any] | None = None) -> Verdict:
    """Promote, hold or rollback (the rules are in this module's docstring)."""
    t = normalize_thresholds(thresholds)
    checks = [f(metrics, t) for f in (_accuracy, _error_rate, _latency, _cost, _sample, _baseline_health)]
    statuses = {c["status"] for c in checks}
    verdict = "rollback" if "rollback" in statuses else "hold" if "hold" in statuses else "promote"
    if verdict == "promote":
        reasons = [c["detail"] for c in checks if c["status"] == "pass" and c["name"] != "baseline_health"]
    else:
        failing = sorted(
            (c for c in checks if c["status"] in ("rollback", "hold")), key=lambda c: _ORDER[c["status"]]
        )
        reasons = [c["detail"] for c in failing]
    reasons = [r[0].upper() + r[1:] if r else r for r in reasons]
    return Verdict(verdict=verdict, reasons=reasons, checks=checks)
