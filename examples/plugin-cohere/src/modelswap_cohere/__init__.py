"""Provider kind ``cohere``: Cohere's v2 Chat API (``POST {base_url}/chat``), as a third-party plugin.

modelswap drives it like every kind: base URL, key, pooled client, retries, limits and error types come from the
core; this module only translates. Quirks: ``max_tokens`` and ``stop_sequences`` at top level, content as a list
of typed blocks, usage under ``usage.tokens``, and streams of typed SSE events ending with ``message-end``.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar, Mapping

from modelswap.hookspecs import ErrorInfo, InBandError, Message, Parsed

__all__ = ["CohereChat"]


class CohereChat:
    kind: ClassVar[str] = "cohere"
    stream_format: ClassVar[str] = "sse"
    supported_params: ClassVar[frozenset[str]] = frozenset({"temperature", "top_p", "max_tokens", "stop", "seed"})
    native_schema: ClassVar[bool] = True

    def auth_headers(self, api_key: str | None) -> dict[str, str]:
        return {"authorization": f"Bearer {api_key}"} if api_key else {}

    def build_request(
        self,
        model: Any,
        messages: list[Message],
        params: Mapping[str, Any],
        *,
        stream: bool = False,
        schema: Mapping[str, Any] | None = None,
    ) -> tuple[str, dict[str, Any]]:
        body: dict[str, Any] = {"model": model.model_id, "messages": [dict(m) for m in messages], "stream": stream}
        names = {"top_p": "p", "stop": "stop_sequences"}
        for name, value in params.items():
            body[names.get(name, name)] = [value] if name == "stop" and isinstance(value, str) else value
        if schema is not None:
            body["response_format"] = {"type": "json_object", "json_schema": dict(schema)}
        return "chat", body

    def parse_response(self, body: Any) -> Parsed:
        content = body["message"].get("content") or []
        text = "".join(block.get("text", "") for block in content if block.get("type") == "text")
        tokens = (body.get("usage") or {}).get("tokens") or {}
        return Parsed(text, body.get("finish_reason"), tokens.get("input_tokens"), tokens.get("output_tokens"))

    def parse_error(self, status: int, body: Any, headers: Mapping[str, str]) -> ErrorInfo:
        if isinstance(body, dict) and "message" in body:
            return ErrorInfo(str(body["message"]))
        return ErrorInfo(str(body)[:300])

    def stream_decoder(self) -> _CohereStream:
        return _CohereStream()


class _CohereStream:
    def __init__(self) -> None:
        self._parts: list[str] = []
        self._final: dict[str, Any] = {}
        self.done = False

    def feed(self, data: str, event: str) -> str | None:
        chunk = json.loads(data)
        kind = chunk.get("type")
        if kind == "content-delta":
            text = chunk["delta"]["message"]["content"]["text"]
            self._parts.append(text)
            return text
        if kind == "message-end":
            self._final = chunk.get("delta") or {}
            self.done = True
        elif kind == "error" or "message" in chunk and kind is None:
            raise InBandError(ErrorInfo(str(chunk.get("message", chunk))))
        return None

    def finish(self) -> Parsed:
        if not self.done:
            raise ValueError("the stream ended before message-end (truncated)")
        tokens = (self._final.get("usage") or {}).get("tokens") or {}
        return Parsed("".join(self._parts), self._final.get("finish_reason"), tokens.get("input_tokens"),
                      tokens.get("output_tokens"))
