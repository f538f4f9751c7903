"""Re-pointing the one parameter (config default, ConfigMap), the audit log, the triggers, `watch`/`promote`."""

from __future__ import annotations

import json
import time

import pytest
import yaml

from modelswap import ConfigError, cli
from modelswap.rollout import ConfigDefaultTarget, evaluate_triggers, parse_target, switch

CONFIG = """\
# production config
default: fast   # the live model
providers:
  p: {kind: openai, base_url: 'http://127.0.0.1:9/v1', api_key_required: false}
models:
  fast: {provider: p, model_id: fast-1}
  safe: {provider: p, model_id: safe-1}
"""


@pytest.fixture(autouse=True)
def env(monkeypatch):
    for var in ("MODELSWAP_CONFIG", "MODELSWAP_MODEL", "MODEL_PROVIDER", "MODEL_ID", "INFERENCE_ENDPOINT", "API_KEY"):
        monkeypatch.delenv(var, raising=False)


def test_config_target_rewrites_only_the_default_line(tmp_path):
    path = tmp_path / "modelswap.yaml"
    path.write_text(CONFIG)
    target = ConfigDefaultTarget(path)
    assert target.current() == "fast"
    target.point_to("safe")
    text = path.read_text()
    assert target.current() == "safe" and "# production config" in text and "safe: {provider: p" in text
    with pytest.raises(ConfigError, match="nope"):
        target.point_to("nope")  # refused: not in the config, file unchanged
    assert target.current() == "safe"


def test_configmap_target_writes_a_manifest_and_keeps_other_keys(tmp_path):
    path = tmp_path / "cm.yaml"
    path.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "llm"},
                                    "data": {"INFERENCE_ENDPOINT": "http://vllm:8000/v1"}}))
    target = parse_target(f"configmap:{path}")
    target.point_to("safe")
    manifest = yaml.safe_load(path.read_text())
    assert manifest["data"] == {"INFERENCE_ENDPOINT": "http://vllm:8000/v1", "MODELSWAP_MODEL": "safe"}
    assert manifest["metadata"]["name"] == "llm" and "modelswap/changed-at" in manifest["metadata"]["annotations"]


def test_switch_appends_an_audit_record_and_dry_run_changes_nothing(tmp_path):
    path = tmp_path / "modelswap.yaml"
    path.write_text(CONFIG)
    audit = tmp_path / "audit.jsonl"
    dry = switch(ConfigDefaultTarget(path), "safe", action="rollback", trigger="error_rate", evidence="t.jsonl",
                 audit=audit, dry_run=True)
    assert dry["changed"] is False and ConfigDefaultTarget(path).current() == "fast"
    real = switch(ConfigDefaultTarget(path), "safe", action="rollback", trigger="error_rate", evidence="t.jsonl", audit=audit)
    assert real["changed"] is True and ConfigDefaultTarget(path).current() == "safe"
    records = [json.loads(line) for line in audit.read_text().splitlines()]
    assert [(r["from"], r["to"], r["trigger"], r["dry_run"]) for r in records] == [
        ("fast", "safe", "error_rate", True), ("fast", "safe", "error_rate", False)]


def _traffic(n: int, latency: float, errors: int = 0, alias: str = "fast") -> list[dict]:
    now = time.time()
    return [{"ts": now - i, "alias": alias, "latency_s": latency, "error": "TransientError: x" if i < errors else None}
            for i in range(n)]


def test_triggers_trip_on_latency_errors_and_accuracy_but_not_on_too_little_data():
    rows = _traffic(50, 3.0, errors=10)
    names = {t["name"]: t["tripped"] for t in evaluate_triggers(
        live="fast", traffic=rows, latency_sla_ms=2000, max_error_rate=0.05,
        eval_accuracy=0.7, reference_accuracy=0.9, max_accuracy_drop=0.05)}
    assert names == {"latency_p95": True, "error_rate": True, "accuracy_drop": True}
    few = evaluate_triggers(live="fast", traffic=_traffic(5, 3.0, errors=5), latency_sla_ms=2000, max_error_rate=0.05)
    assert not any(t["tripped"] for t in few) and "not enough" in few[0]["detail"]
    other = evaluate_triggers(live="fast", traffic=_traffic(50, 3.0, alias="safe"), latency_sla_ms=2000)
    assert not other[0]["tripped"]  # another model's traffic says nothing about this one
    old = [dict(r, ts=r["ts"] - 7200) for r in rows]
    assert not any(t["tripped"] for t in evaluate_triggers(live="fast", traffic=old, latency_sla_ms=2000, window_s=3600))


def test_cli_watch_rolls_back_and_promote_re_points(tmp_path, capsys):
    config = tmp_path / "modelswap.yaml"
    config.write_text(CONFIG)
    traffic = tmp_path / "traffic.jsonl"
    traffic.write_text("".join(json.dumps({**row, "messages": []}) + "\n" for row in _traffic(40, 0.1, errors=8)))
    audit = tmp_path / "audit.jsonl"
    args = ["--config", str(config), "watch", "--target", f"config:{config}", "--fallback", "safe",
            "--traffic", str(traffic), "--max-error-rate", "0.05", "--audit", str(audit)]
    assert cli.main([*args, "--dry-run"]) == 1 and "would roll back fast -> safe" in capsys.readouterr().out
    assert ConfigDefaultTarget(config).current() == "fast"
    assert cli.main(args) == 1 and ConfigDefaultTarget(config).current() == "safe"
    capsys.readouterr()
    assert cli.main(["--config", str(config), "promote", "fast", "--target", f"config:{config}",
                     "--evidence", "report/report.html", "--audit", str(audit)]) == 0
    assert ConfigDefaultTarget(config).current() == "fast"
    actions = [(r["action"], r["to"], r["changed"]) for r in map(json.loads, audit.read_text().splitlines())]
    assert actions == [("rollback", "safe", False), ("rollback", "safe", True), ("promote", "fast", True)]


def test_bad_targets_are_usage_errors(tmp_path, capsys):
    assert cli.main(["promote", "gemma-raw", "--target", "s3:bucket"]) == 2
    assert "prefect-variable[:NAME], config:PATH or configmap:PATH" in capsys.readouterr().err
