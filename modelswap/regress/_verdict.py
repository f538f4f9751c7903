"""The cutover verdict: promote, hold or rollback, each a claim the data must support.

``decide(metrics, thresholds)`` runs six checks. Each ends as ``pass`` (the limit is shown to hold),
``rollback`` (a breach is *proven*), ``hold`` (the data cannot tell yet: inconclusive) or ``skipped`` (no
limit given), and the verdict is the worst of them: any ``rollback`` -> **rollback**, else any ``hold`` ->
**hold**, else **promote**. So PROMOTE means every limit was shown to hold at the stated confidence, not
merely that no breach was significant, and every HOLD says what it would take.

Thresholds (all optional):

======================  ========  ===========================================================================
key                     default   meaning
======================  ========  ===========================================================================
``max_accuracy_drop``   0.05      the non-inferiority margin: the largest acceptable fall in accuracy (0.05 =
                                  5 points). 0 tests superiority: promote only a candidate proven better
``alpha``               0.05      each one-sided bound is wrong at most this often (confidence 1 - alpha)
``min_cases``           computed  fewer paired cases than this and we hold; by default the fewest with which
                                  the margin could be proven at all (59 for 5 points at alpha 0.05)
``max_error_rate``      --        largest acceptable share of the candidate's calls that error
``max_error_increase``  --        largest acceptable rise of the error rate over the baseline's (0.01 = 1 point)
``latency_sla_ms``      --        the candidate's p95 latency must be at most this
``max_cost_increase``   --        largest acceptable rise of the mean cost per case (0.10 = +10%)
======================  ========  ===========================================================================

The checks (bounds are one-sided at ``1 - alpha``; ``_bounds`` says how each is computed):

1. **accuracy** -- non-inferiority of the paired accuracy difference (candidate minus baseline), by Tango's
   score test, exact up to a few hundred cases. *Pass* when the lower bound is above ``-max_accuracy_drop``
   (a drop beyond the margin is ruled out); *rollback* when the upper bound is below it (a drop beyond the
   margin is proven); *hold* otherwise, saying the margin the data can rule out now and about how many cases
   would decide (80% power at the observed difference and discordance). Repeats are clustered runs: the
   counts are divided by their design effect.
2. **error_rate** -- the candidate's exact (Clopper-Pearson) bounds against ``max_error_rate``: *pass* when the
   upper bound is within it, *rollback* when the lower bound exceeds it, else *hold*; and, with
   ``max_error_increase``, the same for the paired increase over the baseline (Tango again).
3. **latency_p95** -- "p95 <= SLA" is "at most 5% of calls are slower than the SLA": the exact bounds of that
   share decide (*pass* / *rollback* / *hold*), and the order-statistic upper bound of p95 is shown. Calls that
   errored count at their elapsed time (a timeout at the time it waited), never dropped; a call with no time
   at all counts as slower than the SLA.
4. **cost** -- the ratio of the mean cost per paired case, bounded by the delta method: *pass* when the upper
   bound is within ``1 + max_cost_increase``, *rollback* when the lower bound exceeds it, else *hold*; *hold*
   when a call that did not error has no cost (no price in the config).
5. **sample_size** -- *hold* when fewer than ``min_cases`` cases were answered by both models, or some case
   has results from one model only (an interrupted run).
6. **baseline_health** -- *hold* when the baseline itself errored on more than ``max_error_rate`` of its
   calls (50% when none is set): a broken baseline makes any candidate look good.

``metrics`` has the shape of the report (``build_report``) without its verdict, so a saved ``report.json`` is
re-decided with other thresholds by ``decide(json.load(f), {...})``. The tests read ``evidence`` (the counts
and per-case values the bounds are computed from, written by ``build_report``); without it, the accuracy test
falls back to ``comparison.mcnemar.{b, c}`` over ``comparison.cases.paired`` cases and the error test to
``models.candidate.{errors, n_runs}``, and checks that need per-call values hold.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from . import _format as F
from ._bounds import (
    EXACT_MAX_CASES,
    clopper_pearson,
    noninferiority_p,
    paired_bounds,
    quantile_upper_bound,
    rate_design_effect,
    ratio_bounds,
)
from ._power import cases_for_difference, cases_for_rate, least_cases

__all__ = ["THRESHOLD_DEFAULTS", "Verdict", "accuracy_test", "decide", "min_cases_for", "normalize_thresholds"]

THRESHOLD_DEFAULTS: dict[str, float | int | None] = {
    "max_accuracy_drop": 0.05,
    "alpha": 0.05,
    "min_cases": None,
    "max_error_rate": None,
    "max_error_increase": None,
    "latency_sla_ms": None,
    "max_cost_increase": None,
}
_BASELINE_ERROR_DEFAULT = 0.5
_ZERO_MARGIN_MIN_CASES = 10
_ORDER = {"rollback": 0, "hold": 1, "pass": 2, "skipped": 3}
OUTCOMES = {"pass": "pass", "rollback": "breach proven", "hold": "inconclusive", "skipped": "skipped"}


@dataclass(frozen=True)
class Verdict:
    """``verdict`` is "promote", "hold" or "rollback"; ``reasons`` are sentences; ``checks`` are dicts with
    ``name``, ``status``, ``outcome``, ``value``, ``threshold``, ``bounds``, ``passed``, ``significant``,
    ``cases_needed`` and ``detail``."""

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
    """The thresholds with defaults filled in; unknown keys and out-of-range values raise ValueError naming the
    key and the fix (a misspelt threshold silently ignored would let a bad model through)."""
    given = {k: v for k, v in (thresholds or {}).items() if v is not None}
    unknown = sorted(set(given) - set(THRESHOLD_DEFAULTS))
    if unknown:
        raise ValueError(f"unknown threshold(s) {', '.join(unknown)}; known: {', '.join(THRESHOLD_DEFAULTS)}")
    out = dict(THRESHOLD_DEFAULTS)
    for key, value in given.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"threshold {key} must be a finite number, got {value!r}")
        out[key] = value
    for key, example in (("max_accuracy_drop", "0.05 = 5 points"), ("max_error_rate", "0.02 = 2%"),
                         ("max_error_increase", "0.01 = 1 point")):
        if out[key] is not None and not 0.0 <= out[key] < 1.0:
            raise ValueError(f"{key} is a fraction ({example}), got {out[key]:g}: use a value in [0, 1)")
    if not 0.0 < out["alpha"] < 0.5:
        raise ValueError(f"alpha is a probability such as 0.05, got {out['alpha']:g}: use a value in (0, 0.5)")
    if out["min_cases"] is not None:
        if out["min_cases"] < 0:
            raise ValueError(f"min_cases must be non-negative, got {out['min_cases']:g}")
        out["min_cases"] = math.ceil(out["min_cases"])
    if out["latency_sla_ms"] is not None and out["latency_sla_ms"] <= 0:
        raise ValueError(f"latency_sla_ms must be positive (milliseconds), got {out['latency_sla_ms']:g}")
    if out["max_cost_increase"] is not None and out["max_cost_increase"] < -1.0:
        raise ValueError(f"max_cost_increase is relative (0.10 = +10%), got {out['max_cost_increase']:g}")
    return out


def _check(
    name: str,
    status: str,
    value: Any,
    threshold: Any,
    detail: str,
    *,
    bounds: Mapping[str, Any] | None = None,
    cases_needed: int | None = None,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "name": name,
        "status": status,
        "outcome": OUTCOMES[status],
        "value": value,
        "threshold": threshold,
        "bounds": dict(bounds) if bounds else None,
        "passed": status in ("pass", "skipped"),
        "significant": status in ("pass", "rollback") if status != "skipped" else None,
        "cases_needed": cases_needed,
        "detail": detail,
        **extra,
    }


def _get(d: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(d, Mapping):
            return None
        d = d.get(key)
    return d


def _plural(n: int | float, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _top_errors(model: Mapping[str, Any] | None) -> str:
    types = _get(model, "error_types") or {}
    if not types:
        return ""
    top = sorted(types.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
    return " (most common: " + ", ".join(f"{name} \u00d7{n:,}" for name, n in top) + ")"


def _level(alpha: float) -> str:
    return f"{(1 - alpha) * 100:g}%"


def _margin_text(margin: float) -> str:
    return f"{margin * 100:g} point{'' if margin * 100 == 1 else 's'}"


def _margin_adjective(margin: float) -> str:
    return f"{margin * 100:g}-point"


def _p_text(test: Mapping[str, Any], key: str) -> str:
    # The exact test's p-value has a floor (the 0.001 it adds for the nuisance): "at most", not "equal".
    p = float(test[key])
    return "p \u2264 0.001" if test["exact"] and p <= 0.001 + 1e-6 else f"p = {F.p_value(p)}"


# --------------------------------------------------------------------------------------------------------
# 1. accuracy


def _paired_counts(b: float, c: float, n: float, deff: float | None) -> tuple[float, float, float]:
    """Discordant counts as independent-case equivalents: divided by the design effect, and kept as integers
    when they are whole (the exact test, and exact comparisons at the boundary, need integer counts)."""
    d = max(1.0, float(deff or 1.0))
    if d == 1.0 and all(float(v).is_integer() for v in (b, c, n)):
        return int(b), int(c), int(n)
    return b / d, c / d, n / d


def accuracy_test(
    regressed: float,
    fixed: float,
    n: float,
    *,
    margin: float,
    alpha: float,
    design_effect: float = 1.0,
    cases: int | None = None,
) -> dict[str, Any]:
    """The non-inferiority test of the accuracy difference, from the paired counts.

    ``regressed``/``fixed``/``n``: paired runs (with repeats, runs of ``cases`` cases, whose correlation
    ``design_effect`` measures). Returns ``status`` ("pass" | "rollback" | "hold"), ``lower``/``upper``
    (one-sided bounds of the difference), ``provable_margin`` (the smallest drop these data rule out; 0 when
    the candidate is proven no worse), ``p_noninferior``/``p_inferior`` (the two one-sided tests at the
    margin), ``exact`` and ``cases_needed`` (about how many cases would decide, for a hold). With a margin of
    0 only a proven gain passes.
    """
    deff = max(1.0, float(design_effect or 1.0))
    cases = int(cases or n)
    b, c, m = _paired_counts(regressed, fixed, n, deff)
    exact = isinstance(m, int) and m <= EXACT_MAX_CASES
    lower, upper = paired_bounds(b, c, m, alpha)
    p_non = noninferiority_p(b, c, m, -margin)
    p_inf = noninferiority_p(c, b, m, margin)  # "worse by more than the margin": the roles swapped
    status = "pass" if p_non < alpha else "rollback" if p_inf < alpha else "hold"
    estimate = (fixed - regressed) / n if n else 0.0
    needed = None
    if status == "hold" and n:
        psi = max((regressed + fixed) / n, 1.0 / n)
        if estimate > -margin:
            units = cases_for_difference(estimate, psi, -margin, alpha=alpha)
        else:
            units = cases_for_difference(-estimate, psi, margin, alpha=alpha)
        if units is not None:
            # units are independent cases; a case of this run was worth m / cases of them.
            needed = max(least_cases(margin, alpha) or 0, math.ceil(units * cases / m))
    return {
        "status": status,
        "margin": margin,
        "alpha": alpha,
        "estimate": estimate,
        "lower": lower,
        "upper": upper,
        "provable_margin": max(0.0, -lower),
        "p_noninferior": p_non,
        "p_inferior": p_inf,
        "exact": exact,
        "design_effect": deff,
        "regressed": regressed,
        "fixed": fixed,
        "n": n,
        "cases": cases,
        "cases_needed": needed,
    }


def _accuracy(metrics: Mapping[str, Any], t: Mapping[str, Any]) -> dict[str, Any]:
    base = _get(metrics, "models", "baseline", "accuracy")
    cand = _get(metrics, "models", "candidate", "accuracy")
    margin, alpha = float(t["max_accuracy_drop"]), float(t["alpha"])
    threshold = -margin
    counts = _get(metrics, "evidence", "accuracy")
    if isinstance(counts, Mapping) and counts.get("n"):
        regressed, fixed, n = counts["regressed"], counts["fixed"], counts["n"]
        deff = counts.get("design_effect") or 1.0
        cases = int(counts.get("cases") or n)
    else:
        regressed = _get(metrics, "comparison", "mcnemar", "b")
        fixed = _get(metrics, "comparison", "mcnemar", "c")
        n = _get(metrics, "comparison", "cases", "paired")
        deff, cases = 1.0, n
    if base is None or cand is None or not n or regressed is None or fixed is None:
        return _check("accuracy", "hold", None, threshold,
                      "accuracy could not be compared: no case has results from both models")
    test = accuracy_test(regressed, fixed, n, margin=margin, alpha=alpha, design_effect=deff, cases=cases)
    level = _level(alpha)
    delta = cand - base
    moved = "fell" if delta < 0 else "rose" if delta > 0 else "stayed"
    head = (f"accuracy {moved} from {F.pct(base)} to {F.pct(cand)} ({F.points(delta)})" if moved != "stayed"
            else f"accuracy stayed at {F.pct(cand)}")
    lo, hi = test["lower"], test["upper"]
    bounds_text = f"one-sided {level} bounds {F.signed(lo * 100)} to {F.signed(hi * 100)} points"
    table = f"{_plural(int(round(regressed)), 'case')} regressed, {int(round(fixed)):,} fixed of {cases:,}"
    if deff > 1.0:
        table += f"; repeats count as {n / deff:,.1f} independent cases (design effect {deff:.2f})"
    margin_words = _margin_text(margin)
    bounds = {"lower": lo, "upper": hi, "confidence": 1 - alpha, "provable_margin": test["provable_margin"]}
    extra = {"test": {k: test[k] for k in ("margin", "estimate", "p_noninferior", "p_inferior", "exact",
                                            "design_effect", "regressed", "fixed", "n")}}
    if test["status"] == "pass":
        if margin > 0:
            why = (f"the lower bound is above \u2212{margin_words}, the margin: a drop larger than the margin is "
                   f"ruled out ({_p_text(test, 'p_noninferior')})")
        else:
            why = f"the lower bound is above 0: the candidate is proven better ({_p_text(test, 'p_noninferior')})"
        return _check("accuracy", "pass", delta, threshold, f"{head}; {bounds_text}; {table}: {why}",
                      bounds=bounds, **extra)
    if test["status"] == "rollback":
        why = (f"the upper bound is below \u2212{margin_words}: a drop beyond the margin is proven"
               if margin > 0 else "the upper bound is below 0: the candidate is proven worse")
        return _check("accuracy", "rollback", delta, threshold,
                      f"{head}; {bounds_text}; {table}: {why} ({_p_text(test, 'p_inferior')})",
                      bounds=bounds, **extra)
    if margin > 0:
        rule_out = (f"the data rule out only a drop larger than {F.signed(-lo * 100).lstrip('+')} points"
                    if lo < 0 else "the data rule out any drop")
        why = f"{rule_out}, not the {_margin_adjective(margin)} margin, nor prove a larger drop"
    else:
        why = ("a margin of 0 cannot be proven, only a gain: set max_accuracy_drop (for example 0.05) to test "
               "non-inferiority")
    needed = test["cases_needed"]
    if needed is not None:
        more = (f"; about {needed:,} paired cases would decide (80% power at the observed difference and "
                f"{F.pct((regressed + fixed) / n, 0)} disagreement)")
    else:
        more = "; the difference sits at the margin: no number of cases is likely to decide"
    return _check("accuracy", "hold", delta, threshold, f"{head}; {bounds_text}; {table}: {why}{more}",
                  bounds=bounds, cases_needed=needed, **extra)


# --------------------------------------------------------------------------------------------------------
# 2-4. guardrails


def _rate_verdict(
    events: float, n: float, limit: float, alpha: float
) -> tuple[str, float, float, int | None]:
    """pass / rollback / hold for "rate <= limit", its bounds and, for a hold, about how many calls decide."""
    low, high = clopper_pearson(events, n, alpha)
    if high <= limit:
        return "pass", low, high, None
    if low > limit:
        return "rollback", low, high, None
    return "hold", low, high, cases_for_rate(events / n if n else 0.0, limit, alpha=alpha)


def _effective(events: float, n: float, deff: float | None) -> tuple[float, float]:
    d = max(1.0, float(deff or 1.0))
    return events / d, n / d


def _error_rate(metrics: Mapping[str, Any], t: Mapping[str, Any]) -> dict[str, Any]:
    model = _get(metrics, "models", "candidate")
    alpha = float(t["alpha"])
    limit, increase_limit = t["max_error_rate"], t["max_error_increase"]
    errors = _get(model, "errors") or 0
    n_runs = _get(model, "n_runs") or 0
    rate = _get(model, "error_rate")
    counts = f" ({errors:,} of {n_runs:,} calls)"
    ev = _get(metrics, "evidence", "errors") or {}
    if limit is None and increase_limit is None:
        return _check("error_rate", "skipped", rate, None,
                      f"candidate error rate {F.pct(rate)}{counts}; no max_error_rate given")
    if rate is None or not n_runs:
        return _check("error_rate", "hold", None, limit,
                      "the candidate has no results: its error rate is unknown")
    level = _level(alpha)
    parts: list[tuple[str, str, int | None]] = []
    bounds: dict[str, Any] = {"confidence": 1 - alpha}
    if limit is not None:
        x, n = _effective(errors, n_runs, ev.get("design_effect"))
        status, low, high, needed = _rate_verdict(x, n, float(limit), alpha)
        bounds.update(lower=low, upper=high)
        rng = f"{level} bounds {F.pct(low)} to {F.pct(high)}"
        if status == "pass":
            text = f"candidate error rate {F.pct(rate)}{counts}, at most {F.pct(high)} ({rng}): within {F.pct(limit)}"
        elif status == "rollback":
            text = (f"candidate error rate {F.pct(rate)}{counts}, at least {F.pct(low)} ({rng}): proven above "
                    f"the maximum {F.pct(limit)}{_top_errors(model)}")
        else:
            text = (f"candidate error rate {F.pct(rate)}{counts} ({rng}): cannot yet show it is within "
                    f"{F.pct(limit)}" + (f"; about {needed:,} calls at this rate would decide" if needed else ""))
        parts.append((status, text, needed))
    if increase_limit is not None:
        only_b, only_c, n_pairs = ev.get("baseline_only"), ev.get("candidate_only"), ev.get("n")
        if not n_pairs:
            parts.append(("hold", "the error-rate increase cannot be measured: no paired calls", None))
        else:
            b, c, m = _paired_counts(only_b, only_c, n_pairs, ev.get("design_effect_paired"))
            lo, hi = paired_bounds(b, c, m, alpha)
            bounds.update(increase_lower=lo, increase_upper=hi)
            inc = (only_c - only_b) / n_pairs
            if noninferiority_p(c, b, m, -float(increase_limit)) < alpha:
                status, verb = "pass", f"at most {F.signed(hi * 100)} points: within"
            elif noninferiority_p(b, c, m, float(increase_limit)) < alpha:
                status, verb = "rollback", f"at least {F.signed(lo * 100)} points: proven above"
            else:
                status, verb = "hold", f"{level} bounds {F.signed(lo * 100)} to {F.signed(hi * 100)} points: not yet shown within"
            parts.append((status, f"error rate increase over the baseline {F.points(inc)} ({only_c:,} calls erred "
                                  f"only on the candidate, {only_b:,} only on the baseline), {verb} the allowed "
                                  f"{F.signed(float(increase_limit) * 100)} points", None))
    status = min((p[0] for p in parts), key=lambda s: _ORDER[s])
    needed = max((p[2] for p in parts if p[2] is not None), default=None)
    return _check("error_rate", status, rate, limit, "; ".join(p[1] for p in parts), bounds=bounds,
                  cases_needed=needed if status == "hold" else None)


def _latency(metrics: Mapping[str, Any], t: Mapping[str, Any]) -> dict[str, Any]:
    p95 = _get(metrics, "models", "candidate", "latency_p95_ms")
    base = _get(metrics, "models", "baseline", "latency_p95_ms")
    sla, alpha = t["latency_sla_ms"], float(t["alpha"])
    extra = f"baseline p95 {F.ms(base)}"
    if sla is None:
        return _check("latency_p95", "skipped", p95, None,
                      f"candidate p95 latency {F.ms(p95)} ({extra}); no latency_sla_ms given")
    ev = _get(metrics, "evidence", "latency") or {}
    per_case: Sequence[Sequence[float | None]] | None = ev.get("candidate_ms")
    if not per_case:
        return _check("latency_p95", "hold", p95, sla,
                      f"no per-call latencies were recorded for the candidate: the SLA of {F.ms(sla)} cannot be checked")
    flat = [v for case in per_case for v in case]
    # A call with no time at all (an error recorded without one) is not known to be within the SLA.
    slow = sum(1 for v in flat if v is None or v > sla)
    n = len(flat)
    deff = rate_design_effect([[1.0 if (v is None or v > sla) else 0.0 for v in case] for case in per_case])
    x, m = _effective(slow, n, deff)
    status, low, high, needed = _rate_verdict(x, m, 0.05, alpha)
    known = [v for v in flat if v is not None]
    upper_p95 = quantile_upper_bound(known + [math.inf] * (n - len(known)), 0.95, alpha) if n else None
    upper_text = ("no finite bound yet" if upper_p95 is None or math.isinf(upper_p95)
                  else f"at most {F.ms(upper_p95)}")
    bounds = {"p95_upper_ms": None if upper_p95 is None or math.isinf(upper_p95) else upper_p95,
              "slow_share_lower": low, "slow_share_upper": high, "confidence": 1 - alpha}
    share = f"{slow:,} of {n:,} calls slower than {F.ms(sla)} ({_level(alpha)} bounds of that share {F.pct(low)} to {F.pct(high)})"
    if status == "pass":
        detail = f"candidate p95 latency {F.ms(p95)}, {upper_text} ({_level(alpha)} bound): within the SLA of {F.ms(sla)}; {share}; {extra}"
    elif status == "rollback":
        detail = (f"candidate p95 latency {F.ms(p95)} is proven above the SLA of {F.ms(sla)}: more than 5% of calls "
                  f"are slower; {share}; {extra}")
    else:
        detail = (f"candidate p95 latency {F.ms(p95)}, {upper_text} ({_level(alpha)} bound): cannot yet show it is "
                  f"within the SLA of {F.ms(sla)}; {share}; {extra}"
                  + (f"; about {needed:,} calls would decide" if needed else ""))
    return _check("latency_p95", status, p95, sla, detail, bounds=bounds, cases_needed=needed if status == "hold" else None)


def _cost(metrics: Mapping[str, Any], t: Mapping[str, Any]) -> dict[str, Any]:
    base = _get(metrics, "models", "baseline", "cost")
    cand = _get(metrics, "models", "candidate", "cost")
    limit, alpha = t["max_cost_increase"], float(t["alpha"])
    unknown_b = _get(metrics, "models", "baseline", "cost_unknown_runs") or 0
    unknown_c = _get(metrics, "models", "candidate", "cost_unknown_runs") or 0
    if base is not None and cand is not None:
        rel: float | None = cand / base - 1.0 if base > 0 else (0.0 if cand == 0 else math.inf)
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
        return _check("cost", "skipped", value, None, f"total cost change {change}; no max_cost_increase given")
    if unknown_b or unknown_c or rel is None:
        who = [f"{n:,} {role} call{'s' if n != 1 else ''}" for role, n in (("baseline", unknown_b), ("candidate", unknown_c)) if n]
        missing = f"no cost for {' and '.join(who)} (no price in the config?)" if who else "no cost recorded"
        return _check("cost", "hold", value, limit,
                      f"{missing}: the cost limit of {F.signed(limit * 100, 0)}% cannot be checked")
    ev = _get(metrics, "evidence", "cost") or {}
    xs, ys = ev.get("baseline"), ev.get("candidate")
    allowed = 1.0 + float(limit)
    if base == 0 and cand == 0:
        low = high = 1.0  # both free: nothing can rise
    elif xs and ys and len(xs) == len(ys) and len(xs) >= 2:
        low, high = ratio_bounds(xs, ys, alpha)
    else:
        low = high = None
    if low is None or high is None:
        status = "hold" if not math.isinf(rel) else "rollback"
        detail = (f"total cost rose {change}; the mean cost per case cannot be bounded (fewer than 2 paired "
                  f"cases with a baseline cost)" if status == "hold"
                  else f"total cost rose {change}, above the allowed {F.signed(limit * 100, 0)}%")
        return _check("cost", status, value, limit, detail)
    bounds = {"ratio_lower": low, "ratio_upper": high, "confidence": 1 - alpha}
    rng = f"{_level(alpha)} bounds of the per-case ratio {low:.3f} to {high:.3f}"
    if high <= allowed:
        verb = "rose" if rel > 0 else "fell" if rel < 0 else "did not change"
        text = f"total cost {verb} {change}" if rel else f"total cost did not change ({F.cost(cand)})"
        return _check("cost", "pass", value, limit, f"{text} ({rng}): within the allowed {F.signed(limit * 100, 0)}%",
                      bounds=bounds)
    if low > allowed:
        return _check("cost", "rollback", value, limit,
                      f"total cost rose {change} ({rng}): proven above the allowed {F.signed(limit * 100, 0)}%",
                      bounds=bounds)
    return _check("cost", "hold", value, limit,
                  f"total cost changed {change} ({rng}): cannot yet show it is within the allowed "
                  f"{F.signed(limit * 100, 0)}%; more cases would tell", bounds=bounds)


# --------------------------------------------------------------------------------------------------------
# 5-6. the comparison itself


def min_cases_for(t: Mapping[str, Any]) -> int:
    """The ``min_cases`` in force: the given one, else the fewest cases that could prove the margin."""
    if t.get("min_cases") is not None:
        return int(t["min_cases"])
    return least_cases(float(t["max_accuracy_drop"]), float(t["alpha"])) or _ZERO_MARGIN_MIN_CASES


def _sample(metrics: Mapping[str, Any], t: Mapping[str, Any]) -> dict[str, Any]:
    paired = _get(metrics, "comparison", "cases", "paired") or 0
    only_b = _get(metrics, "comparison", "cases", "baseline_only") or 0
    only_c = _get(metrics, "comparison", "cases", "candidate_only") or 0
    need = min_cases_for(t)
    why = ("" if t.get("min_cases") is not None else
           f" (the fewest with which a {_margin_adjective(float(t['max_accuracy_drop']))} margin can be proven at "
           f"{_level(float(t['alpha']))} even if the models agree on every case)")
    problems = []
    if paired < need:
        problems.append(f"only {_plural(paired, 'case')} answered by both models, fewer than {need:,}{why}")
    if only_b:
        problems.append(f"{_plural(only_b, 'case')} have no candidate result (an interrupted run?)")
    if only_c:
        problems.append(f"{_plural(only_c, 'case')} have no baseline result (an interrupted run?)")
    if problems:
        return _check("sample_size", "hold", paired, need, "; ".join(problems),
                      cases_needed=need if paired < need else None)
    return _check("sample_size", "pass", paired, need, f"{paired:,} cases answered by both models (minimum {need:,})")


def _baseline_health(metrics: Mapping[str, Any], t: Mapping[str, Any]) -> dict[str, Any]:
    model = _get(metrics, "models", "baseline")
    rate = _get(model, "error_rate")
    limit = t["max_error_rate"] if t["max_error_rate"] is not None else _BASELINE_ERROR_DEFAULT
    counts = f" ({_get(model, 'errors') or 0:,} of {_get(model, 'n_runs') or 0:,} calls)"
    if rate is None:
        return _check("baseline_health", "hold", None, limit,
                      "the baseline has no results: there is nothing to compare against")
    # A budget on the reference, not a hypothesis about the candidate: compared as counts, exactly.
    errors, n_runs = _get(model, "errors"), _get(model, "n_runs")
    over = (Fraction(errors) / Fraction(n_runs) > Fraction(str(limit))) if errors is not None and n_runs else rate > limit
    if over:
        return _check("baseline_health", "hold", rate, limit,
                      f"the baseline itself errored on {F.pct(rate)} of calls{counts}, more than {F.pct(limit)}"
                      f"{_top_errors(model)}: a failing baseline makes any candidate look good, so the comparison "
                      "proves nothing")
    return _check("baseline_health", "pass", rate, limit,
                  f"baseline error rate {F.pct(rate)}{counts} is within {F.pct(limit)}")


def decide(metrics: Mapping[str, Any], thresholds: Mapping[str, Any] | None = None) -> Verdict:
    """Promote, hold or rollback (the rules are in this module's docstring).

    Example:
        >>> from modelswap.regress import decide
        >>> m = {"models": {"baseline": {"accuracy": 0.9, "error_rate": 0.0, "errors": 0, "n_runs": 200},
        ...                 "candidate": {"accuracy": 0.9, "error_rate": 0.0, "errors": 0, "n_runs": 200}},
        ...      "comparison": {"cases": {"paired": 200}, "mcnemar": {"b": 4, "c": 4}}}
        >>> decide(m, {"max_accuracy_drop": 0.05}).verdict
        'promote'
        >>> decide(m, {"max_accuracy_drop": 0.01}).verdict
        'hold'
    """
    t = normalize_thresholds(thresholds)
    checks = [f(metrics, t) for f in (_accuracy, _error_rate, _latency, _cost, _sample, _baseline_health)]
    statuses = {c["status"] for c in checks}
    verdict = "rollback" if "rollback" in statuses else "hold" if "hold" in statuses else "promote"
    if verdict == "promote":
        reasons = [c["detail"] for c in checks if c["status"] == "pass" and c["name"] != "baseline_health"]
    else:
        failing = sorted((c for c in checks if c["status"] in ("rollback", "hold")), key=lambda c: _ORDER[c["status"]])
        reasons = [c["detail"] for c in failing]
    reasons = [r[0].upper() + r[1:] if r else r for r in reasons]
    return Verdict(verdict=verdict, reasons=reasons, checks=checks)
