"""Kind `anthropic`: auth, params, system prompts, message rules, errors and streams, through httpx.MockTransport."""

from __future__ import annotations

import asyncio
import json
import pickle
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import httpx
import pytest

import modelswap
from modelswap._config import loads_config
from modelswap._provider import load_adapter
from modelswap.hookspecs import InBandError
from modelswap.plugins.anthropic import DEFAULT_MAX_TOKENS, AnthropicMessages, _ratelimit_reset_wait

KEY = "sk-ant-test-" + "0123456789abcdefghijklmn"
SSE = {"content-type": "text/event-stream"}
OK = {
    "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-haiku-4-5",
    "content": [{"type": "text", "text": "Hi "}, {"type": "tool_use", "id": "t", "name": "f", "input": {}},
                {"type": "text", "text": "there"}],
    "stop_reason": "end_turn", "stop_sequence": None,
    "usage": {"input_tokens": 12, "output_tokens": 4, "cache_read_input_tokens": 100},
}
CONFIG = """\
providers:
  claude: {preset: anthropic, retry: {max_retries: %(retries)d, initial_backoff_s: 0, max_backoff_s: 0}}
models:
  haiku: {provider: claude, model_id: claude-haiku-4-5}
  capped: {provider: claude, model_id: claude-haiku-4-5, params: {max_tokens: 64, temperature: 0.1}}
  seeded: {provider: claude, model_id: claude-haiku-4-5, params: {seed: 3}}
  dropping: {provider: claude, model_id: claude-haiku-4-5, drop_params: [seed]}
  dropping-all: {provider: claude, model_id: claude-haiku-4-5, drop_params: true}
default: haiku
"""


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)


def _client(handler: Callable[[httpx.Request], httpx.Response], retries: int = 0) -> modelswap.Client:
    return modelswap.Client(loads_config(CONFIG % {"retries": retries}), transport=httpx.MockTransport(handler))


def _sent(prompt: Any = "Hello", **kwargs: Any) -> tuple[httpx.Request, dict[str, Any]]:
    """The one request a `complete` call sends, and its JSON body."""
    sent: list[httpx.Request] = []
    _client(lambda r: sent.append(r) or httpx.Response(200, json=OK)).complete(prompt, **kwargs)
    assert len(sent) == 1
    return sent[0], json.loads(sent[0].content)


def _events(*events: dict[str, Any]) -> bytes:
    return "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events).encode()


START = {"type": "message_start", "message": {"id": "m", "type": "message", "role": "assistant", "content": [],
                                              "model": "x", "usage": {"input_tokens": 9, "output_tokens": 1}}}
BLOCK = {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}


def _delta(text: str) -> dict[str, Any]:
    return {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}}


END = [{"type": "message_delta", "delta": {"stop_reason": "max_tokens"}, "usage": {"output_tokens": 7}},
       {"type": "message_stop"}]


# -- registration and auth -------------------------------------------------------------------------------
def test_kind_is_registered_under_the_entry_points() -> None:
    assert load_adapter("anthropic") is AnthropicMessages
    assert AnthropicMessages.kind == "anthropic" and AnthropicMessages.stream_format == "sse"


def test_auth_headers_are_x_api_key_and_the_version() -> None:
    request, _ = _sent()
    assert request.headers["x-api-key"] == KEY
    assert request.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in request.headers
    assert request.url == "https://api.anthropic.com/v1/messages"


def test_without_a_key_the_version_header_is_still_sent() -> None:
    assert AnthropicMessages().auth_headers(None) == {"anthropic-version": "2023-06-01"}


def test_missing_key_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    with pytest.raises(modelswap.MissingCredentialsError, match="ANTHROPIC_API_KEY"):
        _client(lambda r: httpx.Response(200, json=OK)).complete("x")


# -- params ------------------------------------------------------------------------------------------------
def test_seed_is_refused_naming_the_provider_and_the_param() -> None:
    calls: list[httpx.Request] = []
    client = _client(lambda r: calls.append(r) or httpx.Response(200, json=OK))
    with pytest.raises(modelswap.ConfigError) as caught:
        client.complete("x", seed=1)
    message = str(caught.value)
    assert "'claude'" in message and "`seed`" in message and "drop_params: [seed]" in message
    assert caught.value.field == "models.haiku.params.seed"
    with pytest.raises(modelswap.ConfigError, match="`seed`"):
        client.complete("x", model="seeded")  # a configured seed is refused the same way
    assert calls == []


@pytest.mark.parametrize("model", ["dropping", "dropping-all"])
def test_drop_params_drops_the_seed(model: str) -> None:
    _, body = _sent("x", model=model, seed=1, temperature=0.3)
    assert "seed" not in body and body["temperature"] == 0.3


def test_max_tokens_is_always_sent() -> None:
    assert _sent("x")[1]["max_tokens"] == DEFAULT_MAX_TOKENS == 1024
    assert _sent("x", model="capped")[1]["max_tokens"] == 64  # the model's configured params
    assert _sent("x", model="capped", max_tokens=8)[1]["max_tokens"] == 8  # the call wins


def test_generic_params_map_to_anthropic_names() -> None:
    _, body = _sent("x", temperature=0.0, top_p=0.5, max_tokens=5, stop="END", top_k=3)
    assert body == {"model": "claude-haiku-4-5", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}],
                    "temperature": 0.0, "top_p": 0.5, "stop_sequences": ["END"], "top_k": 3}
    assert _sent("x", stop=("a", "b"))[1]["stop_sequences"] == ["a", "b"]


def test_configured_params_reach_the_body_and_the_call_overrides_them() -> None:
    _, body = _sent("x", model="capped", temperature=0.9)
    assert (body["temperature"], body["max_tokens"]) == (0.9, 64)


# -- system prompts and turns -----------------------------------------------------------------------------
def test_system_goes_top_level() -> None:
    _, body = _sent("Hi", system="Be brief.")
    assert body["system"] == "Be brief."
    assert body["messages"] == [{"role": "user", "content": "Hi"}]
    assert "system" not in _sent("Hi")[1]


def test_every_system_and_developer_message_joins_the_system_prompt() -> None:
    _, body = _sent(
        [{"role": "system", "content": "One."}, {"role": "user", "content": "Hi"},
         {"role": "developer", "content": "Two."}, {"role": "assistant", "content": "Hello"},
         {"role": "system", "content": "   "}, {"role": "user", "content": "Bye"}],
        system="Zero.",
    )
    assert body["system"] == "Zero.\n\nOne.\n\nTwo."
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]


def test_consecutive_turns_of_one_role_are_merged() -> None:
    roles = ["user", "system", "user", "assistant", "assistant", "user"]
    _, body = _sent([{"role": role, "content": text} for role, text in zip(roles, "asbcde")])
    assert body["messages"] == [{"role": "user", "content": "a\n\nb"}, {"role": "assistant", "content": "c\n\nd"},
                                {"role": "user", "content": "e"}]


@pytest.mark.parametrize("content", ["", "  \n"], ids=["empty", "whitespace"])
@pytest.mark.parametrize("role", ["user", "assistant"])
def test_empty_text_is_refused_before_sending(role: str, content: str) -> None:
    calls: list[httpx.Request] = []
    client = _client(lambda r: calls.append(r) or httpx.Response(200, json=OK))
    messages = [{"role": "user", "content": "Hi"}, {"role": role, "content": content}, {"role": "user", "content": "Ok"}]
    wanted = rf"claude: message 2 of 3 \({role}\) is empty.*non-empty"
    with pytest.raises(modelswap.RequestRejectedError, match=wanted) as caught:
        client.complete(messages)
    assert caught.value.provider == "claude" and caught.value.error_type == "invalid_request_error"
    assert calls == []


def test_an_empty_prompt_is_refused() -> None:
    with pytest.raises(modelswap.RequestRejectedError, match="message 1 of 1 \\(user\\) is empty"):
        _client(lambda r: httpx.Response(200, json=OK)).complete("")


def test_only_system_text_is_refused() -> None:
    with pytest.raises(modelswap.RequestRejectedError, match="no user message"):
        _client(lambda r: httpx.Response(200, json=OK)).complete([{"role": "system", "content": "Be brief."}])


def test_a_final_assistant_prefill_is_kept_without_trailing_whitespace() -> None:
    _, body = _sent([{"role": "user", "content": "JSON please"}, {"role": "assistant", "content": "{\n  "}])
    assert body["messages"][-1] == {"role": "assistant", "content": "{"}


def test_a_final_empty_assistant_turn_is_dropped() -> None:
    _, body = _sent([{"role": "user", "content": "Hi"}, {"role": "assistant", "content": ""}])
    assert body["messages"] == [{"role": "user", "content": "Hi"}]


def test_tool_role_is_refused_with_advice() -> None:
    with pytest.raises(modelswap.RequestRejectedError, match="role 'tool'.*user message"):
        _client(lambda r: httpx.Response(200, json=OK)).complete([{"role": "tool", "content": "42"}])


def test_schema_uses_prompt_instructions_in_the_system_prompt() -> None:
    assert AnthropicMessages.native_schema is False
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    sent: list[dict[str, Any]] = []
    answer = {**OK, "content": [{"type": "text", "text": '```json\n{"n": 2}\n```'}]}
    client = _client(lambda r: sent.append(json.loads(r.content)) or httpx.Response(200, json=answer))
    assert client.complete("Two?", system="Count.", schema=schema).data == {"n": 2}
    assert "JSON Schema" in sent[0]["system"] and sent[0]["system"].endswith("\n\nCount.")
    assert not {"output_config", "response_format"} & set(sent[0])


# -- responses ---------------------------------------------------------------------------------------------
def test_response_text_joins_the_text_blocks_only() -> None:
    completion = _client(lambda r: httpx.Response(200, json=OK)).complete("x")
    assert completion.text == "Hi there" and completion.finish_reason == "end_turn"
    assert (completion.input_tokens, completion.output_tokens) == (12, 4)


def test_a_body_that_is_not_a_message_is_a_bad_response() -> None:
    client = _client(lambda r: httpx.Response(200, json={"choices": []}))
    with pytest.raises(modelswap.BadResponseError, match="not a valid anthropic completion"):
        client.complete("x")


def test_acomplete_works_the_same() -> None:
    async def main() -> modelswap.Completion:
        async with _client(lambda r: httpx.Response(200, json=OK)) as client:
            return await client.acomplete("x")

    assert asyncio.run(main()).text == "Hi there"


# -- errors ------------------------------------------------------------------------------------------------
def _error(kind: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_1"}


@pytest.mark.parametrize(
    ("status", "kind", "wanted"),
    [
        (400, "invalid_request_error", modelswap.RequestRejectedError),
        (401, "authentication_error", modelswap.AuthenticationError),
        (403, "permission_error", modelswap.AuthenticationError),
        (404, "not_found_error", modelswap.RequestRejectedError),
        (429, "rate_limit_error", modelswap.RateLimitedError),
        (500, "api_error", modelswap.TransientError),
        (529, "overloaded_error", modelswap.TransientError),
    ],
)
def test_error_statuses_map_to_typed_errors(status: int, kind: str, wanted: type[Exception]) -> None:
    calls: list[httpx.Request] = []
    body = _error(kind, "Something went wrong.")
    client = _client(lambda r: calls.append(r) or httpx.Response(status, json=body), retries=2)
    with pytest.raises(wanted) as caught:
        client.complete("x")
    error = caught.value
    assert type(error) is wanted and error.error_type == kind and "Something went wrong" in str(error)
    assert len(calls) == (3 if issubclass(wanted, modelswap.TransientError) else 1)


def test_a_non_json_error_body_is_quoted() -> None:
    client = _client(lambda r: httpx.Response(502, text="<html>Bad gateway</html>"))
    with pytest.raises(modelswap.TransientError, match="Bad gateway"):
        client.complete("x")


def test_rate_limit_reset_headers_give_the_wait_without_retry_after() -> None:
    soon = (datetime.now(timezone.utc) + timedelta(seconds=30)).isoformat().replace("+00:00", "Z")
    later = (datetime.now(timezone.utc) + timedelta(seconds=50)).isoformat().replace("+00:00", "Z")
    headers = {"anthropic-ratelimit-requests-remaining": "10", "anthropic-ratelimit-requests-reset": soon,
               "anthropic-ratelimit-tokens-remaining": "0", "anthropic-ratelimit-tokens-reset": later}
    client = _client(lambda r: httpx.Response(429, json=_error("rate_limit_error", "slow down"), headers=headers))
    with pytest.raises(modelswap.RateLimitedError) as caught:
        client.complete("x")
    assert caught.value.retry_after == pytest.approx(50, abs=2)  # the exhausted limit's reset, not the earliest


def test_rate_limit_reset_wait_parsing() -> None:
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert _ratelimit_reset_wait({"anthropic-ratelimit-requests-reset": "2026-01-01T00:00:07Z"}, now) == 7
    assert _ratelimit_reset_wait({"anthropic-ratelimit-requests-reset": "2026-01-01T00:00:07Z",
                                  "anthropic-ratelimit-tokens-reset": "2026-01-01T00:00:03.5+00:00"}, now) == 3.5
    # Any number of fraction digits, a lower-case z, an offset: what Python 3.10's fromisoformat refuses.
    nanoseconds = {"anthropic-ratelimit-tokens-reset": "2026-01-01T00:00:01.123456789z"}
    assert _ratelimit_reset_wait(nanoseconds, now) == 1.123456
    assert _ratelimit_reset_wait({"anthropic-ratelimit-tokens-reset": "2026-01-01T01:00:02+01:00"}, now) == 2
    assert _ratelimit_reset_wait({"anthropic-ratelimit-tokens-reset": "2025-12-31T23:59:00Z"}, now) == 0
    assert _ratelimit_reset_wait({"anthropic-ratelimit-tokens-reset": "soon"}, now) is None
    assert _ratelimit_reset_wait({"retry-after": "7"}, now) is None


def test_the_key_is_never_in_an_error_message() -> None:
    echoed = f"invalid x-api-key: {KEY}"
    failures: list[Exception] = []
    for status, kind in ((401, "authentication_error"), (400, "invalid_request_error"), (529, "overloaded_error"),
                         (429, "rate_limit_error")):
        client = _client(lambda r, s=status, k=kind: httpx.Response(s, json=_error(k, echoed)))
        with pytest.raises(modelswap.ProviderError) as caught:
            client.complete("x")
        failures.append(caught.value)
    in_stream = _events(START, {"type": "error", "error": {"type": "overloaded_error", "message": echoed}})
    with pytest.raises(modelswap.TransientError) as caught:
        list(_client(lambda r: httpx.Response(200, content=in_stream, headers=SSE)).stream("x"))
    failures.append(caught.value)
    with pytest.raises(modelswap.RequestRejectedError) as caught:
        _client(lambda r: httpx.Response(200, json=OK)).complete([{"role": "user", "content": ""}])
    failures.append(caught.value)
    for error in failures:
        rebuilt = pickle.loads(pickle.dumps(error))
        for text in (str(error), repr(error), str(rebuilt), repr(error.__dict__)):
            assert KEY not in text and KEY[12:] not in text


# -- streams -----------------------------------------------------------------------------------------------
def test_stream_yields_text_deltas_then_the_completion() -> None:
    raw = _events(START, BLOCK, {"type": "ping"}, _delta("Hel"), _delta("lo"),
                  {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "hmm"}},
                  {"type": "content_block_stop", "index": 0}, {"type": "some_future_event"}, *END)
    sent: list[dict[str, Any]] = []
    client = _client(lambda r: sent.append(json.loads(r.content)) or httpx.Response(200, content=raw, headers=SSE))
    *deltas, final = list(client.stream("x"))
    assert deltas == ["Hel", "lo"] and final.text == "Hello"
    assert (final.finish_reason, final.input_tokens, final.output_tokens) == ("max_tokens", 9, 7)
    assert sent[0]["stream"] is True


def test_stream_usage_in_message_delta_is_cumulative_and_never_erased() -> None:
    raw = _events(START, BLOCK, _delta("x"),
                  {"type": "message_delta", "delta": {"stop_reason": "end_turn"},
                   "usage": {"input_tokens": None, "output_tokens": 3}},
                  {"type": "message_stop"})
    *_, final = list(_client(lambda r: httpx.Response(200, content=raw, headers=SSE)).stream("x"))
    assert (final.input_tokens, final.output_tokens) == (9, 3)


def test_text_already_in_content_block_start_is_a_delta() -> None:
    raw = _events(START, {**BLOCK, "content_block": {"type": "text", "text": "Hi"}}, _delta("!"), *END)
    *deltas, final = list(_client(lambda r: httpx.Response(200, content=raw, headers=SSE)).stream("x"))
    assert deltas == ["Hi", "!"] and final.text == "Hi!"


def test_a_stream_cut_before_any_stop_is_truncated_and_transient() -> None:
    raw = _events(START, BLOCK)
    calls: list[httpx.Request] = []
    client = _client(lambda r: calls.append(r) or httpx.Response(200, content=raw, headers=SSE), retries=1)
    with pytest.raises(modelswap.TransientError, match="truncated"):
        list(client.stream("x"))
    assert len(calls) == 2


def test_a_stream_without_message_stop_after_a_stop_reason_is_complete() -> None:
    raw = _events(START, BLOCK, _delta("ok"), END[0])
    *_, final = list(_client(lambda r: httpx.Response(200, content=raw, headers=SSE)).stream("x"))
    assert (final.text, final.finish_reason) == ("ok", "max_tokens")


@pytest.mark.parametrize(("kind", "transient"), [("overloaded_error", True), ("api_error", True),
                                                 ("rate_limit_error", True), ("invalid_request_error", False),
                                                 ("permission_error", False)])
def test_in_band_errors_are_transient_only_when_they_are_the_servers(kind: str, transient: bool) -> None:
    decoder = AnthropicMessages().stream_decoder()
    with pytest.raises(InBandError) as caught:
        decoder.feed(json.dumps({"type": "error", "error": {"type": kind, "message": "m"}}), "error")
    assert caught.value.transient is transient and caught.value.info.error_type == kind


def test_an_unreadable_event_is_a_bad_response() -> None:
    raw = b"event: message_start\ndata: {not json\n\n"
    with pytest.raises(modelswap.BadResponseError, match="unreadable anthropic stream event"):
        list(_client(lambda r: httpx.Response(200, content=raw, headers=SSE)).stream("x"))


def test_astream_works_the_same() -> None:
    raw = _events(START, BLOCK, _delta("a"), _delta("b"), *END)

    async def main() -> list[Any]:
        async with _client(lambda r: httpx.Response(200, content=raw, headers=SSE)) as client:
            return [item async for item in client.astream("x")]

    *deltas, final = asyncio.run(main())
    assert deltas == ["a", "b"] and final.text == "ab" and final.output_tokens == 7


def test_an_empty_answer_to_a_schema_is_still_repaired() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    empty, valid = {**OK, "content": [], "stop_reason": "refusal"}, {**OK, "content": [{"type": "text", "text": '{"n": 1}'}]}
    answers = iter([empty, valid])
    calls: list[httpx.Request] = []
    client = _client(lambda r: calls.append(r) or httpx.Response(200, json=next(answers)))
    assert client.complete("One?", schema=schema).data == {"n": 1}
    assert len(calls) == 2
