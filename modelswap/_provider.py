"""A provider: one endpoint's base URL, key, pooled HTTP clients, limits and retry loop.

Adapters (``modelswap.hookspecs.Adapter``) translate the wire format; everything that is the same for every
protocol lives here, once.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import logging
import threading
import time
import weakref
from typing import Any, AsyncIterator, Callable, Iterator

import httpx

from ._config import ProviderSpec, unresolved_env
from ._errors import (
    AuthenticationError,
    BadResponseError,
    ConfigError,
    EndpointUnreachableError,
    ProviderError,
    ProviderTimeoutError,
    RateLimitedError,
    RequestRejectedError,
    TransientError,
)
from ._limits import ConcurrencyLimiter, RateLimiter
from ._redact import redact
from ._retry import backoff_delay, retry_after_seconds
from ._sse import SSEParser
from .hookspecs import ENTRY_POINT_GROUP, Adapter, ErrorInfo, InBandError, Parsed, StreamDecoder

__all__ = ["Provider", "load_adapter"]

logger = logging.getLogger("modelswap")

# Used only when the package metadata is unavailable (running from a source tree that was never installed);
# an installed modelswap finds its built-in kinds through its own entry points, like any plugin's.
_BUILTIN_KINDS = {
    "openai": "modelswap.plugins.openai:OpenAIChat",
    "anthropic": "modelswap.plugins.anthropic:AnthropicMessages",
    "gemini": "modelswap.plugins.gemini:GeminiGenerate",
    "vertex": "modelswap.plugins.gemini:VertexGenerate",
    "ollama": "modelswap.plugins.ollama:OllamaChat",
    "completion": "modelswap.plugins.completion:RawCompletion",
}
_adapter_classes: dict[str, type[Adapter]] = {}
_adapter_lock = threading.Lock()


def installed_kinds() -> dict[str, str]:
    """Every provider kind and where it comes from (``module:Class``), plugins included."""
    from importlib.metadata import entry_points

    kinds = dict(_BUILTIN_KINDS)
    kinds.update({ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)})
    return kinds


def load_adapter(kind: str) -> type[Adapter]:
    """The adapter class for a provider kind, from the ``modelswap.providers`` entry points; imported on first use."""
    cls = _adapter_classes.get(kind)
    if cls is not None:
        return cls
    with _adapter_lock:
        kinds = installed_kinds()
        target = kinds.get(kind)
        if target is None:
            raise ConfigError(
                f"Provider kind {kind!r} is not installed. Installed kinds: {', '.join(sorted(kinds))}. "
                f"Install a plugin that registers {kind!r} under the {ENTRY_POINT_GROUP!r} entry points, "
                "or use an OpenAI-compatible endpoint with kind: openai.",
                field="kind",
            )
        module_name, _, attr = target.partition(":")
        try:
            cls = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise ConfigError(
                f"Provider kind {kind!r} is registered as {target!r} but cannot be loaded ({exc}). "
                "Reinstall the plugin that provides it.",
                field="kind",
            ) from None
        _adapter_classes[kind] = cls
        return cls


_limits: dict[tuple[Any, ...], tuple[ConcurrencyLimiter | None, RateLimiter | None]] = {}
_limits_lock = threading.Lock()


def _shared_limits(spec: ProviderSpec) -> tuple[ConcurrencyLimiter | None, RateLimiter | None]:
    """The limiters of an endpoint, one pair per process however many clients talk to it."""
    key = (spec.name, spec.base_url, spec.max_concurrency, spec.requests_per_minute)
    with _limits_lock:
        pair = _limits.get(key)
        if pair is None:
            pair = _limits[key] = (
                ConcurrencyLimiter(spec.max_concurrency) if spec.max_concurrency else None,
                RateLimiter(spec.requests_per_minute) if spec.requests_per_minute else None,
            )
        return pair


class Provider:
    """Sends requests to one endpoint, with its limits, retries and error mapping.

    One sync ``httpx.Client`` serves every thread; each event loop gets its own ``httpx.AsyncClient`` (an async
    client belongs to the loop it was first used on). Both keep connections alive between calls.
    """

    def __init__(self, spec: ProviderSpec, transport: Any = None, sleep: Callable[[float], None] = time.sleep) -> None:
        self.spec = spec
        self.adapter: Adapter = load_adapter(spec.kind)()
        self._transport = transport
        self._sleep = sleep
        self._client: httpx.Client | None = None
        self._async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = (
            weakref.WeakKeyDictionary()
        )
        self._lock = threading.Lock()
        self._concurrency, self._rate = _shared_limits(spec)
        self._urls: dict[str, httpx.URL] = {}
        self._stream_headers = _NDJSON_STREAM if self.adapter.stream_format == "ndjson" else _STREAM

    # -- clients ----------------------------------------------------------------------------------------
    def _client_options(self) -> dict[str, Any]:
        spec = self.spec
        missing = unresolved_env(spec.base_url)
        if missing:
            raise ConfigError(
                f"Provider {spec.name!r}: its base_url {spec.base_url} needs {', '.join(missing)} in the environment. "
                f"Set {' and '.join(missing)}, or give providers.{spec.name}.base_url in full.",
                field=f"providers.{spec.name}.base_url",
            )
        make_auth = getattr(self.adapter, "auth", None)
        auth = make_auth(spec) if make_auth is not None else None
        adapter_headers = self.adapter.auth_headers(spec.api_key()) if auth is None else {}
        headers = {name.lower(): value for name, value in adapter_headers.items()}
        # The config's own headers win, so a user can pin what an adapter defaults (anthropic-version, say).
        headers.update({name.lower(): value for name, value in dict(spec.headers).items()})
        connections = max(spec.max_concurrency or 0, 20)
        return {
            "auth": auth,
            "base_url": spec.base_url + "/",
            "headers": headers,
            "timeout": httpx.Timeout(
                connect=spec.timeout.connect, read=spec.timeout.read, write=spec.timeout.write, pool=spec.timeout.pool
            ),
            "limits": httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
            "follow_redirects": False,
        }

    def _new_client(self, cls: type[Any]) -> Any:
        options = self._client_options()
        if self._transport is not None:
            options["transport"] = self._transport
        return cls(**options)

    @property
    def client(self) -> httpx.Client:
        client = self._client
        if client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._new_client(httpx.Client)
                client = self._client
        return client

    def async_client(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        client = self._async_clients.get(loop)
        if client is None:
            client = self._async_clients[loop] = self._new_client(httpx.AsyncClient)
        return client

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    async def aclose(self) -> None:
        client = self._async_clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()

    # -- sending ----------------------------------------------------------------------------------------
    def _url(self, path: str) -> httpx.URL:
        # An absolute URL parsed once per path: joining base_url and a relative path makes httpx parse URLs
        # twice per request, about half of modelswap's per-call overhead (bench/profile_call.py).
        url = self._urls.get(path)
        if url is None:
            url = self._urls[path] = httpx.URL(self.spec.base_url + "/" + path.lstrip("/"))
        return url

    def send(self, path: str, body: dict[str, Any]) -> tuple[Any, int]:
        """POST ``body`` to ``path`` with retries; return the decoded JSON body and the number of attempts."""
        content = _encode(body)
        attempt = 0
        while True:
            attempt += 1
            try:
                if self._rate is not None:
                    self._rate.acquire()
                if self._concurrency is not None:
                    with self._concurrency:
                        response = self.client.post(self._url(path), content=content, headers=_JSON)
                else:
                    response = self.client.post(self._url(path), content=content, headers=_JSON)
                return self._decode(response), attempt
            except httpx.HTTPError as exc:
                error: ProviderError = self._transport_error(exc)
            except ProviderError as exc:
                error = exc
            delay = self._retry_delay(error, attempt)
            if delay is None:
                raise error from None
            self._sleep(delay)

    async def asend(self, path: str, body: dict[str, Any]) -> tuple[Any, int]:
        """Async :meth:`send`."""
        content = _encode(body)
        client = self.async_client()
        attempt = 0
        while True:
            attempt += 1
            try:
                if self._rate is not None:
                    await self._rate.aacquire()
                if self._concurrency is not None:
                    async with self._concurrency:
                        response = await client.post(self._url(path), content=content, headers=_JSON)
                else:
                    response = await client.post(self._url(path), content=content, headers=_JSON)
                return self._decode(response), attempt
            except httpx.HTTPError as exc:
                error: ProviderError = self._transport_error(exc)
            except ProviderError as exc:
                error = exc
            delay = self._retry_delay(error, attempt)
            if delay is None:
                raise error from None
            await asyncio.sleep(delay)

    def stream(self, path: str, body: dict[str, Any]) -> Iterator[str | tuple[Parsed, int]]:
        """POST a streaming request; yield text deltas, then ``(parsed result, attempts)``.

        Failures are retried like :meth:`send` only while no delta has been yielded: after that the caller has
        seen text, and a retry would repeat it.
        """
        content = _encode(body)
        attempt = 0
        while True:
            attempt += 1
            emitted = False
            decoder = self.adapter.stream_decoder()
            try:
                if self._rate is not None:
                    self._rate.acquire()
                with self._concurrency if self._concurrency is not None else _NO_LIMIT:
                    with self.client.stream("POST", self._url(path), content=content, headers=self._stream_headers) as response:
                        if response.status_code >= 300:
                            response.read()
                            raise self._http_error(response)
                        events = self._events(response)
                        for data, event in events:
                            delta = self._feed(decoder, data, event)
                            if delta:
                                emitted = True
                                yield delta
                            if decoder.done:
                                _drain(events)
                                break
                yield self._finish_stream(decoder), attempt
                return
            except httpx.HTTPError as exc:
                error: ProviderError = self._transport_error(exc)
            except ProviderError as exc:
                error = exc
            delay = None if emitted else self._retry_delay(error, attempt)
            if delay is None:
                raise error from None
            self._sleep(delay)

    async def astream(self, path: str, body: dict[str, Any]) -> AsyncIterator[str | tuple[Parsed, int]]:
        """Async :meth:`stream`."""
        content = _encode(body)
        client = self.async_client()
        attempt = 0
        while True:
            attempt += 1
            emitted = False
            decoder = self.adapter.stream_decoder()
            try:
                if self._rate is not None:
                    await self._rate.aacquire()
                if self._concurrency is not None:
                    await self._concurrency.aacquire()
                try:
                    async with client.stream("POST", self._url(path), content=content, headers=self._stream_headers) as response:
                        if response.status_code >= 300:
                            await response.aread()
                            raise self._http_error(response)
                        events = self._aevents(response)
                        async for data, event in events:
                            delta = self._feed(decoder, data, event)
                            if delta:
                                emitted = True
                                yield delta
                            if decoder.done:
                                await _adrain(events)
                                break
                finally:
                    if self._concurrency is not None:
                        self._concurrency.release()
                yield self._finish_stream(decoder), attempt
                return
            except httpx.HTTPError as exc:
                error: ProviderError = self._transport_error(exc)
            except ProviderError as exc:
                error = exc
            delay = None if emitted else self._retry_delay(error, attempt)
            if delay is None:
                raise error from None
            await asyncio.sleep(delay)

    def _events(self, response: httpx.Response) -> Iterator[tuple[str, str]]:
        if self.adapter.stream_format == "ndjson":
            for line in response.iter_lines():
                if line.strip():
                    yield line, "line"
            return
        self._check_event_stream(response)
        parser = SSEParser()
        for chunk in response.iter_bytes():
            yield from parser.feed(chunk)
        yield from parser.end()

    async def _aevents(self, response: httpx.Response) -> AsyncIterator[tuple[str, str]]:
        if self.adapter.stream_format == "ndjson":
            async for line in response.aiter_lines():
                if line.strip():
                    yield line, "line"
            return
        self._check_event_stream(response)
        parser = SSEParser()
        async for chunk in response.aiter_bytes():
            for item in parser.feed(chunk):
                yield item
        for item in parser.end():
            yield item

    def _check_event_stream(self, response: httpx.Response) -> None:
        content_type = response.headers.get("content-type", "").partition(";")[0].strip()
        if "text/event-stream" not in content_type:
            raise BadResponseError(
                f"{self.spec.name}: asked for a stream but got something else (content-type {content_type!r}, not "
                f"text/event-stream). Check that base_url ({self.spec.base_url}) points at a {self.spec.kind} "
                "endpoint that can stream.",
                provider=self.spec.name,
            )

    def _feed(self, decoder: StreamDecoder, data: str, event: str) -> str | None:
        name = self.spec.name
        try:
            return decoder.feed(data, event)
        except InBandError as exc:
            raise self.in_band_error(exc, "mid-stream") from None
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise BadResponseError(
                f"{name}: an unreadable {self.spec.kind} stream event ({exc}): {_snippet(data)!r}.", provider=name
            ) from None

    def in_band_error(self, exc: InBandError, where: str) -> ProviderError:
        """The typed error for one an adapter found inside a 200 answer (a stream event, a blocked prompt)."""
        name, info = self.spec.name, exc.info
        said = redact(info.message).rstrip(".")
        details = {"provider": name, "status": 200, "error_type": _text(info.error_type or info.code)}
        if exc.transient:
            return TransientError(f"{name}: the server reported an error {where}: {said}.", **details)
        return RequestRejectedError(f"{name}: the server rejected the request {where}: {said}.", **details)

    def _finish_stream(self, decoder: StreamDecoder) -> Parsed:
        try:
            return decoder.finish()
        except ValueError as exc:
            # A stream cut short is a dropped connection in all but name: transient.
            raise TransientError(f"{self.spec.name}: {exc}.", provider=self.spec.name) from None

    def _retry_delay(self, error: ProviderError, attempt: int) -> float | None:
        """Seconds to wait before the next attempt, or None to give up with ``error``."""
        policy = self.spec.retry
        if not isinstance(error, TransientError) or attempt > policy.max_retries:
            return None
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            # A wait longer than we are willing to sit through (a daily quota, say) fails now, with the figure.
            if retry_after > policy.max_retry_after_s:
                return None
            delay = retry_after
        else:
            delay = backoff_delay(policy, attempt)
        logger.info(
            "%s: attempt %d of %d failed, retrying in %.2fs: %s",
            self.spec.name, attempt, policy.max_retries + 1, delay, error,
        )
        return delay

    # -- responses --------------------------------------------------------------------------------------
    def _decode(self, response: httpx.Response) -> Any:
        status = response.status_code
        if status < 300:
            try:
                return json.loads(response.content)
            except ValueError:
                raise BadResponseError(
                    f"{self.spec.name}: HTTP {status} but the body is not JSON: {_snippet(response.text)!r}. "
                    f"Check that base_url ({self.spec.base_url}) points at the API root of a {self.spec.kind} endpoint.",
                    provider=self.spec.name,
                    status=status,
                ) from None
        raise self._http_error(response)

    def _http_error(self, response: httpx.Response) -> ProviderError:
        status = response.status_code
        try:
            body: Any = json.loads(response.content)
        except ValueError:
            body = response.text
        try:
            info = self.adapter.parse_error(status, body, response.headers)
        except Exception:  # an adapter must not hide the real failure behind its own
            info = ErrorInfo(message=_snippet(str(body)))
        name = self.spec.name
        request_id = response.headers.get("x-request-id") or response.headers.get("request-id")
        details = {"provider": name, "status": status, "error_type": _text(info.error_type or info.code), "request_id": request_id}
        said = redact(info.message or _snippet(str(body)) or response.reason_phrase).rstrip(".")
        if status == 429:
            retry_after = retry_after_seconds(response.headers)
            if retry_after is None:
                retry_after = info.retry_after_s
            wait = f" The server asked to wait {retry_after:g}s." if retry_after is not None else ""
            return RateLimitedError(
                f"{name}: rate limited (HTTP 429): {said}.{wait} Lower max_concurrency or requests_per_minute "
                f"for providers.{name}, or raise your quota with the provider.",
                retry_after=retry_after,
                **details,
            )
        if status in (401, 403):
            var = self.spec.api_key_env or "API_KEY"
            source = (
                f"the token that providers.{name}.token_command prints"
                if getattr(self.spec, "token_command", None) and not getattr(self.spec, "api_key_override", None)
                else f"the key in `{var}`"
            )
            return AuthenticationError(
                f"{name}: HTTP {status} {'unauthorized' if status == 401 else 'forbidden'}: {said}. "
                f"Check {source} and that it has access to this model.",
                **details,
            )
        if info.transient is False and status != 429:
            # The adapter knows this server error will not go away on a retry (Ollama: model too big for memory).
            return RequestRejectedError(f"{name}: HTTP {status}: {said}.", **details)
        if info.transient or status == 408 or status >= 500:
            # A server may say when to come back on a 503 too (Google's RetryInfo); the retry loop honours it.
            retry_after = retry_after_seconds(response.headers)
            if retry_after is None:
                retry_after = info.retry_after_s
            return TransientError(
                f"{name}: HTTP {status}, the server failed or is overloaded: {said}. Such errors are retried "
                f"(providers.{name}.retry sets how often); if it persists, check the server.",
                retry_after=retry_after,
                **details,
            )
        hint = (
            "Check the model id and base_url." if status == 404 else "Check the request params against the provider's API."
        )
        return RequestRejectedError(f"{name}: HTTP {status}: {said}. {hint}", **details)

    def _transport_error(self, exc: httpx.HTTPError) -> ProviderError:
        name, url = self.spec.name, self.spec.base_url
        if isinstance(exc, httpx.TimeoutException):
            which = {
                httpx.ConnectTimeout: "connecting",
                httpx.ReadTimeout: "waiting for the response",
                httpx.WriteTimeout: "sending the request",
                httpx.PoolTimeout: "waiting for a free connection",
            }.get(type(exc), "talking to the server")
            return ProviderTimeoutError(
                f"{name}: timed out {which} at {url}. Raise providers.{name}.timeout or check the server's load.",
                provider=name,
            )
        if isinstance(exc, httpx.ConnectError):
            return EndpointUnreachableError(
                f"{name}: cannot connect to {url} ({redact(str(exc)) or type(exc).__name__}). "
                "Is the server running and the base_url right?"
                + (" For the local model, start it with `modelswap serve-local`." if _is_loopback(url) else ""),
                provider=name,
            )
        if isinstance(exc, httpx.TransportError):
            return TransientError(
                f"{name}: the connection to {url} failed mid-request ({type(exc).__name__}: {redact(str(exc))}).",
                provider=name,
            )
        return BadResponseError(f"{name}: {type(exc).__name__}: {redact(str(exc))}", provider=name)


_JSON = {"content-type": "application/json"}
_DRAIN_EVENTS = 16


def _drain(events: Iterator[tuple[str, str]]) -> None:
    """Read what follows the terminal event (normally just the body's end), so the connection goes back to the
    pool instead of being closed: without it every streamed call paid a new TCP (and TLS) handshake. Bounded,
    in case a server keeps talking after its own end marker."""
    for _ in zip(range(_DRAIN_EVENTS), events):
        pass


async def _adrain(events: AsyncIterator[tuple[str, str]]) -> None:
    count = 0
    async for _ in events:
        count += 1
        if count >= _DRAIN_EVENTS:
            break
    await events.aclose()  # type: ignore[attr-defined]


_STREAM = {"content-type": "application/json", "accept": "text/event-stream", "cache-control": "no-store"}
_NDJSON_STREAM = {**_STREAM, "accept": "application/x-ndjson"}
_NO_LIMIT = contextlib.nullcontext()


def _encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def _snippet(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _is_loopback(url: str) -> bool:
    host = httpx.URL(url).host
    return host in ("localhost", "::1") or host.startswith("127.")
