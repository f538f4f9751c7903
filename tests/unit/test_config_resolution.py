"""The provider config: where it is found, how it fails, and which model a call resolves to."""

from __future__ import annotations

import pickle

import jsonschema
import pytest

import modelswap
from modelswap._config import config_schema, load_config, loads_config

ENV = ("MODELSWAP_CONFIG", "MODELSWAP_MODEL", "MODEL_PROVIDER", "MODEL_ID", "INFERENCE_ENDPOINT", "API_KEY", "GROQ_API_KEY")

CONFIG = """\
default: fast
providers:
  groq:
    max_concurrency: 2
  inhouse:
    preset: vllm
    base_url: http://vllm.internal:8000/v1
models:
  fast:
    provider: groq
    model_id: llama-3.1-8b-instant
    price: {input_per_mtok: 0.05, output_per_mtok: 0.08, checked: 2026-11-01}
  own:
    provider: inhouse
    model_id: meta-llama/Llama-3.1-8B-Instruct
"""


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, tmp_path):
    for var in ENV:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)


def _error(text: str) -> modelswap.ConfigError:
    with pytest.raises(modelswap.ConfigError) as caught:
        loads_config(text, "cfg.yaml")
    return caught.value


def test_schema_is_valid_draft_2020_12():
    jsonschema.Draft202012Validator.check_schema(config_schema())


def test_discovery_order(tmp_path, monkeypatch):
    assert load_config().source == "<built-in default>"
    (tmp_path / "modelswap.yaml").write_text(CONFIG)
    assert load_config().source == "modelswap.yaml"
    other = tmp_path / "other.yaml"
    other.write_text(CONFIG.replace("default: fast", "default: own"))
    monkeypatch.setenv("MODELSWAP_CONFIG", str(other))
    assert load_config().default == "own"
    assert load_config(tmp_path / "modelswap.yaml").default == "fast"


def test_missing_explicit_file_says_so(tmp_path):
    with pytest.raises(modelswap.ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")


@pytest.mark.parametrize(
    ("text", "line", "field", "words"),
    [
        ("providers:\n  groq:\n    max_concurency: 3\n", 3, "providers.groq.max_concurency", "did you mean 'max_concurrency'"),
        ("models:\n  a:\n    provider: groq\n", 2, "models.a", "missing required field 'model_id'"),
        ("models:\n  a: {provider: groq, model_id: x, weights: closed}\n", 2, "models.a.weights", "open, api-gated"),
        ("models:\n  a: {provider: groq, model_id: x, context_window: big}\n", 2, "models.a.context_window", "expected integer"),
        ("providers:\n  p:\n    kind: openai\n    base_url: ftp://x\n", 4, "providers.p.base_url", "not an http(s) URL"),
        ("models:\n  a: {provider: grok, model_id: x}\n", 2, "models.a.provider", "did you mean 'groq'"),
        ("default: fsat\nmodels:\n  fast: {provider: groq, model_id: x}\n", 1, "default", "did you mean 'fast'"),
        ("providers:\n  p: {kind: openai}\n", 2, "providers.p", "missing `base_url`"),
    ],
)
def test_errors_name_file_line_field_and_fix(text, line, field, words):
    error = _error(text)
    assert (error.file, error.line, error.field) == ("cfg.yaml", line, field)
    assert str(error).startswith(f"cfg.yaml:{line}: {field}: ")
    assert words in str(error)


def test_bad_yaml_names_the_line():
    error = _error("models:\n  a: {provider: x\n")
    assert error.line == 3 and "not valid YAML" in str(error)


@pytest.mark.parametrize(
    "text",
    [
        "providers:\n  groq:\n    api_key: sk-proj-abcdefghijklmnopqrstuvwx\n",
        "providers:\n  groq:\n    headers: {Authorization: 'Bearer gsk_abcdefghijklmnopqrstuvwxyz0123'}\n",
    ],
    ids=["api_key-field", "key-in-header"],
)
def test_literal_keys_are_refused_without_echoing_them(text):
    error = _error(text)
    assert "api_key_env: GROQ_API_KEY" in str(error)
    assert "abcdefghijklmnop" not in str(error)


def test_header_env_reference_is_expanded_and_remembered_as_secret(monkeypatch):
    monkeypatch.setenv("TEAM_TOKEN", "team-secret-123456")
    config = loads_config("providers:\n  p: {preset: vllm, headers: {X-Token: '${TEAM_TOKEN}'}}\n")
    assert dict(config.providers["p"].headers) == {"X-Token": "team-secret-123456"}
    assert "team-secret-123456" not in modelswap._redact.redact("echo team-secret-123456")


def test_unquoted_yaml_date_is_accepted():
    config = loads_config(CONFIG)
    assert config.models["fast"].price.checked == "2026-11-01"


def test_precedence_explicit_then_environment_then_default(monkeypatch):
    config = loads_config(CONFIG)
    assert config.resolve().alias == "fast"
    monkeypatch.setenv("MODELSWAP_MODEL", "own")
    assert config.resolve().alias == "own"
    assert config.resolve("fast").alias == "fast"
    monkeypatch.delenv("MODELSWAP_MODEL")
    monkeypatch.setenv("MODEL_PROVIDER", "together")
    monkeypatch.setenv("MODEL_ID", "meta-llama/Llama-3-8b")
    spec = config.resolve()
    assert (spec.provider.name, spec.model_id) == ("together", "meta-llama/Llama-3-8b")


def test_environment_conflicts_and_halves_are_errors(monkeypatch):
    config = loads_config(CONFIG)
    monkeypatch.setenv("MODEL_PROVIDER", "groq")
    with pytest.raises(modelswap.ConfigError, match="set MODEL_ID too"):
        config.resolve()
    monkeypatch.setenv("MODEL_ID", "x")
    monkeypatch.setenv("MODELSWAP_MODEL", "fast")
    with pytest.raises(modelswap.ConfigError, match="Both MODELSWAP_MODEL and MODEL_PROVIDER"):
        config.resolve()


def test_endpoint_and_key_override_only_the_active_model(monkeypatch):
    config = loads_config(CONFIG)
    monkeypatch.setenv("INFERENCE_ENDPOINT", "http://other:9000/v1/")
    monkeypatch.setenv("API_KEY", "sk-override-0123456789abcdef")
    active = config.resolve()
    assert active.provider.base_url == "http://other:9000/v1"
    assert active.provider.api_key() == "sk-override-0123456789abcdef"
    assert "sk-override" not in repr(active)
    explicit = config.resolve("own")
    assert explicit.provider.base_url == "http://vllm.internal:8000/v1"


def test_presets_and_slashed_model_ids_need_no_config():
    config = loads_config("")
    spec = config.resolve("openrouter/meta-llama/llama-3.1-8b-instruct")
    assert (spec.provider.name, spec.model_id) == ("openrouter", "meta-llama/llama-3.1-8b-instruct")
    assert spec.provider.base_url == "https://openrouter.ai/api/v1"


def test_unknown_alias_suggests_the_closest():
    with pytest.raises(modelswap.UnknownModelError, match="Did you mean 'fast'") as caught:
        loads_config(CONFIG).resolve("fats")
    assert caught.value.suggestion == "fast"


def test_missing_key_names_the_env_var_and_pickles():
    spec = loads_config(CONFIG).resolve("fast")
    with pytest.raises(modelswap.MissingCredentialsError, match="set `GROQ_API_KEY`") as caught:
        spec.provider.api_key()
    copy = pickle.loads(pickle.dumps(caught.value))
    assert (type(copy), copy.env_var, str(copy)) == (modelswap.MissingCredentialsError, "GROQ_API_KEY", str(caught.value))


def test_base_url_variables_resolve_when_used(monkeypatch):
    config = loads_config("models:\n  v: {provider: vertex, model_id: gemini-2.5-flash}\n")
    assert "${VERTEX_PROJECT}" in config.models["v"].provider.base_url
    monkeypatch.setenv("VERTEX_PROJECT", "proj")
    monkeypatch.setenv("VERTEX_LOCATION", "europe-west4")
    config = loads_config("models:\n  v: {provider: vertex, model_id: gemini-2.5-flash}\n")
    assert config.models["v"].provider.base_url.startswith("https://europe-west4-aiplatform.googleapis.com/v1/projects/proj/")
