"""The demo on the real local models: the family swap (Gemma <-> SmolLM2) and the chat-template hazard (gemma-raw
-> gemma-chat, a significant rollback; the reverse, promote)."""

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


SWAP_SUITE = Path(__file__).resolve().parents[2] / "examples" / "swap" / "suite.yaml"


def test_the_family_swap_is_a_measurement_not_a_foregone_conclusion(local_server, smollm2_server, tmp_path):
    """Gemma (raw few-shot) -> SmolLM2 (chat) on the demo's short-answer suite: each family gets cases right that
    the other gets wrong, neither is near 0% or 100%, and the verdict follows from the numbers."""
    suite = load_suite(SWAP_SUITE)
    assert len(suite.cases) == 40
    with Client(local_config([local_server, smollm2_server])) as client:
        report = compare(suite, "gemma-raw", "smollm2-chat", out_dir=tmp_path, client=client, concurrency=2)
    models, mcnemar = report["models"], report["comparison"]["mcnemar"]
    assert models["baseline"]["alias"] == "gemma-raw" and models["candidate"]["alias"] == "smollm2-chat"
    for role in ("baseline", "candidate"):
        assert 0.4 <= models[role]["accuracy"] <= 0.9, models[role]
    assert mcnemar["b"] >= 3 and mcnemar["c"] >= 3  # regressed and fixed cases both exist
    delta = models["candidate"]["accuracy"] - models["baseline"]["accuracy"]
    # 40 cases cannot rule out a 5-point drop between models this close (59 agreeing cases are the least that
    # could): a hold that says how many cases would decide, whichever way the difference fell
    assert abs(delta) < 0.2 and report["verdict"] == "hold", report["reasons"]
    assert report["comparison"]["noninferiority"]["lower"] < -0.05
    outputs = {case["case_id"]: (case["baseline"]["output"], case["candidate"]["output"]) for case in report["cases"]}
    assert outputs["capital-france"][0].strip() == "Paris" and "Paris" in outputs["capital-france"][1]


def test_make_run_demo_runs_all_four_acts(tmp_path):
    """The script `make run` runs: both servers, every case of both models, every verdict, the reports."""
    import subprocess
    import sys

    demo = Path(__file__).resolve().parents[2] / "examples" / "demo_regression.py"
    done = subprocess.run([sys.executable, str(demo), "--out", str(tmp_path)], capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    assert "gemma-raw -> smollm2-chat: " in out and "smollm2-chat -> gemma-raw: " in out
    assert "gemma-raw -> gemma-chat: ROLLBACK" in out
    assert "gemma-raw -> smollm2-chat: ROLLBACK" in out and "smollm2-chat -> gemma-raw: PROMOTE" in out  # Act 3
    assert out.count(": HOLD") >= 2 and "paired cases would decide" in out  # Act 1 says what it would take
    assert "capital-australia" in out and "answers differ between its two runs" in out
    assert "Traceback" not in done.stderr
    for name in ("short-answers-gemma-raw-to-smollm2-chat", "short-answers-smollm2-chat-to-gemma-raw",
                 "short-answers-smollm2-chat-to-smollm2-raw", "sentiment-few-shot-gemma-raw-to-smollm2-chat",
                 "sentiment-few-shot-smollm2-chat-to-gemma-raw", "sentiment-few-shot-gemma-raw-to-gemma-chat"):
        assert (tmp_path / name / "report.html").is_file()
