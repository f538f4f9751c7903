"""The command line: exit codes 0/1/2 and one clear line per expected error, never a traceback."""

from __future__ import annotations

import json

import pytest

from modelswap import cli


@pytest.fixture(autouse=True)
def clean(monkeypatch, tmp_path):
    for var in ("MODELSWAP_CONFIG", "MODELSWAP_MODEL", "MODEL_PROVIDER", "MODEL_ID", "INFERENCE_ENDPOINT", "API_KEY", "GROQ_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)


def test_schema_prints_json(capsys):
    assert cli.main(["schema"]) == 0
    assert json.loads(capsys.readouterr().out)["$schema"].endswith("2020-12/schema")


def test_models_lists_the_built_in_default(capsys):
    assert cli.main(["models", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["default"] == "gemma-raw"
    assert {m["alias"] for m in data["models"]} == {"gemma-raw", "gemma-chat", "smollm2-chat", "smollm2-raw"}


def test_models_check_reports_what_a_model_accepts(capsys):
    assert cli.main(["models", "--check", "gemma-raw", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["kind"] == "completion" and report["json_schema"] == "native" and report["params"]["seed"] == "yes"


def test_validate_reports_bad_config_with_exit_2(tmp_path, capsys):
    (tmp_path / "bad.yaml").write_text("models:\n  a: {provider: groq, model_id: x, weights: closed}\n")
    assert cli.main(["--config", "bad.yaml", "validate"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: bad.yaml:2: models.a.weights:") and "Traceback" not in err


@pytest.mark.parametrize(("argv", "code", "words"), [
    (["call", "gemma-chatt", "hi"], 2, "Did you mean 'gemma-chat'"),
    (["call", "groq/llama-3.1-8b-instant", "hi"], 2, "set `GROQ_API_KEY`"),
    (["call", "-", "hi", "-p", "temperature"], 2, "KEY=VALUE"),
    (["call"], 2, "required"),
    (["nope"], 2, "invalid choice"),
])
def test_usage_and_config_errors_exit_2(argv, code, words, capsys):
    assert cli.main(argv) == code
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err


def test_unreachable_provider_exits_1(monkeypatch, capsys):
    monkeypatch.setenv("INFERENCE_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setattr("modelswap._provider.time.sleep", lambda s: None)
    assert cli.main(["call", "-", "hi"]) == 1
    assert "cannot connect" in capsys.readouterr().err
