"""The shipped open-weight catalog: dated, schema-valid, every score sourced; model-id matching."""

from __future__ import annotations

import datetime as dt
import json

import jsonschema
import pytest

from modelswap import ConfigError, prompts
from modelswap.migrate import CATALOG_PATH, family_of, load_catalog, model_key
from modelswap.migrate._catalog import CATALOG_SCHEMA


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def test_catalog_is_dated_and_matches_its_schema():
    data = json.loads(CATALOG_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(CATALOG_SCHEMA).validate(data)
    updated = dt.date.fromisoformat(data["updated"])
    assert updated >= dt.date(2026, 11, 1)


def test_catalog_covers_the_notable_families(catalog):
    assert len(catalog) >= 25
    ids = {e.id for e in catalog}
    for needed in ("llama-3.1-8b-instruct", "llama-3.1-70b-instruct", "llama-3.2-1b-instruct", "llama-3.2-3b-instruct",
                   "llama-3.3-70b-instruct", "gemma-2-9b-it", "gemma-3-270m-it", "gemma-3-27b-it",
                   "qwen2.5-7b-instruct", "qwen2.5-72b-instruct", "mistral-7b-instruct-v0.3",
                   "mistral-nemo-instruct-2407", "mixtral-8x7b-instruct-v0.1", "phi-3.5-mini-instruct", "phi-4",
                   "deepseek-v3", "glm-4-9b-chat"):
        assert needed in ids
    assert len(ids) == len(catalog)


def test_every_score_has_a_source_and_a_verified_flag(catalog):
    scores = [(e.id, name, s) for e in catalog for name, s in e.scores.items()]
    assert len(scores) >= 90
    for entry_id, name, s in scores:
        assert s.source.startswith("https://"), (entry_id, name)
        assert isinstance(s.verified, bool)
        assert 0 < s.value <= 100
        assert s.variant in ("base", "instruct")
    assert sum(s.verified for _, _, s in scores) >= 60


def test_figures_checked_against_the_model_cards(catalog):
    # Read from the cards when the catalog was compiled; these pin the transcription.
    l31 = catalog.get("llama-3.1-8b-instruct").scores
    assert (l31["MMLU"].value, l31["MMLU-Pro"].value, l31["HumanEval"].value, l31["GSM8K"].value, l31["MATH"].value) == \
        (69.4, 48.3, 72.6, 84.5, 51.9)
    assert catalog.get("llama-3.2-3b-instruct").scores["MATH"].value == 47.3
    assert catalog.get("llama-3.3-70b-instruct").scores["HumanEval"].value == 88.4
    assert catalog.get("gemma-2-27b-it").scores["HumanEval"].value == 51.8
    assert catalog.get("gemma-3-12b-it").scores["MMLU-Pro"].value == 60.6
    assert catalog.get("mistral-nemo-instruct-2407").scores["MMLU"].value == 68.0
    assert catalog.get("mixtral-8x7b-instruct-v0.1").scores["MMLU"].value == 70.6
    assert catalog.get("deepseek-v3").scores["MMLU-Pro"].value == 75.9
    assert catalog.get("glm-4-9b-chat").scores["MATH"].value == 50.6
    assert catalog.get("gemma-3-270m-it").scores == {}  # the card reports none of these benchmarks


def test_licences_are_open_weight_terms_with_links(catalog):
    for e in catalog:
        assert e.license and e.license.lower() not in ("proprietary", "closed")
        assert e.license_url.startswith("https://")
        assert e.commercial_use in (True, False, "restricted")
        assert e.redistribution in ("yes", "with-conditions", "no")
        assert e.context_window >= 2048
        assert e.params_b > 0
    assert catalog.get("llama-3.1-8b-instruct").license == "Llama 3.1 Community License"
    assert catalog.get("gemma-3-4b-it").license == "Gemma Terms of Use"
    assert catalog.get("qwen2.5-7b-instruct").license == "Apache-2.0"
    assert catalog.get("qwen2.5-72b-instruct").license == "Qwen License"
    assert catalog.get("qwen2.5-3b-instruct").commercial_use is False
    assert catalog.get("phi-4").license == "MIT"


def test_prompt_formats_are_modelswap_prompt_names(catalog):
    known = set(prompts.formats())
    for e in catalog:
        assert e.prompt_format is None or e.prompt_format in known, e.id
    assert catalog.get("mistral-nemo-instruct-2407").prompt_format == "mistral-nemo"
    assert catalog.get("glm-4-9b-chat").prompt_format == "glm4"


@pytest.mark.parametrize(
    ("model_id", "entry"),
    [
        ("meta-llama/Llama-3.1-8B-Instruct", "llama-3.1-8b-instruct"),
        ("meta-llama/Meta-Llama-3.1-8B-Instruct", "llama-3.1-8b-instruct"),
        ("llama-3.1-8b-instant", "llama-3.1-8b-instruct"),       # Groq
        ("llama3.1:8b", "llama-3.1-8b-instruct"),                # Ollama
        ("llama3.2", "llama-3.2-3b-instruct"),                   # Ollama's default size
        ("gemma-3-270m", "gemma-3-270m-it"),                     # the built-in default config
        ("google/gemma-3-27b-it", "gemma-3-27b-it"),
        ("Qwen/Qwen2.5-7B-Instruct-AWQ", "qwen2.5-7b-instruct"),
        ("bartowski/Llama-3.2-3B-Instruct-GGUF", "llama-3.2-3b-instruct"),
        ("mistralai/Mistral-Nemo-Instruct-2407", "mistral-nemo-instruct-2407"),
        ("open-mixtral-8x7b", "mixtral-8x7b-instruct-v0.1"),
        ("phi4", "phi-4"),
        ("THUDM/glm-4-9b-chat-hf", "glm-4-9b-chat"),
    ],
)
def test_model_ids_match_their_entry(catalog, model_id, entry):
    found = catalog.find(model_id)
    assert found is not None and found.id == entry


@pytest.mark.parametrize("model_id", ["gpt-4.1-mini", "claude-haiku-4-5", "llama-3-8b", "gemma-7b", "", "my-finetune"])
def test_other_ids_do_not_match(catalog, model_id):
    assert catalog.find(model_id) is None


def test_model_key_keeps_versions_apart():
    assert model_key("llama-3.1-8b") != model_key("llama-3-18b")
    assert model_key("llama-3.1-8b") == model_key("Llama3.1:8B") == "llama-3-1-8b"
    assert model_key("gemma-2-27b-it") != model_key("gemma-3-27b-it")


@pytest.mark.parametrize(
    ("model_id", "expected"),
    [
        ("gpt-4.1-mini", ("openai", "api-gated")),
        ("o3-mini", ("openai", "api-gated")),
        ("claude-opus-4-1", ("claude", "api-gated")),
        ("gemini-2.5-flash", ("gemini", "api-gated")),
        ("gpt-oss-20b", ("gpt-oss", "open")),
        ("llama-3.3-70b-versatile", ("llama", "open")),
        ("qwen2.5:14b", ("qwen", "open")),
        ("mistral-medium-latest", ("mistral-api", "api-gated")),
        ("my-finetune", None),
    ],
)
def test_family_of(model_id, expected):
    assert family_of(model_id) == expected


def test_a_broken_catalog_is_a_config_error(tmp_path):
    bad = tmp_path / "catalog.json"
    bad.write_text('{"updated": "2026-11-27", "models": [{"id": "x"}]}')
    with pytest.raises(ConfigError, match=r"models\.0: 'name' is a required property"):
        load_catalog(bad)
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_catalog(bad)
    with pytest.raises(ConfigError, match="cannot read"):
        load_catalog(tmp_path / "missing.json")


def test_ambiguous_aliases_are_refused(tmp_path):
    data = json.loads(CATALOG_PATH.read_text(encoding="utf-8"))
    data["models"][1]["aliases"] = ["llama3.1:8b"]  # already Llama 3.1 8B's
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match="also matches"):
        load_catalog(path)
