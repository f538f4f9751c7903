"""The regression report: per-model metrics, the paired comparison, the verdict and every case.

``build_report`` turns the runner's results (one dict per model role, case and repeat) into one
JSON-serialisable dict and ``dumps_report`` is its ``report.json`` text; the renderers (``_markdown``, ``_html``)
take the finished dict, and ``_files.write_reports`` writes all three.

Definitions (the same in all three files):

* **accuracy**: passed runs / all runs of the model; an errored call counts as failed.
* **a case's pass** (for McNemar and for regressed/fixed): the majority of its repeats passed; an exact tie
  (an even number of repeats, half passed) passes when the mean score of the repeats is >= 0.5.
* **flaky case**: its repeats disagree (some passed, some failed).
* **latency**: every call that reported one (the runner records none for a call that errored); p50/p95
  interpolate linearly, as numpy does.
* **intervals**: percentile bootstrap over cases (a resampled case brings all its repeats), ``n_resamples``
  resamples, seeded; the accuracy and p95 deltas resample the cases answered by both models, paired.
* **cost**: the sum over calls; a call that did not error but has no cost (the model has no price in the
  config) is counted in ``cost_unknown_runs``.

Strings from the results (outputs, prompts, expected values, errors, assertion reasons) pass through
``modelswap._redact.redact`` so that no API key reaches a report.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from itertools import chain
from typing import Any

from .._redact import redact
from . import _stats
from ._bounds import design_effect, rate_design_effect
from ._format import finite, nice_step
from ._verdict import decide, min_cases_for, normalize_thresholds

__all__ = ["build_report", "dumps_report"]

_ROLES = ("baseline", "candidate")


def _version() -> str:
    try:
        from .. import __version__

        return __version__
    except ImportError:  # pragma: no cover
        return "unknown"


# Redacted dict keys (assertion dicts repeat the same few keys thousands of times); emptied by each
# build_report, since a secret remembered later changes what redact() masks.
_KEYS: dict[str, str] = {}


def _clean(value: Any, depth: int = 0) -> Any:
    """A JSON-safe, redacted copy: strings redacted, non-finite floats -> None, unknown objects -> repr."""
    kind = type(value)
    if kind is str:
        return redact(value)
    if value is None or kind is bool or kind is int:
        return value
    if kind is float:
        return value if math.isfinite(value) else None
    if depth > 20:
        return redact(repr(value))
    if kind is dict:
        keys = _KEYS
        out = {}
        for k, v in value.items():
            ck = keys.get(k) if type(k) is str else None
            if ck is None:
                ck = redact(str(k))
                if type(k) is str and len(keys) < 4096:
                    keys[k] = ck
            out[ck] = _clean(v, depth + 1)
        return out
    if kind is list or kind is tuple:
        return [_clean(v, depth + 1) for v in value]
    # Subclasses and other containers: the slower, general checks.
    if isinstance(value, str):
        return redact(str(value))
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {redact(str(k)): _clean(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v, depth + 1) for v in value]
    if isinstance(value, (set, frozenset)):
        return [_clean(v, depth + 1) for v in sorted(value, key=repr)]
    return redact(repr(value))


def _error_type(error: str) -> str:
    """``"RateLimitedError: 429 ..."`` -> ``"RateLimitedError"``; anything else -> ``"error"``."""
    head, sep, _ = error.partition(":")
    head = head.strip()
    if sep and head and len(head) <= 80 and " " not in head:
        return redact(head)
    return "error"


def _is_error(run: Mapping[str, Any]) -> bool:
    return bool(run.get("error"))


def _model_metrics(
    alias: str,
    runs: list[Mapping[str, Any]],
    case_passes: list[tuple[float, ...]],
    latencies: list[float],
    *,
    n_cases: int,
    flaky: int,
    n_resamples: int,
    alpha: float,
    seed: int,
) -> dict[str, Any]:
    """``latencies``: every run's latency in ms, sorted."""
    n = len(runs)
    passed = sum(1 for r in runs if r.get("passed") and not _is_error(r))
    scores = [s for s in (_number(r.get("score")) for r in runs) if s is not None]
    errors = [r.get("error") for r in runs if _is_error(r)]
    in_tokens = [v for v in (r.get("input_tokens") for r in runs) if type(v) is int]
    out_tokens = [v for v in (r.get("output_tokens") for r in runs) if type(v) is int]
    costs = [v for v in (_number(r.get("cost")) for r in runs) if v is not None]
    cost_unknown = sum(1 for r in runs if _number(r.get("cost")) is None and not _is_error(r))
    low, high = _stats.bootstrap_ci(case_passes, "mean", n_resamples=n_resamples, alpha=alpha, seed=seed)
    # What the alias pointed at during the run (results written before model ids were recorded have none).
    targets = Counter((r.get("provider"), r.get("model_id")) for r in runs if r.get("model_id"))
    provider, model_id = targets.most_common(1)[0][0] if targets else (None, None)
    return {
        "alias": alias,
        "provider": provider,
        "model_id": model_id,
        "n_runs": n,
        "n_cases": n_cases,
        "accuracy": passed / n if n else None,
        "accuracy_ci": [finite(low), finite(high)],
        "passed": passed,
        "mean_score": finite(math.fsum(scores) / len(scores)) if scores else None,
        "latency_p50_ms": finite(_stats.percentile(latencies, 50, presorted=True)),
        "latency_p95_ms": finite(_stats.percentile(latencies, 95, presorted=True)),
        "latency_max_ms": finite(latencies[-1]) if latencies else None,
        "latency_n": len(latencies),
        "error_rate": len(errors) / n if n else None,
        "errors": len(errors),
        "error_types": dict(Counter(_error_type(str(e)) for e in errors).most_common()),
        "error_examples": _error_examples(errors),
        "input_tokens": sum(in_tokens) if in_tokens else None,
        "output_tokens": sum(out_tokens) if out_tokens else None,
        "cost": finite(math.fsum(costs)) if costs or not cost_unknown else None,
        "cost_unknown_runs": cost_unknown,
        "flaky_cases": flaky,
    }


def _error_examples(errors: Sequence[Any], limit: int = 5) -> dict[str, str]:
    """One (redacted, shortened) message per error type, for the most common types."""
    out: dict[str, str] = {}
    for e in errors:
        kind = _error_type(str(e))
        if kind not in out:
            out[kind] = redact(str(e))[:300]
            if len(out) >= limit:
                break
    return out


def _number(v: Any) -> float | None:
    """A finite float from an int or float (bools and anything else -> None)."""
    kind = type(v)
    if kind is float:
        return v if math.isfinite(v) else None
    if kind is int or (isinstance(v, (int, float)) and not isinstance(v, bool)):
        v = float(v)
        return v if math.isfinite(v) else None
    return None


def _side(runs: list[Mapping[str, Any]]) -> tuple[dict[str, Any], tuple[float, ...], tuple[float, ...], bool]:
    """One model's view of one case: the JSON entry, its pass values and latencies (ms) per run, its pass."""
    if len(runs) > 1:
        runs = sorted(runs, key=lambda r: r.get("repeat") or 0)
    passes = tuple(1.0 if (r.get("passed") and not r.get("error")) else 0.0 for r in runs)
    k, n = sum(passes), len(runs)
    scores = [p if s is None else s for s, p in zip((_number(r.get("score")) for r in runs), passes)]
    mean_score = math.fsum(scores) / n
    majority = 2 * k > n or (2 * k == n and mean_score >= 0.5)
    if n == 1:
        rep = runs[0]
        latency = _number(rep.get("latency_s"))
        latencies: tuple[float, ...] = () if latency is None else (latency * 1000.0,)
        error = rep.get("error") or None
        median = latencies[0] if latencies else None
    else:
        rep = next((r for r, p in zip(runs, passes) if (p == 1.0) == majority), runs[0])
        latencies = tuple(v * 1000.0 for v in (_number(r.get("latency_s")) for r in runs) if v is not None)
        error = rep.get("error") or None
        median = _stats.percentile(latencies, 50) if latencies else None
    output = rep.get("output")
    assertions = rep.get("assertions")
    entry = {
        "passed": majority,
        "pass_rate": k / n,
        "score": finite(mean_score),
        "output": None if output is None else redact(output if type(output) is str else str(output)),
        "latency_ms": median,
        "error": None if error is None else redact(str(error)),
        "errors": sum(1 for r in runs if r.get("error")) if n > 1 else int(error is not None),
        "n_runs": n,
        "flaky": 0 < k < n,
        "assertions": _clean(list(assertions)) if assertions else [],
    }
    return entry, passes, latencies, majority


def _metrics(runs_by_role: tuple[list[Mapping[str, Any]], list[Mapping[str, Any]]]) -> dict[str, Any]:
    """Per assertion ``metric`` name (promptfoo's named scores) and model: the mean score and how many of the
    assertions passed, over every run. Empty when no assertion names a metric."""
    found: dict[str, dict[str, list[tuple[float, bool]]]] = {}
    for role, runs in zip(("baseline", "candidate"), runs_by_role):
        for run in runs:
            for item in run.get("assertions") or ():
                name = item.get("metric") if isinstance(item, Mapping) else None
                if isinstance(name, str) and name:
                    sides = found.setdefault(name, {"baseline": [], "candidate": []})
                    sides[role].append((_number(item.get("score")) or 0.0, bool(item.get("passed"))))
    return {
        redact(name): {
            role: {"score": finite(math.fsum(s for s, _ in results) / len(results)) if results else None,
                   "passed": sum(p for _, p in results), "total": len(results)}
            for role, results in sides.items()
        }
        for name, sides in sorted(found.items())
    }


def _latency_histogram(
    base: list[float], cand: list[float], sla: float | None, bins: int = 40
) -> dict[str, Any] | None:
    """Shared bins for both models' latencies (ms, sorted). The range ends near the 99.5th percentile (or
    the SLA, if higher) so one slow call does not flatten the picture; the last bin also counts the calls
    beyond it (``overflow``)."""
    if not base and not cand:
        return None
    top = max(_stats.percentile(v, 99.5, presorted=True) or 0.0 for v in (base, cand) if v)
    biggest = max(v[-1] for v in (base, cand) if v)
    if biggest <= top * 1.25:
        top = biggest
    if sla is not None:
        top = max(top, float(sla) * 1.1)
    step = nice_step(top, bins)
    n_bins = max(1, min(bins * 2, math.ceil(top / step) if top > 0 else 1))
    if n_bins * step <= top:
        n_bins += 1

    def counts(values: list[float]) -> tuple[list[int], int]:
        out = [0] * n_bins
        over = 0
        last = n_bins - 1
        for v in values:
            i = int(v / step) if v > 0 else 0
            if i > last:
                over += 1
                i = last
            out[i] += 1
        return out, over

    cb, ob = counts(base)
    cc, oc = counts(cand)
    return {
        "bin_ms": step,
        "upper_ms": step * n_bins,
        "baseline": cb,
        "candidate": cc,
        "overflow": {"baseline": ob, "candidate": oc},
    }


def _by_repeat(runs: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return sorted(runs, key=lambda r: r.get("repeat") or 0) if len(runs) > 1 else runs


def _evidence(
    by_case: Mapping[str, tuple[list[Mapping[str, Any]], list[Mapping[str, Any]]]],
    passes: tuple[dict[str, tuple[float, ...]], dict[str, tuple[float, ...]]],
    paired_ids: Sequence[str],
) -> dict[str, Any]:
    """What the verdict's bounds are computed from (so a saved report can be re-decided): the paired
    accuracy counts and their design effect, the error counts, per-case latencies and costs.

    With repeats, runs of a case are paired on average (a case whose baseline passed 2 of 3 runs and whose
    candidate passed 1 of 3 adds 3 * 2/3 * 2/3 regressed and 3 * 1/3 * 1/3 fixed runs), so no order of
    repeats is assumed.
    """
    regressed = fixed = runs = 0.0
    xs: list[tuple[float, ...]] = []
    ys: list[tuple[float, ...]] = []
    err_b_only = err_c_only = err_pairs = 0
    err_xs: list[list[float]] = []
    err_ys: list[list[float]] = []
    cand_errors: list[list[float]] = []
    latency: list[list[float | None]] = []
    cost_b: list[float] = []
    cost_c: list[float] = []
    costs_known = True
    for cid in paired_ids:
        x, y = passes[0][cid], passes[1][cid]
        xs.append(x)
        ys.append(y)
        px, py = sum(x) / len(x), sum(y) / len(y)
        r = max(len(x), len(y))
        regressed += r * px * (1.0 - py)
        fixed += r * py * (1.0 - px)
        runs += r
        base_runs, cand_runs = _by_repeat(by_case[cid][0]), _by_repeat(by_case[cid][1])
        eb, ec = _error_flags(base_runs), _error_flags(cand_runs)
        for a, b in zip(eb, ec):
            err_b_only += a > b
            err_c_only += b > a
            err_pairs += 1
        err_xs.append(eb[: len(ec)])
        err_ys.append(ec[: len(eb)])
        for side, out in ((base_runs, cost_b), (cand_runs, cost_c)):
            # An errored call costs nothing (as in the totals); only a successful call without a price is unknown.
            values = [0.0 if _is_error(run) else _number(run.get("cost")) for run in side]
            if any(v is None for v in values):
                costs_known = False
            else:
                out.append(math.fsum(values) / len(values))  # type: ignore[arg-type]
    for cid, sides in by_case.items():
        if sides[1]:
            cand_runs = _by_repeat(sides[1])
            cand_errors.append(_error_flags(cand_runs))
            latency.append([_ms(run.get("latency_s")) for run in cand_runs])
    repeated = any(len(x) > 1 or len(y) > 1 for x, y in zip(xs, ys))
    integral = not repeated
    return {
        "accuracy": {
            "regressed": int(round(regressed)) if integral else regressed,
            "fixed": int(round(fixed)) if integral else fixed,
            "n": int(runs) if integral else runs,
            "cases": len(paired_ids),
            "design_effect": design_effect(xs, ys) if repeated else 1.0,
        },
        "errors": {
            "baseline_only": err_b_only,
            "candidate_only": err_c_only,
            "n": err_pairs,
            "design_effect": rate_design_effect(cand_errors),
            "design_effect_paired": design_effect(
                [tuple(1.0 - v for v in e) for e in err_xs], [tuple(1.0 - v for v in e) for e in err_ys]
            ) if repeated else 1.0,
        },
        "latency": {"candidate_ms": latency},
        "cost": {"baseline": cost_b, "candidate": cost_c} if costs_known and cost_b else None,
    }


def _error_flags(runs: Sequence[Mapping[str, Any]]) -> list[float]:
    return [1.0 if run.get("error") else 0.0 for run in runs]


def _ms(latency_s: Any) -> float | None:
    value = _number(latency_s)
    return None if value is None else round(value * 1000.0, 3)


def build_report(
    results: Iterable[Mapping[str, Any]],
    *,
    suite: Mapping[str, Any] | None,
    baseline: str,
    candidate: str,
    thresholds: Mapping[str, Any] | None,
    repeat: int,
    seed: int = 0,
    n_resamples: int = 2000,
) -> dict[str, Any]:
    """The report dict (see the module docstring for the definitions); JSON-serialisable, keys redacted.

    ``results``: one dict per (role, case, repeat) with ``role`` ("baseline" or "candidate"), ``case_id``,
    ``passed``, ``score``, ``latency_s``, ``input_tokens``, ``output_tokens``, ``cost``, ``error``,
    ``output``, ``expected``, ``prompt`` and ``assertions``. ``thresholds``: see ``modelswap.regress.decide``.
    Deterministic for a given ``seed`` (but for ``generated_at``); the statistics do not depend on the order
    of ``results`` either (cases keep the order in which they first appear).
    """
    t = normalize_thresholds(thresholds)
    alpha = float(t["alpha"])
    _KEYS.clear()
    by_case: dict[str, tuple[list[Mapping[str, Any]], list[Mapping[str, Any]]]] = {}
    runs_by_role: tuple[list[Mapping[str, Any]], list[Mapping[str, Any]]] = ([], [])
    for r in results:
        role = r.get("role")
        if role == "baseline":
            slot = 0
        elif role == "candidate":
            slot = 1
        else:
            raise ValueError(
                f"result role must be 'baseline' or 'candidate', got {role!r} (case {r.get('case_id')!r})"
            )
        cid = str(r.get("case_id"))
        entry = by_case.get(cid)
        if entry is None:
            entry = by_case[cid] = ([], [])
        entry[slot].append(r)
        runs_by_role[slot].append(r)

    cases: list[dict[str, Any]] = []
    # Per model, per case: pass values and latencies (for the bootstrap), keyed for a canonical order.
    passes: tuple[dict[str, tuple[float, ...]], dict[str, tuple[float, ...]]] = ({}, {})
    lats: tuple[dict[str, tuple[float, ...]], dict[str, tuple[float, ...]]] = ({}, {})
    flaky = [0, 0]
    mc = Counter()
    for cid, sides in by_case.items():
        first = (sides[0] or sides[1])[0]
        views: list[dict[str, Any] | None] = [None, None]
        majorities: list[bool | None] = [None, None]
        for slot in (0, 1):
            if sides[slot]:
                view, p, lat, maj = _side(sides[slot])
                views[slot], majorities[slot] = view, maj
                passes[slot][cid] = tuple(p)
                lats[slot][cid] = tuple(lat)
                flaky[slot] += view["flaky"]
        changed = "same"
        if majorities[0] is not None and majorities[1] is not None:
            key = (majorities[0], majorities[1])
            mc[key] += 1
            if key == (True, False):
                changed = "regressed"
            elif key == (False, True):
                changed = "fixed"
        prompt = first.get("prompt")
        cases.append(
            {
                "case_id": redact(cid),
                "prompt": None if prompt is None else redact(str(prompt)),
                "expected": _clean(first.get("expected")),
                "baseline": views[0],
                "candidate": views[1],
                "changed": changed,
            }
        )

    paired_ids = sorted(set(passes[0]) & set(passes[1]))
    b, c = mc[(True, False)], mc[(False, True)]
    models = {}
    all_latencies: list[list[float]] = [[], []]
    for slot, role, alias in ((0, "baseline", baseline), (1, "candidate", candidate)):
        ids = sorted(passes[slot])
        all_latencies[slot] = sorted(chain.from_iterable(lats[slot].values()))
        models[role] = _model_metrics(
            redact(alias),
            runs_by_role[slot],
            [passes[slot][i] for i in ids],
            all_latencies[slot],
            n_cases=len(ids),
            flaky=flaky[slot],
            n_resamples=n_resamples,
            alpha=alpha,
            seed=seed,
        )

    acc_b, acc_c = models["baseline"]["accuracy"], models["candidate"]["accuracy"]
    acc_ci = (
        _stats.paired_bootstrap_ci(
            [passes[0][i] for i in paired_ids],
            [passes[1][i] for i in paired_ids],
            "mean",
            n_resamples=n_resamples,
            alpha=alpha,
            seed=seed,
        )
        if paired_ids
        else (None, None)
    )
    p95_b, p95_c = models["baseline"]["latency_p95_ms"], models["candidate"]["latency_p95_ms"]
    p50_b, p50_c = models["baseline"]["latency_p50_ms"], models["candidate"]["latency_p50_ms"]
    lat_ci = (
        _stats.paired_bootstrap_ci(
            [lats[0][i] for i in paired_ids],
            [lats[1][i] for i in paired_ids],
            "p95",
            n_resamples=n_resamples,
            alpha=alpha,
            seed=seed,
        )
        if paired_ids
        else (None, None)
    )
    cost_b, cost_c = models["baseline"]["cost"], models["candidate"]["cost"]
    if cost_b is not None and cost_c is not None:
        cost_rel = (cost_c / cost_b - 1.0) if cost_b > 0 else (0.0 if cost_c == 0 else None)
    else:
        cost_rel = None
    err_b, err_c = models["baseline"]["error_rate"], models["candidate"]["error_rate"]
    comparison = {
        "cases": {
            "paired": len(paired_ids),
            "baseline_only": len(passes[0]) - len(paired_ids),
            "candidate_only": len(passes[1]) - len(paired_ids),
        },
        "mcnemar": {
            "b": b,
            "c": c,
            "p_value": _stats.mcnemar_exact(b, c),
            "both_pass": mc[(True, True)],
            "both_fail": mc[(False, False)],
        },
        "accuracy_delta": {
            "value": finite(acc_c - acc_b) if acc_b is not None and acc_c is not None else None,
            "ci": [finite(acc_ci[0]), finite(acc_ci[1])],
        },
        "latency_p50_delta_ms": {
            "value": finite(p50_c - p50_b) if p50_b is not None and p50_c is not None else None
        },
        "latency_p95_delta_ms": {
            "value": finite(p95_c - p95_b) if p95_b is not None and p95_c is not None else None,
            "ci": [finite(lat_ci[0]), finite(lat_ci[1])],
        },
        "error_rate_delta": {
            "value": finite(err_c - err_b) if err_b is not None and err_c is not None else None
        },
        "cost_delta": {
            "value": finite(cost_c - cost_b) if cost_b is not None and cost_c is not None else None,
            "relative": finite(cost_rel) if cost_rel is not None else None,
        },
    }
    evidence = _evidence(by_case, passes, paired_ids)
    verdict = decide({"models": models, "comparison": comparison, "evidence": evidence}, t)
    accuracy_check = next(c for c in verdict.checks if c["name"] == "accuracy")
    if accuracy_check.get("bounds"):
        test = accuracy_check["test"]
        comparison["noninferiority"] = {
            "margin": test["margin"],
            "confidence": 1.0 - alpha,
            "lower": accuracy_check["bounds"]["lower"],
            "upper": accuracy_check["bounds"]["upper"],
            "provable_margin": accuracy_check["bounds"]["provable_margin"],
            "p_noninferior": test["p_noninferior"],
            "p_inferior": test["p_inferior"],
            "exact": test["exact"],
            "design_effect": test["design_effect"],
            "outcome": accuracy_check["outcome"],
            "cases_needed": accuracy_check["cases_needed"],
        }
    histogram = _latency_histogram(all_latencies[0], all_latencies[1], t["latency_sla_ms"])
    return {
        "verdict": verdict.verdict,
        "reasons": verdict.reasons,
        "checks": _clean(verdict.checks),
        "baseline": redact(baseline),
        "candidate": redact(candidate),
        "suite": _clean(dict(suite or {})),
        "repeat": int(repeat),
        "thresholds": {**t, "min_cases": min_cases_for(t)},
        "stats": {"confidence": 1.0 - alpha, "n_resamples": n_resamples, "seed": seed},
        "models": models,
        "comparison": comparison,
        "evidence": evidence,
        "latency_histogram": histogram,
        "metrics": _metrics(runs_by_role),
        "generated_at": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
        "modelswap_version": _version(),
        "cases": cases,
    }


def dumps_report(report: Mapping[str, Any]) -> str:
    """``report.json``'s text: indented, with one line per case (diffable, and fast for 10,000 cases)."""
    head = {k: v for k, v in report.items() if k != "cases"}
    text = json.dumps(head, indent=2, ensure_ascii=False, allow_nan=False)
    if "cases" not in report:
        return text + "\n"
    dumps = json.JSONEncoder(ensure_ascii=False, allow_nan=False).encode
    lines = ",\n".join("    " + dumps(case) for case in report["cases"])
    body = f'  "cases": [\n{lines}\n  ]' if lines else '  "cases": []'
    return (text[:-2] + ",\n" if head else "{\n") + body + "\n}\n"
