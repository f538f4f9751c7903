"""The demo on the real local model: gemma-chat instead of gemma-raw is a significant rollback; the reverse, promote."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelswap import Client
from modelswap.evals import load_suite
from modelswap.local import local_config
from modelswap.regress import build_report, run_regression, write_reports

SUITE = Path(__file__).resolve().parents[2] / "examples" / "sentiment" / "suite.yaml"


@pytest.fixture(scope="module")
def suite():
    loaded = load_suite(SUITE)
    assert len(loaded.cases) >= 40
    return loaded


@pytest.mark.parametrize(("baseline", "candidate", "verdict"), [
    ("gemma-raw", "gemma-chat", "rollback"),
    ("gemma-chat", "gemma-raw", "promote"),
])
def test_the_demo_reaches_the_right_verdict(local_server, suite, tmp_path, baseline, candidate, verdict):
    with Client(local_config(local_server)) as client:
        results = run_regression(suite, baseline, candidate, client=client, out_dir=tmp_path, concurrency=2)
    report = build_report(results, suite={"name": suite.name, "source": str(SUITE), "n_cases": len(suite.cases)},
                          baseline=baseline, candidate=candidate, thresholds=suite.thresholds, repeat=1)
    paths = write_reports(report, tmp_path)
    assert report["verdict"] == verdict, report["reasons"]
    assert report["comparison"]["mcnemar"]["p_value"] < 0.001  # significant, not a coin flip
    raw = report["models"]["baseline" if baseline == "gemma-raw" else "candidate"]
    assert raw["accuracy"] >= 0.85
    html = paths["html"].read_text()
    assert verdict.capitalize() in html and "<script src=" not in html  # self-contained
    assert json.loads(paths["json"].read_text())["verdict"] == verdict
