"""The flows regression, shadow and rollback_watch, run for real on the session's Prefect test server."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

pytest.importorskip("prefect", reason="the prefect extra is not installed (pip install 'modelswap[prefect]')")

from modelswap.testing import FaultyServer  # noqa: E402


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for var in ("MODELSWAP_CONFIG", "MODELSWAP_MODEL", "MODEL_PROVIDER", "MODEL_ID", "INFERENCE_ENDPOINT", "API_KEY"):
        monkeypatch.delenv(var, raising=False)


def _files(tmp_path: Path, base_url: str, cases: int = 20) -> tuple[Path, Path]:
    config = tmp_path / "modelswap.yaml"
    config.write_text(
        f"default: a\nproviders:\n  p: {{kind: openai, base_url: '{base_url}', api_key_required: false}}\n"
        "models:\n  a: {provider: p, model_id: a-1}\n  b: {provider: p, model_id: b-1}\n"
    )
    suite = tmp_path / "suite.yaml"
    suite.write_text("name: s\nprompt: '{w}'\ncases:\n" + "".join(
        f"  - {{id: c{i}, vars: {{w: w{i}}}, expected: 'echo:w{i}'}}\n" for i in range(cases)))
    return config, suite


def test_regression_flow_publishes_the_verdict(prefect_harness, tmp_path):
    from modelswap.flows import regression

    with FaultyServer() as server:
        config, suite = _files(tmp_path, server.base_url)
        small = regression(str(suite), candidate="b", baseline="a", out_dir=str(tmp_path / "small"), config=str(config))
        # 20 agreeing cases cannot prove a 5-point margin (59 can): a hold that says what it would take
        assert small["verdict"] == "hold" and small["comparison"]["noninferiority"]["lower"] < -0.05
        config, suite = _files(tmp_path, server.base_url, cases=60)
        report = regression(str(suite), candidate="b", baseline="a", out_dir=str(tmp_path / "out"), config=str(config))
    assert report["verdict"] == "promote"
    assert (tmp_path / "out" / "report.html").exists()


def test_regression_flow_rejects_bad_thresholds_before_any_call(prefect_harness, tmp_path):
    from modelswap import ConfigError
    from modelswap.flows import regression

    with FaultyServer() as server:
        config, suite = _files(tmp_path, server.base_url)
        with pytest.raises(ConfigError, match="max_accuracy_drop is a fraction"):
            regression(str(suite), candidate="b", baseline="a", out_dir=str(tmp_path / "out"), config=str(config),
                       thresholds={"max_accuracy_drop": 2})
        assert sum(server.counts.values()) == 0


def test_shadow_flow_replays_recent_traffic(prefect_harness, tmp_path):
    from modelswap.flows import shadow

    traffic = tmp_path / "traffic.jsonl"
    now = time.time()
    rows = [{"ts": now - 10, "alias": "a", "messages": [{"role": "user", "content": "hi"}], "text": "echo:hi"},
            {"ts": now - 99999, "alias": "a", "messages": [{"role": "user", "content": "old"}], "text": "echo:old"}]
    traffic.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with FaultyServer() as server:
        config, _ = _files(tmp_path, server.base_url)
        report = shadow(str(traffic), candidate="b", since_hours=1, config=str(config))
    assert report["requests"] == 1 and report["agreement"] == 1.0
    assert report["verdict"] == "inconclusive"  # one agreeing request proves nothing about a 90% floor


def test_an_hourly_shadow_flow_with_state_judges_every_hour_together(prefect_harness, tmp_path):
    from modelswap.flows import shadow

    traffic, state = tmp_path / "traffic.jsonl", tmp_path / "state.jsonl"
    now = time.time()

    def hour(start: int) -> str:
        return "".join(json.dumps({"ts": now - 100 + start + i, "alias": "a", "text": f"echo:q{start + i}",
                                   "messages": [{"role": "user", "content": f"q{start + i}"}]}) + "\n"
                       for i in range(25))

    traffic.write_text(hour(0))
    with FaultyServer() as server:
        config, _ = _files(tmp_path, server.base_url)
        first = shadow(str(traffic), candidate="b", state=str(state), config=str(config))
        traffic.write_text(hour(0) + hour(25))
        second = shadow(str(traffic), candidate="b", state=str(state), config=str(config))
        assert server.models["b-1"] == 50  # the first hour was not replayed again
    assert (first["verdict"], second["verdict"]) == ("inconclusive", "pass")
    assert second["requests"] == 50 and second["new_requests"] == 25


def test_rollback_watch_flow_re_points_the_config(prefect_harness, tmp_path):
    from modelswap.flows import rollback_watch
    from modelswap.rollout import ConfigDefaultTarget

    config, _ = _files(tmp_path, "http://127.0.0.1:9/v1")
    traffic = tmp_path / "traffic.jsonl"
    now = time.time()
    traffic.write_text("".join(json.dumps({"ts": now - i, "alias": "a", "messages": [], "latency_s": 5.0}) + "\n"
                               for i in range(30)))
    result = rollback_watch(f"config:{config}", fallback="b", traffic=str(traffic), latency_sla_ms=1000,
                            audit=str(tmp_path / "audit.jsonl"))
    assert result["rolled_back"] and ConfigDefaultTarget(config).current() == "b"
    assert json.loads((tmp_path / "audit.jsonl").read_text())["trigger"] == "latency_p95"
