"""Provider kind ``openai``: the Chat Completions API and every server that speaks it.

OpenAI, Groq, Together, OpenRouter, vLLM, llama.cpp's llama-server, Ollama's ``/v1``, TGI's Messages API and
LM Studio. Their differences that matter to a single, non-streaming call:

* OpenAI's reasoning models reject ``max_tokens``; it sends ``max_completion_tokens`` there. The compatible
  servers document ``max_tokens`` (llama.cpp also takes the new name, TGI does not), so they get that.
* Error bodies come in several shapes: OpenAI's ``{"error": {"message", "type", "code"}}``, llama.cpp's integer
  ``code``, OpenRouter's ``{"error": {"code": 429, "metadata"}}``, TGI's ``{"error": "...", "error_type"}``.
* ``choices`` may be empty and ``content`` may be null (a refusal, or tool calls only).
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any, ClassVar, Mapping

from modelswap.hookspecs import ErrorInfo, InBandError, Message, Parsed

if TYPE_CHECKING:
    from modelswap._config import ModelSpec

__all__ = ["OpenAIChat", "OpenAIChatStream"]

_GENERIC_PARAMS = ("temperature", "top_p", "max_tokens", "stop", "seed")
_RETRY_IN = re.compile(r"try again in (\d+(?:\.\d+)?)(ms|s)\b", re.IGNORECASE)


class OpenAIChat:
    """Wire translation for ``POST {base_url}/chat/completions``."""

    kind: ClassVar[str] = "openai"
    stream_format: ClassVar[str] = "sse"
    supported_params: ClassVar[frozenset[str]] = frozenset({"temperature", "top_p", "max_tokens", "stop", "seed"})
    native_schema: ClassVar[bool] = True

    def auth_headers(self, api_key: str | None) -> dict[str, str]:
        return {"authorization": f"Bearer {api_key}"} if api_key else {}

    def build_request(
        self,
        model: ModelSpec,
        messages: list[Message],
        params: Mapping[str, Any],
        *,
        stream: bool = False,
        schema: Mapping[str, Any] | None = None,
    ) -> tuple[str, dict[str, Any]]:
        body: dict[str, Any] = {"model": model.model_id, "messages": messages}
        if schema is not None:
            body.update(_schema_fields(model, schema))
        if stream:
            # Usage arrives in one extra chunk with empty `choices`, and only when asked for.
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        for name, value in params.items():
            if value is None:
                continue
            if name == "max_tokens" and model.provider.profile == "openai":
                name = "max_completion_tokens"
            elif name == "stop" and isinstance(value, str):
                value = [value]
            body[name] = value
        return "chat/completions", body

    def parse_response(self, body: Any) -> Parsed:
        if not isinstance(body, dict) or not isinstance(body.get("choices"), list):
            raise ValueError("expected an object with a `choices` list")
        choices = body["choices"]
        text, finish_reason = "", None
        if choices:
            choice = choices[0]
            message = choice.get("message") or {}
            content = message.get("content")
            if isinstance(content, list):  # content parts, as some servers return them
                content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
            text = content or ""
            finish_reason = choice.get("finish_reason")
        usage = body.get("usage") or {}
        return Parsed(text, finish_reason, usage.get("prompt_tokens"), usage.get("completion_tokens"))

    def parse_error(self, status: int, body: Any, headers: Mapping[str, str]) -> ErrorInfo:
        if isinstance(body, dict):
            error = body.get("error")
            if isinstance(error, dict):
                message = str(error.get("message") or "")
                metadata = error.get("metadata")
                if isinstance(metadata, dict) and metadata.get("raw"):  # OpenRouter: the upstream's own words
                    message = f"{message} ({metadata['raw']})"
                return ErrorInfo(message, error.get("type"), error.get("code"), _retry_in(message))
            if isinstance(error, str):
                return ErrorInfo(error, body.get("error_type"), None, _retry_in(error))
            if "message" in body:
                return ErrorInfo(str(body["message"]), body.get("type"), body.get("code"))
        return ErrorInfo(str(body)[:300])

    def stream_decoder(self) -> OpenAIChatStream:
        return OpenAIChatStream(self)


class OpenAIChatStream:
    """Decodes ``chat.completion.chunk`` events.

    Survives what real servers send: comment lines (handled by the SSE parser), a usage-only final chunk with
    empty ``choices``, usage in a provider-specific place (Groq's ``x_groq.usage``) or not in the last chunk, no
    ``[DONE]`` after a finish reason, and ``{"error": ...}`` events inside a 200 stream.
    """

    def __init__(self, adapter: OpenAIChat) -> None:
        self._adapter = adapter
        self._parts: list[str] = []
        self._finish_reason: str | None = None
        self._usage: dict[str, Any] | None = None
        self.done = False

    def feed(self, data: str, event: str) -> str | None:
        if data == "[DONE]":
            self.done = True
            return None
        chunk = json.loads(data)
        if not isinstance(chunk, dict):
            raise ValueError("a stream chunk is not a JSON object")
        if "error" in chunk:
            info = self._adapter.parse_error(200, chunk, {})
            raise InBandError(info, transient=_is_server_side(info))
        usage = chunk.get("usage") or (chunk.get("x_groq") or {}).get("usage")
        if usage:  # keep the last non-null usage; never overwrite it with None
            self._usage = usage
        choices = chunk.get("choices")
        if not choices:
            return None
        choice = choices[0]
        if choice.get("finish_reason"):
            self._finish_reason = choice["finish_reason"]
        content = (choice.get("delta") or {}).get("content")
        if content:
            self._parts.append(content)
            return content
        return None

    def finish(self) -> Parsed:
        if not self.done and self._finish_reason is None:
            raise ValueError("the stream ended before a finish reason or [DONE] (truncated)")
        usage = self._usage or {}
        return Parsed("".join(self._parts), self._finish_reason, usage.get("prompt_tokens"), usage.get("completion_tokens"))


def _schema_fields(model: ModelSpec, schema: Mapping[str, Any]) -> dict[str, Any]:
    """Ask the server for JSON matching ``schema``, the way each server understands it."""
    profile = model.provider.profile
    if profile == "llamacpp":
        # llama-server turns `json_schema` into a grammar; its response_format support is partial.
        return {"json_schema": dict(schema)}
    if profile == "ollama":
        return {"response_format": {"type": "json_object"}}
    if profile == "tgi":
        return {"response_format": {"type": "json", "value": dict(schema)}}
    return {
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": str(schema.get("title") or "response").replace(" ", "_")[:64], "schema": dict(schema)},
        }
    }


def _is_server_side(info: ErrorInfo) -> bool:
    """Whether an in-band error is the server's trouble (worth a retry) rather than the request's."""
    if isinstance(info.code, int):
        return info.code == 429 or info.code >= 500
    kind = f"{info.error_type or ''} {info.code or ''}".lower()
    words = ("server", "overload", "unavailable", "timeout", "rate_limit", "internal")
    return not kind.strip() or any(word in kind for word in words)


def _retry_in(message: str) -> float | None:
    """OpenAI also says when to retry in the message text ("Please try again in 20s")."""
    match = _RETRY_IN.search(message)
    if not match:
        return None
    value = float(match.group(1))
    return value / 1000 if match.group(2).lower() == "ms" else value
