"""Kind `openai` against the official contracts in tests/data/contracts.

Requests must pass check_request.py for every OpenAI-compatible server profile; every response, stream and error
example must parse to what check_response.py normalises.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

import modelswap
from modelswap._config import loads_config
from modelswap._retry import retry_after_seconds

CONTRACTS = Path(__file__).resolve().parents[1] / "data" / "contracts"  # the facts (see its PROVENANCE.md)
KIT = Path(__file__).resolve().parents[1] / "contracts_kit"  # our check_request.py / check_response.py
EXAMPLES = CONTRACTS / "examples" / "openai-chat"

PROFILES = ["openai", "groq", "together", "vllm", "llamacpp", "ollama", "tgi", "openrouter"]
OK_BODY = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}]}


def _checker(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(KIT / script), *args], capture_output=True, text=True, timeout=60)


def _normalized(*args: str) -> dict:
    result = _checker("check_response.py", "--json", *args)
    return json.loads(result.stdout)["normalized"]


def _client(profile: str, handler, retries: int = 0) -> modelswap.Client:
    config = loads_config(
        f"providers:\n  p: {{preset: {profile}, api_key_required: false, retry: {{max_retries: {retries}}}}}\n"
        "models:\n  m: {provider: p, model_id: some-model}\ndefault: m\n"
    )
    return modelswap.Client(config, transport=httpx.MockTransport(handler))


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])
def test_requests_pass_check_request(profile, stream, tmp_path, monkeypatch):
    sent = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        if stream:
            return httpx.Response(200, text='data: {"choices":[{"index":0,"delta":{"content":"ok"},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n',
                                  headers={"content-type": "text/event-stream"})
        return httpx.Response(200, json=OK_BODY)

    client = _client(profile, handler)
    args = dict(system="Be brief.", temperature=0.2, top_p=0.9, max_tokens=16, stop=["\n"], seed=7)
    if stream:
        list(client.stream("Hello", **args))
    else:
        client.complete([{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"},
                         {"role": "user", "content": "Again"}], **args)
    path = tmp_path / "body.json"
    path.write_text(json.dumps(sent[0]))
    result = _checker("check_request.py", "--api", "openai-chat", "--profile", profile, "--strict", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_structured_output_request_passes_check_request(tmp_path):
    schema = {"type": "object", "properties": {"label": {"enum": ["a", "b"]}}, "required": ["label"]}
    sent = []

    def handler(request):
        sent.append(json.loads(request.content))
        return httpx.Response(200, json={**OK_BODY, "choices": [{**OK_BODY["choices"][0], "message": {"role": "assistant", "content": '{"label": "a"}'}}]})

    assert _client("openai", handler).complete("Pick", schema=schema).data == {"label": "a"}
    path = tmp_path / "body.json"
    path.write_text(json.dumps(sent[0]))
    result = _checker("check_request.py", "--api", "openai-chat", "--strict", str(path))
    assert result.returncode == 0, result.stdout


def test_openai_profile_sends_max_completion_tokens():
    sent = []
    _client("openai", lambda r: sent.append(json.loads(r.content)) or httpx.Response(200, json=OK_BODY)).complete("x", max_tokens=5)
    assert sent[0]["max_completion_tokens"] == 5 and "max_tokens" not in sent[0]


SUCCESS = sorted(p for p in EXAMPLES.glob("*.response.json") if ".error." not in p.name) if EXAMPLES.is_dir() else []
STREAMS = sorted(p for p in EXAMPLES.glob("*.response.sse") if ".bad." not in p.name) if EXAMPLES.is_dir() else []


@pytest.mark.parametrize("example", SUCCESS, ids=lambda p: p.name)
def test_responses_parse_to_the_reference_normalisation(example):
    expected = _normalized("--api", "openai-chat", str(example))
    body = json.loads(example.read_text())
    completion = _client("openai", lambda r: httpx.Response(200, json=body)).complete("x")
    usage = expected["usage"] or {}
    assert (completion.text, completion.finish_reason) == (expected["text"], expected["finish_reason"])
    assert (completion.input_tokens, completion.output_tokens) == (usage.get("input_tokens"), usage.get("output_tokens"))


@pytest.mark.parametrize("example", STREAMS, ids=lambda p: p.name)
def test_streams_parse_to_the_reference_normalisation(example):
    expected = _normalized("--api", "openai-chat", str(example))
    raw = example.read_bytes()
    client = _client("openai", lambda r: httpx.Response(200, content=raw, headers={"content-type": "text/event-stream"}))
    if expected["error"]:
        with pytest.raises(modelswap.ProviderError) as caught:
            list(client.stream("x"))
        assert expected["error"]["message"].rstrip(".") in str(caught.value)
        return
    *deltas, final = list(client.stream("x"))
    usage = expected["usage"] or {}
    assert "".join(deltas) == final.text == expected["text"]
    assert final.finish_reason == expected["finish_reason"]
    assert (final.input_tokens, final.output_tokens) == (usage.get("input_tokens"), usage.get("output_tokens"))


def test_truncated_stream_is_a_transient_error():
    raw = (EXAMPLES / "constructed-stream-truncated.bad.response.sse").read_bytes()
    client = _client("openai", lambda r: httpx.Response(200, content=raw, headers={"content-type": "text/event-stream"}))
    with pytest.raises(modelswap.TransientError, match="truncated"):
        list(client.stream("x"))


ERRORS = sorted(EXAMPLES.glob("*.error.response.json")) if EXAMPLES.is_dir() else []


def _status(example: Path, body: dict) -> int:
    digits = example.name.split("-")[1]
    if digits.isdigit():
        return int(digits)
    code = (body.get("error") or {}).get("code") if isinstance(body.get("error"), dict) else None
    return code if isinstance(code, int) else 400


@pytest.mark.parametrize("example", ERRORS, ids=lambda p: p.name)
def test_errors_map_to_typed_errors_with_the_reference_message(example):
    body = json.loads(example.read_text())
    status = _status(example, body)
    headers_file = example.with_name(example.name.replace(".response.json", ".headers.json"))
    headers = json.loads(headers_file.read_text()) if headers_file.exists() else {}
    args = ["--api", "openai-chat", "--status", str(status)] + (["--headers", str(headers_file)] if headers else [])
    expected = _normalized(*args, str(example))
    client = _client("openai", lambda r: httpx.Response(status, json=body, headers=headers))
    with pytest.raises(modelswap.ProviderError) as caught:
        client.complete("x")
    error = caught.value
    assert error.status == status
    assert expected["error"]["message"].rstrip(".") in str(error)
    wanted = {429: modelswap.RateLimitedError}.get(status, modelswap.TransientError if status >= 500 else modelswap.RequestRejectedError)
    assert isinstance(error, wanted)
    if status == 429:
        rate_limit = expected.get("rate_limit") or {}
        assert error.retry_after == (rate_limit.get("retry_after_s") or expected["error"]["retry_delay_s"])


@pytest.mark.parametrize(
    "headers",
    [{"retry-after": "7"}, {"retry-after-ms": "1500"}, {"retry-after": "Wed, 21 Oct 2099 07:28:00 GMT"}],
    ids=["seconds", "milliseconds", "http-date"],
)
def test_retry_after_headers_match_the_reference(headers, tmp_path):
    headers_file = tmp_path / "headers.json"
    headers_file.write_text(json.dumps(headers))
    body_file = tmp_path / "body.json"
    body_file.write_text(json.dumps({"error": {"message": "slow down", "type": "requests", "code": "rate_limit_exceeded"}}))
    expected = _normalized("--api", "openai-chat", "--status", "429", "--headers", str(headers_file), str(body_file))
    ours = retry_after_seconds(httpx.Headers(headers))
    assert ours == pytest.approx(expected["rate_limit"]["retry_after_s"], abs=2)
