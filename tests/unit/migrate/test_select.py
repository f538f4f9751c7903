"""Choosing the replacement: licence policy, benchmark fit, cost and context, scored by hand."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from modelswap import ConfigError
from modelswap._config import load_config
from modelswap.migrate import (
    Candidate,
    Need,
    Policy,
    Score,
    candidates_from_catalog,
    candidates_from_config,
    license_verdict,
    load_catalog,
    parse_policy,
    rank,
    run_select,
    self_host_estimate,
)

DATA = Path(__file__).parent / "data"
SRC = "https://example.org/card"


@pytest.fixture(autouse=True)
def clean(monkeypatch, tmp_path):
    for var in ("MODELSWAP_CONFIG", "MODELSWAP_MODEL", "MODEL_PROVIDER", "MODEL_ID"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)


def scores(**values: float) -> dict[str, Score]:
    names = {"MMLU_Pro": "MMLU-Pro"}
    return {names.get(k, k): Score(names.get(k, k), v, SRC, True) for k, v in values.items()}


A = Candidate("a", "A", "config", weights="api-gated", license="Apache-2.0", commercial_use=True, context_window=131072,
              scores=scores(MMLU=80, MMLU_Pro=60), price_input_per_mtok=0.2, price_output_per_mtok=0.6)
B = Candidate("b", "B", "catalog", weights="open", license="MIT", commercial_use=True, params_b=8.0,
              scores=scores(MMLU=70, MMLU_Pro=50, GSM8K=80, MATH=50, HumanEval=60))
C = Candidate("c", "C", "config", license="Apache-2.0", commercial_use=True, context_window=8192,
              price_input_per_mtok=0, price_output_per_mtok=0)


# -- scoring by hand -------------------------------------------------------------------------------------
def test_scores_by_hand():
    ranked = rank([C, B, A])
    assert [r.candidate.id for r in ranked] == ["a", "b", "c"]
    assert [r.rank for r in ranked] == [1, 2, 3]
    a, b, c = ranked
    # A: MMLU .4 x .80 + MMLU-Pro .3 x .60 = .50 over coverage .7 -> quality .714286; fit = .714286 x (.5 + .35).
    assert a.coverage == pytest.approx(0.7)
    assert a.quality == pytest.approx(0.5 / 0.7)
    assert a.fit == pytest.approx(0.5 / 0.7 * 0.85)
    # Cost at 75% input: .75 x .2 + .25 x .6 = $0.30 per 1M -> 1 / 1.3.
    assert a.cost_per_mtok == pytest.approx(0.30)
    assert a.cost_score == pytest.approx(1 / 1.3)
    # Total: .6 x .607143 + .3 x .769231 + .1 x 1 = .695055.
    assert a.total == pytest.approx(0.6 * 0.5 / 0.7 * 0.85 + 0.3 / 1.3 + 0.1)
    assert a.total == pytest.approx(0.695055, abs=1e-6)
    # B: all five general benchmarks: .4x.7 + .3x.5 + .1x.8 + .1x.5 + .1x.6 = .62, coverage 1, fit .62.
    assert (b.quality, b.coverage, b.fit) == (pytest.approx(0.62), pytest.approx(1.0), pytest.approx(0.62))
    # No price: self-host estimate for 8B: 20,000 / 8 = 2,500 tokens/s; $2,500 / (2,500 x .6 x 730 x 3600) x 1e6.
    assert b.cost_basis == "self-host estimate"
    assert b.cost_per_mtok == pytest.approx(2500 / (2500 * 0.6 * 730 * 3600) * 1e6)
    assert b.cost_per_mtok == pytest.approx(0.634196, abs=1e-6)
    # Context unknown scores 0.5: .6 x .62 + .3 / (1 + .634196) + .1 x .5 = .605577.
    assert b.total == pytest.approx(0.605577, abs=1e-6)
    # C: no benchmark, free, known context: .3 x 1 + .1 x 1 = .4.
    assert (c.fit, c.cost_score, c.total) == (0.0, 1.0, pytest.approx(0.4))
    assert "no public general benchmark" in c.reasons[1]


def test_missing_benchmarks_lower_the_fit():
    full = Candidate("full", "F", "catalog", scores=scores(MMLU=70, MMLU_Pro=70, GSM8K=70, MATH=70, HumanEval=70))
    partial = Candidate("partial", "P", "catalog", scores=scores(MMLU=70))
    f, p = sorted(rank([full, partial]), key=lambda r: r.candidate.id)
    assert f.quality == pytest.approx(0.70) and p.quality == pytest.approx(0.70)
    assert f.fit == pytest.approx(0.70)                 # coverage 1
    assert p.fit == pytest.approx(0.70 * (0.5 + 0.2))   # coverage .4
    assert "confidence medium" in p.reasons[1] and "missing MMLU-Pro, GSM8K, MATH, HumanEval" in p.reasons[1]


def test_task_weights_change_the_order():
    coder = Candidate("coder", "Coder", "catalog", scores=scores(MMLU=60, MMLU_Pro=40, HumanEval=90))
    scholar = Candidate("scholar", "Scholar", "catalog", scores=scores(MMLU=85, MMLU_Pro=70, HumanEval=50))
    assert rank([coder, scholar], need=Need(task="general"))[0].candidate.id == "scholar"
    assert rank([coder, scholar], need=Need(task="code"))[0].candidate.id == "coder"
    with pytest.raises(ConfigError, match="--task"):
        rank([coder], need=Need(task="poetry"))


def test_self_host_estimate_by_hand():
    cost, gpus = self_host_estimate(70.0, None, Need())
    # 20,000 / 70 = 285.7 tokens/s; weights 70 x 2 x 1.2 = 168 GB -> 3 x 80 GB.
    assert gpus == 3
    assert cost == pytest.approx(2500 / (20000 / 70 * 0.6 * 730 * 3600) * 1e6)
    moe_cost, moe_gpus = self_host_estimate(671.0, 37.0, Need())
    assert moe_gpus == 21  # ceil(671 x 2.4 / 80) = ceil(20.13)
    assert moe_cost == pytest.approx(2500 / (20000 / 37 * 0.6 * 730 * 3600) * 1e6)
    assert self_host_estimate(12.2, None, Need())[1] == 1  # 29.3 GB: one GPU


# -- hard filters ----------------------------------------------------------------------------------------
def test_context_and_size_filters():
    big = Candidate("big", "Big", "catalog", weights="open", params_b=70.0, context_window=131072, license="MIT",
                    commercial_use=True, scores=scores(MMLU=85))
    kept = rank([A, B, C, big], need=Need(context_tokens=32768, max_params_b=14), include_excluded=True)
    by_id = {r.candidate.id: r for r in kept}
    assert by_id["c"].excluded == "context: 8k < 32k needed"
    assert by_id["big"].excluded == "size: 70B > --max-params 14B"
    assert by_id["a"].excluded is None and by_id["b"].excluded is None  # B's context is unknown: kept, scored 0.5
    assert "context window unknown; 32k needed" in by_id["b"].reasons
    assert [r.candidate.id for r in kept if r.rank] == ["a", "b"]
    assert [r.rank for r in kept[2:]] == [None, None]


# -- licence policy --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("license", "commercial", "policy", "allowed", "words"),
    [
        ("Apache-2.0", True, Policy(allow=("Apache-2.0", "MIT")), True, "Apache-2.0 allowed"),
        ("Llama 3.1 Community License", "restricted", Policy(allow=("Apache-2.0", "MIT")), False, "not on the allow list"),
        ("Llama 3.1 Community License", "restricted", Policy(allow=("MIT",)), False, "not on the allow list"),  # not "CoMMunITy"
        ("Llama 3.1 Community License", "restricted", Policy(), True, "commercial use with conditions"),
        ("Gemma Terms of Use", "restricted", Policy(allow=("Gemma",)), True, "allowed"),
        ("Gemma Terms of Use", "restricted", Policy(allow=("Gemma",), deny=("gemma",)), False, "denied by the policy"),
        ("CC-BY-NC-4.0", None, Policy(), False, "does not allow commercial use"),
        ("CC-BY-NC-4.0", None, Policy(allow=("CC-BY-NC-4.0",)), True, "non-commercial, allowed"),
        ("Qwen Research License", False, Policy(), False, "does not allow commercial use"),
        ("Qwen Research License", False, Policy(allow_noncommercial=True), True, "allowed"),
        (None, None, Policy(), True, "licence unknown"),
        (None, None, Policy(allow=("MIT",)), False, "cannot be shown"),
    ],
)
def test_license_verdict(license, commercial, policy, allowed, words):
    ok, why = license_verdict(license, commercial, policy)
    assert ok is allowed
    assert words in why


def test_parse_policy():
    policy = parse_policy("allow=Apache-2.0,MIT deny=CC-BY-NC-4.0 noncommercial=allow")
    assert policy == Policy(("Apache-2.0", "MIT"), ("CC-BY-NC-4.0",), True)
    # Licence names with spaces survive; several --policy flags combine.
    policy = parse_policy(["allow=Llama 3.1 Community License,Apache-2.0", "deny=Gemma"])
    assert policy.allow == ("Llama 3.1 Community License", "Apache-2.0") and policy.deny == ("Gemma",)
    assert parse_policy(None) == Policy()
    for bad in ("allow", "permit=MIT", "allow=", "noncommercial=maybe"):
        with pytest.raises(ConfigError, match="--policy"):
            parse_policy(bad)


def test_license_filter_in_rank():
    ranked = rank([A, B, C], Policy(allow=("MIT",)), include_excluded=True)
    assert [r.candidate.id for r in ranked if r.rank] == ["b"]
    assert {r.candidate.id: r.excluded for r in ranked if not r.rank} == {
        "a": "licence: Apache-2.0 is not on the allow list (MIT)",
        "c": "licence: Apache-2.0 is not on the allow list (MIT)",
    }


# -- candidates ------------------------------------------------------------------------------------------
def test_config_candidates_take_what_the_catalog_knows():
    catalog = load_catalog()
    cands = {c.id: c for c in candidates_from_config(load_config(DATA / "env_prod.yaml"), catalog)}
    fast = cands["config:fast"]
    assert fast.catalog_id == "llama-3.1-8b-instruct"
    assert fast.scores["MMLU"].value == 69.4 and fast.params_b == 8.03
    assert fast.license == "Llama 3.1 Community License" and fast.commercial_use == "restricted"
    assert (fast.price_input_per_mtok, fast.price_output_per_mtok) == (0.05, 0.08)
    gpt = cands["config:gpt"]
    assert gpt.weights == "api-gated" and gpt.scores == {} and gpt.license is None
    assert cands["config:smart"].weights == "api-gated"


def test_the_default_config_collapses_aliases_of_the_same_model():
    cands = candidates_from_config(load_config(None), load_catalog())
    # gemma-raw and gemma-chat are the same weights on the same llama.cpp server (two endpoints); so are
    # smollm2-chat and smollm2-raw on theirs. Two families, two candidates.
    assert [c.id for c in cands] == ["config:gemma-raw", "config:smollm2-chat"]
    assert cands[0].catalog_id == "gemma-3-270m-it" and cands[0].license == "Gemma"


# -- the command -----------------------------------------------------------------------------------------
def test_run_select_json_shortlist_respects_policy_and_need():
    out = io.StringIO()
    code = run_select(config=DATA / "env_prod.yaml", policy="allow=Apache-2.0,MIT", need_context=32768, max_params=15,
                      top=3, as_json=True, out=out)
    assert code == 0
    data = json.loads(out.getvalue())
    shortlist = data["shortlist"]
    assert [r["rank"] for r in shortlist] == [1, 2, 3]
    assert [r["score"] for r in shortlist] == sorted((r["score"] for r in shortlist), reverse=True)
    for r in shortlist:
        assert r["license"] in ("Apache-2.0", "MIT")
        assert r["context_window"] >= 32768 and r["params_b"] <= 15
        assert r["reasons"][0] == f"{r['license']} allowed"
        assert any("fits one 80 GB GPU" in reason for reason in r["reasons"])
        assert any(reason.startswith("context 128k >= 32k") for reason in r["reasons"])
        assert all(b["source"].startswith("https://") for b in r["benchmarks"].values())
    excluded = {e["id"]: e["reason"] for e in data["excluded"]}
    assert excluded["config:fast"].startswith("licence: Llama 3.1 Community License is not on the allow list")
    assert excluded["config:gpt"].startswith("licence: licence unknown")
    assert excluded["phi-4"] == "context: 16k < 32k needed"
    assert excluded["qwen2.5-72b-instruct"].startswith("licence:")
    assert data["catalog"]["updated"] == load_catalog().updated


def test_run_select_text_lists_reasons():
    out = io.StringIO()
    assert run_select(config=DATA / "env_prod.yaml", task="code", top=2, out=out) == 0
    text = out.getvalue()
    assert text.startswith("shortlist (task code; policy: non-commercial denied)")
    assert " 1. " in text and " 2. " in text and " 3. " not in text
    assert "score " in text and "    - " in text
    assert "excluded 1 (licence 1)" in text  # Qwen2.5 3B: research licence


def test_run_select_is_deterministic():
    runs = []
    for _ in range(2):
        out = io.StringIO()
        run_select(config=DATA / "env_prod.yaml", top=30, as_json=True, out=out)
        runs.append(out.getvalue())
    assert runs[0] == runs[1]


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"policy": "permit=MIT"}, "--policy"),
        ({"task": "poetry"}, "--task"),
        ({"top": 0}, "--top"),
        ({"need_context": 0}, "--need-context"),
        ({"max_params": -1}, "--max-params"),
        ({"config": "missing.yaml"}, "config file not found"),
        ({"catalog": "missing.json"}, "cannot read the catalog"),
    ],
)
def test_run_select_bad_input_exits_2(kwargs, words):
    err = io.StringIO()
    kwargs.setdefault("config", DATA / "env_prod.yaml")
    assert run_select(out=io.StringIO(), err=err, **kwargs) == 2
    assert err.getvalue().startswith("error: ") and words in err.getvalue()


def test_nothing_passes_says_how_to_loosen():
    out = io.StringIO()
    assert run_select(config=DATA / "env_prod.yaml", policy="allow=WTFPL", out=out) == 0
    assert "no candidate passes" in out.getvalue()


def test_catalog_candidates_are_all_open_weight():
    cands = candidates_from_catalog(load_catalog())
    assert cands and all(c.weights == "open" and c.origin == "catalog" for c in cands)
