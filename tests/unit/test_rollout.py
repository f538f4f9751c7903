"""Re-pointing the one parameter (config default, ConfigMap), the audit log, the triggers, `watch`/`promote`."""

from __future__ import annotations

import json
import time

import pytest
import yaml

from modelswap import ConfigError, cli
from modelswap.rollout import (
    ConfigDefaultTarget,
    evaluate_triggers,
    parse_target,
    promoted_at,
    switch,
    traffic_split,
)

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


def test_triggers_trip_only_on_a_proven_breach_of_latency_errors_or_accuracy():
    rows = _traffic(50, 3.0, errors=10)
    triggers = {t["name"]: t for t in evaluate_triggers(
        live="fast", traffic=rows, latency_sla_ms=2000, max_error_rate=0.05,
        eval_passed=70, eval_cases=100, reference_accuracy=0.9, max_accuracy_drop=0.05)}
    assert {name: t["tripped"] for name, t in triggers.items()} == {
        "latency_p95": True, "error_rate": True, "accuracy_drop": True}
    assert all(t["status"] == "breach proven" for t in triggers.values())
    errors = triggers["error_rate"]
    assert (errors["events"], errors["n"]) == (10, 50) and errors["bounds"][0] > 0.05
    assert "anytime-valid 95% bounds" in errors["detail"]
    few = evaluate_triggers(live="fast", traffic=_traffic(5, 3.0, errors=5), latency_sla_ms=2000, max_error_rate=0.05)
    assert not any(t["tripped"] for t in few) and "not enough" in few[0]["detail"]
    other = evaluate_triggers(live="fast", traffic=_traffic(50, 3.0, alias="safe"), latency_sla_ms=2000)
    assert not other[0]["tripped"]  # another model's traffic says nothing about this one
    old = [dict(r, ts=r["ts"] - 7200) for r in rows]
    assert not any(t["tripped"] for t in evaluate_triggers(live="fast", traffic=old, latency_sla_ms=2000, window_s=3600))
    assert not any(t["tripped"] for t in evaluate_triggers(live="fast", traffic=old, latency_sla_ms=2000,
                                                           since=time.time() - 3600))


def test_a_raw_figure_over_the_limit_is_not_yet_a_breach():
    """One error in 40 calls is 2.5%, over a 2% limit, and proves nothing: the old raw comparison rolled back a
    model whose true error rate was 1% a third of the time."""
    (errors,) = evaluate_triggers(live="fast", traffic=_traffic(40, 0.1, errors=1), max_error_rate=0.02)
    assert errors["value"] == pytest.approx(0.025) and errors["status"] == "inconclusive" and not errors["tripped"]
    (healthy,) = evaluate_triggers(live="fast", traffic=_traffic(400, 0.1), max_error_rate=0.02)
    assert healthy["status"] == "within limit"
    (accuracy,) = evaluate_triggers(live="fast", eval_passed=83, eval_cases=100, reference_accuracy=0.9,
                                    max_accuracy_drop=0.05)
    assert accuracy["status"] == "inconclusive" and not accuracy["tripped"]  # 83% < 85%, not yet proven


def test_failed_and_untimed_calls_count_as_slow_never_dropped():
    """A model that times out is the slowest there is: its failed calls count at their elapsed time."""
    rows = _traffic(40, 0.1)
    for row in rows[:20]:
        row.update(error="TimeoutError: read timed out", latency_s=30.0)
    for row in rows[20:25]:
        row.update(error="TransientError: x", latency_s=None)
    (latency,) = evaluate_triggers(live="fast", traffic=rows, latency_sla_ms=2000)
    assert latency["events"] == 25 and latency["n"] == 40 and latency["tripped"]


def test_the_split_between_models_flags_a_sample_ratio_mismatch():
    rows = _traffic(100, 0.1) + _traffic(900, 0.1, alias="safe")
    assert traffic_split(rows, "fast", expected_share=0.1)["mismatch"] is False
    lopsided = traffic_split(rows, "fast", expected_share=0.3)
    assert lopsided["mismatch"] is True and lopsided["share"] == pytest.approx(0.1)
    assert traffic_split(rows, "fast")["by_model"] == {"fast": 100, "safe": 900}


def test_the_watch_counts_from_the_promotion_in_the_audit_log(tmp_path):
    config = tmp_path / "modelswap.yaml"
    config.write_text(CONFIG)
    audit = tmp_path / "audit.jsonl"
    assert promoted_at(audit, "fast") is None
    switch(ConfigDefaultTarget(config), "safe", action="promote", trigger="manual", audit=audit)
    before = time.time()
    switch(ConfigDefaultTarget(config), "fast", action="promote", trigger="manual", audit=audit)
    when = promoted_at(audit, "fast")
    assert when is not None and before - 2 <= when <= time.time() + 1


@pytest.mark.parametrize(("flags", "named"), [(["--max-error-rate", "5"], "--max-error-rate"),
                                               (["--alpha", "0.9"], "--alpha"),
                                               (["--since", "yesterday"], "--since")])
def test_bad_watch_flags_are_usage_errors(tmp_path, capsys, flags, named):
    config = tmp_path / "modelswap.yaml"
    config.write_text(CONFIG)
    assert cli.main(["--config", str(config), "watch", "--target", f"config:{config}", "--fallback", "safe",
                     *flags]) == 2
    err = capsys.readouterr().err
    assert named in err and "Traceback" not in err


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
