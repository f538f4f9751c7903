"""The promote / hold / rollback rules of modelswap.regress.decide, one check at a time.

Every check is pass (the limit is shown to hold), rollback (a breach is proven) or hold (inconclusive), from
one-sided bounds; these tests drive each branch from the evidence ``build_report`` writes.
"""

from __future__ import annotations

import copy
import doctest
import json
from typing import Any

import pytest

from modelswap.regress import (
    THRESHOLD_DEFAULTS,
    Verdict,
    build_report,
    decide,
    dumps_report,
    normalize_thresholds,
)
from modelswap.regress import _verdict
from modelswap.regress._verdict import accuracy_test, min_cases_for

CHECK_KEYS = {
    "name", "status", "outcome", "value", "threshold", "bounds", "passed", "significant", "cases_needed", "detail",
}


def metrics(
    *,
    n: int = 200,
    regressed: int = 3,
    fixed: int = 3,
    base_errors: int = 1,
    cand_errors: int = 1,
    latency_ms: float | list[float | None] = 800.0,
    cost: tuple[float, float] | None = (0.005, 0.005),
    **overrides: Any,
) -> dict[str, Any]:
    """A healthy comparison (200 cases, both models 92.5%, identical latency and cost), built from counts the
    way build_report writes its evidence, then dotted-path overrides: metrics(**{"models.candidate.cost": 2})."""
    base_acc = 0.925
    cand_acc = base_acc + (fixed - regressed) / n
    lat = latency_ms if isinstance(latency_ms, list) else [latency_ms] * n
    known = sorted(v for v in lat if v is not None)
    m: dict[str, Any] = {
        "models": {
            role: {
                "alias": role,
                "accuracy": acc,
                "error_rate": errors / n,
                "errors": errors,
                "n_runs": n,
                "latency_p95_ms": known[int(0.95 * (len(known) - 1))] if known else None,
                "cost": price * n if cost else None,
                "cost_unknown_runs": 0,
                "error_types": {"ProviderTimeoutError": errors} if errors else {},
            }
            for role, acc, errors, price in (
                ("baseline", base_acc, base_errors, cost[0] if cost else 0),
                ("candidate", cand_acc, cand_errors, cost[1] if cost else 0),
            )
        },
        "comparison": {
            "cases": {"paired": n, "baseline_only": 0, "candidate_only": 0},
            "mcnemar": {"b": regressed, "c": fixed, "p_value": 1.0},
        },
        "evidence": {
            "accuracy": {"regressed": regressed, "fixed": fixed, "n": n, "cases": n, "design_effect": 1.0},
            "errors": {
                "baseline_only": max(0, base_errors - min(base_errors, cand_errors)),
                "candidate_only": max(0, cand_errors - min(base_errors, cand_errors)),
                "n": n, "design_effect": 1.0, "design_effect_paired": 1.0,
            },
            "latency": {"candidate_ms": [[v] for v in lat]},
            "cost": {"baseline": [cost[0]] * n, "candidate": [cost[1]] * n} if cost else None,
        },
    }
    for path, value in overrides.items():
        node = m
        *parents, leaf = path.split(".")
        for key in parents:
            node = node[key]
        node[leaf] = value
    return m


def by_name(v: Verdict) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in v.checks}


ALL_LIMITS = {"max_accuracy_drop": 0.05, "latency_sla_ms": 1500, "max_error_rate": 0.05, "max_cost_increase": 0.1}


def test_promote_when_every_limit_is_shown_to_hold() -> None:
    v = decide(metrics(), ALL_LIMITS)
    assert v.verdict == "promote"
    assert all(c["status"] == "pass" and c["outcome"] == "pass" for c in v.checks)
    assert v.reasons[0].startswith("Accuracy stayed at 92.5%")
    assert "a drop larger than the margin is ruled out" in v.reasons[0]
    assert any("within the SLA of 1,500 ms" in r for r in v.reasons)


def test_every_check_has_the_documented_keys() -> None:
    v = decide(metrics(), {})
    assert [c["name"] for c in v.checks] == [
        "accuracy", "error_rate", "latency_p95", "cost", "sample_size", "baseline_health",
    ]
    for c in v.checks:
        assert set(c) - {"test"} == CHECK_KEYS
        assert c["status"] in ("pass", "hold", "rollback", "skipped")
        assert c["outcome"] == {"pass": "pass", "hold": "inconclusive", "rollback": "breach proven",
                                "skipped": "skipped"}[c["status"]]
        assert c["passed"] == (c["status"] in ("pass", "skipped"))
    assert set(by_name(v)["accuracy"]["test"]) >= {"margin", "p_noninferior", "p_inferior", "exact"}
    json.dumps(v.to_dict())


def test_unset_guardrails_are_skipped_not_breached() -> None:
    v = decide(metrics(cand_errors=60, latency_ms=99_999.0, cost=(0.005, 0.25)), {})
    checks = by_name(v)
    assert checks["latency_p95"]["status"] == checks["cost"]["status"] == checks["error_rate"]["status"] == "skipped"
    assert v.verdict == "promote"


def test_the_docstring_example_runs() -> None:
    assert doctest.testmod(_verdict).failed == 0


# ---------------------------------------------------------------------------------------------- accuracy


def test_the_default_margin_is_five_points_and_every_verdict_states_it() -> None:
    assert THRESHOLD_DEFAULTS["max_accuracy_drop"] == 0.05
    v = decide(metrics(n=40, regressed=7, fixed=9), {})
    assert "not the 5-point margin" in v.reasons[0]


def test_hold_says_the_margin_the_data_rule_out_and_the_cases_that_would_decide() -> None:
    # The README demo's first table: 40 cases, 7 regressed, 9 fixed. McNemar sees nothing, and the old rule
    # promoted; the lower bound is about -12 points, so a 5-point margin is not shown.
    v = decide(metrics(n=40, regressed=7, fixed=9), {"max_accuracy_drop": 0.05, "min_cases": 0})
    acc = by_name(v)["accuracy"]
    assert v.verdict == "hold" and acc["status"] == "hold" and acc["outcome"] == "inconclusive"
    assert acc["bounds"]["lower"] == pytest.approx(-0.123, abs=0.002)
    assert acc["bounds"]["provable_margin"] == pytest.approx(0.123, abs=0.002)
    assert "rule out only a drop larger than 12.3 points" in acc["detail"]
    assert acc["cases_needed"] and 100 < acc["cases_needed"] < 1000
    assert f"about {acc['cases_needed']:,} paired cases would decide" in acc["detail"]


def test_rollback_when_a_drop_beyond_the_margin_is_proven() -> None:
    v = decide(metrics(regressed=106, fixed=3), {"max_accuracy_drop": 0.02})
    acc = by_name(v)["accuracy"]
    assert v.verdict == "rollback" and acc["status"] == "rollback" and acc["outcome"] == "breach proven"
    assert acc["value"] == pytest.approx(-0.515) and acc["threshold"] == -0.02
    assert acc["bounds"]["upper"] < -0.02
    assert "accuracy fell from 92.5% to 41.0%" in v.reasons[0].lower()
    assert "106 cases regressed, 3 fixed of 200" in v.reasons[0]
    assert "a drop beyond the margin is proven" in v.reasons[0]


def test_a_drop_that_is_significant_but_within_the_margin_passes() -> None:
    # 12 regressed, 2 fixed of 400: McNemar p ~ 0.01, yet the drop (2.5 points) is bounded well above -5.
    v = decide(metrics(n=400, regressed=12, fixed=2), {"max_accuracy_drop": 0.05})
    assert by_name(v)["accuracy"]["status"] == "pass"


def test_a_drop_exactly_at_the_margin_never_promotes() -> None:
    # 10 regressed of 200 is exactly -5 points: neither "within" nor "beyond" can be proven.
    acc = accuracy_test(10, 0, 200, margin=0.05, alpha=0.05)
    assert acc["status"] == "hold" and acc["cases_needed"] is None
    assert "no number of cases is likely to decide" in by_name(
        decide(metrics(regressed=10, fixed=0), {"max_accuracy_drop": 0.05}))["accuracy"]["detail"]


def test_a_margin_of_zero_promotes_only_a_proven_gain() -> None:
    same = decide(metrics(), {"max_accuracy_drop": 0.0})
    assert same.verdict == "hold" and "a margin of 0 cannot be proven" in same.reasons[0]
    gain = decide(metrics(regressed=1, fixed=10), {"max_accuracy_drop": 0.0})
    assert gain.verdict == "promote" and "proven better" in gain.reasons[0]


def test_repeats_widen_the_bounds_by_their_design_effect() -> None:
    plain = metrics(n=400, regressed=10, fixed=10)
    clustered = copy.deepcopy(plain)
    clustered["evidence"]["accuracy"].update(cases=100, design_effect=4.0)
    a = by_name(decide(plain, {}))["accuracy"]
    b = by_name(decide(clustered, {}))["accuracy"]
    assert b["bounds"]["lower"] < a["bounds"]["lower"] < 0
    assert "design effect 4.00" in b["detail"]


def test_without_evidence_the_paired_counts_of_mcnemar_are_used() -> None:
    m = metrics(regressed=4, fixed=4)
    del m["evidence"]
    assert by_name(decide(m, {}))["accuracy"]["status"] == "pass"


def test_alpha_changes_the_bounds_and_their_label() -> None:
    m = metrics(n=200, regressed=8, fixed=2)  # -3 points
    loose = by_name(decide(m, {"alpha": 0.2}))["accuracy"]
    strict = by_name(decide(m, {"alpha": 0.01}))["accuracy"]
    assert strict["bounds"]["lower"] < loose["bounds"]["lower"]
    assert "99% bounds" in strict["detail"] and "80% bounds" in loose["detail"]


# ---------------------------------------------------------------------------------------------- guardrails


def test_one_error_in_forty_calls_is_not_a_proven_breach_of_two_percent() -> None:
    v = decide(metrics(n=40, regressed=0, fixed=0, base_errors=0, cand_errors=1), {"max_error_rate": 0.02, "min_cases": 0})
    err = by_name(v)["error_rate"]
    assert err["status"] == "hold" and err["bounds"]["lower"] < 0.02 < err["bounds"]["upper"]
    assert err["cases_needed"] and "calls at this rate would decide" in err["detail"]


def test_rollback_when_the_error_rate_is_proven_above_the_limit() -> None:
    m = metrics(cand_errors=24, **{"models.candidate.error_types": {"RateLimitedError": 20, "ProviderTimeoutError": 4}})
    v = decide(m, {"max_error_rate": 0.05})
    err = by_name(v)["error_rate"]
    assert v.verdict == "rollback" and err["status"] == "rollback" and err["bounds"]["lower"] > 0.05
    assert "12.0% (24 of 200 calls)" in v.reasons[0] and "proven above the maximum 5.0%" in v.reasons[0]
    assert "RateLimitedError \u00d720" in v.reasons[0]


def test_the_error_increase_over_the_baseline_is_bounded_too() -> None:
    m = metrics(n=400, base_errors=0, cand_errors=40)
    v = decide(m, {"max_error_increase": 0.02})
    err = by_name(v)["error_rate"]
    assert err["status"] == "rollback" and err["bounds"]["increase_lower"] > 0.02
    assert decide(metrics(n=400, base_errors=0, cand_errors=0), {"max_error_increase": 0.02}).verdict == "promote"


def test_latency_passes_when_the_share_of_slow_calls_is_bounded_below_five_percent() -> None:
    check = by_name(decide(metrics(latency_ms=800.0), {"latency_sla_ms": 1500}))["latency_p95"]
    assert check["status"] == "pass" and check["bounds"]["p95_upper_ms"] == 800.0


def test_rollback_when_p95_is_proven_over_the_sla() -> None:
    v = decide(metrics(latency_ms=2310.0), {"latency_sla_ms": 1500})
    lat = by_name(v)["latency_p95"]
    assert v.verdict == "rollback" and lat["status"] == "rollback" and lat["value"] == 2310.0
    assert "proven above the SLA of 1,500 ms" in v.reasons[0]


def test_errored_calls_without_a_time_count_as_slower_than_the_sla() -> None:
    lat: list[float | None] = [800.0] * 190 + [None] * 10
    check = by_name(decide(metrics(latency_ms=lat), {"latency_sla_ms": 1500}))["latency_p95"]
    assert check["status"] == "hold" and "10 of 200 calls slower than 1,500 ms" in check["detail"]


def test_hold_when_an_sla_is_set_but_no_latency_was_recorded() -> None:
    m = metrics()
    m["evidence"]["latency"] = {}
    v = decide(m, {"latency_sla_ms": 1500})
    assert v.verdict == "hold" and by_name(v)["latency_p95"]["status"] == "hold"


def test_cost_is_bounded_as_a_ratio_of_the_mean_cost_per_case() -> None:
    v = decide(metrics(cost=(0.004, 0.005)), {"max_cost_increase": 0.10})
    cost = by_name(v)["cost"]
    assert v.verdict == "rollback" and cost["value"] == pytest.approx(0.25)
    assert cost["bounds"]["ratio_lower"] > 1.1 and "proven above the allowed +10%" in v.reasons[0]
    assert decide(metrics(cost=(0.005, 0.00545)), {"max_cost_increase": 0.10}).verdict == "promote"
    assert decide(metrics(cost=(0.005, 0.0025)), {"max_cost_increase": 0.0}).verdict == "promote"


def test_cost_from_zero_is_an_unbounded_increase() -> None:
    v = decide(metrics(cost=(0.0, 0.3)), {"max_cost_increase": 0.5})
    assert v.verdict == "rollback" and by_name(v)["cost"]["value"] is None and "from 0 to" in v.reasons[0]
    assert decide(metrics(cost=(0.0, 0.0)), {"max_cost_increase": 0.0}).verdict == "promote"


def test_hold_when_a_cost_limit_is_set_but_costs_are_unknown() -> None:
    v = decide(metrics(**{"models.baseline.cost_unknown_runs": 200}), {"max_cost_increase": 0.1})
    assert v.verdict == "hold" and "no cost for 200 baseline calls" in v.reasons[0].lower()


# ---------------------------------------------------------------------------------------------- sample and baseline


def test_min_cases_defaults_to_the_fewest_that_could_prove_the_margin() -> None:
    assert min_cases_for(normalize_thresholds({})) == 59
    assert min_cases_for(normalize_thresholds({"max_accuracy_drop": 0.1})) < 59
    assert min_cases_for(normalize_thresholds({"min_cases": 5})) == 5
    v = decide(metrics(n=40, regressed=0, fixed=0), {})
    sample = by_name(v)["sample_size"]
    assert v.verdict == "hold" and sample["status"] == "hold" and sample["cases_needed"] == 59
    assert "only 40 cases answered by both models, fewer than 59" in sample["detail"]


def test_hold_when_a_model_is_missing_cases() -> None:
    m = metrics(n=150, **{"comparison.cases": {"paired": 150, "baseline_only": 50, "candidate_only": 0}})
    v = decide(m, {})
    assert v.verdict == "hold" and any("50 cases have no candidate result" in r for r in v.reasons)


def test_hold_when_the_baseline_itself_is_failing() -> None:
    v = decide(metrics(base_errors=120), {})  # the baseline's default limit: 50%
    assert v.verdict == "hold" and by_name(v)["baseline_health"]["status"] == "hold"
    assert any("baseline itself errored on 60.0%" in r for r in v.reasons)
    assert by_name(decide(metrics(base_errors=16), {}))["baseline_health"]["status"] == "pass"
    assert by_name(decide(metrics(base_errors=16), {"max_error_rate": 0.05}))["baseline_health"]["status"] == "hold"


def test_the_baseline_limit_is_compared_in_exact_arithmetic() -> None:
    # 1 of 10 against 0.1: float division would compare 0.1 with 0.1 by luck; counts decide exactly.
    m = metrics(n=10, base_errors=1)
    assert by_name(decide(m, {"max_error_rate": 0.1, "min_cases": 0}))["baseline_health"]["status"] == "pass"


def test_rollback_outranks_hold_and_comes_first_in_the_reasons() -> None:
    v = decide(metrics(base_errors=120, latency_ms=3000.0), {"latency_sla_ms": 1000})
    assert v.verdict == "rollback"
    assert "SLA" in v.reasons[0] and any("baseline itself" in r for r in v.reasons[1:])


def test_missing_metrics_count_as_unknown() -> None:
    v = decide({}, {"latency_sla_ms": 100, "max_error_rate": 0.1})
    assert v.verdict == "hold"
    assert {c["status"] for c in v.checks} <= {"hold", "skipped"}


# ---------------------------------------------------------------------------------------------- thresholds


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"max_accuracy_drop_pct": 2}, "unknown threshold"),
        ({"max_accuracy_drop": 2}, "max_accuracy_drop is a fraction (0.05 = 5 points), got 2"),
        ({"max_error_rate": 5}, "max_error_rate is a fraction"),
        ({"alpha": 5}, "alpha is a probability such as 0.05, got 5"),
        ({"alpha": 0}, "alpha"),
        ({"latency_sla_ms": -5}, "latency_sla_ms must be positive"),
        ({"max_error_rate": "5%"}, "must be a finite number"),
        ({"min_cases": -1}, "min_cases must be non-negative"),
    ],
)
def test_bad_thresholds_name_the_key_and_the_fix(given: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        normalize_thresholds(given)


def test_normalize_fills_defaults() -> None:
    assert normalize_thresholds({"latency_sla_ms": None})["latency_sla_ms"] is None
    assert normalize_thresholds(None) == THRESHOLD_DEFAULTS
    assert normalize_thresholds({"min_cases": 7.2})["min_cases"] == 8


def test_a_saved_report_can_be_decided_again_with_other_thresholds() -> None:
    results = []
    for i in range(40):
        for role in ("baseline", "candidate"):
            ok = i % 10 != 0 if role == "baseline" else i % 4 != 0
            results.append(
                {
                    "role": role, "alias": role, "case_id": f"c{i}", "repeat": 0, "passed": ok, "score": float(ok),
                    "latency_s": 0.2 if role == "baseline" else 0.9, "input_tokens": 10, "output_tokens": 2,
                    "cost": 0.001, "error": None, "output": "x", "expected": "x", "prompt": "p", "assertions": [],
                }
            )
    report = build_report(
        results,
        suite={"name": "s", "source": "s.yaml", "n_cases": 40},
        baseline="a",
        candidate="b",
        thresholds={"max_accuracy_drop": 0.5},
        repeat=1,
    )
    assert report["verdict"] == "promote"  # 8 regressed, 2 fixed: -15 points, far inside a 50-point margin
    saved = json.loads(dumps_report(report))
    again = decide(copy.deepcopy(saved), {"max_accuracy_drop": 0.5, "latency_sla_ms": 500})
    lat = by_name(again)["latency_p95"]
    assert again.verdict == "rollback" and lat["value"] == pytest.approx(900.0)
    assert decide(copy.deepcopy(saved), {}).verdict == "hold"  # 5 points cannot be shown with 40 cases
