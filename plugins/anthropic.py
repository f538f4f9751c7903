"""Provider kind ``anthropic``: Anthropic's Messages API, ``POST {base_url}/messages``, version 2023-06-01.

Quirks this handles:

* Auth is ``x-api-key`` (not a bearer token) plus a **required** ``anthropic-version`` header, sent even
  without a key so that keyless proxies speaking the protocol still get it.
* The system prompt is top-level ``system``; ``messages`` holds only ``user`` and ``assistant`` turns. Every
  system (and ``developer``) message, wherever it stands, joins ``system``; consecutive turns of one role
  are merged, since older models insist on alternation.
* Empty text is a 400 ("text content blocks must be non-empty", whitespace only too). It is refused here,
  before sending, with the message's position; only a final, empty assistant prefill is dropped (it asks
  for nothing), and a final prefill loses its trailing whitespace, which the API also rejects.
* ``max_tokens`` is **required**: without one from the call or the model's params, :data:`DEFAULT_MAX_TOKENS`.
  ``stop`` is ``stop_sequences``. There is no ``seed``: asking for one is modelswap's clear error unless the
  model lists it in ``drop_params``.
* Errors are ``{"type": "error", "error": {"type", "message"}, "request_id"}``; overload is HTTP **529**
  (``overloaded_error``), retried like any 5xx. A 429's ``retry-after`` is read by the core; without one,
  the ``anthropic-ratelimit-*-reset`` headers (RFC 3339 timestamps) give the wait.
* Streams are SSE with event names and **no** ``[DONE]``: ``message_start`` (input tokens),
  ``content_block_*`` (``text_delta`` carries text; tool JSON and thinking deltas are not answer text),
  ``message_delta`` (stop reason, *cumulative* usage), ``message_stop``, ``ping``, and ``error`` events
  inside the 200 stream (``overloaded_error`` mid-stream is the well-known one).
* Structured output uses prompt instructions (``native_schema`` is False). The 2023-06-01 request schema
  (SDK 0.125.0) does have ``output_config.format: {type: json_schema, schema}``, but only recent models
  accept it, and only a subset of JSON Schema; one class-wide flag cannot tell which model is asked, so the
  portable path is used.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, ClassVar, Mapping

from modelswap._errors import RequestRejectedError
from modelswap.hookspecs import ErrorInfo, InBandError, Message, Parsed

if TYPE_CHECKING:
    from modelswap._config import ModelSpec

__all__ = ["ANTHROPIC_VERSION", "DEFAULT_MAX_TOKENS", "AnthropicMessages", "AnthropicMessagesStream"]

ANTHROPIC_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 1024
"""Sent when neither the call nor the model's ``params`` give ``max_tokens``, which the API requires."""

_SYSTEM_ROLES = frozenset({"system", "developer"})
# RFC 3339 with any number of fraction digits and a Z; Python 3.10's fromisoformat takes only 3 or 6, no Z.
_RFC3339 = re.compile(r"^(\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d)(?:\.(\d+))?([Zz]|[+-]\d\d:?\d\d)?$")
# Error types that are the server's trouble, worth a retry when they arrive inside a 200 stream.
_TRANSIENT_TYPES = frozenset({"overloaded_error", "api_error", "rate_limit_error", "timeout_error"})


class AnthropicMessages:
    """Wire translation for ``POST {base_url}/messages``."""

    kind: ClassVar[str] = "anthropic"
    stream_format: ClassVar[str] = "sse"
    supported_params: ClassVar[frozenset[str]] = frozenset({"temperature", "top_p", "max_tokens", "stop"})
    native_schema: ClassVar[bool] = False

    def auth_headers(self, api_key: str | None) -> dict[str, str]:
        headers = {"anthropic-version": ANTHROPIC_VERSION}
        if api_key:
            headers["x-api-key"] = api_key
        return headers

    def build_request(
        self,
        model: ModelSpec,
        messages: list[Message],
        params: Mapping[str, Any],
        *,
        stream: bool = False,
        schema: Mapping[str, Any] | None = None,
    ) -> tuple[str, dict[str, Any]]:
        system, turns = _split_messages(model, messages)
        body: dict[str, Any] = {"model": model.model_id, "max_tokens": DEFAULT_MAX_TOKENS, "messages": turns}
        if system:
            body["system"] = system
        for name, value in params.items():
            if value is None:
                continue
            if name == "stop":
                name, value = "stop_sequences", [value] if isinstance(value, str) else list(value)
            body[name] = value  # provider-specific fields (top_k, metadata, ...) pass through unchanged
        if stream:
            body["stream"] = True
        return "messages", body

    def parse_response(self, body: Any) -> Parsed:
        if not isinstance(body, dict) or not isinstance(body.get("content"), list):
            raise ValueError("expected a message object with a `content` list")
        blocks = [block for block in body["content"] if isinstance(block, dict)]
        text = "".join(block.get("text") or "" for block in blocks if block.get("type") == "text")
        usage = body.get("usage") or {}
        return Parsed(text, body.get("stop_reason"), usage.get("input_tokens"), usage.get("output_tokens"))

    def parse_error(self, status: int, body: Any, headers: Mapping[str, str]) -> ErrorInfo:
        retry_after = _ratelimit_reset_wait(headers) if status == 429 else None
        if isinstance(body, dict):
            error = body.get("error")
            if isinstance(error, dict):
                return ErrorInfo(str(error.get("message") or ""), error.get("type"), None, retry_after)
            if isinstance(error, str):  # proxies in front of the API sometimes flatten it
                return ErrorInfo(error, body.get("type"), None, retry_after)
        return ErrorInfo(str(body)[:300], None, None, retry_after)

    def stream_decoder(self) -> AnthropicMessagesStream:
        return AnthropicMessagesStream(self)


class AnthropicMessagesStream:
    """Decodes the Messages API's named SSE events.

    Text comes from ``text_delta`` deltas (and from a ``content_block_start`` that already carries text, which
    the API may send). Usage in ``message_delta`` is cumulative, so its non-null values replace earlier ones.
    The stream is complete at ``message_stop``; one that ends after a stop reason but before ``message_stop``
    (its last event not terminated by a blank line, as in the SDK's own fixtures) is still accepted.
    """

    def __init__(self, adapter: AnthropicMessages) -> None:
        self._adapter = adapter
        self._parts: list[str] = []
        self._stop_reason: str | None = None
        self._usage: dict[str, Any] = {}
        self.done = False

    def feed(self, data: str, event: str) -> str | None:
        payload = json.loads(data)
        if not isinstance(payload, dict):
            raise ValueError("a stream event is not a JSON object")
        kind = payload.get("type") or event
        if kind == "error":
            info = self._adapter.parse_error(200, payload, {})
            raise InBandError(info, transient=info.error_type in _TRANSIENT_TYPES or not info.error_type)
        if kind == "message_start":
            self._take_usage((payload.get("message") or {}).get("usage"))
        elif kind == "content_block_start":
            block = payload.get("content_block") or {}
            if block.get("type") == "text" and block.get("text"):
                return self._emit(block["text"])
        elif kind == "content_block_delta":
            delta = payload.get("delta") or {}
            if delta.get("type") == "text_delta" and delta.get("text"):
                return self._emit(delta["text"])
        elif kind == "message_delta":
            stop_reason = (payload.get("delta") or {}).get("stop_reason")
            if stop_reason:
                self._stop_reason = stop_reason
            self._take_usage(payload.get("usage"))
        elif kind == "message_stop":
            self.done = True
        # ping, content_block_stop and event types newer than this adapter carry no answer text.
        return None

    def finish(self) -> Parsed:
        if not self.done and self._stop_reason is None:
            raise ValueError("the stream ended before message_stop or a stop reason (truncated)")
        return Parsed(
            "".join(self._parts),
            self._stop_reason,
            self._usage.get("input_tokens"),
            self._usage.get("output_tokens"),
        )

    def _emit(self, text: str) -> str:
        self._parts.append(text)
        return text

    def _take_usage(self, usage: Any) -> None:
        if isinstance(usage, dict):
            self._usage.update({k: v for k, v in usage.items() if v is not None})


def _split_messages(model: ModelSpec, messages: list[Message]) -> tuple[str, list[dict[str, str]]]:
    """The top-level system text and the user/assistant turns; refuses what the API would reject."""
    name = model.provider.name
    # Positions count every message this call sends, system prompts included (modelswap puts those first).
    system: list[str] = []
    turns: list[dict[str, str]] = []
    for position, message in enumerate(messages, 1):
        role, content = message.get("role"), message.get("content")
        if not isinstance(content, str):
            raise TypeError(f"message {position} must have string content, got {type(content).__name__}")
        if role in _SYSTEM_ROLES:
            if content.strip():  # an empty system prompt asks for nothing, and the API refuses empty blocks
                system.append(content)
            continue
        if role not in ("user", "assistant"):
            raise _rejected(
                name,
                f"message {position} of {len(messages)} has role {role!r}; the Messages API takes only user and assistant turns "
                "(system text goes to `system`). Send it as a user message",
            )
        last = position == len(messages) and role == "assistant"
        if not content.strip() and not last:
            raise _rejected(
                name,
                f"message {position} of {len(messages)} ({role}) is empty; Anthropic rejects empty text content with a 400 "
                "('text content blocks must be non-empty'). Remove it or give it text",
            )
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"] += "\n\n" + content
        else:
            turns.append({"role": role, "content": content})
    if turns and turns[-1]["role"] == "assistant" and messages and messages[-1].get("role") == "assistant":
        # A final assistant turn is a prefill: it may not end in whitespace, and an empty one is no prefill.
        prefill = turns[-1]["content"].rstrip()
        if prefill:
            turns[-1]["content"] = prefill
        else:
            turns.pop()
    if not turns:
        raise _rejected(name, "no user message to send; the Messages API needs at least one user turn")
    return "\n\n".join(system), turns


def _rejected(provider: str, problem: str) -> RequestRejectedError:
    # Refused before sending, as the server's own 400 would have been: the same type, never retried.
    return RequestRejectedError(
        f"{provider}: {problem}.", provider=provider, status=None, error_type="invalid_request_error"
    )


def _ratelimit_reset_wait(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    """Seconds until the exhausted limit resets, from ``anthropic-ratelimit-*-reset`` (RFC 3339 timestamps).

    The core prefers ``retry-after``; this is the fallback. When the ``-remaining`` headers show which limits
    ran out, the latest of their resets counts; otherwise the earliest reset, when a retry may first succeed.
    """
    resets: dict[str, float] = {}
    exhausted: list[float] = []
    current = now or datetime.now(timezone.utc)
    for key, value in headers.items():
        key = key.lower()
        if not (key.startswith("anthropic-ratelimit-") and key.endswith("-reset")):
            continue
        moment = _parse_rfc3339(value)
        if moment is None:
            continue
        wait = max((moment - current).total_seconds(), 0.0)
        limit = key[: -len("-reset")]
        resets[limit] = wait
        if str(headers.get(f"{limit}-remaining", "")).strip() == "0":
            exhausted.append(wait)
    if exhausted:
        return max(exhausted)
    return min(resets.values()) if resets else None


def _parse_rfc3339(value: str) -> datetime | None:
    match = _RFC3339.match(value.strip())
    if match is None:
        return None
    stamp, fraction, zone = match.groups()
    zone = "+00:00" if zone is None or zone in "Zz" else zone[:3] + ":" + zone[-2:]
    try:
        return datetime.fromisoformat(f"{stamp.replace(' ', 'T')}.{(fraction or '').ljust(6, '0')[:6]}{zone}")
    except ValueError:
        return None
