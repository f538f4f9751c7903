"""Shadow traffic: sampled, redacted recording; replay to a candidate; `modelswap shadow`."""

from __future__ import annotations

import json

import pytest

from modelswap import Client, ConfigError, cli
from modelswap._config import loads_config
from modelswap.shadow import TrafficRecorder, iter_traffic, run_replay
from modelswap.testing import FaultyServer

KEY = "sk-shadowtest-0123456789abcdefghij"


def _config(server: FaultyServer, tmp_path):
    path = tmp_path / "modelswap.yaml"
    path.write_text(
        f"default: live\nproviders:\n  p: {{kind: openai, base_url: '{server.base_url}', api_key_env: SHADOW_KEY}}\n"
        "models:\n  live: {provider: p, model_id: live-model}\n  cand: {provider: p, model_id: cand-model}\n"
    )
    return path


@pytest.fixture(autouse=True)
def env(monkeypatch):
    monkeypatch.setenv("SHADOW_KEY", KEY)
    for var in ("MODELSWAP_CONFIG", "MODELSWAP_MODEL", "MODEL_PROVIDER", "MODEL_ID", "INFERENCE_ENDPOINT", "API_KEY",
                "MODELSWAP_RECORD", "MODELSWAP_RECORD_SAMPLE"):
        monkeypatch.delenv(var, raising=False)


def test_recording_is_sampled_and_redacted(tmp_path):
    traffic = tmp_path / "traffic.jsonl"
    with FaultyServer() as server:
        recorder = TrafficRecorder(traffic, sample=0.5, redact_patterns=["email", r"ACCT-\d+"], seed=4)
        client = Client(str(_config(server, tmp_path)), recorder=recorder)
        for i in range(40):
            client.complete(f"mail bob@example.com about ACCT-{i} with key {KEY}", max_tokens=5)
    rows = list(iter_traffic(traffic))
    assert 10 < len(rows) < 30  # about half
    text = traffic.read_text()
    assert KEY not in text and "bob@example.com" not in text and "ACCT-1" not in text
    row = rows[0]
    assert row["alias"] == "live" and row["params"] == {"max_tokens": 5} and row["latency_s"] > 0
    assert "[redacted]" in row["messages"][0]["content"] and row["text"].startswith("echo:")


def test_the_environment_turns_recording_on_without_code_changes(tmp_path, monkeypatch):
    traffic = tmp_path / "t.jsonl"
    monkeypatch.setenv("MODELSWAP_RECORD", str(traffic))
    with FaultyServer() as server:
        Client(str(_config(server, tmp_path))).complete("hello")
    assert [r["text"] for r in iter_traffic(traffic)] == ["echo:hello"]


def test_errors_are_recorded_too(tmp_path):
    traffic = tmp_path / "t.jsonl"
    with FaultyServer({"500": 1.0}) as server:
        config = loads_config(_config(server, tmp_path).read_text().replace("api_key_env: SHADOW_KEY",
                                                                            "api_key_env: SHADOW_KEY, retry: {max_retries: 0}"))
        with pytest.raises(Exception):
            Client(config, recorder=TrafficRecorder(traffic)).complete("x")
    (row,) = iter_traffic(traffic)
    assert row["error"].startswith("TransientError") and row["text"] is None


def test_replay_compares_the_candidate_with_what_was_recorded(tmp_path):
    traffic = tmp_path / "t.jsonl"
    with FaultyServer() as server:
        config = _config(server, tmp_path)
        client = Client(str(config), recorder=TrafficRecorder(traffic))
        for prompt in ("alpha", "beta", "gamma"):
            client.complete(prompt)
        # A recorded answer the candidate will not reproduce: one disagreement.
        rows = [json.loads(line) for line in traffic.read_text().splitlines()]
        rows[1]["text"] = "something else entirely"
        report = run_replay(rows, "cand", config=str(config), assertion="equals")
        assert server.models["cand-model"] == 3
    assert report["requests"] == 3 and report["agreement"] == pytest.approx(2 / 3)
    assert report["shadow"]["error_rate"] == 0 and report["shadow"]["latency_p95_ms"] > 0
    assert [d["prompt"] for d in report["disagreements"]] == ["beta"]


def _record(config, traffic, prompts) -> None:
    client = Client(str(config), recorder=TrafficRecorder(traffic))
    for prompt in prompts:
        client.complete(prompt)


def test_cli_shadow_passes_only_once_the_agreement_is_proven(tmp_path, capsys):
    """One agreeing request proves nothing (INCONCLUSIVE, with the requests that would decide); 40 agreeing ones
    prove the agreement above the 90% floor (PASS); 40 disagreeing ones prove it below (FAIL)."""
    traffic = tmp_path / "t.jsonl"
    with FaultyServer() as server:
        config = _config(server, tmp_path)
        _record(config, traffic, ["same answer"])
        assert cli.main(["--config", str(config), "shadow", str(traffic), "--candidate", "cand"]) == 1
        out = capsys.readouterr().out
        assert "agreement 100.0%" in out and "INCONCLUSIVE" in out and "about 40 requests" in out
        _record(config, traffic, [f"question {i}" for i in range(39)])
        assert cli.main(["--config", str(config), "shadow", str(traffic), "--candidate", "cand", "--json"]) == 0
        report = json.loads(capsys.readouterr().out)
        assert report["agreement"] == 1.0 and report["verdict"] == "pass" and report["passed"] is True
        assert report["agreement_monitor"]["lower"] > 0.9 and report["agreement_monitor"]["anytime_valid"]
        assert report["sample_ratio"] == {"recorded_answered": 40, "candidate_answered": 40, "p_value": 1.0,
                                          "mismatch": False}
        traffic.write_text(traffic.read_text().replace('"echo:', '"nope:'))
        assert cli.main(["--config", str(config), "shadow", str(traffic), "--candidate", "cand", "--assert",
                         "equals"]) == 1
        assert "FAIL" in capsys.readouterr().out


def test_an_hourly_shadow_with_state_replays_only_new_requests_and_judges_them_all(tmp_path):
    traffic, state = tmp_path / "t.jsonl", tmp_path / "shadow-state.jsonl"
    with FaultyServer() as server:
        config = _config(server, tmp_path)
        _record(config, traffic, [f"hour one {i}" for i in range(20)])
        first = run_replay(iter_traffic(traffic), "cand", config=str(config), min_agreement=0.9, state=state)
        assert (first["requests"], first["new_requests"], first["verdict"]) == (20, 20, "inconclusive")
        _record(config, traffic, [f"hour two {i}" for i in range(20)])
        second = run_replay(iter_traffic(traffic), "cand", config=str(config), min_agreement=0.9, state=state)
        assert server.models["cand-model"] == 40  # the first hour's requests were not sent again
    assert (second["requests"], second["new_requests"], second["verdict"]) == (40, 20, "pass")
    kept = state.read_text()
    assert "hour one" not in kept and "echo" not in kept  # the state keeps no prompt or answer text
    state.write_text(kept + '{"key": "torn')  # an interrupted run's torn last line is dropped, not fatal
    with FaultyServer() as server:
        third = run_replay(iter_traffic(traffic), "cand", config=str(_config(server, tmp_path)), min_agreement=0.9,
                           state=state)
    assert third["requests"] == 40 and third["new_requests"] == 0
    assert all(json.loads(line) for line in state.read_text().splitlines())


@pytest.mark.parametrize(("flag", "value"), [("--min-agreement", "90"), ("--alpha", "5")])
def test_a_fraction_flag_given_as_a_percentage_is_a_usage_error_before_any_request(tmp_path, capsys, flag, value):
    traffic = tmp_path / "t.jsonl"
    traffic.write_text('{"messages": [{"role": "user", "content": "x"}], "ts": 1, "alias": "live", "text": "y"}\n')
    with FaultyServer() as server:
        config = _config(server, tmp_path)
        assert cli.main(["--config", str(config), "shadow", str(traffic), "--candidate", "cand", flag, value]) == 2
        assert server.models.get("cand-model", 0) == 0
    err = capsys.readouterr().err
    assert flag in err and "0.05" in err and "Traceback" not in err


def test_a_missing_or_broken_traffic_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="no such traffic file"):
        list(iter_traffic(tmp_path / "nope.jsonl"))
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"messages": []}\nnot json\n')
    with pytest.raises(ConfigError, match="bad.jsonl:2"):
        list(iter_traffic(bad))
    torn = tmp_path / "torn.jsonl"
    torn.write_text('{"messages": [], "ts": 1}\n{"messa')
    assert len(list(iter_traffic(torn))) == 1


def test_the_space_a_raw_completion_keeps_before_its_answer_is_not_a_disagreement(tmp_path):
    rows = [{"alias": "live", "messages": [{"role": "user", "content": "echo"}], "text": " echo:echo\n"}]
    with FaultyServer() as server:
        config = _config(server, tmp_path)
        report = run_replay(rows, "cand", config=str(config), assertion="icontains")
    assert report["agreement"] == 1.0, report["disagreements"]
