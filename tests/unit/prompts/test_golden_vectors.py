"""All 60 golden renders of the official chat templates, byte for byte, with and without BOS.

The vectors are in tests/data/contracts (rendered with transformers' ``apply_chat_template(tokenize=False)``;
copied from the shared contracts, see tests/data/contracts/PROVENANCE.md).
None of the vectors puts a special token inside message text, so the default ``special_tokens="refuse"``
policy is in force for all of them.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import pytest

from modelswap import PromptFormatError, prompts

CONTRACTS = Path(__file__).resolve().parents[2] / "data" / "contracts"
VECTORS_FILE = CONTRACTS / "chat_template_vectors.json"
MANIFEST_FILE = CONTRACTS / "templates" / "MANIFEST.json"


def _load() -> list[tuple[str, dict[str, Any]]]:
    data = json.loads(VECTORS_FILE.read_text(encoding="utf-8"))
    return [(fmt, case) for fmt, cases in data.items() if fmt != "_meta" for case in cases]


VECTORS = _load()
RENDERED = [(fmt, case) for fmt, case in VECTORS if "expected_error" not in case]
REFUSED = [(fmt, case) for fmt, case in VECTORS if "expected_error" in case]


def _ids(vectors: list[tuple[str, dict[str, Any]]]) -> list[str]:
    return [f"{fmt}:{case['case']}" for fmt, case in vectors]


def test_there_are_sixty_vectors_over_the_ten_manifest_formats() -> None:
    assert len(VECTORS) == 60
    assert len(RENDERED) + len(REFUSED) == 60 and REFUSED  # every vector is covered by one of the two lists
    manifest = json.loads(MANIFEST_FILE.read_text(encoding="utf-8"))
    assert {fmt for fmt, _ in VECTORS} == set(manifest)


def _render(fmt: str, case: dict[str, Any], include_bos: bool) -> str:
    return prompts.render(
        fmt, case["messages"], case["add_generation_prompt"], include_bos=include_bos, **case["template_kwargs"]
    )


@pytest.mark.parametrize(("fmt", "case"), RENDERED, ids=_ids(RENDERED))
def test_render_with_bos_matches_expected(fmt: str, case: dict[str, Any]) -> None:
    assert _render(fmt, case, include_bos=True) == case["expected"]


@pytest.mark.parametrize(("fmt", "case"), RENDERED, ids=_ids(RENDERED))
def test_render_without_bos_matches_expected_without_bos(fmt: str, case: dict[str, Any]) -> None:
    # A null expected_without_bos means the family writes no BOS (Qwen, GLM): both renders are the same.
    expected = case["expected_without_bos"] if case.get("expected_without_bos") is not None else case["expected"]
    out = _render(fmt, case, include_bos=False)
    assert out == expected
    bos = case["special_tokens"].get("bos_token")
    if bos:
        assert not out.startswith(bos)  # never a doubled BOS on endpoints that add their own


@pytest.mark.parametrize(("fmt", "case"), REFUSED, ids=_ids(REFUSED))
def test_refusals(fmt: str, case: dict[str, Any]) -> None:
    for include_bos in (True, False):
        with pytest.raises(PromptFormatError) as caught:
            _render(fmt, case, include_bos=include_bos)
        err = caught.value
        assert case["expected_error"] in str(err)  # quotes the template's own words...
        assert err.format == fmt and err.template_error == case["expected_error"]
        assert err.index == 0  # ...and names the offending message (a leading system message in every case)
        assert "system" in str(err).lower()  # ...and says what to do about it
        again = pickle.loads(pickle.dumps(err))
        assert (type(again), str(again), again.index) == (PromptFormatError, str(err), 0)


@pytest.mark.parametrize(("fmt", "case"), RENDERED, ids=_ids(RENDERED))
def test_aliases_render_the_same(fmt: str, case: dict[str, Any]) -> None:
    for alias in prompts.family(fmt).aliases:
        assert prompts.render(alias, case["messages"], case["add_generation_prompt"], **case["template_kwargs"]) == (
            case["expected"]
        )


@pytest.mark.parametrize(("fmt", "case"), VECTORS, ids=_ids(VECTORS))
def test_family_tokens_match_the_vector(fmt: str, case: dict[str, Any]) -> None:
    fam = prompts.family(fmt)
    assert fam.name == fmt
    assert fam.bos == (case["special_tokens"].get("bos_token") or "")
    assert fam.eos == case["special_tokens"]["eos_token"]
    assert fam.eos in fam.special_tokens or fam.eos in fam.stop


def test_family_tokens_match_the_manifest() -> None:
    manifest = json.loads(MANIFEST_FILE.read_text(encoding="utf-8"))
    for fmt, entry in manifest.items():
        fam = prompts.family(fmt)
        assert fam.bos == entry["special_tokens"].get("bos_token", ""), fmt
        assert fam.eos == entry["special_tokens"]["eos_token"], fmt
        assert fmt in prompts.formats()
