"""Kind `ollama` (native /api/chat) against the official contracts in ../shared/contracts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

import modelswap
from modelswap._config import loads_config

CONTRACTS = Path(__file__).resolve().parents[2].parent / "shared" / "contracts"
EXAMPLES = CONTRACTS / "examples" / "ollama-chat"
pytestmark = pytest.mark.skipif(not CONTRACTS.is_dir(), reason="../shared/contracts is not beside the repository")

CONFIG = """\
providers:
  o: {preset: ollama-native, retry: {max_retries: 0}}
models:
  llama: {provider: o, model_id: llama3.2, context_window: 8192}
default: llama
"""
DONE = {"model": "llama3.2", "message": {"role": "assistant", "content": "{\"age\": 22, \"available\": false}"},
        "done": True, "done_reason": "stop", "prompt_eval_count": 5, "eval_count": 3}


def _run(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(CONTRACTS / script), *args], capture_output=True, text=True, timeout=60)


def _client(handler) -> modelswap.Client:
    return modelswap.Client(loads_config(CONFIG), transport=httpx.MockTransport(handler))


@pytest.mark.parametrize("mode", ["complete", "stream", "schema"])
def test_requests_pass_check_request(mode, tmp_path):
    sent = []

    def handler(request):
        sent.append(json.loads(request.content))
        if mode == "stream":
            return httpx.Response(200, content=(json.dumps(DONE) + "\n").encode(), headers={"content-type": "application/x-ndjson"})
        return httpx.Response(200, json=DONE)

    client = _client(handler)
    args = dict(system="Be brief.", temperature=0.1, top_p=0.9, max_tokens=32, stop=["\n"], seed=1)
    if mode == "stream":
        list(client.stream("Hi", **args))
    elif mode == "schema":
        schema = {"type": "object", "properties": {"age": {"type": "integer"}, "available": {"type": "boolean"}},
                  "required": ["age", "available"]}
        assert client.complete("Ollama is 22 and busy.", schema=schema).data == {"age": 22, "available": False}
    else:
        client.complete([{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"},
                         {"role": "user", "content": "Again"}], **args)
    body = sent[0]
    assert body["stream"] is (mode == "stream")
    assert not {"temperature", "max_tokens", "top_p", "seed", "stop"} & set(body)
    assert body.get("options", {}).get("num_ctx") == 8192
    path = tmp_path / "body.json"
    path.write_text(json.dumps(body))
    result = _run("check_request.py", "--api", "ollama-chat", "--strict", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


RESPONSES = sorted(p for p in EXAMPLES.glob("docs-chat-*.response.*")) if EXAMPLES.is_dir() else []


@pytest.mark.parametrize("example", RESPONSES, ids=lambda p: p.name)
def test_responses_and_streams_match_the_reference(example):
    expected = json.loads(_run("check_response.py", "--api", "ollama-chat", "--json", str(example)).stdout)["normalized"]
    raw = example.read_bytes()
    client = _client(lambda r: httpx.Response(200, content=raw, headers={"content-type": "application/x-ndjson"}))
    usage = expected["usage"] or {}
    if example.suffix == ".ndjson":
        *deltas, final = list(client.stream("x"))
        assert "".join(deltas) == final.text
    else:
        final = client.complete("x")
    assert final.text == expected["text"]
    assert final.finish_reason == expected["finish_reason"]
    assert (final.input_tokens, final.output_tokens) == (usage.get("input_tokens"), usage.get("output_tokens"))


def test_midstream_error_after_a_delta_raises_without_retry():
    raw = (EXAMPLES / "constructed-midstream-error.response.ndjson").read_bytes()
    calls = []
    client = _client(lambda r: calls.append(1) or httpx.Response(200, content=raw))
    seen = []
    with pytest.raises(modelswap.TransientError, match="error was encountered"):
        for item in client.stream("x"):
            seen.append(item)
    assert seen == [" Yes"] and len(calls) == 1


def test_model_not_found_says_how_to_pull_it():
    body = json.loads((EXAMPLES / "constructed-404.error.response.json").read_text())
    with pytest.raises(modelswap.RequestRejectedError, match="ollama pull") as caught:
        _client(lambda r: httpx.Response(404, json=body)).complete("x")
    assert caught.value.status == 404
