"""Property test: the pure-Python renderers against the official templates run by Jinja, over random conversations.

``render_reference.py`` (tests/contracts_kit; templates in tests/data/contracts) re-implements transformers'
``apply_chat_template(tokenize=False)`` with jinja2. Thousands of seeded random conversations (valid and invalid
role orders, leading/trailing Unicode whitespace, empty content, GLM reasoning markup, special tokens, extra and
None-valued keys) must render byte-identically, and wherever the template calls ``raise_exception`` modelswap must
raise PromptFormatError carrying the same text. jinja2 is a test-only dependency; without it this module skips.

The official templates pass special tokens inside message text through, so these comparisons call
``render(..., special_tokens="allow")``; the default ``"refuse"`` policy is checked separately to either agree
with the template or refuse for the right token.
"""

from __future__ import annotations

import importlib.util
import json
import random
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from modelswap import PromptFormatError, prompts
from modelswap.prompts._families import special_token_regex
from tests.unit.prompts.conversations import random_conversation

jinja2 = pytest.importorskip("jinja2", reason="jinja2 is needed to run the official templates (test-only)")

CONTRACTS = Path(__file__).resolve().parents[2] / "data" / "contracts"
REFERENCE = Path(__file__).resolve().parents[2] / "contracts_kit" / "render_reference.py"
TEMPLATES = CONTRACTS / "templates"

# The canonical ChatML template (as published with ChatML models); `chatml` has no file in the contracts.
CHATML_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + "
    "'\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
SEEDS = range(12)
CONVERSATIONS_PER_SEED = 40

# Text pieces chosen to hit every difference between the templates: trimming (Unicode whitespace included),
# empty content (GLM-4 skips it), GLM-4.6's think-tag parsing and /nothink, Jinja-looking text (data, not code).
PIECES = [
    "Hello", "What is 2+2?", "", " ", "  padded  ", "\n", "\n\nlines\n\n", "\t tab", "\u3000ideographic\u3000",
    "\xa0nbsp\xa0", "\u2028sep", "\x85nel", "Ünïcödé ✓ — \"quotes\" <tag> & 'apos'", "{{ not_jinja }}",
    "{% raw %}", "<think>", "</think>", "\n<think>\nplan\n</think>\n", "/nothink", "[gMASK]-lookalike[gmask]",
    "<|not_a_token|>", "emoji 🦙", "[INST-ish]", "trailing\n",
]


def _load_reference() -> ModuleType:
    spec = importlib.util.spec_from_file_location("render_reference", REFERENCE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def reference() -> Any:
    """A renderer with the same semantics as render_reference.render, compiling each template once."""
    ref = _load_reference()
    env = ref.make_env()
    manifest = json.loads((TEMPLATES / "MANIFEST.json").read_text(encoding="utf-8"))
    compiled = {fmt: env.from_string((CONTRACTS / e["file"]).read_text(encoding="utf-8")) for fmt, e in manifest.items()}
    compiled["chatml"] = env.from_string(CHATML_TEMPLATE)
    specials = {fmt: e["special_tokens"] for fmt, e in manifest.items()}
    specials["chatml"] = {"eos_token": "<|im_end|>"}

    def render(fmt: str, messages: list[dict[str, Any]], gen: bool, **kwargs: Any) -> str:
        # Exactly render_reference.render, minus the per-call compile.
        msgs = [{k: v for k, v in m.items() if v is not None} for m in messages]
        ctx = dict(specials[fmt])
        ctx.update(kwargs)
        return str(compiled[fmt].render(messages=msgs, tools=None, documents=None, add_generation_prompt=gen, **ctx))

    # Guard the shortcut: it must agree with the module's own render().
    sample = [{"role": "system", "content": " s "}, {"role": "user", "content": "u\n"}]
    for fmt in manifest:
        text = (CONTRACTS / manifest[fmt]["file"]).read_text(encoding="utf-8")
        try:
            expected = ref.render(text, sample, True, specials[fmt], date_string="26 Jul 2024")
        except jinja2.TemplateError:
            continue
        assert render(fmt, sample, True, date_string="26 Jul 2024") == expected
    render.specials = specials  # type: ignore[attr-defined]
    return render


FORMATS = ["llama3", "llama3.1", "llama3.2", "gemma2", "gemma3", "qwen2.5", "mistral-v0.2", "mistral-nemo", "glm4",
           "glm4.6", "chatml"]


def _glm_keys(fmt: str) -> Any:
    """GLM's own message keys, which its templates read."""
    def extra(rng: random.Random, role: str, roll: float) -> dict[str, Any]:
        if fmt == "glm4" and roll < 0.3:
            return {"metadata": rng.choice(["", "meta", "m\n"])}
        if fmt == "glm4.6" and role == "assistant" and roll < 0.35:
            return {"reasoning_content": rng.choice(["", " thought ", "\nplan\n"])}
        return {}
    return extra


def _conversation(rng: random.Random, fmt: str, with_specials: bool) -> list[dict[str, Any]]:
    specials = prompts.family(fmt).special_tokens if with_specials else ()
    return random_conversation(rng, PIECES, specials, _glm_keys(fmt))


def _kwargs_variants(fmt: str) -> list[dict[str, Any]]:
    if fmt in ("llama3.1", "llama3.2"):
        return [{"date_string": "26 Jul 2024"}, {"date_string": "03 Mar 2031"}]
    if fmt == "glm4.6":
        return [{}, {"enable_thinking": False}, {"enable_thinking": True}]
    return [{}]


def _compare(reference: Any, fmt: str, messages: list[dict[str, Any]], gen: bool, kwargs: dict[str, Any]) -> str:
    """Asserts modelswap (with special_tokens='allow') agrees with the template; returns 'ok' or 'refused'."""
    try:
        expected = reference(fmt, messages, gen, **kwargs)
    except jinja2.TemplateError as exc:
        with pytest.raises(PromptFormatError) as caught:
            prompts.render(fmt, messages, gen, special_tokens="allow", **kwargs)
        assert caught.value.template_error == str(exc), (fmt, messages)
        assert str(exc) in str(caught.value)
        return "refused"
    got = prompts.render(fmt, messages, gen, special_tokens="allow", **kwargs)
    assert got == expected, (fmt, gen, kwargs, messages)
    bos = reference.specials[fmt].get("bos_token", "")  # type: ignore[attr-defined]
    without = prompts.render(fmt, messages, gen, include_bos=False, special_tokens="allow", **kwargs)
    assert without == (expected[len(bos):] if bos and expected.startswith(bos) else expected), (fmt, messages)
    return "ok"


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("seed", SEEDS)
def test_random_conversations_match_the_official_template(reference: Any, fmt: str, seed: int) -> None:
    rng = random.Random(f"{fmt}/{seed}")
    outcomes = []
    for _ in range(CONVERSATIONS_PER_SEED):
        messages = _conversation(rng, fmt, with_specials=True)
        for gen in (True, False):
            for kwargs in _kwargs_variants(fmt):
                outcomes.append(_compare(reference, fmt, messages, gen, kwargs))
    assert "ok" in outcomes  # the generator must not only produce refused conversations


@pytest.mark.parametrize("fmt", FORMATS)
def test_default_policy_agrees_or_refuses_for_a_real_token(reference: Any, fmt: str) -> None:
    rng = random.Random(f"refuse/{fmt}")
    pattern = special_token_regex(prompts.family(fmt))
    assert pattern is not None
    refused = 0
    for _ in range(200):
        messages = _conversation(rng, fmt, with_specials=True)
        tokens = [pattern.search(m["content"]) for m in messages]
        try:
            expected: str | None = reference(fmt, messages, True, date_string="26 Jul 2024")
        except jinja2.TemplateError:
            expected = None
        try:
            got = prompts.render(fmt, messages, True, date_string="26 Jul 2024")
        except PromptFormatError as err:
            if getattr(err, "token", None) is None:
                assert expected is None, (fmt, messages)  # a template refusal, and the template agrees
                continue
            first = next(i for i, hit in enumerate(tokens) if hit)
            assert (err.index, err.token) == (first, tokens[first].group())  # type: ignore[union-attr]
            refused += 1
            continue
        assert not any(tokens) and got == expected, (fmt, messages)
    assert refused > 0


@pytest.mark.parametrize("fmt", ["llama3", "gemma3", "qwen2.5", "mistral-nemo", "glm4.6"])
def test_escaped_prompts_match_the_template_on_escaped_text(reference: Any, fmt: str) -> None:
    """Escaping is a pure text substitution: the template applied to escaped text gives the same bytes."""
    rng = random.Random(f"escape/{fmt}")
    pattern = special_token_regex(prompts.family(fmt))
    assert pattern is not None
    for _ in range(100):
        messages = _conversation(rng, fmt, with_specials=True)
        escaped = [
            {**m, "content": pattern.sub(lambda h: h.group()[0] + "\u200b" + h.group()[1:], m["content"])}
            for m in messages
        ]
        try:
            expected = reference(fmt, escaped, True)
        except jinja2.TemplateError:
            with pytest.raises(PromptFormatError):
                prompts.render(fmt, messages, True, special_tokens="escape")
            continue
        assert prompts.render(fmt, messages, True, special_tokens="escape") == expected, (fmt, messages)


def test_llama32_default_date_matches_strftime_now(reference: Any) -> None:
    """Without date_string Llama 3.2's template calls strftime_now('%d %b %Y'); so does modelswap."""
    messages = [{"role": "user", "content": "Hi"}]
    assert prompts.render("llama3.2", messages) == reference("llama3.2", messages, True)
