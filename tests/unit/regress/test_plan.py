"""modelswap.regress.plan_cases / plan_from_report and `modelswap plan`: sizing a suite before any call."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelswap import cli
from modelswap.regress import accuracy_test, plan_cases, plan_from_report


def test_equal_models_need_more_cases_the_more_they_disagree() -> None:
    few = plan_cases(baseline_accuracy=0.8, candidate_accuracy=0.8, disagreement=0.05)
    many = plan_cases(baseline_accuracy=0.8, candidate_accuracy=0.8, disagreement=0.3)
    assert few["verdict_sought"] == many["verdict_sought"] == "promote"
    assert few["least_cases"] == 59 <= few["cases"] < many["cases"]


def test_a_candidate_beyond_the_margin_is_sized_for_a_rollback() -> None:
    p = plan_cases(baseline_accuracy=0.8, candidate_accuracy=0.65, disagreement=0.2)
    assert p["verdict_sought"] == "rollback" and p["cases"] > 59


def test_exactly_at_the_margin_no_number_decides() -> None:
    p = plan_cases(baseline_accuracy=0.8, candidate_accuracy=0.75)  # 0.75 - 0.8 is not -0.05 in floats
    assert p["verdict_sought"] is None and p["cases"] is None


def test_the_planned_size_decides_about_as_often_as_promised() -> None:
    # At the planned n, with the stated truth, the project's own test should promote ~80% of the time.
    import random
    from functools import lru_cache

    from modelswap.regress._bounds import noninferiority_p

    @lru_cache(maxsize=None)
    def passes(b: int, c: int) -> bool:  # the accuracy check's pass rule (accuracy_test), without its bounds
        return noninferiority_p(b, c, n, -0.05) < 0.05

    p = plan_cases(baseline_accuracy=0.8, candidate_accuracy=0.8, disagreement=0.1)
    n, rng, promoted, trials = p["cases"], random.Random(7), 0, 300
    for _ in range(trials):
        draws = [rng.random() for _ in range(n)]
        b = sum(1 for u in draws if u < 0.05)
        c = sum(1 for u in draws if 0.05 <= u < 0.10)
        promoted += passes(b, c)
    assert 0.7 <= promoted / trials <= 0.95
    assert accuracy_test(3, 3, n, margin=0.05, alpha=0.05)["status"] == "pass" == ("pass" if passes(3, 3) else "")


def test_error_calls_are_sized_when_a_limit_is_given() -> None:
    p = plan_cases(baseline_accuracy=0.8, candidate_accuracy=0.8, error_rate=0.01, max_error_rate=0.02)
    assert p["error_calls"] > 300


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"baseline_accuracy": 8, "candidate_accuracy": 0.8}, "baseline_accuracy is a fraction"),
        ({"baseline_accuracy": 0.8, "candidate_accuracy": 0.8, "margin": 5}, "margin is a fraction"),
        ({"baseline_accuracy": 0.8, "candidate_accuracy": 0.6, "disagreement": 0.1}, "disagreement must lie"),
        ({"baseline_accuracy": 0.8, "candidate_accuracy": 0.8, "alpha": 0.7}, "alpha"),
    ],
)
def test_bad_inputs_say_what_is_wrong(kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        plan_cases(**kwargs)


def test_a_pilot_report_gives_the_observed_disagreement() -> None:
    report = {
        "models": {"baseline": {"accuracy": 0.80}, "candidate": {"accuracy": 0.825}},
        "evidence": {"accuracy": {"regressed": 7, "fixed": 9, "n": 40, "cases": 40}},
        "thresholds": {"max_accuracy_drop": 0.05, "alpha": 0.05},
    }
    p = plan_from_report(report)
    assert p["disagreement"] == pytest.approx(16 / 40) and p["source"] == "pilot run of 40 cases"
    assert p["verdict_sought"] == "promote" and p["cases"] > 40
    with pytest.raises(ValueError, match="no accuracy"):
        plan_from_report({"models": {}})


def test_the_plan_command(tmp_path: Path, capsys) -> None:
    assert cli.main(["plan", "--baseline-accuracy", "0.8", "--candidate-accuracy", "0.8", "--disagreement", "0.1"]) == 0
    out = capsys.readouterr().out
    assert "paired cases to PROMOTE" in out and "at least 59 for any verdict" in out
    pilot = tmp_path / "report.json"
    pilot.write_text(json.dumps({
        "models": {"baseline": {"accuracy": 0.8}, "candidate": {"accuracy": 0.6}},
        "evidence": {"accuracy": {"regressed": 9, "fixed": 1, "n": 40}},
    }))
    assert cli.main(["plan", "--from", str(pilot), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["verdict_sought"] == "rollback"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["plan"], "plan needs --baseline-accuracy"),
        (["plan", "--baseline-accuracy", "80"], "baseline_accuracy is a fraction"),
        (["plan", "--from", "missing.json"], "missing.json: cannot read the pilot report"),
        (["plan", "--baseline-accuracy", "0.8", "--error-rate", "0.01"], "give both --error-rate and --max-error-rate"),
    ],
)
def test_plan_usage_errors_exit_2(argv, message, capsys, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
