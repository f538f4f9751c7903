"""``patterns.json``: dated, sourced, every example matched, every counter-example not, consistent with the rest of
modelswap (the key shapes of ``_redact``, the special tokens of ``prompts._families``)."""

from __future__ import annotations

import datetime
import json

import pytest

from modelswap import _redact
from modelswap.audit._patterns import PATTERNS_PATH, load_patterns
from modelswap.prompts import _families

DATA = json.loads(PATTERNS_PATH.read_text(encoding="utf-8"))
PATTERNS = load_patterns()
DETECTORS = PATTERNS.detectors


def test_the_file_is_dated_and_every_entry_has_a_source() -> None:
    updated = datetime.date.fromisoformat(DATA["updated"])
    assert updated >= datetime.date(2026, 11, 1)
    for section in ("providers", "open_weight_families", "model_paths", "endpoints", "prompt_formats"):
        assert DATA[section], section
        for name, entry in DATA[section].items():
            assert entry.get("source"), f"{section}.{name} has no source"
    for name, entry in DATA["key_shapes"].items():
        assert name.startswith("_") or entry.get("source"), name


def test_required_sections_cover_the_brief() -> None:
    assert {"openai", "anthropic", "google", "mistral", "cohere", "groq", "together", "openrouter"} <= set(DATA["providers"])
    assert {"llama", "gemma", "qwen", "mistral", "phi", "deepseek", "glm", "falcon", "olmo"} <= set(DATA["open_weight_families"])
    assert {"openai", "anthropic", "gemini", "vertex", "groq", "together", "openrouter", "mistral", "cohere", "ollama",
            "llamacpp", "vllm"} <= set(DATA["endpoints"])


@pytest.mark.parametrize("detector", DETECTORS, ids=lambda d: f"{d.kind}-{d.label}-{d.index}")
def test_examples_match_whole_and_contain_a_needle(detector) -> None:
    assert detector.examples, "every pattern carries examples"
    assert all(n == n.lower() for n in detector.needles)
    for example in detector.examples:
        text = detector.example_prefix + example
        assert example in [m.group() for m in detector.regex.finditer(text)], example
        assert any(n in text.lower().encode() for n in detector.needles), f"no needle of {detector.needles} in {example!r}"


@pytest.mark.parametrize("detector", [d for d in DETECTORS if d.counter_examples], ids=lambda d: f"{d.kind}-{d.label}-{d.index}")
def test_counter_examples_do_not_match(detector) -> None:
    for text in detector.counter_examples:
        matches = [m.group() for m in detector.regex.finditer(text)]
        assert text not in matches, text
        if detector.kind != "model_id":
            assert not matches, (text, matches)


def test_every_needle_reaches_its_detectors_through_the_prefilter() -> None:
    reachable: set[int] = set()
    for group in PATTERNS.groups:
        for ids in group.detectors.values():
            reachable.update(ids)
    assert reachable == {d.index for d in DETECTORS}


def test_key_shapes_are_redacts_with_a_left_boundary() -> None:
    keys = [d for d in DETECTORS if d.kind == "api_key"]
    samples = [d.example_prefix + e for d in keys for e in d.examples] + [
        "sk-proj-" + "a1" * 20, "sk-ant-api03-" + "Z" * 30, "gsk_" + "q" * 24, "AIza" + "x" * 35, "hf_" + "k" * 34,
        "Authorization: Bearer " + "t" * 24, "ya29." + "m" * 30,
    ]
    for sample in samples:
        assert _redact.looks_like_key(sample), sample
        assert any(d.regex.search(sample) for d in keys), sample
    # What the audit finds, redact masks too; the audit only refuses keys glued to a word ('disk-usage-...').
    for text in ("disk-usage-monitor-daemon-process", "task-queue-consumer-worker-01", "use_hf_" + "x" * 40):
        assert not any(d.regex.search(text) for d in keys), text
    assert set(DATA["key_shapes"]) - {"_source"} == {
        "anthropic", "openrouter", "openai", "groq", "google", "huggingface", "google-oauth", "bearer"}


def test_every_special_token_of_the_prompt_families_is_covered_or_excluded() -> None:
    listed = {t for entry in DATA["prompt_formats"].values() for t in entry.get("tokens", ())}
    excluded = set(DATA["excluded_tokens"]["tokens"])
    for family in _families.CANONICAL.values():
        for token in family.special_tokens:
            assert token in listed or token in excluded, f"{family.name}: {token}"
    # The numbered reserved tokens, by pattern.
    patterns = [d.regex for d in DETECTORS if d.kind == "prompt_format"]
    for token in ("<|reserved_special_token_7|>", "<unused3>", "<SPECIAL_20>"):
        assert any(p.fullmatch(token) for p in patterns), token
    assert not listed & excluded


def test_model_context_is_a_model_key_right_before_the_value() -> None:
    context = PATTERNS.model_context
    for prefix in ('model="', '"model": "', "MODEL_ID=", 'os.environ.get("MODEL_ID", "', "model_id: ", "ollama run ",
                   "kwargs.get('model', '", "--model=", "models=[\"", "llm = Ollama(model='"):
        assert context.search(prefix), prefix
    for prefix in ('PROMPT_FORMAT = "', "prompt_format: ", "{model: llama, prompt_format: ", "format=", "step "):
        assert not context.search(prefix), prefix


def test_family_of_names_the_family_of_api_and_file_names() -> None:
    assert PATTERNS.family_of("llama-3.1-8b-instant") == "llama"
    assert PATTERNS.family_of("gemma-3-270m-it-Q4_K_M.gguf") == "gemma"
    assert PATTERNS.family_of("Qwen2.5-7B-Instruct-Q4_K_M.gguf") == "qwen"
    assert PATTERNS.family_of("gpt-4o") is None


def test_the_prefilter_uses_few_passes_with_rare_first_bytes() -> None:
    # Each group is one pass over a file, stopping at every occurrence of its first byte; a group on a common
    # byte holds one long literal (which `re` compares whole at each stop, without entering the matcher).
    assert len(PATTERNS.groups) <= 16
    common = set(b"etaisnr cdp")
    for group in PATTERNS.groups:
        needles = list(group.detectors)
        if needles[0][0] in common:
            assert len(needles) == 1 and len(needles[0]) >= 4, needles
