"""The Kestra ``llm_call`` flow across the two local families: for each built-in local alias, the request the flow's
http.Request task sends is a valid one for that alias's endpoint, and swapping Gemma for SmolLM2 changes the body's
``model`` and the endpoint, nothing else. Static: no server, no Kestra.

``llm_call`` speaks OpenAI's chat protocol only, and its ``model`` input is the id the endpoint serves (sent
verbatim, no alias resolution). Which id and endpoint an alias means comes from the config the flow is rendered
from (its ``default``), or from the KV keys MODELSWAP_MODEL_ID and MODELSWAP_ENDPOINT at run time. The raw aliases
(``kind: completion``, llama.cpp's ``/completion``) cannot be sent by it: rendering falls back to an
OpenAI-compatible alias, and ``llm_call_python`` (a modelswap alias as its ``model``) is their route.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from modelswap import load_config
from modelswap._presets import default_config
from modelswap.kestra import KV_ENDPOINT, KV_MODEL_ID, render_flows

REPO = Path(__file__).resolve().parents[3]
CHECK_REQUEST = REPO / "tests" / "contracts_kit" / "check_request.py"
GEMMA, SMOLLM2 = "http://127.0.0.1:8080", "http://127.0.0.1:8081"  # the built-in config's servers
# alias -> (model id, the server it lives on)
LOCAL = {
    "gemma-raw": ("gemma-3-270m", GEMMA),
    "gemma-chat": ("gemma-3-270m", GEMMA),
    "smollm2-chat": ("smollm2-135m-instruct", SMOLLM2),
    "smollm2-raw": ("smollm2-135m-instruct", SMOLLM2),
}
CHAT, RAW = ("gemma-chat", "smollm2-chat"), ("gemma-raw", "smollm2-raw")
PROMPT = {"prompt": 'Capital of France? Say "Paris"\n{braces} \\', "system": None, "temperature": 0.0, "max_tokens": 16}


def _pebble(template: str, inputs: dict[str, Any] | None = None, kv: dict[str, str] | None = None) -> str:
    """Render the Pebble the generator writes (toJson, ??, if/endif, kv()) with Jinja, as test_render.py does."""
    jinja2 = pytest.importorskip("jinja2")
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    env.filters["toJson"] = lambda value: json.dumps(value, ensure_ascii=False)
    env.globals["kv"] = lambda key, errorOnMissing=True: (kv or {}).get(key)  # noqa: N803 (Pebble's name)
    return env.from_string(template.replace("??", "or")).render(inputs=inputs or {})


def _config(tmp_path: Path, default: str) -> Path:
    """The built-in config (both families, on their default ports) with `default` as its default alias."""
    path = tmp_path / f"{default}.yaml"
    path.write_text(yaml.safe_dump({**default_config(GEMMA, smollm2_url=SMOLLM2), "default": default}, sort_keys=False))
    return path


def _flow(tmp_path: Path, default: str, flow_id: str = "llm_call") -> dict[str, Any]:
    return yaml.safe_load(render_flows(_config(tmp_path, default))[f"{flow_id}.yaml"])


def _request(flow: dict[str, Any], kv: dict[str, str] | None = None, **given: Any) -> tuple[str, dict[str, Any]]:
    """(URL, parsed JSON body) the chat task sends: each input as given, else its default with `kv` as the KV store."""
    inputs = {i["id"]: _pebble(i["defaults"], kv=kv) if isinstance(i.get("defaults"), str) and "{{" in i["defaults"]
              else i.get("defaults") for i in flow["inputs"]}
    inputs.update(PROMPT, **given)
    (chat,) = [t for t in flow["tasks"] if t["id"] == "chat"]
    return _pebble(chat["uri"], inputs), json.loads(_pebble(chat["body"], inputs))


def _contract_check(body: dict[str, Any], tmp_path: Path) -> None:
    """The provider contracts (tests/contracts_kit): a valid OpenAI chat request for llama.cpp's server."""
    path = tmp_path / "body.json"
    path.write_text(json.dumps(body))
    result = subprocess.run([sys.executable, str(CHECK_REQUEST), "--api", "openai-chat", "--profile", "llamacpp",
                             "--strict", str(path)], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0 and "ERROR" not in result.stdout, result.stdout + result.stderr


def test_the_aliases_are_what_this_file_assumes(tmp_path: Path) -> None:
    config = load_config(_config(tmp_path, "gemma-raw"))
    for alias, (model_id, server) in LOCAL.items():
        spec = config.models[alias]
        assert spec.model_id == model_id
        if alias in CHAT:
            assert (spec.provider.kind, spec.provider.base_url.rstrip("/")) == ("openai", f"{server}/v1")
        else:
            assert (spec.provider.kind, spec.provider.base_url.rstrip("/")) == ("completion", server)


@pytest.mark.parametrize("alias", CHAT)
def test_a_chat_alias_gets_an_openai_chat_request_for_its_own_server(alias: str, tmp_path: Path) -> None:
    model_id, server = LOCAL[alias]
    url, body = _request(_flow(tmp_path, alias))
    assert url == f"{server}/v1/chat/completions"
    assert body == {"model": model_id, "messages": [{"role": "user", "content": PROMPT["prompt"]}],
                    "temperature": 0.0, "max_tokens": 16}
    _contract_check(body, tmp_path)


@pytest.mark.parametrize("alias", ["gemma-raw", "smollm2-raw"])
def test_a_raw_alias_falls_back_to_the_chat_endpoint_of_the_same_weights(alias: str, tmp_path: Path) -> None:
    """llm_call cannot POST to /completion; rendered from a config whose default is a raw alias, its defaults are
    the same model on the same server through the chat endpoint. llm_call_python takes the raw alias itself."""
    model_id, server = LOCAL[alias]
    flow = _flow(tmp_path, alias)
    (chat,) = [t for t in flow["tasks"] if t["id"] == "chat"]
    assert chat["uri"].endswith("/chat/completions")  # no /completion route in this flow
    url, body = _request(flow)
    assert (url, body["model"]) == (f"{server}/v1/chat/completions", model_id)
    _contract_check(body, tmp_path)
    python_flow = _flow(tmp_path, alias, "llm_call_python")
    model_input = next(i for i in python_flow["inputs"] if i["id"] == "model")
    assert model_input["defaults"].endswith(f"?? '{alias}' }}}}")
    assert python_flow["tasks"][0]["env"]["MODELSWAP_MODEL"] == "{{ inputs.model }}"


def test_llm_call_sends_its_model_input_verbatim_not_as_an_alias(tmp_path: Path) -> None:
    """An alias typed as llm_call's `model` is not resolved: it goes out as is (the flow's header says so)."""
    _, body = _request(_flow(tmp_path, "gemma-chat"), model="smollm2-chat")
    assert body["model"] == "smollm2-chat"
    text = render_flows(_config(tmp_path, "gemma-chat"))["llm_call.yaml"]
    assert "not a modelswap alias: use llm_call_python for those" in text


@pytest.mark.parametrize("before", ["gemma-raw", "gemma-chat"])
def test_gemma_to_smollm2_changes_only_the_model_and_the_endpoint(before: str, tmp_path: Path) -> None:
    old, new = _flow(tmp_path, before), _flow(tmp_path, "smollm2-chat")

    def without_wire_defaults(flow: dict[str, Any]) -> dict[str, Any]:
        flow = json.loads(json.dumps(flow))
        for inp in flow["inputs"]:
            if inp["id"] in ("model", "endpoint"):
                inp.pop("defaults")
        return flow

    assert without_wire_defaults(old) == without_wire_defaults(new)  # the tasks, outputs, other inputs: identical
    (old_url, old_body), (new_url, new_body) = _request(old), _request(new)
    assert (old_body["model"], new_body["model"]) == ("gemma-3-270m", "smollm2-135m-instruct")
    assert {k: v for k, v in old_body.items() if k != "model"} == {k: v for k, v in new_body.items() if k != "model"}
    assert old_url.replace(GEMMA, SMOLLM2) == new_url != old_url


def test_the_kv_keys_swap_the_family_with_no_re_render(tmp_path: Path) -> None:
    """The shipped flow (rendered for Gemma) sent to SmolLM2 by the two KV keys only; the input form wins over KV."""
    flow = _flow(tmp_path, "gemma-raw")
    kv = {KV_MODEL_ID: "smollm2-135m-instruct", KV_ENDPOINT: f"{SMOLLM2}/v1"}
    (gemma_url, gemma_body), (smol_url, smol_body) = _request(flow), _request(flow, kv)
    assert (gemma_url, smol_url) == (f"{GEMMA}/v1/chat/completions", f"{SMOLLM2}/v1/chat/completions")
    assert {**gemma_body, "model": "smollm2-135m-instruct"} == smol_body
    _contract_check(smol_body, tmp_path)
    assert _request(flow, kv, model="gemma-3-270m", endpoint=f"{GEMMA}/v1") == (gemma_url, gemma_body)


@pytest.mark.parametrize("system", [None, "Answer in one word."])
def test_the_system_input_is_the_same_for_both_families(system: str | None, tmp_path: Path) -> None:
    for alias in CHAT:
        _, body = _request(_flow(tmp_path, alias), system=system)
        expected = ([{"role": "system", "content": system}] if system else []) + [
            {"role": "user", "content": PROMPT["prompt"]}]
        assert body["messages"] == expected and body["model"] == LOCAL[alias][0]
        _contract_check(body, tmp_path)
