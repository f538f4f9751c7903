"""The model inventory across environments: classification, licence facts and the urgency score by hand."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from modelswap import ConfigError
from modelswap._config import ProviderSpec, load_config
from modelswap.migrate import (
    build_inventory,
    classify_weights,
    env_weight,
    load_audit,
    load_catalog,
    load_usage,
    run_inventory,
)

DATA = Path(__file__).parent / "data"
ENVS = [f"dev={DATA / 'env_dev.yaml'}", f"staging={DATA / 'env_staging.yaml'}", f"prod={DATA / 'env_prod.yaml'}"]


@pytest.fixture(autouse=True)
def clean(monkeypatch, tmp_path):
    for var in ("MODELSWAP_CONFIG", "MODELSWAP_MODEL", "MODEL_PROVIDER", "MODEL_ID"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


@pytest.fixture()
def configs():
    return {"dev": load_config(DATA / "env_dev.yaml"), "staging": load_config(DATA / "env_staging.yaml"),
            "prod": load_config(DATA / "env_prod.yaml")}


def _inventory(configs, catalog, audit="audit.json"):
    return build_inventory(configs, audit=load_audit(DATA / audit), usage=load_usage(DATA / "usage.yaml", configs),
                           catalog=catalog)


# -- urgency by hand ---------------------------------------------------------------------------------------
def test_urgency_by_hand(configs, catalog):
    items = _inventory(configs, catalog)
    by = {(i.provider, i.model_id): i for i in items}

    gpt = by[("openai", "gpt-4.1-mini")]
    # prod 2,000 x .40 + 400 x 1.60 = 1,440 (x1.0); staging and dev 100 x .40 + 20 x 1.60 = 72 (x0.5, x0.2).
    assert gpt.weighted_monthly_cost == pytest.approx(1440 + 0.5 * 72 + 0.2 * 72)  # 1,490.40
    assert gpt.environments == ["prod", "staging", "dev"]
    assert (gpt.weights, gpt.weights_basis) == ("api-gated", "model family openai")
    # The largest exposure: 1. Risk .6 API-gated + .3 announced terms + .1 licence unknown = 1. "mini": portable, 1.
    assert gpt.components["cost_exposure"]["value"] == 1.0
    assert gpt.components["vendor_risk"]["value"] == pytest.approx(1.0)
    assert gpt.components["portability"]["value"] == 1.0
    assert gpt.urgency == 100.0

    opus = by[("anthropic", "claude-opus-4-1")]
    # 10 x 15 + 2 x 75 = 300 in prod; 300 / 1,490.40 = .201288. Risk .7; frontier_required: portability 0.
    assert opus.weighted_monthly_cost == pytest.approx(300.0)
    assert opus.components["cost_exposure"]["value"] == pytest.approx(300 / 1490.4, abs=1e-6)
    assert opus.components["vendor_risk"]["value"] == pytest.approx(0.7)
    assert opus.components["portability"]["value"] == 0.0
    # 100 x (.6 x .201288 + .3 x .7 + .1 x 0) = 33.08
    assert opus.urgency == pytest.approx(33.08)

    fast = by[("groq", "llama-3.1-8b-instant")]
    # 5,000 x .05 + 1,000 x .08 = 330; open weights, Llama licence restricts commercial use: risk .1; 8B: portable.
    assert fast.weighted_monthly_cost == pytest.approx(330.0)
    assert (fast.weights, fast.catalog_id, fast.commercial_use) == ("open", "llama-3.1-8b-instruct", "restricted")
    assert fast.components["vendor_risk"]["value"] == pytest.approx(0.1)
    # 100 x (.6 x 330 / 1,490.40 + .3 x .1 + .1 x 1) = 26.29
    assert fast.urgency == pytest.approx(26.29)

    embed = by[("openai", "text-embedding-3-small")]
    # Audit only (pipelines/embed.py): no cost; the OpenAI endpoint makes it API-gated (.7); tier unknown (.5).
    assert (embed.weights, embed.weights_basis) == ("api-gated", "provider: the OpenAI API")
    assert embed.environments == ["prod"] and embed.findings[0]["where"] == "pipelines/embed.py:3"
    assert embed.urgency == pytest.approx(100 * (0.3 * 0.7 + 0.1 * 0.5))  # 26.0

    local = by[("ollama", "llama3.1:8b")]
    assert (local.weights, local.license, local.environments) == ("open", "Llama 3.1 Community License", ["dev"])
    assert local.urgency == pytest.approx(13.0)  # 100 x (.3 x .1 + .1 x 1)

    nemo = by[("vllm", "mistralai/Mistral-Nemo-Instruct-2407")]
    assert (nemo.license, nemo.redistribution.split(":")[0]) == ("Apache-2.0", "yes")
    assert nemo.components["vendor_risk"]["value"] == 0.0
    assert nemo.urgency == pytest.approx(10.0)
    assert nemo.components["cost_exposure"]["by_environment"]["staging/nemo"]["basis"] == "no usage given"

    # Most urgent first; ties broken by cost, then model id.
    assert [i.model_id for i in items] == [
        "gpt-4.1-mini", "claude-opus-4-1", "llama-3.1-8b-instant", "text-embedding-3-small", "llama3.1:8b",
        "mistral-nemo", "mistralai/Mistral-Nemo-Instruct-2407",
    ]
    contributions = sum(opus.components[k]["contribution"] for k in ("cost_exposure", "vendor_risk", "portability"))
    assert contributions == pytest.approx(opus.urgency, abs=0.01)


def test_audit_log_records_name_aliases_and_deprecations(configs, catalog):
    items = _inventory(configs, catalog, audit="audit.jsonl")
    by = {i.model_id: i for i in items}
    # {"from": "gpt", "to": "gemma-chat"}: "gpt" is a configured alias of gpt-4.1-mini.
    assert len(by["gpt-4.1-mini"].findings) == 1
    assert by["gemma-chat"].weights == "open"
    haiku = by["claude-haiku-4-5"]
    # Deprecated: .6 + .3 + .1 = 1; haiku is a small tier: portability 1; no cost.
    assert haiku.components["vendor_risk"]["value"] == pytest.approx(1.0)
    assert haiku.urgency == pytest.approx(40.0)
    assert any("announced change: deprecated" in f for f in haiku.components["vendor_risk"]["factors"])


def test_modelswap_audit_report_findings(configs, catalog):
    # The shape of `modelswap audit --json`: model_id and model_path findings are dependencies; keys, endpoints
    # and prompt formats are not.
    findings = load_audit(DATA / "audit_scan.json")
    assert [f.model_id for f in findings] == ["gpt-4.1-mini", "claude-3-5-haiku-latest", "models/tinyfin-7b-q4.gguf"]
    items = build_inventory(configs, audit=findings, catalog=catalog)
    by = {i.model_id: i for i in items}
    assert by["gpt-4.1-mini"].findings[0]["where"] == "pipelines/tag.py:12"
    assert len(by["gpt-4.1-mini"].findings) == 1          # matched to the configured dependency
    haiku = by["claude-3-5-haiku-latest"]
    assert (haiku.provider, haiku.weights) == ("anthropic", "api-gated")
    local = by["models/tinyfin-7b-q4.gguf"]
    assert (local.weights, local.weights_basis) == ("open", "audit: llama family")


def test_without_usage_every_cost_exposure_is_zero(configs, catalog):
    items = build_inventory(configs, catalog=catalog)
    assert all(i.components["cost_exposure"]["value"] == 0.0 for i in items)
    assert all(i.weighted_monthly_cost is None for i in items)
    assert items[0].components["cost_exposure"]["basis"].startswith("unknown")


# -- classification --------------------------------------------------------------------------------------
def _provider(name, kind, base_url="http://localhost:8000/v1", profile=None):
    return ProviderSpec(name=name, kind=kind, base_url=base_url, profile=profile or name)


@pytest.mark.parametrize(
    ("model_id", "weights", "provider", "expected", "basis"),
    [
        ("anything", "open", None, "open", "config: weights"),
        ("meta-llama/Llama-3.3-70B-Instruct", None, None, "open", "catalog: llama-3.3-70b-instruct"),
        ("claude-sonnet-4-5", None, None, "api-gated", "model family claude"),
        ("my-tuned-model", None, _provider("vertex", "vertex"), "api-gated", "provider kind vertex"),
        ("ft:my-model", None, _provider("openai", "openai", "https://api.openai.com/v1"), "api-gated", "the OpenAI API"),
        ("llama-3-8b-custom", None, _provider("local", "completion", profile="llamacpp"), "open", "local server"),
        ("qwen3-30b-a3b", None, _provider("together", "openai", "https://api.together.xyz/v1"), "open",
         "qwen family served by together"),
        ("my-finetune", None, _provider("inhouse", "openai", profile="vllm"), "unknown", "no weights field"),
    ],
)
def test_classify_weights(catalog, model_id, weights, provider, expected, basis):
    value, why, _ = classify_weights(model_id, weights, provider, catalog)
    assert value == expected
    assert basis in why


@pytest.mark.parametrize(
    ("env", "weight"),
    [("prod", 1.0), ("production", 1.0), ("eu-prod", 1.0), ("staging", 0.5), ("stg", 0.5), ("dev", 0.2),
     ("test", 0.2), ("local", 0.2), ("qa", 0.5), ("research", 0.5)],
)
def test_env_weight(env, weight):
    assert env_weight(env)[0] == weight


# -- inputs ------------------------------------------------------------------------------------------------
def test_usage_errors_name_file_line_and_field(tmp_path, configs):
    bad = tmp_path / "usage.yaml"
    bad.write_text("prod:\n  gpt: {monthly_input_tokens: 1e9}\nprd:\n  gpt: {monthly_input_tokens: 1}\n")
    with pytest.raises(ConfigError, match=r"usage.yaml:3: prd: no --config for environment 'prd'; did you mean 'prod'"):
        load_usage(bad, configs)
    bad.write_text("prod:\n  gtp: {monthly_input_tokens: 1}\n")
    with pytest.raises(ConfigError, match=r"usage.yaml:2: prod.gtp: 'gtp' is not a model alias"):
        load_usage(bad, configs)
    bad.write_text("prod:\n  gpt:\n    monthly_input_tokens: plenty\n")
    with pytest.raises(ConfigError, match=r"usage.yaml:3: prod.gpt.monthly_input_tokens: expected a number"):
        load_usage(bad, configs)
    bad.write_text("prod:\n  gpt: {monthly_tokens: 5}\n")
    with pytest.raises(ConfigError, match="unknown field 'monthly_tokens'"):
        load_usage(bad, configs)


def test_usage_for_environments_not_given_is_ignored_and_reported(tmp_path):
    configs = {"prod": load_config(DATA / "env_prod.yaml")}
    usage = load_usage(DATA / "usage.yaml", configs)
    assert usage.ignored == ["staging", "dev"]
    assert set(usage) == {("prod", "gpt"), ("prod", "smart"), ("prod", "fast")}
    out = io.StringIO()
    assert run_inventory([f"prod={DATA / 'env_prod.yaml'}"], usage=DATA / "usage.yaml", out=out) == 0
    assert "usage for staging, dev ignored: no --config for them" in out.getvalue()
    bad = tmp_path / "usage.yaml"
    bad.write_text("prod: [1, 2]\n")
    err = io.StringIO()
    assert run_inventory([f"prod={DATA / 'env_prod.yaml'}"], usage=bad, out=io.StringIO(), err=err) == 2
    assert "usage.yaml:1: prod: expected alias" in err.getvalue()


def test_audit_formats_and_errors(tmp_path):
    findings = load_audit(DATA / "audit.json")
    assert [f.model_id for f in findings] == ["gpt-4.1-mini", "text-embedding-3-small", "mistral-nemo"]
    assert findings[0].notice.startswith("vendor announced") and findings[0].where == "pipelines/tag.py:12"
    assert [f.model_id for f in load_audit(DATA / "audit.jsonl")] == ["gpt", "gemma-chat", "claude-haiku-4-5"]
    listed = tmp_path / "list.json"
    listed.write_text('[{"model": "gpt-4o"}]')
    assert load_audit(listed)[0].model_id == "gpt-4o"
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"model_id": "a"}\n{"model_id": \n')
    with pytest.raises(ConfigError, match=r"broken.jsonl:2: not valid JSON"):
        load_audit(broken)
    pretty = tmp_path / "pretty.json"
    pretty.write_text('{\n  "findings": [\n    {"model_id": "a",}\n  ]\n}\n')
    with pytest.raises(ConfigError, match=r"pretty.json:3: not valid JSON"):
        load_audit(pretty)
    nameless = tmp_path / "nameless.json"
    nameless.write_text('{"findings": [{"file": "x.py"}]}')
    with pytest.raises(ConfigError, match=r"findings\[0\]: the finding names no model"):
        load_audit(nameless)


# -- the command -------------------------------------------------------------------------------------------
def test_run_inventory_json():
    out = io.StringIO()
    code = run_inventory(ENVS, audit=DATA / "audit.json", usage=DATA / "usage.yaml", as_json=True, out=out)
    assert code == 0
    data = json.loads(out.getvalue())
    assert data["environments"]["prod"]["weight"] == 1.0 and data["environments"]["dev"]["weight"] == 0.2
    assert data["formula"]["urgency"].startswith("100 x (0.6 x cost_exposure")
    first = data["models"][0]
    assert first["model_id"] == "gpt-4.1-mini" and first["urgency"] == 100.0
    for name, weight in (("cost_exposure", 0.6), ("vendor_risk", 0.3), ("portability", 0.1)):
        assert first["components"][name]["weight"] == weight
        assert "contribution" in first["components"][name]
    assert {"weights", "weights_basis", "license", "license_basis", "redistribution", "environments"} <= set(first)


def test_run_inventory_table():
    out = io.StringIO()
    assert run_inventory([str(DATA / "env_prod.yaml"), str(DATA / "env_staging.yaml")], out=out) == 0
    assert "env_prod,env_staging" in out.getvalue()  # the file's stem names an environment given as a bare path
    lines = out.getvalue().splitlines()
    assert lines[0].split()[:3] == ["URGENCY", "MODEL", "PROVIDER"]
    assert any("claude-opus-4-1" in line and "api-gated" in line for line in lines)
    assert any(line.startswith("urgency = 100 x") for line in lines)


def test_run_inventory_is_deterministic():
    outs = []
    for _ in range(2):
        out = io.StringIO()
        run_inventory(ENVS, audit=DATA / "audit.json", usage=DATA / "usage.yaml", as_json=True, out=out)
        outs.append(out.getvalue())
    assert outs[0] == outs[1]


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"configs": []}, "at least one --config"),
        ({"configs": [str(DATA / "missing.yaml")]}, "config file not found"),
        ({"configs": [f"a={DATA / 'env_dev.yaml'}", f"a={DATA / 'env_prod.yaml'}"]}, "given twice"),
        ({"configs": ENVS, "audit": DATA / "missing.json"}, "cannot read the audit file"),
    ],
)
def test_run_inventory_bad_input_exits_2(kwargs, words):
    err = io.StringIO()
    assert run_inventory(out=io.StringIO(), err=err, **kwargs) == 2
    assert err.getvalue().startswith("error: ") and words in err.getvalue()
    assert "Traceback" not in err.getvalue()
