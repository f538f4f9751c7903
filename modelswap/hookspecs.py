"""The whole plugin API: provider kinds, and observers of calls.

A provider *kind* is a wire protocol (``openai``, ``anthropic``, ...). A plugin supplies one class that
implements :class:`Adapter` and registers it under the entry-point group ``modelswap.providers``::

    [project.entry-points."modelswap.providers"]
    mykind = "my_package.adapter:MyAdapter"

The adapter only translates: modelswap's provider layer owns the base URL, the key, the pooled HTTP client,
timeouts, retries and limits, so every kind gets them the same way. Built-in kinds live in
``modelswap.plugins`` and are registered through the same entry-point group; they load lazily, on first use.

A plugin may also watch every call a :class:`~modelswap.Client` makes: register a factory (no arguments, returns
a :class:`CallObserver` or None) under ``modelswap.observers``. Shadow recording (``$MODELSWAP_RECORD``) is
the built-in one::

    [project.entry-points."modelswap.observers"]
    shadow-record = "modelswap.shadow:recorder_from_env"
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Mapping, NamedTuple, Protocol

if TYPE_CHECKING:
    from ._config import ModelSpec

__all__ = [
    "Adapter",
    "CallObserver",
    "ENTRY_POINT_GROUP",
    "ErrorInfo",
    "InBandError",
    "Message",
    "OBSERVER_GROUP",
    "Parsed",
    "StreamDecoder",
]

ENTRY_POINT_GROUP = "modelswap.providers"
OBSERVER_GROUP = "modelswap.observers"

# {"role": "system" | "user" | "assistant", "content": str}
Message = Mapping[str, Any]


class Parsed(NamedTuple):
    """What an adapter reads out of a successful response."""

    text: str
    finish_reason: str | None
    input_tokens: int | None
    output_tokens: int | None
    reasoning_tokens: int | None = None
    """Thinking tokens billed at the output price but NOT counted in ``output_tokens`` (Gemini's
    ``thoughtsTokenCount``). Leave None where the API already counts them as output (OpenAI, Anthropic)."""


class ErrorInfo(NamedTuple):
    """What an adapter reads out of an error response."""

    message: str
    error_type: str | None = None
    code: str | int | None = None
    retry_after_s: float | None = None
    transient: bool | None = None
    """None lets the HTTP status decide; True or False overrides it (a 5xx that no retry will fix, say)."""


class InBandError(Exception):
    """Raised by a :class:`StreamDecoder` for an error the server sent inside a 200 stream."""

    def __init__(self, info: ErrorInfo, transient: bool = True) -> None:
        super().__init__(info.message)
        self.info = info
        self.transient = transient


class StreamDecoder(Protocol):
    """Reads one streamed response, event by event. A new decoder is made for every attempt."""

    done: bool
    """True once the protocol's terminal event arrived (``[DONE]``, ``message_stop``, ``done: true``)."""

    def feed(self, data: str, event: str) -> str | None:
        """Take one SSE event (its data and its event name, ``message`` by default) or one NDJSON line (event
        ``line``). Return the text delta it carries, if any. Raise :class:`InBandError` for an in-band error."""
        ...

    def finish(self) -> Parsed:
        """The whole result once the stream ended. Raise ``ValueError`` when it ended too early to trust."""
        ...


class Adapter(Protocol):
    """Wire translation for one provider kind. Instances are created once per provider and must be stateless."""

    kind: ClassVar[str]

    def auth_headers(self, api_key: str | None) -> dict[str, str]:
        """Headers that carry the key (empty when ``api_key`` is None).

        An adapter whose credentials expire (Vertex's OAuth tokens) may also define
        ``auth(self, spec: ProviderSpec) -> httpx.Auth | None``; when it returns an ``httpx.Auth``, that is used
        for every request instead of these headers.
        """
        ...

    stream_format: ClassVar[str]
    """How streams arrive: ``sse`` or ``ndjson``."""

    supported_params: ClassVar[frozenset[str]]
    """Which generic params (temperature, top_p, max_tokens, stop, seed) the protocol can honour. Asking for
    another is an error naming the provider and the param, unless the model's config lists it in drop_params."""

    native_schema: ClassVar[bool]
    """True when ``build_request`` can ask the server itself for JSON matching a schema; otherwise modelswap
    falls back to instructions in the prompt. Either way the answer is validated."""

    def build_request(
        self,
        model: ModelSpec,
        messages: list[Message],
        params: Mapping[str, Any],
        *,
        stream: bool = False,
        schema: Mapping[str, Any] | None = None,
    ) -> tuple[str, dict[str, Any]]:
        """Return the path (relative to the provider's base URL, query string allowed) and the JSON body.

        ``params`` holds only non-None values. ``schema`` is only passed when ``native_schema`` is True.
        """
        ...

    def parse_response(self, body: Any) -> Parsed:
        """Read a successful JSON body. Raise ``ValueError`` when it is not the protocol's shape."""
        ...

    def parse_error(self, status: int, body: Any, headers: Mapping[str, str]) -> ErrorInfo:
        """Read an error body (JSON, or the raw text when it was not JSON)."""
        ...

    def stream_decoder(self) -> StreamDecoder:
        """A fresh decoder for one streamed response."""
        ...


class CallObserver(Protocol):
    """Told about every finished call of a client: the completion, or the error after the retries. Must be quick
    and thread-safe (calls finish on many threads and event loops), and must not raise."""

    def record(
        self,
        spec: ModelSpec,
        messages: Any,
        params: Mapping[str, Any],
        completion: Any = None,
        *,
        error: BaseException | None = None,
        latency_s: float | None = None,
    ) -> None: ...
