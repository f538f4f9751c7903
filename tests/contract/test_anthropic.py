"""Kind `anthropic` (Messages API, anthropic-version 2023-06-01) against the official contracts in tests/data/contracts.

Requests must pass check_request.py --strict; every response, stream and error example must parse, through the
client, to what check_response.py normalises.
"""

from __future__ import annotations

import json
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
EXAMPLES = CONTRACTS / "examples" / "anthropic-messages"

KEY = "sk-ant-test-" + "abcdefghijklmnopqrstuvwx"
SSE = {"content-type": "text/event-stream"}
OK_MESSAGE = {
    "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-haiku-4-5",
    "content": [{"type": "text", "text": "ok"}], "stop_reason": "end_turn", "stop_sequence": None,
    "usage": {"input_tokens": 3, "output_tokens": 1},
}


def _sse(*events: dict[str, Any]) -> str:
    """An SSE transcript as the API sends it: each event named after its `type`."""
    return "".join(f"event: {event['type']}\ndata: {json.dumps(event)}\n\n" for event in events)


OK_HEAD = [
    {"type": "message_start", "message": {**OK_MESSAGE, "content": [], "stop_reason": None,
                                          "usage": {"input_tokens": 3, "output_tokens": 1}}},
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "ok"}},
]
OK_STREAM = _sse(
    *OK_HEAD,
    {"type": "content_block_stop", "index": 0},
    {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None}, "usage": {"output_tokens": 1}},
    {"type": "message_stop"},
)


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)


def _run(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(KIT / script), *args], capture_output=True, text=True, timeout=60)


def _normalized(*args: str) -> dict[str, Any]:
    result = _run("check_response.py", "--api", "anthropic-messages", "--json", *args)
    return json.loads(result.stdout)["normalized"]


PRESET = "preset: anthropic"
BY_KIND = "kind: anthropic, base_url: 'https://api.anthropic.com/v1', api_key_env: ANTHROPIC_API_KEY"


Handler = Callable[[httpx.Request], httpx.Response]


def _client(handler: Handler, retries: int = 0, provider: str = PRESET) -> modelswap.Client:
    """A client whose default model is on provider `claude`; retries wait no time."""
    retry = f"{{max_retries: {retries}, initial_backoff_s: 0, max_backoff_s: 0}}"
    config = loads_config(
        f"providers:\n  claude: {{{provider}, retry: {retry}}}\n"
        "models:\n  haiku: {provider: claude, model_id: claude-haiku-4-5}\n"
        "default: haiku\n"
    )
    return modelswap.Client(config, transport=httpx.MockTransport(handler))


def _recording(sent: list[httpx.Request], stream: bool) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        if stream:
            return httpx.Response(200, text=OK_STREAM, headers=SSE)
        return httpx.Response(200, json=OK_MESSAGE)

    return handler


def _check_request(body: dict[str, Any], tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "body.json"
    path.write_text(json.dumps(body))
    return _run("check_request.py", "--api", "anthropic-messages", *extra, str(path))


MULTI_TURN = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Hi"},
    {"role": "assistant", "content": "Hello"},
    {"role": "user", "content": "Joke?"},
]
CASES: dict[str, tuple[Any, dict[str, Any]]] = {
    "system-user": ("Hello, world", {"system": "Be brief."}),
    "multi-turn": (MULTI_TURN, {}),
    "temperature-max_tokens-stop": (MULTI_TURN, {"temperature": 0.2, "max_tokens": 256, "stop": ["\n\nHuman:", "END"]}),
    "top_p-stop-string": ("Hello", {"system": "Be brief.", "top_p": 0.9, "max_tokens": 16, "stop": "\n"}),
    "provider-specific-top_k": ("Hello", {"top_k": 40}),
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
    assert request.method == "POST" and str(request.url) == "https://api.anthropic.com/v1/messages"
    assert request.headers["x-api-key"] == KEY and request.headers["anthropic-version"] == "2023-06-01"
    body = json.loads(request.content)
    assert body.get("stream", False) is stream
    result = _check_request(body, tmp_path, "--strict")
    assert result.returncode == 0, result.stdout + result.stderr


def test_generic_params_are_translated() -> None:
    sent: list[httpx.Request] = []
    _client(_recording(sent, False)).complete(MULTI_TURN, temperature=0.2, max_tokens=256, stop=["\n\nHuman:"])
    body = json.loads(sent[0].content)
    example = json.loads((EXAMPLES / "constructed-system-stop.request.json").read_text())
    assert {k: v for k, v in body.items() if k != "model"} == {k: v for k, v in example.items() if k != "model"}


def test_temperature_with_top_p_is_sent_as_asked_and_only_warned(tmp_path: Path) -> None:
    """Both sampling params are legal in 2023-06-01; the checker warns that newer models may refuse the pair."""
    sent: list[httpx.Request] = []
    _client(_recording(sent, False)).complete("Hello", temperature=0.5, top_p=0.9)
    body = json.loads(sent[0].content)
    assert (body["temperature"], body["top_p"]) == (0.5, 0.9)
    result = _check_request(body, tmp_path)
    assert result.returncode == 0, result.stdout
    assert "WARN $.top_p" in result.stdout


def test_structured_output_request_passes_check_request(tmp_path: Path) -> None:
    schema = {"type": "object", "properties": {"label": {"enum": ["a", "b"]}}, "required": ["label"]}
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={**OK_MESSAGE, "content": [{"type": "text", "text": '{"label": "a"}'}]})

    assert _client(handler).complete("Pick one", system="Be brief.", schema=schema).data == {"label": "a"}
    body = json.loads(sent[0].content)
    assert '"label"' in body["system"] and body["system"].endswith("Be brief.")
    result = _check_request(body, tmp_path, "--strict")
    assert result.returncode == 0, result.stdout + result.stderr


def test_bad_example_is_refused_by_the_checker(tmp_path: Path) -> None:
    """The checker itself catches the OpenAI-shaped mistakes this adapter must never make."""
    bad = EXAMPLES / "constructed-openai-style.bad.request.json"
    result = _run("check_request.py", "--api", "anthropic-messages", str(bad))
    assert result.returncode == 1 and "ERROR $.stop" in result.stdout


SUCCESS = sorted(p for p in EXAMPLES.glob("*.response.json") if ".error." not in p.name) if EXAMPLES.is_dir() else []
STREAMS = sorted(EXAMPLES.glob("*.response.sse")) if EXAMPLES.is_dir() else []
ERRORS = sorted(EXAMPLES.glob("*.error.response.json")) if EXAMPLES.is_dir() else []


def test_there_are_examples_to_check() -> None:
    assert SUCCESS and STREAMS and ERRORS


@pytest.mark.parametrize("example", SUCCESS, ids=lambda p: p.name)
def test_responses_parse_to_the_reference_normalisation(example: Path) -> None:
    expected = _normalized(str(example))
    body = json.loads(example.read_text())
    completion = _client(lambda r: httpx.Response(200, json=body)).complete("x")
    usage = expected["usage"] or {}
    assert (completion.text, completion.finish_reason) == (expected["text"], expected["finish_reason"])
    assert (completion.input_tokens, completion.output_tokens) == (usage.get("input_tokens"), usage.get("output_tokens"))


@pytest.mark.parametrize("example", STREAMS, ids=lambda p: p.name)
def test_streams_parse_to_the_reference_normalisation(example: Path) -> None:
    expected = _normalized(str(example))
    raw = example.read_bytes()
    client = _client(lambda r: httpx.Response(200, content=raw, headers=SSE))
    if expected["error"]:
        with pytest.raises(modelswap.TransientError) as caught:  # overloaded_error: the server's trouble
            list(client.stream("x"))
        assert expected["error"]["message"].rstrip(".") in str(caught.value)
        assert caught.value.error_type == expected["error"]["type"]
        return
    *deltas, final = list(client.stream("x"))
    usage = expected["usage"] or {}
    assert all(isinstance(delta, str) and delta for delta in deltas)
    assert "".join(deltas) == final.text == expected["text"]
    assert final.finish_reason == expected["finish_reason"]
    assert (final.input_tokens, final.output_tokens) == (usage.get("input_tokens"), usage.get("output_tokens"))


@pytest.mark.parametrize("example", ERRORS, ids=lambda p: p.name)
def test_errors_map_to_typed_errors_with_the_reference_message(example: Path) -> None:
    status = int(example.name.split("-")[1])
    body = json.loads(example.read_text())
    headers_file = example.with_name(example.name.replace(".response.json", ".headers.json"))
    headers = json.loads(headers_file.read_text()) if headers_file.exists() else {}
    args = ["--status", str(status)] + (["--headers", str(headers_file)] if headers else [])
    expected = _normalized(*args, str(example))
    calls: list[httpx.Request] = []
    client = _client(lambda r: calls.append(r) or httpx.Response(status, json=body, headers=headers))
    with pytest.raises(modelswap.ProviderError) as caught:
        client.complete("x")
    error = caught.value
    assert len(calls) == 1  # max_retries: 0
    assert error.status == status and error.error_type == expected["error"]["type"]
    assert expected["error"]["message"].rstrip(".") in str(error)
    if status == 429:
        assert isinstance(error, modelswap.RateLimitedError)
        assert error.retry_after == expected["rate_limit"]["retry_after_s"]
    else:
        assert isinstance(error, modelswap.TransientError) and not isinstance(error, modelswap.RateLimitedError)
    if "request-id" in headers:
        assert error.request_id == headers["request-id"]


@pytest.mark.parametrize("example", ERRORS, ids=lambda p: p.name)
def test_error_statuses_are_retried(example: Path) -> None:
    """429 and 529 are both worth a retry: the second attempt succeeds."""
    status = int(example.name.split("-")[1])
    body = json.loads(example.read_text())
    failure = httpx.Response(status, json=body, headers={"retry-after": "0"})
    answers = iter([failure, httpx.Response(200, json=OK_MESSAGE)])
    completion = _client(lambda r: next(answers), retries=1).complete("x")
    assert (completion.text, completion.attempts) == ("ok", 2)


def _stream_error_before_any_delta() -> bytes:
    return (EXAMPLES / "constructed-stream-error-event.response.sse").read_bytes()


def _stream_error_after_a_delta() -> bytes:
    return _sse(*OK_HEAD, {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}).encode()


def test_mid_stream_error_after_a_delta_raises_without_retry() -> None:
    calls: list[httpx.Request] = []
    raw = _stream_error_after_a_delta()
    client = _client(lambda r: calls.append(r) or httpx.Response(200, content=raw, headers=SSE), retries=3)
    seen: list[Any] = []
    with pytest.raises(modelswap.TransientError, match="mid-stream: Overloaded"):
        for item in client.stream("x"):
            seen.append(item)
    assert seen == ["ok"] and len(calls) == 1


def test_mid_stream_error_before_any_delta_is_retried() -> None:
    calls: list[httpx.Request] = []
    answers = iter([_stream_error_before_any_delta(), OK_STREAM.encode()])
    client = _client(lambda r: calls.append(r) or httpx.Response(200, content=next(answers), headers=SSE), retries=1)
    *deltas, final = list(client.stream("x"))
    assert deltas == ["ok"] and final.text == "ok" and final.attempts == 2 and len(calls) == 2


def test_mid_stream_error_before_any_delta_gives_up_after_the_retries() -> None:
    calls: list[httpx.Request] = []
    raw = _stream_error_before_any_delta()
    client = _client(lambda r: calls.append(r) or httpx.Response(200, content=raw, headers=SSE), retries=2)
    with pytest.raises(modelswap.TransientError, match="Overloaded"):
        list(client.stream("x"))
    assert len(calls) == 3


def test_mid_stream_invalid_request_error_is_not_retried() -> None:
    calls: list[httpx.Request] = []
    raw = _stream_error_before_any_delta().replace(b"overloaded_error", b"invalid_request_error")
    client = _client(lambda r: calls.append(r) or httpx.Response(200, content=raw, headers=SSE), retries=2)
    with pytest.raises(modelswap.RequestRejectedError, match="rejected the request mid-stream"):
        list(client.stream("x"))
    assert len(calls) == 1
