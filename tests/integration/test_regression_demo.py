"""The demo on the real local model: gemma-chat instead of gemma-raw is a significant rollback; the reverse, promote."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelswap import Client
from modelswap.evals import load_suite
from modelswap.local import local_config
from modelswap.regress import compare

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
        report = compare(suite, baseline, candidate, out_dir=tmp_path, client=client, concurrency=2)
    paths = {name: Path(path) for name, path in report["files"].items()}
    assert report["verdict"] == verdict, report["reasons"]
    assert report["comparison"]["mcnemar"]["p_value"] < 0.001  # significant, not a coin flip
    raw = report["models"]["baseline" if baseline == "gemma-raw" else "candidate"]
    assert raw["accuracy"] >= 0.85
    html = paths["html"].read_text()
    assert verdict.capitalize() in html and "<script src=" not in html  # self-contained
    assert json.loads(paths["json"].read_text())["verdict"] == verdict
