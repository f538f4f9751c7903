"""Retries, limits, error mapping and redaction of one provider, through httpx.MockTransport."""

from __future__ import annotations

import asyncio
import pickle
import threading
import time

import httpx
import pytest

import modelswap
from modelswap import _provider
from modelswap._config import loads_config
from modelswap._limits import ConcurrencyLimiter, RateLimiter
from modelswap._retry import backoff_delay, retry_after_seconds
from modelswap._config import RetryPolicy

KEY = "sk-test-0123456789abcdefghijkl"
OK = {"choices": [{"message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
      "usage": {"prompt_tokens": 3, "completion_tokens": 1}}


def _spec(retries: int = 2, max_retry_after: float = 60, concurrency: str = "null"):
    return loads_config(
        f"providers:\n  p: {{kind: openai, base_url: 'http://stub/v1', api_key_env: TEST_KEY, max_concurrency: {concurrency},"
        f" retry: {{max_retries: {retries}, max_retry_after_s: {max_retry_after}}}}}\n"
        "models:\n  m: {provider: p, model_id: x}\n"
    ).models["m"]


def _provider_for(handler, sleeps: list[float], **spec_args) -> _provider.Provider:
    return _provider.Provider(_spec(**spec_args).provider, transport=httpx.MockTransport(handler), sleep=sleeps.append)


@pytest.fixture(autouse=True)
def key(monkeypatch):
    monkeypatch.setenv("TEST_KEY", KEY)


def _sequence(*responses):
    answers = iter(responses)

    def handler(request):
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return handler


def test_retries_429_then_honours_retry_after_ms():
    sleeps: list[float] = []
    provider = _provider_for(_sequence(httpx.Response(429, headers={"retry-after-ms": "250"}, json={"error": {"message": "slow"}}),
                                       httpx.Response(200, json=OK)), sleeps)
    body, attempts = provider.send("chat/completions", {})
    assert attempts == 2 and sleeps == [0.25]


@pytest.mark.parametrize("failure", [
    httpx.Response(503, json={"error": {"message": "busy"}}),
    httpx.ConnectError("refused"),
    httpx.ReadTimeout("slow"),
    httpx.RemoteProtocolError("dropped"),
], ids=["503", "connect", "timeout", "dropped"])
def test_transient_failures_are_retried_with_backoff(failure):
    sleeps: list[float] = []
    provider = _provider_for(_sequence(failure, httpx.Response(200, json=OK)), sleeps)
    assert provider.send("chat/completions", {})[1] == 2
    assert len(sleeps) == 1 and 0.25 <= sleeps[0] <= 0.5


@pytest.mark.parametrize(("status", "error"), [(400, modelswap.RequestRejectedError), (401, modelswap.AuthenticationError),
                                                (404, modelswap.RequestRejectedError), (422, modelswap.RequestRejectedError)])
def test_other_4xx_are_not_retried(status, error):
    sleeps: list[float] = []
    provider = _provider_for(_sequence(httpx.Response(status, json={"error": {"message": "no"}})), sleeps)
    with pytest.raises(error) as caught:
        provider.send("chat/completions", {})
    assert caught.value.status == status and sleeps == []


def test_gives_up_after_max_retries_with_the_last_error():
    sleeps: list[float] = []
    provider = _provider_for(_sequence(*[httpx.Response(500, text="boom")] * 3), sleeps, retries=2)
    with pytest.raises(modelswap.TransientError, match="HTTP 500"):
        provider.send("chat/completions", {})
    assert len(sleeps) == 2


def test_retry_after_beyond_the_cap_fails_at_once():
    sleeps: list[float] = []
    provider = _provider_for(_sequence(httpx.Response(429, headers={"retry-after": "3600"}, json={"error": {"message": "daily quota"}})),
                             sleeps, max_retry_after=60)
    with pytest.raises(modelswap.RateLimitedError, match="wait 3600s") as caught:
        provider.send("chat/completions", {})
    assert caught.value.retry_after == 3600 and sleeps == []


def test_timeouts_map_to_provider_timeout_error():
    provider = _provider_for(_sequence(httpx.ReadTimeout("slow")), [], retries=0)
    with pytest.raises(modelswap.ProviderTimeoutError, match="timed out waiting for the response"):
        provider.send("chat/completions", {})


def test_async_path_retries_too(monkeypatch):
    slept: list[float] = []

    async def fake_sleep(delay):
        slept.append(delay)

    monkeypatch.setattr(_provider.asyncio, "sleep", fake_sleep)
    provider = _provider_for(_sequence(httpx.Response(429, headers={"retry-after": "2"}, json={}), httpx.Response(200, json=OK)), [])
    assert asyncio.run(provider.asend("chat/completions", {}))[1] == 2
    assert slept == [2.0]


def test_an_echoed_key_never_reaches_the_message():
    provider = _provider_for(_sequence(httpx.Response(401, json={"error": {"message": f"Incorrect API key provided: {KEY}"}})), [])
    with pytest.raises(modelswap.AuthenticationError) as caught:
        provider.send("chat/completions", {})
    assert KEY not in str(caught.value) and "TEST_KEY" in str(caught.value)
    assert KEY not in repr(pickle.loads(pickle.dumps(caught.value)).__dict__)


def test_the_key_travels_only_in_the_auth_header():
    seen = {}

    def handler(request):
        seen.update(request.headers)
        return httpx.Response(200, json=OK)

    _provider_for(handler, []).send("chat/completions", {})
    assert seen["authorization"] == f"Bearer {KEY}"
    assert KEY not in repr(_spec().provider)


def test_limits_are_shared_by_clients_of_the_same_endpoint():
    spec = _spec(concurrency="1").provider
    first = _provider.Provider(spec, transport=httpx.MockTransport(lambda r: httpx.Response(200, json=OK)))
    second = _provider.Provider(spec, transport=httpx.MockTransport(lambda r: httpx.Response(200, json=OK)))
    assert first._concurrency is second._concurrency is not None


def test_concurrency_limit_holds_for_threads_and_event_loops():
    limiter = ConcurrencyLimiter(3)
    in_flight, peak, lock = [0], [0], threading.Lock()

    def enter():
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])

    def leave():
        with lock:
            in_flight[0] -= 1

    def thread_work():
        for _ in range(20):
            with limiter:
                enter()
                time.sleep(0.001)
                leave()

    async def task_work():
        async with limiter:
            enter()
            await asyncio.sleep(0.001)
            leave()

    async def loop_work():
        await asyncio.gather(*(task_work() for _ in range(30)))

    workers = [threading.Thread(target=thread_work) for _ in range(4)]
    workers += [threading.Thread(target=lambda: asyncio.run(loop_work())) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(10)
    assert peak[0] == 3 and in_flight[0] == 0 and limiter.in_use == 0


def test_cancelled_waiter_does_not_leak_a_slot():
    limiter = ConcurrencyLimiter(1)

    async def scenario():
        await limiter.aacquire()
        waiter = asyncio.ensure_future(limiter.aacquire())
        await asyncio.sleep(0)
        waiter.cancel()
        limiter.release()
        await asyncio.sleep(0)
        await asyncio.wait_for(limiter.aacquire(), 1)
        limiter.release()

    asyncio.run(scenario())
    assert limiter.in_use == 0


def test_rate_limiter_bursts_then_spaces_requests():
    now = [0.0]
    limiter = RateLimiter(60, clock=lambda: now[0])
    assert [limiter.reserve() for _ in range(60)] == [0.0] * 60
    assert limiter.reserve() == pytest.approx(1.0)
    assert limiter.reserve() == pytest.approx(2.0)


def test_backoff_grows_is_capped_and_jittered():
    policy = RetryPolicy(initial_backoff_s=1, max_backoff_s=4)
    for attempt, step in [(1, 1), (2, 2), (3, 4), (6, 4)]:
        delays = [backoff_delay(policy, attempt) for _ in range(50)]
        assert all(step / 2 <= d <= step for d in delays) and len(set(delays)) > 1


@pytest.mark.parametrize(("headers", "seconds"), [
    ({"retry-after": "12"}, 12.0), ({"retry-after-ms": "40"}, 0.04), ({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.0),
    ({"retry-after": "soon"}, None), ({"retry-after": "-3"}, None), ({}, None),
])
def test_retry_after_parsing(headers, seconds):
    assert retry_after_seconds(headers) == seconds


def test_config_headers_override_the_adapters_own():
    # A user pins a header an adapter sets by default (anthropic-version, a proxy's auth), whatever its case.
    spec = loads_config(
        "providers:\n  a: {kind: anthropic, base_url: 'http://stub/v1', api_key_env: TEST_KEY,"
        " headers: {Anthropic-Version: '2026-10-21'}}\nmodels:\n  m: {provider: a, model_id: x}\n"
    ).models["m"].provider
    seen: list[httpx.Request] = []
    answer = {"content": [{"type": "text", "text": "ok"}], "stop_reason": "end_turn", "usage": {}}
    provider = _provider.Provider(spec, transport=httpx.MockTransport(lambda r: seen.append(r) or httpx.Response(200, json=answer)))
    provider.send("messages", {})
    assert seen[0].headers.get_list("anthropic-version") == ["2026-10-21"]
    assert seen[0].headers["x-api-key"] == KEY


def test_ndjson_streams_ask_for_ndjson():
    spec = loads_config(
        "providers:\n  o: {kind: ollama, base_url: 'http://stub'}\nmodels:\n  m: {provider: o, model_id: x}\n"
    ).models["m"].provider
    seen: list[httpx.Request] = []
    lines = b'{"message":{"role":"assistant","content":"hi"},"done":false}\n{"done":true,"done_reason":"stop"}\n'
    provider = _provider.Provider(spec, transport=httpx.MockTransport(lambda r: seen.append(r) or httpx.Response(200, content=lines)))
    assert [piece for piece in provider.stream("api/chat", {}) if isinstance(piece, str)] == ["hi"]
    assert seen[0].headers["accept"] == "application/x-ndjson"


def test_an_adapter_can_say_a_server_error_will_not_recover(monkeypatch):
    sleeps: list[float] = []
    provider = _provider_for(lambda r: httpx.Response(500, json={"error": {"message": "model too big"}}), sleeps)
    original = provider.adapter.parse_error
    monkeypatch.setattr(provider.adapter, "parse_error", lambda *a: original(*a)._replace(transient=False))
    with pytest.raises(modelswap.RequestRejectedError, match="model too big"):
        provider.send("chat/completions", {})
    assert sleeps == []  # not retried
