"""Kind `vertex` (Vertex AI v1 generateContent) against the official contracts in tests/data/contracts.

Requests must pass check_request.py --api vertex-generate --strict; every response, stream and error example
must parse, through the client, to what check_response.py normalises. Vertex answers in the Gemini API's
envelope (the same GenerateContentResponse, the same google.rpc error body), so the Gemini examples are
checked here too, normalised as vertex-generate.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import httpx
import pytest

import modelswap
from modelswap._config import loads_config

CONTRACTS = Path(__file__).resolve().parents[1] / "data" / "contracts"  # the facts (see its PROVENANCE.md)
KIT = Path(__file__).resolve().parents[1] / "contracts_kit"  # our check_request.py / check_response.py
EXAMPLES = CONTRACTS / "examples" / "vertex-generate"
SHARED = CONTRACTS / "examples" / "gemini-generate"

TOKEN = "ya29." + "a0Test-0123456789abcdefghijklmnopqrstuv"
SSE = {"content-type": "text/event-stream"}
ROOT = (
    "https://us-central1-aiplatform.googleapis.com/v1/projects/my-project/locations/us-central1"
    "/publishers/google/models/gemini-2.5-flash"
)
OK_RESPONSE = {
    "candidates": [
        {"content": {"parts": [{"text": "ok"}], "role": "model"}, "finishReason": "STOP", "index": 0}
    ],
    "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 1, "totalTokenCount": 4},
    "modelVersion": "gemini-2.5-flash",
}
OK_STREAM = "data: " + json.dumps(OK_RESPONSE) + "\r\n\r\n"


@pytest.fixture(autouse=True)
def vertex_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VERTEX_ACCESS_TOKEN", TOKEN)
    monkeypatch.setenv("VERTEX_PROJECT", "my-project")
    monkeypatch.setenv("VERTEX_LOCATION", "us-central1")


def _run(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(KIT / script), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _normalized(*args: str) -> dict[str, Any]:
    result = _run("check_response.py", "--api", "vertex-generate", "--json", *args)
    return json.loads(result.stdout)["normalized"]


PRESET = "preset: vertex"
BY_KIND = (
    "kind: vertex, base_url: 'https://us-central1-aiplatform.googleapis.com/v1/projects/my-project/locations/"
    "us-central1', api_key_env: VERTEX_ACCESS_TOKEN"
)

Handler = Callable[[httpx.Request], httpx.Response]


def _client(handler: Handler, retries: int = 0, provider: str = PRESET) -> modelswap.Client:
    retry = f"{{max_retries: {retries}, initial_backoff_s: 0, max_backoff_s: 0}}"
    config = loads_config(
        f"providers:\n  gcp: {{{provider}, retry: {retry}}}\n"
        "models:\n  flash: {provider: gcp, model_id: gemini-2.5-flash}\n"
        "default: flash\n"
    )
    return modelswap.Client(config, transport=httpx.MockTransport(handler))


def _recording(sent: list[httpx.Request], stream: bool) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        if stream:
            return httpx.Response(200, text=OK_STREAM, headers=SSE)
        return httpx.Response(200, json=OK_RESPONSE)

    return handler


def _check_request(body: dict[str, Any], tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "body.json"
    path.write_text(json.dumps(body))
    return _run("check_request.py", "--api", "vertex-generate", *extra, str(path))


MULTI_TURN = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Hi"},
    {"role": "assistant", "content": "Hello"},
    {"role": "user", "content": "Joke?"},
]
SCHEMA = {
    "type": "object",
    "$defs": {
        "Item": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "qty": {"type": "integer", "minimum": 1}},
            "required": ["name"],
        }
    },
    "properties": {
        "items": {"type": "array", "items": {"$ref": "#/$defs/Item"}, "minItems": 1},
        "note": {"type": ["string", "null"]},
    },
    "required": ["items"],
    "additionalProperties": False,
}
CASES: dict[str, tuple[Any, dict[str, Any]]] = {
    "system-user": ("Hello, world", {"system": "Be brief."}),
    "multi-turn": (MULTI_TURN, {}),
    "params": (MULTI_TURN, {"temperature": 0.2, "max_tokens": 256, "stop": ["END"], "top_p": 0.5, "seed": 3}),
    "vertex-extras": (
        "Hello",
        {"labels": {"team": "data"}, "top_k": 20, "thinking_config": {"thinking_budget": 0}},
    ),
}


@pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])
@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("provider", [PRESET, BY_KIND], ids=["preset", "kind"])
def test_requests_pass_check_request_strict(case: str, stream: bool, provider: str, tmp_path: Path) -> None:
    prompt, args = CASES[case]
    sent: list[httpx.Request] = []
    client = _client(_recording(sent, stream), provider=provider)
    if stream:
        *deltas, final = list(client.stream(prompt, **args))
        assert "".join(deltas) == final.text == "ok"
    else:
        assert client.complete(prompt, **args).text == "ok"
    request = sent[0]
    wanted = f"{ROOT}:streamGenerateContent?alt=sse" if stream else f"{ROOT}:generateContent"
    assert request.method == "POST" and str(request.url) == wanted
    assert request.headers["authorization"] == f"Bearer {TOKEN}" and "x-goog-api-key" not in request.headers
    body = json.loads(request.content)
    assert all(
        content["role"] in ("user", "model") for content in body["contents"]
    )  # Vertex requires the role
    result = _check_request(body, tmp_path, "--strict")
    assert result.returncode == 0, result.stdout + result.stderr


def test_structured_output_request_passes_check_request(tmp_path: Path) -> None:
    sent: list[httpx.Request] = []
    answer = {
        **OK_RESPONSE,
        "candidates": [
            {"content": {"parts": [{"text": '{"items": [{"name": "tea"}]}'}]}, "finishReason": "STOP"}
        ],
    }
    client = _client(lambda r: sent.append(r) or httpx.Response(200, json=answer))
    assert client.complete("List.", schema=SCHEMA).data == {"items": [{"name": "tea"}]}
    body = json.loads(sent[0].content)
    schema = body["generationConfig"]["responseSchema"]
    assert schema["properties"]["items"]["items"]["properties"]["qty"] == {"type": "INTEGER", "minimum": 1}
    assert (
        schema["properties"]["items"]["minItems"] == "1"
    )  # int64 is a JSON string in Vertex's discovery doc
    result = _check_request(body, tmp_path, "--strict")
    assert result.returncode == 0, result.stdout + result.stderr


def test_docs_request_is_what_the_adapter_sends() -> None:
    sent: list[httpx.Request] = []
    _client(_recording(sent, False)).complete("Hello", max_tokens=100)
    assert json.loads(sent[0].content) == json.loads((EXAMPLES / "docs-text.request.json").read_text())


def _examples(pattern: str) -> list[Path]:
    return sorted([*EXAMPLES.glob(pattern), *SHARED.glob(pattern)]) if EXAMPLES.is_dir() else []


SUCCESS = [p for p in _examples("*.response.json") if ".error." not in p.name]
STREAMS = _examples("*.response.sse")
ERRORS = _examples("*.error.response.json")


def _id(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def test_there_are_examples_to_check() -> None:
    assert any(p.parent == EXAMPLES for p in SUCCESS) and STREAMS and ERRORS


@pytest.mark.parametrize("example", SUCCESS, ids=_id)
def test_responses_parse_to_the_reference_normalisation(example: Path) -> None:
    expected = _normalized(str(example))
    body = json.loads(example.read_text())
    client = _client(lambda r: httpx.Response(200, json=body))
    if str(expected["finish_reason"]).startswith("PROMPT_BLOCKED:"):
        with pytest.raises(modelswap.RequestRejectedError) as caught:
            client.complete("x")
        assert caught.value.error_type == expected["finish_reason"]
        return
    completion = client.complete("x")
    usage = expected["usage"] or {}
    assert (completion.text, completion.finish_reason) == (expected["text"], expected["finish_reason"])
    assert (completion.input_tokens, completion.output_tokens) == (
        usage.get("input_tokens"),
        usage.get("output_tokens"),
    )


@pytest.mark.parametrize("example", STREAMS, ids=_id)
def test_streams_parse_to_the_reference_normalisation(example: Path) -> None:
    expected = _normalized(str(example))
    raw = example.read_bytes()
    *deltas, final = list(_client(lambda r: httpx.Response(200, content=raw, headers=SSE)).stream("x"))
    usage = expected["usage"] or {}
    assert (
        "".join(deltas) == final.text == expected["text"] and final.finish_reason == expected["finish_reason"]
    )
    assert (final.input_tokens, final.output_tokens) == (
        usage.get("input_tokens"),
        usage.get("output_tokens"),
    )


@pytest.mark.parametrize("example", ERRORS, ids=_id)
def test_errors_map_to_typed_errors_with_the_reference_message(example: Path) -> None:
    found = re.search(r"-(\d{3})\b", example.name)
    assert found
    status = int(found.group(1))
    body = json.loads(example.read_text())
    expected = _normalized("--status", str(status), str(example))["error"]
    client = _client(lambda r: httpx.Response(status, json=body))
    with pytest.raises(modelswap.ProviderError) as caught:
        client.complete("x")
    error = caught.value
    assert error.status == status and error.error_type == expected["type"]
    assert expected["message"].rstrip(".") in str(error) and TOKEN not in str(error)
    if status == 429:
        assert (
            isinstance(error, modelswap.RateLimitedError) and error.retry_after == expected["retry_delay_s"]
        )
    else:
        assert type(error) is modelswap.RequestRejectedError


def test_unset_location_is_a_config_error_naming_the_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VERTEX_LOCATION")
    monkeypatch.delenv("VERTEX_PROJECT")
    with pytest.raises(modelswap.ConfigError, match="VERTEX_LOCATION and VERTEX_PROJECT"):
        _client(lambda r: httpx.Response(200, json=OK_RESPONSE)).complete("x")
