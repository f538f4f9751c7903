"""One pipeline moved between the two real local families (Gemma 3 270M, SmolLM2-135M-Instruct) by the one
parameter, through every surface: the client, the environment, the Prefect batch flow (Variable, then a run
parameter), `modelswap regress`, `modelswap shadow`, and the migration flow end to end with a rollback.
(Mage's `mage run` is tests/mage/test_mage_family_swap.py; Kestra's request body tests/unit/kestra.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import modelswap
from modelswap.shadow import TrafficRecorder

pytestmark = pytest.mark.local_model

ROOT = Path(__file__).resolve().parents[2]
SWAP_SUITE = ROOT / "examples" / "swap" / "suite.yaml"
IDS = {"gemma-raw": "gemma-3-270m", "smollm2-chat": "smollm2-135m-instruct"}
QUESTIONS = ["What is the capital of France?", "What is the capital of Italy?", "What is the plural of mouse?",
             "What is the opposite of up?", "Which planet is known as the Red Planet?", "What is 3 plus 5?"]
TEMPLATE = ("Answer each question with one word or one number.\n\nQuestion: What is the capital of Japan?\n"
            "Answer: Tokyo\n\nQuestion: {question}\nAnswer:")


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch):
    for var in ("MODELSWAP_CONFIG", "MODELSWAP_MODEL", "MODEL_PROVIDER", "MODEL_ID", "INFERENCE_ENDPOINT", "API_KEY",
                "MODELSWAP_RECORD"):
        monkeypatch.delenv(var, raising=False)


def _small_suite(tmp_path: Path, n: int = 16) -> Path:
    suite = yaml.safe_load(SWAP_SUITE.read_text())
    suite["cases"] = suite["cases"][:n]
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(suite, sort_keys=False))
    return path


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run([sys.executable, "-m", "modelswap", *args], capture_output=True, text=True, timeout=600,
                          env={**os.environ, **(env or {})})


def test_the_client_swaps_family_by_the_model_argument_and_by_the_environment(swap_config, monkeypatch):
    """model= moves one call between families; MODELSWAP_MODEL moves every call that names no model."""
    prompt = TEMPLATE.format(question="What is the capital of France?")
    with modelswap.Client(swap_config) as client:
        gemma = client.complete(prompt, model="gemma-raw", max_tokens=12, temperature=0)
        smol = client.complete(prompt, model="smollm2-chat", max_tokens=12, temperature=0)
        default = client.complete(prompt, max_tokens=12, temperature=0)
    assert (gemma.model_id, smol.model_id, default.model_id) == ("gemma-3-270m", "smollm2-135m-instruct", "gemma-3-270m")
    assert "Paris" in gemma.text and "Paris" in smol.text
    monkeypatch.setenv("MODELSWAP_MODEL", "smollm2-chat")
    with modelswap.Client(swap_config) as client:
        assert client.complete(prompt, max_tokens=12, temperature=0).model_id == "smollm2-135m-instruct"


def test_the_prefect_batch_flow_swaps_by_variable_then_by_run_parameter(prefect_harness, swap_config, tmp_path):
    """The Variable modelswap_model moves the deployed pipeline to SmolLM2 with no code change; a run parameter
    then wins over the Variable and moves it back to Gemma."""
    from prefect.variables import Variable

    from modelswap.flows import batch_inference

    source = tmp_path / "questions.jsonl"
    source.write_text("".join(json.dumps({"id": f"q{i}", "question": q}) + "\n" for i, q in enumerate(QUESTIONS)))
    params = {"max_tokens": 12, "temperature": 0}
    Variable.set("modelswap_model", "smollm2-chat", overwrite=True)
    try:
        by_variable = tmp_path / "by-variable.jsonl"
        summary = batch_inference(str(source), str(by_variable), prompt_template=TEMPLATE, chunk_size=3,
                                  concurrency=2, params=params, config=str(swap_config))
        by_parameter = tmp_path / "by-parameter.jsonl"
        batch_inference(str(source), str(by_parameter), model="gemma-raw", prompt_template=TEMPLATE, chunk_size=3,
                        concurrency=2, params=params, config=str(swap_config))
    finally:
        Variable.unset("modelswap_model")
    smol = [json.loads(line) for line in by_variable.read_text().splitlines()]
    gemma = [json.loads(line) for line in by_parameter.read_text().splitlines()]
    assert summary["succeeded"] == len(QUESTIONS)
    assert {(r["model"], r["model_id"]) for r in smol} == {("smollm2-chat", "smollm2-135m-instruct")}
    assert {(r["model"], r["model_id"]) for r in gemma} == {("gemma-raw", "gemma-3-270m")}
    assert [r["id"] for r in smol] == [r["id"] for r in gemma] == [f"q{i}" for i in range(len(QUESTIONS))]
    assert "Paris" in smol[0]["text"] and "Paris" in gemma[0]["text"]


def test_regress_measures_the_family_swap_and_its_exit_code_follows_the_verdict(swap_config, tmp_path):
    """`modelswap regress` between the families: per-case answers of both, statistics, a verdict, the reports."""
    out = tmp_path / "report"
    done = _cli("--config", str(swap_config), "regress", str(_small_suite(tmp_path)), "--baseline", "gemma-raw",
                "--candidate", "smollm2-chat", "--out", str(out), "--json", "--concurrency", "2")
    assert done.returncode in (0, 1), done.stderr
    report = json.loads(done.stdout)
    assert done.returncode == (0 if report["verdict"] == "promote" else 1)
    assert report["models"]["baseline"]["alias"] == "gemma-raw"
    assert report["models"]["candidate"]["alias"] == "smollm2-chat"
    assert len(report["cases"]) == 16 and all(c["baseline"]["output"] and c["candidate"]["output"]
                                             for c in report["cases"])
    assert "p_value" in report["comparison"]["mcnemar"]
    assert all((out / name).is_file() for name in ("report.json", "report.md", "report.html", "results.jsonl"))


def _record(config: Path, traffic: Path, alias: str, questions: list[str]) -> None:
    with modelswap.Client(config, recorder=TrafficRecorder(traffic)) as client:
        for question in questions:
            client.complete(TEMPLATE.format(question=question), model=alias, max_tokens=12, temperature=0)


def test_shadow_replays_gemma_traffic_on_smollm2(swap_config, tmp_path):
    """Live Gemma traffic recorded, replayed on SmolLM2: agreement and every disagreement with both answers."""
    traffic = tmp_path / "traffic.jsonl"
    _record(swap_config, traffic, "gemma-raw", QUESTIONS)
    out = tmp_path / "shadow.json"
    done = _cli("--config", str(swap_config), "shadow", str(traffic), "--candidate", "smollm2-chat",
                "--assert", "icontains", "--min-agreement", "0", "--out", str(out), "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text())
    assert report["requests"] == len(QUESTIONS) and 0.0 <= report["agreement"] <= 1.0
    assert report["shadow"]["error_rate"] == 0 and report["recorded_models"] == ["gemma-raw"]
    assert report["candidate"] == "smollm2-chat"
    for row in report["disagreements"]:  # Gemma's bare word against SmolLM2's sentence, side by side
        assert row["recorded_alias"] == "gemma-raw" and row["recorded"] and row["candidate"] and not row["agree"]


def test_the_migration_flow_moves_to_smollm2_then_rolls_back_on_a_latency_breach(prefect_harness, swap_config,
                                                                                  tmp_path):
    """audit -> inventory -> select -> regress -> shadow -> cutover -> watch, for real (dry_run=False): the
    parameter moves to SmolLM2, the watch step sees the canary's p95 over a (deliberately impossible) SLA, and
    the rollback moves it back; both moves are in the audit log."""
    from modelswap.flows import migration
    from modelswap.rollout import ConfigDefaultTarget

    config = tmp_path / "prod.yaml"
    config.write_text(swap_config.read_text())  # default: gemma-raw, the live model
    code = tmp_path / "code"
    code.mkdir()
    (code / "pipeline.py").write_text('MODEL = "gpt-4o-mini"\nURL = "https://api.openai.com/v1"\n')
    traffic = tmp_path / "traffic.jsonl"
    _record(config, traffic, "gemma-raw", QUESTIONS)  # live traffic
    _record(config, traffic, "smollm2-chat", (QUESTIONS * 4)[:6])  # the canary's first 6 calls on the candidate
    audit_log = tmp_path / "audit.jsonl"
    steps = migration(
        [f"prod={config}"], str(_small_suite(tmp_path)), candidate="smollm2-chat", baseline="gemma-raw",
        target=f"config:{config}", traffic=str(traffic), audit_path=str(code), out_dir=str(tmp_path / "report"),
        audit_log=str(audit_log), concurrency=2, dry_run=False,
        # Small models answer differently, so agreement and accuracy are not what this test is about: the gate
        # tolerates a 35-point drop, which 16 cases can rule out when the two models score alike (a 20-point
        # margin needs about 40), an error rate under 20% (0 of 16 calls bounds it at 17.1%), and shadow accepts any
        # agreement.
        thresholds={"max_accuracy_drop": 0.35, "min_cases": 16, "max_error_rate": 0.2}, min_agreement=0.0,
        latency_sla_ms=0.001,  # no model answers in a microsecond: the watch must trip
        min_requests=5,  # 6 canary calls are enough to act on here (the default asks for 20)
    )
    assert steps["audit"]["hard_coded"] >= 2
    assert {row["model_id"] for row in steps["inventory"]} >= {"gemma-3-270m", "smollm2-135m-instruct"}
    assert steps["select"]["candidate"] == "smollm2-chat"
    assert steps["regression"]["verdict"] == "promote", steps["regression"]
    assert steps["shadow"]["passed"] is True
    assert steps["cutover"]["to"] == "smollm2-chat" and steps["cutover"]["dry_run"] is False
    latency = next(t for t in steps["watch"] if t["name"] == "latency_p95")
    assert latency["tripped"] is True and latency["value"] > 0.001
    assert steps["rollback"]["to"] == "gemma-raw"
    assert steps["outcome"].startswith("rolled back to gemma-raw")
    assert ConfigDefaultTarget(config).current() == "gemma-raw"
    records = [json.loads(line) for line in audit_log.read_text().splitlines()]
    assert [(r["action"], r["changed"]) for r in records] == [("promote", True), ("rollback", True)]
    assert records[1]["trigger"] == "latency_p95"
