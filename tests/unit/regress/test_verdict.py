"""The promote / hold / rollback rules of modelswap.regress.decide, one branch at a time."""

from __future__ import annotations

import copy
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

CHECK_KEYS = {"name", "value", "threshold", "passed", "significant", "detail", "status"}


def metrics(**overrides: Any) -> dict[str, Any]:
    """A healthy comparison (200 cases, both models ~92%), with dotted-path overrides:
    metrics(**{"models.candidate.accuracy": 0.41})."""
    m: dict[str, Any] = {
        "models": {
            role: {
                "alias": role,
                "accuracy": 0.925,
                "error_rate": 0.005,
                "errors": 1,
                "n_runs": 200,
                "latency_p95_ms": 800.0,
                "cost": 1.0,
                "cost_unknown_runs": 0,
                "error_types": {"ProviderTimeoutError": 1},
            }
            for role in ("baseline", "candidate")
        },
        "comparison": {
            "cases": {"paired": 200, "baseline_only": 0, "candidate_only": 0},
            "mcnemar": {"b": 3, "c": 3, "p_value": 1.0},
            "accuracy_delta": {"value": 0.0, "ci": [-0.02, 0.02]},
            "latency_p95_delta_ms": {"value": 0.0, "ci": [-50.0, 50.0]},
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


def dropped(to: float, p: float, ci: list[float], b: int, c: int) -> dict[str, Any]:
    return metrics(
        **{
            "models.candidate.accuracy": to,
            "comparison.accuracy_delta": {"value": to - 0.925, "ci": ci},
            "comparison.mcnemar": {"b": b, "c": c, "p_value": p},
        }
    )


def test_promote_when_nothing_is_breached() -> None:
    v = decide(
        metrics(),
        {"max_accuracy_drop": 0.02, "latency_sla_ms": 1500, "max_error_rate": 0.05, "max_cost_increase": 0.1},
    )
    assert v.verdict == "promote"
    assert all(c["status"] == "pass" for c in v.checks)
    assert v.reasons and v.reasons[0].startswith("Accuracy stayed at 92.5%")
    assert any("SLA of 1,500 ms" in r for r in v.reasons)


def test_every_check_has_the_documented_keys() -> None:
    v = decide(metrics(), {})
    assert [c["name"] for c in v.checks] == [
        "accuracy",
        "error_rate",
        "latency_p95",
        "cost",
        "sample_size",
        "baseline_health",
    ]
    for c in v.checks:
        assert set(c) == CHECK_KEYS
        assert c["status"] in ("pass", "hold", "rollback", "skipped")
        assert c["passed"] == (c["status"] in ("pass", "skipped"))
    json.dumps(v.to_dict())


def test_unset_thresholds_are_skipped_not_breached() -> None:
    v = decide(
        metrics(
            **{
                "models.candidate.latency_p95_ms": 99_999.0,
                "models.candidate.cost": 50.0,
                "models.candidate.error_rate": 0.3,
            }
        ),
        {},
    )
    checks = by_name(v)
    assert (
        checks["latency_p95"]["status"]
        == checks["cost"]["status"]
        == checks["error_rate"]["status"]
        == "skipped"
    )
    assert v.verdict == "promote"


# ---------------------------------------------------------------------------------------------- accuracy


def test_rollback_on_a_significant_accuracy_drop() -> None:
    v = decide(dropped(0.41, 1.2e-9, [-0.63, -0.40], 106, 3), {"max_accuracy_drop": 0.02})
    assert v.verdict == "rollback"
    acc = by_name(v)["accuracy"]
    assert acc["status"] == "rollback" and acc["significant"] is True and acc["passed"] is False
    assert acc["value"] == pytest.approx(-0.515) and acc["threshold"] == -0.02
    reason = v.reasons[0]
    assert "accuracy fell from 92.5% to 41.0%" in reason.lower()
    assert "\u221251.5 points" in reason and "95% CI \u221263.0 to \u221240.0" in reason
    assert "McNemar p = 1.2e-09 < 0.05" in reason and "106 cases regressed, 3 fixed" in reason
    assert reason.endswith("statistically significant, and more than the allowed 2 points")


def test_rollback_when_the_whole_interval_is_below_the_tolerance() -> None:
    # McNemar alone would not reject at 0.05, but the whole CI is below -2 points
    v = decide(dropped(0.85, 0.06, [-0.12, -0.03], 20, 9), {"max_accuracy_drop": 0.02})
    assert by_name(v)["accuracy"]["status"] == "rollback"
    assert v.reasons[0].endswith("the whole 95% interval lies below \u22122 points, the allowed drop")


def test_hold_when_the_drop_is_beyond_tolerance_but_not_significant() -> None:
    v = decide(dropped(0.89, 0.21, [-0.08, 0.01], 9, 4), {"max_accuracy_drop": 0.02})
    assert v.verdict == "hold"
    acc = by_name(v)["accuracy"]
    assert acc["status"] == "hold" and acc["significant"] is False
    assert "not statistically significant" in v.reasons[0] and "McNemar p = 0.21 \u2265 0.05" in v.reasons[0]


def test_a_drop_within_tolerance_passes_even_if_significant() -> None:
    v = decide(dropped(0.915, 0.01, [-0.018, -0.002], 30, 12), {"max_accuracy_drop": 0.02})
    acc = by_name(v)["accuracy"]
    assert acc["status"] == "pass" and acc["significant"] is True
    assert v.verdict == "promote"


def test_default_tolerance_is_zero() -> None:
    assert THRESHOLD_DEFAULTS["max_accuracy_drop"] == 0.0
    assert decide(dropped(0.92, 0.8, [-0.03, 0.02], 4, 3), {}).verdict == "hold"
    v = decide(dropped(0.85, 0.001, [-0.1, -0.04], 20, 2), {})
    assert v.verdict == "rollback" and v.reasons[0].endswith("and no drop is allowed")


def test_a_gain_promotes() -> None:
    m = metrics(
        **{
            "models.candidate.accuracy": 0.97,
            "comparison.accuracy_delta": {"value": 0.045, "ci": [0.02, 0.07]},
            "comparison.mcnemar": {"b": 1, "c": 10, "p_value": 0.012},
        }
    )
    v = decide(m, {"max_accuracy_drop": 0.0})
    assert v.verdict == "promote" and "rose from 92.5% to 97.0%" in v.reasons[0]


def test_significance_needs_more_regressions_than_fixes() -> None:
    # with repeats the run-level delta and the majority-level McNemar can disagree in direction
    v = decide(dropped(0.90, 0.001, [-0.05, 0.01], 2, 20), {"max_accuracy_drop": 0.0})
    assert by_name(v)["accuracy"]["status"] == "hold"


# ---------------------------------------------------------------------------------------------- budgets


def test_rollback_on_the_candidate_error_rate() -> None:
    m = metrics(
        **{
            "models.candidate.error_rate": 0.12,
            "models.candidate.errors": 24,
            "models.candidate.error_types": {"RateLimitedError": 20, "ProviderTimeoutError": 4},
        }
    )
    v = decide(m, {"max_error_rate": 0.05})
    assert v.verdict == "rollback"
    assert by_name(v)["error_rate"]["status"] == "rollback"
    assert "12.0% (24 of 200 calls) exceeds the maximum 5.0%" in v.reasons[0]
    assert "RateLimitedError \u00d720" in v.reasons[0]


def test_rollback_when_p95_is_over_the_sla() -> None:
    m = metrics(
        **{
            "models.candidate.latency_p95_ms": 2310.0,
            "comparison.latency_p95_delta_ms": {"value": 1510.0, "ci": [1200.0, 1700.0]},
        }
    )
    v = decide(m, {"latency_sla_ms": 1500})
    lat = by_name(v)["latency_p95"]
    assert (
        v.verdict == "rollback"
        and lat["status"] == "rollback"
        and lat["value"] == 2310.0
        and lat["threshold"] == 1500
    )
    assert "2,310 ms exceeds the SLA of 1,500 ms" in v.reasons[0] and "+1,510 ms" in v.reasons[0]


def test_p95_exactly_at_the_sla_passes() -> None:
    assert (
        decide(metrics(**{"models.candidate.latency_p95_ms": 1500.0}), {"latency_sla_ms": 1500}).verdict
        == "promote"
    )


def test_hold_when_an_sla_is_set_but_no_latency_was_recorded() -> None:
    v = decide(metrics(**{"models.candidate.latency_p95_ms": None}), {"latency_sla_ms": 1500})
    assert v.verdict == "hold" and by_name(v)["latency_p95"]["status"] == "hold"


def test_rollback_when_cost_rises_too_much() -> None:
    v = decide(metrics(**{"models.candidate.cost": 1.25}), {"max_cost_increase": 0.10})
    cost = by_name(v)["cost"]
    assert v.verdict == "rollback" and cost["value"] == pytest.approx(0.25)
    assert "total cost rose 25.0% (1 \u2192 1.25), above the allowed +10%" in v.reasons[0].lower()
    assert (
        decide(metrics(**{"models.candidate.cost": 1.09}), {"max_cost_increase": 0.10}).verdict == "promote"
    )
    assert decide(metrics(**{"models.candidate.cost": 0.5}), {"max_cost_increase": 0.0}).verdict == "promote"


def test_cost_from_zero_is_an_unbounded_increase() -> None:
    m = metrics(**{"models.baseline.cost": 0.0, "models.candidate.cost": 0.3})
    v = decide(m, {"max_cost_increase": 0.5})
    assert v.verdict == "rollback" and by_name(v)["cost"]["value"] is None and "from 0 to 0.3" in v.reasons[0]
    both_free = metrics(**{"models.baseline.cost": 0.0, "models.candidate.cost": 0.0})
    assert decide(both_free, {"max_cost_increase": 0.0}).verdict == "promote"


def test_hold_when_a_cost_limit_is_set_but_costs_are_unknown() -> None:
    v = decide(metrics(**{"models.baseline.cost_unknown_runs": 200}), {"max_cost_increase": 0.1})
    assert v.verdict == "hold" and "no cost for 200 baseline calls" in v.reasons[0].lower()


# ---------------------------------------------------------------------------------------------- sample and baseline


def test_hold_on_too_few_cases() -> None:
    m = metrics(**{"comparison.cases": {"paired": 6, "baseline_only": 0, "candidate_only": 0}})
    v = decide(m, {})
    assert v.verdict == "hold" and by_name(v)["sample_size"]["status"] == "hold"
    assert "only 6 cases answered by both models, fewer than 10" in v.reasons[0].lower()
    assert decide(m, {"min_cases": 5}).verdict == "promote"


def test_hold_when_a_model_is_missing_cases() -> None:
    m = metrics(**{"comparison.cases": {"paired": 150, "baseline_only": 50, "candidate_only": 0}})
    v = decide(m, {})
    assert v.verdict == "hold" and "50 cases have no candidate result" in v.reasons[0]


def test_hold_when_the_baseline_itself_is_failing() -> None:
    m = metrics(**{"models.baseline.error_rate": 0.6, "models.baseline.errors": 120})
    v = decide(m, {})  # default limit for the baseline: 50%
    assert v.verdict == "hold" and by_name(v)["baseline_health"]["status"] == "hold"
    assert "baseline itself errored on 60.0%" in v.reasons[0]
    m2 = metrics(**{"models.baseline.error_rate": 0.08, "models.baseline.errors": 16})
    assert decide(m2, {}).verdict == "promote"
    assert decide(m2, {"max_error_rate": 0.05}).verdict == "hold"


def test_rollback_outranks_hold_and_comes_first_in_the_reasons() -> None:
    m = metrics(**{"models.baseline.error_rate": 0.6, "models.candidate.latency_p95_ms": 3000.0})
    v = decide(m, {"latency_sla_ms": 1000})
    assert v.verdict == "rollback"
    assert "SLA" in v.reasons[0] and "baseline itself" in v.reasons[1]


def test_missing_metrics_count_as_unknown() -> None:
    v = decide({}, {"latency_sla_ms": 100, "max_error_rate": 0.1})
    assert v.verdict == "hold"
    assert {c["status"] for c in v.checks} <= {"hold", "skipped"}


# ---------------------------------------------------------------------------------------------- thresholds


def test_threshold_validation() -> None:
    with pytest.raises(ValueError, match="unknown threshold"):
        decide(metrics(), {"max_accuracy_drop_pct": 2})
    with pytest.raises(ValueError, match="fraction"):
        normalize_thresholds({"max_accuracy_drop": 2})
    with pytest.raises(ValueError):
        normalize_thresholds({"alpha": 0})
    with pytest.raises(ValueError):
        normalize_thresholds({"latency_sla_ms": -5})
    with pytest.raises(ValueError):
        normalize_thresholds({"max_error_rate": "5%"})
    assert normalize_thresholds({"latency_sla_ms": None})["latency_sla_ms"] is None
    assert normalize_thresholds(None) == THRESHOLD_DEFAULTS


def test_alpha_changes_significance_and_the_interval_label() -> None:
    m = dropped(0.88, 0.03, [-0.09, -0.01], 14, 4)
    assert decide(m, {"max_accuracy_drop": 0.02}).verdict == "rollback"
    v = decide(m, {"max_accuracy_drop": 0.02, "alpha": 0.01})
    assert v.verdict == "hold" and "99% CI" in v.reasons[0]


def test_a_saved_report_can_be_decided_again_with_other_thresholds() -> None:
    results = []
    for i in range(40):
        for role in ("baseline", "candidate"):
            ok = i % 10 != 0 if role == "baseline" else i % 4 != 0
            results.append(
                {
                    "role": role,
                    "alias": role,
                    "case_id": f"c{i}",
                    "repeat": 0,
                    "passed": ok,
                    "score": float(ok),
                    "latency_s": 0.2 if role == "baseline" else 0.9,
                    "input_tokens": 10,
                    "output_tokens": 2,
                    "cost": 0.001,
                    "error": None,
                    "output": "x",
                    "expected": "x",
                    "prompt": "p",
                    "assertions": [],
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
    assert report["verdict"] == "promote"
    saved = json.loads(dumps_report(report))
    again = decide(copy.deepcopy(saved), {"max_accuracy_drop": 0.5, "latency_sla_ms": 500})
    assert again.verdict == "rollback" and by_name(again)["latency_p95"]["value"] == pytest.approx(900.0)
