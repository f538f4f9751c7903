from __future__ import annotations

import os
import threading
import time
from typing import Any, AsyncIterator, Iterator, Mapping, Sequence

from ._config import Config, ModelSpec, ProviderSpec, load_config
from ._errors import BadResponseError, ConfigError, ModelSwapError, StructuredOutputError
from ._observers import observers_from_environment
from ._structured import check, instruction, repair_turns
from ._types import Completion
from .hookspecs import InBandError, Message, Parsed

__all__ = ["Client", "acomplete", "astream", "complete", "default_client", "stream"]

_ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})
GENERIC_PARAMS = frozenset({"temperature", "top_p", "max_tokens", "stop", "seed"})


class Client:
    """Calls models named in one config. Thread-safe; share one per process.

    Args:
        config: a :class:`Config`, a path to a YAML file, or None to find one (``$MODELSWAP_CONFIG``,
            ``./modelswap.yaml``, then the built-in default).
        transport: an ``httpx`` transport used for every provider; the test seam (``httpx.MockTransport``).
        recorder: an observer of every call (:class:`modelswap.hookspecs.CallObserver`), such as a
            :class:`modelswap.shadow.TrafficRecorder` sampling calls for shadow replay. Default: whatever the
            registered observer factories find in the environment (``$MODELSWAP_RECORD``; see
            :mod:`modelswap._observers`), usually none.

    Example:
        >>> import modelswap
        >>> with modelswap.Client() as client:                      # doctest: +SKIP
        ...     print(client.complete("Say hi", model="gemma-chat").text)
    """

    def __init__(
        self, config: Config | str | os.PathLike[str] | None = None, *, transport: Any = None, recorder: Any = None
    ) -> None:
        self._config = config if isinstance(config, Config) else None
        self._config_path = None if isinstance(config, Config) else config
        self._transport = transport
        self._observers = [recorder] if recorder is not None else observers_from_environment()
        self._providers: dict[ProviderSpec, Any] = {}
        self._lock = threading.Lock()

    @property
    def config(self) -> Config:
        if self._config is None:
            with self._lock:
                if self._config is None:
                    self._config = load_config(self._config_path)
        return self._config

    def resolve(self, model: str | None = None) -> ModelSpec:
        """The :class:`ModelSpec` a call with ``model`` would use (see the config docs for the precedence)."""
        return self.config.resolve(model)

    def provider(self, spec: ProviderSpec) -> Any:
        provider = self._providers.get(spec)
        if provider is None:
            from ._provider import Provider

            with self._lock:
                provider = self._providers.get(spec)
                if provider is None:
                    provider = self._providers[spec] = Provider(spec, transport=self._transport)
        return provider

    def _prepare(
        self,
        messages: list[Message],
        model: str | None,
        params: dict[str, Any],
        stream: bool = False,
        schema: Mapping[str, Any] | None = None,
    ) -> tuple[ModelSpec, Any, str, dict[str, Any]]:
        spec = self.config.resolve(model)
        provider = self.provider(spec.provider)
        adapter = provider.adapter
        # Call arguments override the model's configured params; an argument left as None does not.
        merged = {k: v for k, v in params.items() if v is not None}
        if spec.params:
            merged = {**{k: v for k, v in spec.params.items() if v is not None}, **merged}
        unsupported = [name for name in merged if name in GENERIC_PARAMS and name not in adapter.supported_params]
        for name in unsupported:
            if not spec.dropped(name):
                raise ConfigError(
                    f"Provider {spec.provider.name!r} ({spec.provider.kind}) cannot honour the param `{name}`. "
                    f"Remove it, or add `drop_params: [{name}]` to models.{spec.alias} to drop it silently.",
                    field=f"models.{spec.alias}.params.{name}",
                )
            del merged[name]
        if schema is not None and not adapter.native_schema:
            messages = [{"role": "system", "content": instruction(schema)}, *messages]
            schema = None
        if stream or schema is not None:
            path, body = adapter.build_request(spec, messages, merged, stream=stream, schema=schema)
        else:
            path, body = adapter.build_request(spec, messages, merged)
        return spec, provider, path, body

    def _finish(self, spec: ModelSpec, provider: Any, body: Any, attempts: int, started: float) -> Completion:
        try:
            parsed = provider.adapter.parse_response(body)
        except InBandError as exc:  # an answer that is a refusal (a blocked prompt): typed, with the provider's name
            raise provider.in_band_error(exc, "in its answer") from None
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise BadResponseError(
                f"{spec.provider.name}: the response is not a valid {spec.provider.kind} completion ({exc}). "
                f"Check that base_url ({spec.provider.base_url}) points at a {spec.provider.kind}-compatible API.",
                provider=spec.provider.name,
            ) from None
        return self._completion(spec, parsed, attempts, started, body)

    def _completion(self, spec: ModelSpec, parsed: Parsed, attempts: int, started: float, raw: Any) -> Completion:
        price = spec.price
        return Completion(
            text=parsed.text,
            finish_reason=parsed.finish_reason,
            input_tokens=parsed.input_tokens,
            output_tokens=parsed.output_tokens,
            latency_s=time.perf_counter() - started,
            cost=price.cost(parsed.input_tokens, (parsed.output_tokens or 0) + (parsed.reasoning_tokens or 0))
            if price is not None else None,
            reasoning_tokens=parsed.reasoning_tokens,
            alias=spec.alias,
            provider=spec.provider.name,
            model_id=spec.model_id,
            attempts=attempts,
            raw=raw,
        )

    def complete(
        self,
        prompt: str | Sequence[Message],
        *,
        model: str | None = None,
        system: str | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        max_tokens: int | None = None,
        stop: str | Sequence[str] | None = None,
        seed: int | None = None,
        schema: Mapping[str, Any] | None = None,
        **extra: Any,
    ) -> Completion:
        """Complete a prompt (a string) or a chat (a list of ``{"role", "content"}`` messages).

        Args:
            model: an alias, ``provider/model_id``, or None for the active model.
            system: a system prompt put before the messages.
            schema: a JSON Schema the answer must match. The provider's native JSON mode is used where it has
                one, instructions in the prompt elsewhere; the answer is validated, repaired once by asking the
                model again, and parsed into ``Completion.data``.
            extra: provider-specific body fields, passed through unchanged.

        Raises:
            ConfigError: the model cannot be resolved or its key is missing.
            ProviderError: the endpoint failed (after retries, for the transient family).
            StructuredOutputError: with ``schema``, the answer still does not match after the repair.
        """
        started = time.perf_counter()
        params = {"temperature": temperature, "top_p": top_p, "max_tokens": max_tokens, "stop": stop, "seed": seed, **extra}
        messages = _messages(prompt, system)
        spec, provider, path, body = self._prepare(messages, model, params, schema=schema)
        try:
            response, attempts = provider.send(path, body)
            completion = self._finish(spec, provider, response, attempts, started)
            repair = _needs_repair(completion, messages, schema)
            if repair is not None:
                spec, provider, path, body = self._prepare(repair, model, params, schema=schema)
                response, more = provider.send(path, body)
                completion = self._finish(spec, provider, response, attempts + more, started)
                completion.data = _checked(spec, completion.text, schema)
        except ModelSwapError as exc:
            for observer in self._observers:
                observer.record(spec, messages, params, error=exc, latency_s=time.perf_counter() - started)
            raise
        for observer in self._observers:
            observer.record(spec, messages, params, completion)
        return completion

    async def acomplete(
        self,
        prompt: str | Sequence[Message],
        *,
        model: str | None = None,
        system: str | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        max_tokens: int | None = None,
        stop: str | Sequence[str] | None = None,
        seed: int | None = None,
        schema: Mapping[str, Any] | None = None,
        **extra: Any,
    ) -> Completion:
        """Async :meth:`complete`."""
        started = time.perf_counter()
        params = {"temperature": temperature, "top_p": top_p, "max_tokens": max_tokens, "stop": stop, "seed": seed, **extra}
        messages = _messages(prompt, system)
        spec, provider, path, body = self._prepare(messages, model, params, schema=schema)
        try:
            response, attempts = await provider.asend(path, body)
            completion = self._finish(spec, provider, response, attempts, started)
            repair = _needs_repair(completion, messages, schema)
            if repair is not None:
                spec, provider, path, body = self._prepare(repair, model, params, schema=schema)
                response, more = await provider.asend(path, body)
                completion = self._finish(spec, provider, response, attempts + more, started)
                completion.data = _checked(spec, completion.text, schema)
        except ModelSwapError as exc:
            for observer in self._observers:
                observer.record(spec, messages, params, error=exc, latency_s=time.perf_counter() - started)
            raise
        for observer in self._observers:
            observer.record(spec, messages, params, completion)
        return completion

    def stream(
        self,
        prompt: str | Sequence[Message],
        *,
        model: str | None = None,
        system: str | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        max_tokens: int | None = None,
        stop: str | Sequence[str] | None = None,
        seed: int | None = None,
        **extra: Any,
    ) -> Iterator[str | Completion]:
        """Like :meth:`complete`, but yield text deltas as they arrive, then the final :class:`Completion`.

        Failures before the first delta are retried like :meth:`complete`; after it, they raise.

        Example:
            >>> for item in client.stream("Tell a story"):                # doctest: +SKIP
            ...     print(item, end="") if isinstance(item, str) else print("\n", item.output_tokens)
        """
        started = time.perf_counter()
        params = {"temperature": temperature, "top_p": top_p, "max_tokens": max_tokens, "stop": stop, "seed": seed, **extra}
        spec, provider, path, body = self._prepare(_messages(prompt, system), model, params, stream=True)
        for item in provider.stream(path, body):
            if isinstance(item, str):
                yield item
            else:
                parsed, attempts = item
                yield self._completion(spec, parsed, attempts, started, None)

    async def astream(
        self,
        prompt: str | Sequence[Message],
        *,
        model: str | None = None,
        system: str | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        max_tokens: int | None = None,
        stop: str | Sequence[str] | None = None,
        seed: int | None = None,
        **extra: Any,
    ) -> AsyncIterator[str | Completion]:
        """Async :meth:`stream`."""
        started = time.perf_counter()
        params = {"temperature": temperature, "top_p": top_p, "max_tokens": max_tokens, "stop": stop, "seed": seed, **extra}
        spec, provider, path, body = self._prepare(_messages(prompt, system), model, params, stream=True)
        async for item in provider.astream(path, body):
            if isinstance(item, str):
                yield item
            else:
                parsed, attempts = item
                yield self._completion(spec, parsed, attempts, started, None)

    def close(self) -> None:
        """Close the pooled sync connections."""
        for provider in list(self._providers.values()):
            provider.close()

    async def aclose(self) -> None:
        """Close the pooled connections of the running event loop (and the sync ones)."""
        for provider in list(self._providers.values()):
            await provider.aclose()
            provider.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()


def _needs_repair(completion: Completion, messages: list[Message], schema: Mapping[str, Any] | None) -> list[Message] | None:
    """With a schema: set ``completion.data`` and return None when the answer is valid, else the repair turns."""
    if schema is None:
        return None
    data, problem, where = check(completion.text, schema)
    if problem is None:
        completion.data = data
        return None
    return repair_turns(messages, completion.text, problem, where)


def _checked(spec: ModelSpec, text: str, schema: Mapping[str, Any]) -> Any:
    """The repaired answer's data, or StructuredOutputError: there is no second repair."""
    data, problem, where = check(text, schema)
    if problem is not None:
        raise StructuredOutputError(
            f"{spec.provider.name}: the answer of {spec.alias} does not match the schema at {where}: {problem}, "
            "even after one repair. Simplify the schema, give an example in the prompt, or use a model with a "
            "native JSON mode.",
            provider=spec.provider.name,
            json_path=where,
            text=text,
        )
    return data


def _messages(prompt: str | Sequence[Message], system: str | None) -> list[Message]:
    if isinstance(prompt, str):
        messages: list[Message] = [{"role": "user", "content": prompt}]
    else:
        messages = list(prompt)
        for i, message in enumerate(messages):
            role = message.get("role") if hasattr(message, "get") else None
            if role not in _ROLES or not isinstance(message.get("content"), str):
                raise TypeError(
                    f"messages[{i}] must be a mapping with a role in {sorted(_ROLES)} and string content, "
                    f"got {message!r}"
                )
    if system is not None:
        messages.insert(0, {"role": "system", "content": system})
    return messages


_default: Client | None = None
_default_lock = threading.Lock()


def default_client() -> Client:
    """The process-wide client used by :func:`complete` and :func:`acomplete`."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = Client()
    return _default


def complete(prompt: str | Sequence[Message], *, model: str | None = None, **kwargs: Any) -> Completion:
    """Complete with the process-wide client; see :meth:`Client.complete`.

    Example:
        >>> import modelswap
        >>> modelswap.complete("Classify: 'great film!' ->", model="gemma-chat").text   # doctest: +SKIP
    """
    return default_client().complete(prompt, model=model, **kwargs)


async def acomplete(prompt: str | Sequence[Message], *, model: str | None = None, **kwargs: Any) -> Completion:
    """Async :func:`complete`."""
    return await default_client().acomplete(prompt, model=model, **kwargs)


def stream(prompt: str | Sequence[Message], *, model: str | None = None, **kwargs: Any) -> Iterator[str | Completion]:
    """Stream with the process-wide client; see :meth:`Client.stream`."""
    return default_client().stream(prompt, model=model, **kwargs)


def astream(prompt: str | Sequence[Message], *, model: str | None = None, **kwargs: Any) -> AsyncIterator[str | Completion]:
    """Async :func:`stream`: ``async for item in modelswap.astream(...)``."""
    return default_client().astream(prompt, model=model, **kwargs)
