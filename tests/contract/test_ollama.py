"""Kind ``ollama`` (native ``/api/chat``) against the official contracts in tests/data/contracts.

Every request modelswap builds must pass ``check_request.py --api ollama-chat --strict``; the official request
examples must come out of the client byte-for-byte (with ``stream`` made explicit); every response and stream
example must parse, through the client, to what ``check_response.py`` normalises; error examples must become the
right modelswap errors.
"""

from __future__ import annotations

import asyncio
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
EXAMPLES = CONTRACTS / "examples" / "ollama-chat"

SCHEMA = {"type": "object", "properties": {"age": {"type": "integer"}, "available": {"type": "boolean"}},
          "required": ["age", "available"]}
FINAL = {"model": "llama3.2", "created_at": "2025-01-01T00:00:00Z", "message": {"role": "assistant", "content": "ok"},
         "done": True, "done_reason": "stop", "prompt_eval_count": 5, "eval_count": 1}
NDJSON = {"content-type": "application/x-ndjson"}
GENERIC = dict(temperature=0.2, top_p=0.9, max_tokens=64, stop=["\n\n", "User:"], seed=7)


# -- helpers --------------------------------------------------------------------------------------------------
def _config(retries: int = 0, context_window: int | None = 8192) -> str:
    window = f", context_window: {context_window}" if context_window else ""
    return (
        "providers:\n"
        "  o: {kind: ollama, base_url: 'http://localhost:11434', api_key_required: false,\n"
        f"      retry: {{max_retries: {retries}, initial_backoff_s: 0}}}}\n"
        "models:\n"
        f"  llama: {{provider: o, model_id: llama3.2{window}}}\n"
        "default: llama\n"
    )


def _client(handler: Callable[[httpx.Request], httpx.Response], **config: Any) -> modelswap.Client:
    return modelswap.Client(loads_config(_config(**config)), transport=httpx.MockTransport(handler))


def _recording(respond: Callable[[dict[str, Any]], httpx.Response]) -> tuple[Callable[[httpx.Request], httpx.Response], list[dict]]:
    """A handler that keeps every JSON body it receives and answers with ``respond(body)``."""
    sent: list[dict] = []

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.method == "POST" and request.url.path == "/api/chat"
        body = json.loads(request.content)
        sent.append(body)
        return respond(body)

    return handler, sent


def _ok(body: dict[str, Any]) -> httpx.Response:
    """A well-formed answer in the shape the request asked for (NDJSON when it streams)."""
    if body.get("stream") is False:
        return httpx.Response(200, json=FINAL)
    return httpx.Response(200, content=(json.dumps(FINAL) + "\n").encode(), headers=NDJSON)


def _script(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(KIT / name), *args], capture_output=True, text=True, timeout=60)


def _check_request(body: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "body.json"
    path.write_text(json.dumps(body))
    result = _script("check_request.py", "--api", "ollama-chat", "--strict", str(path))
    assert result.returncode == 0, f"{json.dumps(body)}\n{result.stdout}{result.stderr}"


def _normalized(path: Path) -> dict[str, Any]:
    result = _script("check_response.py", "--api", "ollama-chat", "--json", str(path))
    return json.loads(result.stdout)["normalized"]


def _lines(path: Path) -> list[dict[str, Any]]:
    text = path.read_text()
    return [json.loads(text)] if path.suffix == ".json" else [json.loads(line) for line in text.splitlines() if line.strip()]


def _drain(items: Any, seen: list[Any]) -> None:
    for item in items:
        seen.append(item)


# -- requests -------------------------------------------------------------------------------------------------
CALLS = {
    "system+user": ("complete", dict(prompt="Why is the sky blue?", system="Answer in one sentence.")),
    "multi-turn": ("complete", dict(prompt=[
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "why is the sky blue?"},
        {"role": "assistant", "content": "due to rayleigh scattering."},
        {"role": "user", "content": "how is that different than mie scattering?"},
    ])),
    "generic-params": ("complete", dict(prompt="Hi", system="Be brief.", **GENERIC)),
    "stop-as-string": ("complete", dict(prompt="Hi", stop="\n")),
    "schema": ("complete", dict(prompt="Ollama is 22 and busy.", schema=SCHEMA, temperature=0)),
    "stream": ("stream", dict(prompt="Hi", system="Be brief.", **GENERIC)),
    "stream-multi-turn": ("stream", dict(prompt=[
        {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}, {"role": "user", "content": "Again"},
    ])),
    "extras": ("complete", dict(prompt="Hi", top_k=20, repeat_penalty=1.1, keep_alive="5m", think=False)),
}


@pytest.mark.parametrize("case", list(CALLS))
def test_requests_pass_check_request_strict(case: str, tmp_path: Path) -> None:
    def respond(body: dict[str, Any]) -> httpx.Response:
        if "format" in body:
            return httpx.Response(200, json={**FINAL, "message": {"role": "assistant", "content": '{"age": 22, "available": false}'}})
        return _ok(body)

    handler, sent = _recording(respond)
    client = _client(handler)
    method, kwargs = CALLS[case]
    kwargs = dict(kwargs)
    prompt = kwargs.pop("prompt")
    if method == "stream":
        *deltas, final = list(client.stream(prompt, **kwargs))
        assert "".join(deltas) == final.text == "ok"
    elif "schema" in kwargs:
        assert client.complete(prompt, **kwargs).data == {"age": 22, "available": False}
    else:
        assert client.complete(prompt, **kwargs).text == "ok"
    (body,) = sent
    assert body["stream"] is (method == "stream")  # always explicit: the server's default is to stream
    assert body["options"]["num_ctx"] == 8192
    assert not {"temperature", "top_p", "max_tokens", "stop", "seed", "num_ctx", "top_k"} & set(body)
    _check_request(body, tmp_path)


def test_generic_params_land_under_options_with_ollama_names(tmp_path: Path) -> None:
    handler, sent = _recording(_ok)
    _client(handler).complete("Hi", **GENERIC)
    assert sent[0]["options"] == {"temperature": 0.2, "top_p": 0.9, "num_predict": 64, "stop": ["\n\n", "User:"],
                                  "seed": 7, "num_ctx": 8192}


def test_the_openai_style_mistake_comes_out_right(tmp_path: Path) -> None:
    """The call behind constructed-openai-style.bad.request.json (content parts, top-level max_tokens and
    temperature), made through modelswap, gives a body the checker accepts while the bad example fails it."""
    bad = EXAMPLES / "constructed-openai-style.bad.request.json"
    assert _script("check_request.py", "--api", "ollama-chat", str(bad)).returncode == 1
    handler, sent = _recording(_ok)
    _client(handler, context_window=None).complete("hi", max_tokens=64, temperature=0.2)
    assert sent[0] == {"model": "llama3.2", "messages": [{"role": "user", "content": "hi"}], "stream": False,
                       "options": {"num_predict": 64, "temperature": 0.2}}
    _check_request(sent[0], tmp_path)


# The official request examples, rebuilt through the client. The load/unload ones send no message at all: they
# manage the server's memory, which is not a chat call.
REQUESTS = sorted(p for p in EXAMPLES.glob("docs-*.request.json") if "load-a-model" not in p.name) if EXAMPLES.is_dir() else []
_REVERSE = {"num_predict": "max_tokens", "temperature": "temperature", "top_p": "top_p", "stop": "stop", "seed": "seed"}


@pytest.mark.parametrize("example", REQUESTS, ids=[p.name for p in REQUESTS])
def test_official_request_examples_are_what_the_client_sends(example: Path, tmp_path: Path) -> None:
    official = json.loads(example.read_text())
    stream = official.get("stream", True)  # the examples that omit it stream: the server's default
    kwargs: dict[str, Any] = {"model": f"o/{official['model']}"}
    kwargs.update({_REVERSE.get(k, k): v for k, v in (official.get("options") or {}).items()})
    if "tools" in official:
        kwargs["tools"] = official["tools"]  # provider-specific extras pass through at the top level
    handler, sent = _recording(_ok)
    client = _client(handler, context_window=None)
    if stream:
        list(client.stream(official["messages"], **kwargs))
    else:
        if "format" in official:
            answer = {**FINAL, "message": {"role": "assistant", "content": '{"age": 22, "available": false}'}}
            handler, sent = _recording(lambda body: httpx.Response(200, json=answer))
            client = _client(handler, context_window=None)
            kwargs["schema"] = official["format"]
        client.complete(official["messages"], **kwargs)
    assert sent[0] == {**official, "stream": stream}
    _check_request(sent[0], tmp_path)


# -- responses ------------------------------------------------------------------------------------------------
# The error examples (a 404 body, an error line mid-stream) have tests of their own below; the replies to a model
# load/unload are not chat answers.
RESPONSES = [
    p for p in sorted(EXAMPLES.glob("*.response.*"))
    if not any("error" in line for line in _lines(p)) and _lines(p)[-1].get("done_reason") not in ("load", "unload")
] if EXAMPLES.is_dir() else []


@pytest.mark.parametrize("example", RESPONSES, ids=[p.name for p in RESPONSES])
def test_response_examples_parse_to_the_reference(example: Path) -> None:
    expected = _normalized(example)
    assert expected["error"] is None
    usage = expected["usage"] or {}
    raw = example.read_bytes()
    sent: list[dict] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        headers = NDJSON if example.suffix == ".ndjson" else {"content-type": "application/json; charset=utf-8"}
        return httpx.Response(200, content=raw, headers=headers)

    client = _client(handler)
    if example.suffix == ".ndjson":
        *deltas, final = list(client.stream("x"))
        assert all(isinstance(d, str) and d for d in deltas)
        assert "".join(deltas) == final.text
        assert sent[0]["stream"] is True
    else:
        final = client.complete("x")
        assert sent[0]["stream"] is False
    assert final.text == expected["text"]
    assert final.finish_reason == expected["finish_reason"]
    assert final.input_tokens == usage.get("input_tokens")
    assert final.output_tokens == usage.get("output_tokens")


def test_a_stream_example_parses_the_same_asynchronously() -> None:
    example = EXAMPLES / "docs-chat-request-with-history.response.ndjson"  # its final line has no `message`
    expected = _normalized(example)
    client = _client(lambda request: httpx.Response(200, content=example.read_bytes(), headers=NDJSON))

    async def run() -> list[Any]:
        return [item async for item in client.astream("x")]

    *deltas, final = asyncio.run(run())
    assert "".join(deltas) == final.text == expected["text"]
    assert (final.input_tokens, final.output_tokens) == (expected["usage"]["input_tokens"], expected["usage"]["output_tokens"])


# -- errors ---------------------------------------------------------------------------------------------------
def test_model_not_found_example_is_rejected_with_the_pull_command() -> None:
    example = EXAMPLES / "constructed-404.error.response.json"
    expected = _normalized(example)["error"]
    calls: list[int] = []
    client = _client(lambda request: calls.append(1) or httpx.Response(404, content=example.read_bytes()), retries=2)
    with pytest.raises(modelswap.RequestRejectedError) as caught:
        client.complete("x")
    assert caught.value.status == 404
    assert expected["message"] in str(caught.value)
    assert "ollama pull llama9" in str(caught.value)
    assert len(calls) == 1  # a 4xx is never retried


@pytest.mark.parametrize(
    ("status", "error", "retried"),
    [
        (400, modelswap.RequestRejectedError, False),
        (401, modelswap.AuthenticationError, False),
        (429, modelswap.RateLimitedError, True),
        (500, modelswap.TransientError, True),
        (503, modelswap.TransientError, True),
    ],
)
def test_error_bodies_map_to_modelswap_errors(status: int, error: type[Exception], retried: bool) -> None:
    body = json.loads((EXAMPLES / "constructed-404.error.response.json").read_text())
    body["error"] = f"the documented {{\"error\": string}} shape, status {status}"
    calls: list[int] = []
    client = _client(lambda request: calls.append(1) or httpx.Response(status, json=body), retries=1)
    with pytest.raises(error) as caught:
        client.complete("x")
    assert body["error"] in str(caught.value)
    assert caught.value.status == status
    assert len(calls) == (2 if retried else 1)


@pytest.mark.parametrize("method", ["complete", "stream"])
def test_an_error_before_any_output_is_an_http_error(method: str) -> None:
    """Before the first byte the server still sets the status (streamResponse): a 404 body, not a line."""
    example = EXAMPLES / "constructed-404.error.response.json"
    client = _client(lambda request: httpx.Response(404, content=example.read_bytes(), headers={"content-type": "application/json"}))
    with pytest.raises(modelswap.RequestRejectedError, match="ollama pull llama9"):
        client.complete("x") if method == "complete" else list(client.stream("x"))


def test_midstream_error_example_after_a_delta_raises_without_retry() -> None:
    example = EXAMPLES / "constructed-midstream-error.response.ndjson"
    expected = _normalized(example)
    calls: list[int] = []
    client = _client(lambda request: calls.append(1) or httpx.Response(200, content=example.read_bytes(), headers=NDJSON), retries=2)
    seen: list[Any] = []
    with pytest.raises(modelswap.TransientError) as caught:
        _drain(client.stream("x"), seen)
    assert seen == [expected["text"]]  # the delta reached the caller, so a retry would repeat it
    assert len(calls) == 1
    assert expected["error"]["message"] in str(caught.value)
    assert caught.value.status == 200


def test_midstream_error_before_any_delta_is_retried() -> None:
    error_line = _lines(EXAMPLES / "constructed-midstream-error.response.ndjson")[-1]
    good = (EXAMPLES / "docs-chat-request-streaming.response.ndjson").read_bytes()
    answers = [json.dumps(error_line).encode() + b"\n", good]
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(200, content=answers[len(calls) - 1], headers=NDJSON)

    *deltas, final = list(_client(handler, retries=1).stream("x"))
    assert "".join(deltas) == final.text == "The"
    assert final.attempts == 2 and len(calls) == 2


def test_midstream_error_with_a_client_status_is_not_retried() -> None:
    line = {"error": "invalid format: expected \"json\" or a valid JSON Schema object", "status": 400}
    calls: list[int] = []
    client = _client(lambda request: calls.append(1) or httpx.Response(200, content=json.dumps(line).encode() + b"\n", headers=NDJSON), retries=2)
    with pytest.raises(modelswap.RequestRejectedError, match="invalid format"):
        list(client.stream("x"))
    assert len(calls) == 1


def test_a_stream_cut_before_done_raises_after_its_deltas() -> None:
    first = (EXAMPLES / "docs-chat-request-streaming.response.ndjson").read_text().splitlines()[0]
    calls: list[int] = []
    client = _client(lambda request: calls.append(1) or httpx.Response(200, content=(first + "\n").encode(), headers=NDJSON), retries=2)
    seen: list[Any] = []
    with pytest.raises(modelswap.TransientError, match="done: true"):
        _drain(client.stream("x"), seen)
    assert seen == ["The"] and len(calls) == 1


def test_a_base_url_with_v1_gets_a_hint() -> None:
    config = loads_config(_config().replace("'http://localhost:11434'", "'http://localhost:11434/v1'"))
    client = modelswap.Client(config, transport=httpx.MockTransport(
        lambda request: httpx.Response(404, text="404 page not found", headers={"content-type": "text/plain"})))
    with pytest.raises(modelswap.RequestRejectedError, match="server root"):
        client.complete("x")
