"""The client: messages, params, cost, streaming retry rules and structured output."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

import modelswap
from modelswap._config import loads_config

CONFIG = """\
providers:
  p: {kind: openai, base_url: 'http://stub/v1', api_key_required: false, retry: {max_retries: 2, initial_backoff_s: 0}}
  raw: {preset: llamacpp-completion, base_url: 'http://stub'}
models:
  m:
    provider: p
    model_id: x
    price: {input_per_mtok: 1.0, output_per_mtok: 2.0}
    params: {temperature: 0, max_tokens: 16}
  r: {provider: raw, model_id: gemma, drop_params: [seed]}
default: m
"""


def _answer(text="ok", usage=(10, 5)):
    return {"choices": [{"message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": usage[0], "completion_tokens": usage[1]}}


def _client(handler) -> tuple[modelswap.Client, list[dict]]:
    sent: list[dict] = []

    def recording(request):
        sent.append(json.loads(request.content))
        return handler(request)

    return modelswap.Client(loads_config(CONFIG), transport=httpx.MockTransport(recording)), sent


def test_prompt_system_and_configured_params():
    client, sent = _client(lambda r: httpx.Response(200, json=_answer()))
    completion = client.complete("Hi", system="Be brief.", top_p=0.5)
    assert sent[0]["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    assert (sent[0]["temperature"], sent[0]["max_tokens"], sent[0]["top_p"]) == (0, 16, 0.5)
    assert completion.cost == pytest.approx((10 * 1.0 + 5 * 2.0) / 1e6)
    assert (completion.alias, completion.provider, completion.model_id, completion.attempts) == ("m", "p", "x", 1)


def test_call_argument_overrides_config_and_none_does_not_erase_it():
    client, sent = _client(lambda r: httpx.Response(200, json=_answer()))
    client.complete("Hi", max_tokens=3, temperature=None)
    assert sent[0]["max_tokens"] == 3 and sent[0]["temperature"] == 0


def test_bad_messages_are_a_type_error():
    client, _ = _client(lambda r: httpx.Response(200, json=_answer()))
    with pytest.raises(TypeError, match=r"messages\[0\]"):
        client.complete([{"role": "robot", "content": "x"}])


def test_unsupported_param_is_refused_unless_dropped(monkeypatch):
    monkeypatch.setattr("modelswap.plugins.openai.OpenAIChat.supported_params", frozenset({"temperature", "max_tokens"}))
    client, _ = _client(lambda r: httpx.Response(200, json=_answer()))
    with pytest.raises(modelswap.ConfigError, match="cannot honour the param `seed`.*drop_params: \\[seed\\]"):
        client.complete("Hi", seed=1)


def test_non_json_or_shapeless_bodies_are_bad_responses():
    client, _ = _client(lambda r: httpx.Response(200, text="<html>proxy</html>"))
    with pytest.raises(modelswap.BadResponseError, match="not JSON"):
        client.complete("Hi")
    client, _ = _client(lambda r: httpx.Response(200, json={"result": "?"}))
    with pytest.raises(modelswap.BadResponseError, match="not a valid openai completion"):
        client.complete("Hi")


def test_one_pooled_http_client_per_provider():
    client, _ = _client(lambda r: httpx.Response(200, json=_answer()))
    client.complete("a")
    spec = client.resolve().provider
    pooled = client.provider(spec).client
    client.complete("b")
    assert client.provider(spec).client is pooled
    client.close()


def _sse(*events: str) -> httpx.Response:
    return httpx.Response(200, content="".join(f"data: {e}\n\n" for e in events).encode(), headers={"content-type": "text/event-stream"})


def _chunk(text: str, finish=None) -> str:
    return json.dumps({"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": finish}]})


def test_stream_is_retried_before_the_first_delta_only():
    calls = []

    def before(request):
        calls.append(1)
        return _sse(json.dumps({"error": {"message": "overloaded", "type": "server_error"}})) if len(calls) == 1 else _sse(_chunk("hi", "stop"), "[DONE]")

    client, _ = _client(before)
    *deltas, final = list(client.stream("x"))
    assert deltas == ["hi"] and final.attempts == 2

    def after(request):
        return _sse(_chunk("half"), json.dumps({"error": {"message": "overloaded", "type": "server_error"}}))

    client, sent = _client(after)
    seen = []
    with pytest.raises(modelswap.TransientError, match="mid-stream"):
        for item in client.stream("x"):
            seen.append(item)
    assert seen == ["half"] and len(sent) == 1


def test_async_complete_and_stream():
    client, _ = _client(lambda r: _sse(_chunk("a"), _chunk("b", "stop"), "[DONE]") if json.loads(r.content).get("stream") else httpx.Response(200, json=_answer("c")))

    async def run():
        text = (await client.acomplete("x")).text
        items = [item async for item in client.astream("x")]
        await client.aclose()
        return text, items

    text, items = asyncio.run(run())
    assert text == "c" and items[:2] == ["a", "b"] and items[-1].text == "ab"


def test_structured_output_is_validated_and_repaired_once():
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    answers = iter(['{"n": "three"}', '{"n": 3}'])
    client, sent = _client(lambda r: httpx.Response(200, json=_answer(next(answers))))
    completion = client.complete("Count", schema=schema)
    assert completion.data == {"n": 3} and completion.attempts == 2
    assert sent[0]["response_format"]["type"] == "json_schema"
    assert "invalid at $.n" in sent[1]["messages"][-1]["content"]

    answers = iter(["no", "still no"])
    client, _ = _client(lambda r: httpx.Response(200, json=_answer(next(answers))))
    with pytest.raises(modelswap.StructuredOutputError) as caught:
        client.complete("Count", schema=schema)
    assert caught.value.json_path == "$" and caught.value.text == "still no"


def test_completion_kind_sends_the_prompt_verbatim_and_drops_configured_params():
    client, sent = _client(lambda r: httpx.Response(200, json={"content": " positive", "stop_type": "word",
                                                                "tokens_evaluated": 9, "tokens_predicted": 1}))
    completion = client.complete("Review: great\nSentiment:", model="r", max_tokens=2, stop="\n", seed=3)
    assert sent[0] == {"prompt": "Review: great\nSentiment:", "n_predict": 2, "stop": ["\n"], "seed": 3}
    assert (completion.text, completion.input_tokens, completion.output_tokens) == (" positive", 9, 1)
