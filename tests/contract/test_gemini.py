"""Kind `gemini` (Gemini API v1beta generateContent) against the official contracts in tests/data/contracts.

Requests must pass check_request.py --strict; every response, stream and error example must parse, through the
client, to what check_response.py normalises.
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
EXAMPLES = CONTRACTS / "examples" / "gemini-generate"

KEY = "AIza" + "SyTest-0123456789abcdefghijklmnopq"
SSE = {"content-type": "text/event-stream"}
ROOT = "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash"
OK_RESPONSE = {
    "candidates": [
        {"content": {"parts": [{"text": "ok"}], "role": "model"}, "finishReason": "STOP", "index": 0}
    ],
    "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 1, "totalTokenCount": 4},
    "modelVersion": "gemini-2.5-flash",
}


def _sse(*chunks: dict[str, Any]) -> str:
    """An alt=sse transcript as the API sends it: unnamed events, CRLF line endings, no sentinel."""
    return "".join(f"data: {json.dumps(chunk)}\r\n\r\n" for chunk in chunks)


def _chunk(text: str, finish: str | None = None, usage: dict[str, int] | None = None) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"parts": [{"text": text}], "role": "model"}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    return {
        "candidates": [candidate],
        "usageMetadata": usage or {"promptTokenCount": 3, "totalTokenCount": 3},
    }


OK_STREAM = _sse(
    _chunk("ok", "STOP", {"promptTokenCount": 3, "candidatesTokenCount": 1, "totalTokenCount": 4})
)


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", KEY)


def _run(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(KIT / script), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _normalized(*args: str) -> dict[str, Any]:
    result = _run("check_response.py", "--api", "gemini-generate", "--json", *args)
    return json.loads(result.stdout)["normalized"]


PRESET = "preset: gemini"
BY_KIND = (
    "kind: gemini, base_url: 'https://generativelanguage.googleapis.com/v1beta', api_key_env: GEMINI_API_KEY"
)

Handler = Callable[[httpx.Request], httpx.Response]


def _client(handler: Handler, retries: int = 0, provider: str = PRESET) -> modelswap.Client:
    """A client whose default model is on provider `google`; retries wait no time."""
    retry = f"{{max_retries: {retries}, initial_backoff_s: 0, max_backoff_s: 0}}"
    config = loads_config(
        f"providers:\n  google: {{{provider}, retry: {retry}}}\n"
        "models:\n  flash: {provider: google, model_id: gemini-2.5-flash}\n"
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
    return _run("check_request.py", "--api", "gemini-generate", *extra, str(path))


MULTI_TURN = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Hi"},
    {"role": "assistant", "content": "Hello"},
    {"role": "user", "content": "Joke?"},
]
CASES: dict[str, tuple[Any, dict[str, Any]]] = {
    "system-user": ("Hello, world", {"system": "Be brief."}),
    "multi-turn": (MULTI_TURN, {}),
    "developer-and-late-system": (
        [
            {"role": "developer", "content": "Rule one."},
            {"role": "user", "content": "Hi"},
            {"role": "system", "content": "Rule two."},
            {"role": "user", "content": "Again"},
        ],
        {},
    ),
    "temperature-max_tokens-stop-seed": (
        MULTI_TURN,
        {"temperature": 0.2, "max_tokens": 256, "stop": ["\n\n", "END"], "seed": 7},
    ),
    "top_p-stop-string": ("Hello", {"system": "Be brief.", "top_p": 0.9, "max_tokens": 16, "stop": "\n"}),
    "provider-specific-extras": (
        "Hello",
        {
            "top_k": 40,
            "thinking_config": {"thinking_budget": 0},
            "presence_penalty": 0.5,
            "safety_settings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_ONLY_HIGH"}],
        },
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
    assert request.headers["x-goog-api-key"] == KEY and KEY not in str(request.url)
    assert "authorization" not in request.headers
    body = json.loads(request.content)
    assert {c["role"] for c in body["contents"]} <= {"user", "model"}
    result = _check_request(body, tmp_path, "--strict")
    assert result.returncode == 0, result.stdout + result.stderr


def test_generic_params_are_translated_like_the_docs_example() -> None:
    sent: list[httpx.Request] = []
    _client(_recording(sent, False)).complete(
        "Hello there",
        system="You are a cat. Your name is Neko.",
        stop=["Title"],
        temperature=1.0,
        max_tokens=800,
        top_p=0.8,
        top_k=10,
        thinkingConfig={"thinkingBudget": 0},
    )
    body = json.loads(sent[0].content)
    example = json.loads((EXAMPLES / "docs-system-config.request.json").read_text())
    # The docs spell it system_instruction (the proto name); the adapter sends JSON names, as for all fields.
    assert body.pop("systemInstruction") == example.pop("system_instruction")
    assert body == example


def test_docs_text_example_is_what_a_bare_prompt_sends() -> None:
    sent: list[httpx.Request] = []
    _client(_recording(sent, False)).complete("Explain how AI works in a few words")
    example = json.loads((EXAMPLES / "docs-text.request.json").read_text())
    body = json.loads(sent[0].content)
    assert body["contents"][0]["parts"] == example["contents"][0]["parts"]
    assert body == {"contents": [{"role": "user", **example["contents"][0]}]}  # the role is always explicit


PERSON = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Person",
    "type": "object",
    "$defs": {
        "Address": {
            "title": "Address",
            "type": "object",
            "properties": {
                "city": {"title": "City", "type": "string"},
                "zip": {"type": "string", "pattern": "^[0-9]{5}$"},
            },
            "required": ["city"],
            "additionalProperties": False,
        }
    },
    "properties": {
        "name": {"title": "Name", "type": "string", "minLength": 1},
        "age": {"anyOf": [{"type": "integer", "minimum": 0}, {"type": "null"}], "default": None},
        "kind": {"const": "person"},
        "address": {
            "anyOf": [{"$ref": "#/$defs/Address"}, {"type": "null"}],
            "description": "Where they live.",
        },
        "tags": {
            "type": "array",
            "items": {"type": "string", "format": "email"},
            "maxItems": 3,
            "uniqueItems": True,
        },
        "score": {"type": ["number", "null"], "exclusiveMaximum": 1},
        "level": {"enum": [1, 2, 3]},
        "born": {"type": "string", "format": "date-time"},
    },
    "required": ["name", "age", "kind"],
    "additionalProperties": False,
}
SCHEMAS: dict[str, dict[str, Any]] = {
    "enum-object": {"type": "object", "properties": {"label": {"enum": ["a", "b"]}}, "required": ["label"]},
    "pydantic-person": PERSON,
    "array-of-objects": {
        "type": "array",
        "items": {
            "type": "object",
            "properties": {"x": {"type": "integer"}, "y": {"type": ["string", "integer"]}},
        },
        "minItems": 1,
    },
    "one-of": {"type": "object", "properties": {"v": {"oneOf": [{"type": "string"}, {"type": "boolean"}]}}},
    "free-form-falls-back": {"type": "object", "additionalProperties": {"type": "integer"}},
}
ANSWERS = {
    "enum-object": '{"label": "a"}',
    "pydantic-person": '{"name": "Ann", "age": null, "kind": "person", "level": 2}',
    "array-of-objects": '[{"x": 1, "y": "z"}]',
    "one-of": '{"v": true}',
    "free-form-falls-back": '{"a": 1}',
}


@pytest.mark.parametrize("name", list(SCHEMAS))
def test_structured_output_requests_pass_check_request(name: str, tmp_path: Path) -> None:
    schema = SCHEMAS[name]
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(
            200,
            json={
                **OK_RESPONSE,
                "candidates": [
                    {"content": {"parts": [{"text": ANSWERS[name]}], "role": "model"}, "finishReason": "STOP"}
                ],
            },
        )

    completion = _client(handler).complete("Answer.", system="Be brief.", schema=schema)
    assert completion.data == json.loads(ANSWERS[name]) and completion.attempts == 1
    body = json.loads(sent[0].content)
    config = body["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    if name == "free-form-falls-back":
        assert (
            "responseSchema" not in config and "JSON Schema" in body["systemInstruction"]["parts"][0]["text"]
        )
    else:
        assert "responseSchema" in config and body["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    result = _check_request(body, tmp_path, "--strict")
    assert result.returncode == 0, result.stdout + result.stderr


def test_response_json_schema_opt_in_passes_check_request(tmp_path: Path) -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(
            200,
            json={
                **OK_RESPONSE,
                "candidates": [
                    {
                        "content": {"parts": [{"text": '{"name": "Ann", "age": 3, "kind": "person"}'}]},
                        "finishReason": "STOP",
                    }
                ],
            },
        )

    completion = _client(handler).complete("Who?", schema=PERSON, schema_field="responseJsonSchema")
    assert completion.data["name"] == "Ann"
    body = json.loads(sent[0].content)
    assert body["generationConfig"]["responseJsonSchema"]["$defs"] == PERSON["$defs"]
    assert "schema_field" not in body and "responseSchema" not in body["generationConfig"]
    result = _check_request(body, tmp_path, "--strict")
    assert result.returncode == 0, result.stdout + result.stderr


def test_bad_example_is_refused_by_the_checker() -> None:
    """The checker itself catches the OpenAI-shaped mistakes this adapter must never make."""
    bad = EXAMPLES / "constructed-openai-style.bad.request.json"
    result = _run("check_request.py", "--api", "gemini-generate", str(bad))
    assert result.returncode == 1 and "ERROR $.contents[1].role" in result.stdout


SUCCESS = (
    sorted(p for p in EXAMPLES.glob("*.response.json") if ".error." not in p.name)
    if EXAMPLES.is_dir()
    else []
)
STREAMS = sorted(EXAMPLES.glob("*.response.sse")) if EXAMPLES.is_dir() else []
ERRORS = sorted(EXAMPLES.glob("*.error.response.json")) if EXAMPLES.is_dir() else []


def _status(example: Path) -> int:
    found = re.search(r"-(\d{3})\b", example.name)
    assert found, example.name
    return int(found.group(1))


def test_there_are_examples_to_check() -> None:
    assert SUCCESS and STREAMS and ERRORS


@pytest.mark.parametrize("example", SUCCESS, ids=lambda p: p.name)
def test_responses_parse_to_the_reference_normalisation(example: Path) -> None:
    expected = _normalized(str(example))
    body = json.loads(example.read_text())  # a JSON array is streamGenerateContent without alt=sse
    client = _client(lambda r: httpx.Response(200, json=body))
    if str(expected["finish_reason"]).startswith("PROMPT_BLOCKED:"):
        with pytest.raises(modelswap.RequestRejectedError) as caught:
            client.complete("x")
        assert caught.value.error_type == expected["finish_reason"]
        assert "blocked the prompt" in str(caught.value) and expected["finish_reason"].split(":")[1] in str(
            caught.value
        )
        return
    completion = client.complete("x")
    usage = expected["usage"] or {}
    assert (completion.text, completion.finish_reason) == (expected["text"], expected["finish_reason"])
    assert (completion.input_tokens, completion.output_tokens) == (
        usage.get("input_tokens"),
        usage.get("output_tokens"),
    )


@pytest.mark.parametrize("example", STREAMS, ids=lambda p: p.name)
def test_streams_parse_to_the_reference_normalisation(example: Path) -> None:
    expected = _normalized(str(example))
    raw = example.read_bytes()
    assert b"\r\n" in raw  # the API's CRLF framing is part of what is tested
    *deltas, final = list(_client(lambda r: httpx.Response(200, content=raw, headers=SSE)).stream("x"))
    usage = expected["usage"] or {}
    assert all(isinstance(delta, str) and delta for delta in deltas) and len(deltas) == expected["events"]
    assert "".join(deltas) == final.text == expected["text"]
    assert final.finish_reason == expected["finish_reason"]
    assert (final.input_tokens, final.output_tokens) == (
        usage.get("input_tokens"),
        usage.get("output_tokens"),
    )


@pytest.mark.parametrize("example", ERRORS, ids=lambda p: p.name)
def test_errors_map_to_typed_errors_with_the_reference_message(example: Path) -> None:
    status = _status(example)
    body = json.loads(example.read_text())
    expected = _normalized("--status", str(status), str(example))["error"]
    calls: list[httpx.Request] = []
    client = _client(lambda r: calls.append(r) or httpx.Response(status, json=body))
    with pytest.raises(modelswap.ProviderError) as caught:
        client.complete("x")
    error = caught.value
    assert len(calls) == 1  # max_retries: 0
    assert error.status == status and error.error_type == expected["type"]
    assert expected["message"].rstrip(".") in str(error)
    assert KEY not in str(error)
    if status == 429:
        assert isinstance(error, modelswap.RateLimitedError)
        assert error.retry_after == expected["retry_delay_s"] == 37
        assert "quota GenerateRequestsPerMinutePerProjectPerModel-FreeTier" in str(error)
    else:
        assert type(error) is modelswap.RequestRejectedError


@pytest.mark.parametrize("example", [e for e in ERRORS if _status(e) == 429], ids=lambda p: p.name)
def test_rate_limits_are_retried(example: Path) -> None:
    failure = httpx.Response(429, json=json.loads(example.read_text()), headers={"retry-after": "0"})
    answers = iter([failure, httpx.Response(200, json=OK_RESPONSE)])
    completion = _client(lambda r: next(answers), retries=1).complete("x")
    assert (completion.text, completion.attempts) == ("ok", 2)


@pytest.mark.parametrize("example", [e for e in ERRORS if _status(e) < 429], ids=lambda p: p.name)
def test_request_errors_are_not_retried(example: Path) -> None:
    calls: list[httpx.Request] = []
    body = json.loads(example.read_text())
    client = _client(lambda r: calls.append(r) or httpx.Response(_status(example), json=body), retries=3)
    with pytest.raises(modelswap.RequestRejectedError):
        client.complete("x")
    assert len(calls) == 1


def _error_event(code: int, status: str, message: str) -> str:
    return _sse({"error": {"code": code, "message": message, "status": status}})


def test_mid_stream_error_after_a_delta_raises_without_retry() -> None:
    calls: list[httpx.Request] = []
    raw = (_sse(_chunk("ok")) + _error_event(503, "UNAVAILABLE", "The model is overloaded.")).encode()
    client = _client(lambda r: calls.append(r) or httpx.Response(200, content=raw, headers=SSE), retries=3)
    seen: list[Any] = []
    with pytest.raises(modelswap.TransientError, match="mid-stream: The model is overloaded") as caught:
        for item in client.stream("x"):
            seen.append(item)
    assert seen == ["ok"] and len(calls) == 1 and caught.value.error_type == "UNAVAILABLE"


def test_mid_stream_error_before_any_delta_is_retried() -> None:
    calls: list[httpx.Request] = []
    answers = iter(
        [_error_event(503, "UNAVAILABLE", "The model is overloaded.").encode(), OK_STREAM.encode()]
    )
    client = _client(
        lambda r: calls.append(r) or httpx.Response(200, content=next(answers), headers=SSE), retries=1
    )
    *deltas, final = list(client.stream("x"))
    assert deltas == ["ok"] and final.text == "ok" and final.attempts == 2 and len(calls) == 2


def test_mid_stream_invalid_argument_is_not_retried() -> None:
    calls: list[httpx.Request] = []
    raw = _error_event(400, "INVALID_ARGUMENT", "Request contains an invalid argument.").encode()
    client = _client(lambda r: calls.append(r) or httpx.Response(200, content=raw, headers=SSE), retries=2)
    with pytest.raises(modelswap.RequestRejectedError, match="rejected the request mid-stream"):
        list(client.stream("x"))
    assert len(calls) == 1


def test_a_blocked_prompt_in_a_stream_is_refused_without_retry() -> None:
    blocked = json.loads((EXAMPLES / "constructed-prompt-blocked.response.json").read_text())
    calls: list[httpx.Request] = []
    raw = _sse(blocked).encode()
    client = _client(lambda r: calls.append(r) or httpx.Response(200, content=raw, headers=SSE), retries=2)
    with pytest.raises(modelswap.RequestRejectedError, match="blocked the prompt") as caught:
        list(client.stream("x"))
    assert caught.value.error_type == "PROMPT_BLOCKED:SAFETY" and len(calls) == 1
    assert "HARM_CATEGORY_HARASSMENT: HIGH" in str(caught.value)
