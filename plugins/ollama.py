"""Provider kind ``ollama``: Ollama's native chat API, ``POST {base_url}/api/chat``.

Quirks this handles:

* ``stream`` defaults to **true** on the server, so every non-streaming call sends ``"stream": false``.
* Sampling params belong under ``options`` (``max_tokens`` is ``num_predict``); top-level sampling keys are
  silently ignored by the server, so none are sent there.
* The context window silently truncates long prompts (HTTP 200, normal finish). When the model's config gives a
  ``context_window``, it is sent as ``options.num_ctx`` so the server does not fall back to its small default.
* Structured output is native: the JSON Schema goes in top-level ``format``.
* Streams are NDJSON; the last line has ``done: true`` with the counts, and may lack ``message``. Errors arrive
  as ``{"error": "..."}`` lines inside a 200 stream, or as the whole body of a 4xx/5xx.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, ClassVar, Mapping

from modelswap.hookspecs import ErrorInfo, InBandError, Message, Parsed

if TYPE_CHECKING:
    from modelswap._config import ModelSpec

__all__ = ["OllamaChat", "OllamaChatStream"]

_OPTION_NAMES = {"temperature": "temperature", "top_p": "top_p", "max_tokens": "num_predict", "stop": "stop", "seed": "seed"}


class OllamaChat:
    """Wire translation for Ollama's ``/api/chat``."""

    kind: ClassVar[str] = "ollama"
    stream_format: ClassVar[str] = "ndjson"
    supported_params: ClassVar[frozenset[str]] = frozenset(_OPTION_NAMES)
    native_schema: ClassVar[bool] = True

    def auth_headers(self, api_key: str | None) -> dict[str, str]:
        # Local servers take no key; Ollama's cloud takes a bearer token.
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
        options: dict[str, Any] = {}
        for name, value in params.items():
            option = _OPTION_NAMES.get(name)
            if option is None:
                options[name] = value  # provider-specific options (top_k, repeat_penalty, ...) pass through
            else:
                options[option] = [value] if name == "stop" and isinstance(value, str) else value
        if model.context_window and "num_ctx" not in options:
            options["num_ctx"] = model.context_window
        body: dict[str, Any] = {"model": model.model_id, "messages": [dict(m) for m in messages], "stream": stream}
        if options:
            body["options"] = options
        if schema is not None:
            body["format"] = dict(schema)
        return "api/chat", body

    def parse_response(self, body: Any) -> Parsed:
        if not isinstance(body, dict) or "done" not in body:
            raise ValueError("expected an Ollama chat object with `done`")
        message = body.get("message") or {}
        return Parsed(message.get("content") or "", body.get("done_reason"), body.get("prompt_eval_count"), body.get("eval_count"))

    def parse_error(self, status: int, body: Any, headers: Mapping[str, str]) -> ErrorInfo:
        message = body.get("error") if isinstance(body, dict) else None
        message = str(message if message is not None else body)[:500]
        if status == 404 and "not found" in message:
            message += "; pull it on the server with `ollama pull MODEL`"
        return ErrorInfo(message)

    def stream_decoder(self) -> OllamaChatStream:
        return OllamaChatStream()


class OllamaChatStream:
    """Decodes the NDJSON chat stream."""

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._final: dict[str, Any] = {}
        self.done = False

    def feed(self, data: str, event: str) -> str | None:
        chunk = json.loads(data)
        if not isinstance(chunk, dict):
            raise ValueError("a stream line is not a JSON object")
        if "error" in chunk:
            raise InBandError(ErrorInfo(str(chunk["error"])), transient=True)
        content = (chunk.get("message") or {}).get("content")
        if chunk.get("done"):
            self.done = True
            self._final = chunk
        if content:
            self._parts.append(content)
            return content
        return None

    def finish(self) -> Parsed:
        if not self.done:
            raise ValueError("the stream ended before its `done: true` line (truncated)")
        final = self._final
        return Parsed("".join(self._parts), final.get("done_reason"), final.get("prompt_eval_count"), final.get("eval_count"))
