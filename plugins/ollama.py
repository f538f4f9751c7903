"""Provider kind ``ollama``: Ollama's native chat API, ``POST {base_url}/api/chat``.

``base_url`` is the server root: ``http://localhost:11434``, or ``https://ollama.com`` for Ollama's cloud,
which takes a bearer key. (The ``ollama`` preset is the OpenAI-compatible ``/v1``, which is kind ``openai``.)
Quirks of the native API that this handles:

* ``stream`` defaults to **true** on the server, so every call states it: ``"stream": false`` for ``complete``.
* Sampling params belong under ``options`` (``max_tokens`` is ``num_predict``). The server silently ignores
  top-level ``temperature``, ``max_tokens`` and friends, so none are ever sent there. Extras that are Ollama
  options (``top_k``, ``num_ctx``, ``repeat_penalty``, ...) go under ``options`` too; other extras
  (``keep_alive``, ``think``, ``truncate``, ``shift``, ``tools``) are top-level fields and pass through.
* The context window truncates long prompts **silently**: HTTP 200, a normal ``done_reason``, one line in the
  server's log. The window is ``options.num_ctx`` and the server's default depends on its release and VRAM,
  so the model's configured ``context_window`` is sent as ``num_ctx``. On Ollama that number also sizes the
  KV cache allocated when the model loads (above the trained length the server cuts it, with a log line),
  and a ``num_ctx`` other than the loaded one reloads the model: configure what the workload needs, not the
  model's maximum, and one value for every alias of the same model. Nothing in the response says a prompt
  was cut; ``Completion.input_tokens`` (``prompt_eval_count``) well below what the prompt should count is
  the only hint, after the fact.
* ``developer`` messages become ``system``: Ollama's chat templates branch on system/user/assistant/tool,
  and most of them silently leave a message with another role out of the prompt.
* Structured output is native: the JSON Schema goes in top-level ``format``.
* Thinking models think by default; the thinking comes in ``message.thinking`` (never in the text) and
  counts against ``num_predict``. Pass ``think=False`` to turn it off.
* Token counts are ``prompt_eval_count`` / ``eval_count`` (durations are in nanoseconds, unused). Both are
  ``omitempty`` on the server and old servers send no ``done_reason``: missing means unknown (None).
* Streams are NDJSON; the last line has ``done: true`` with the counts, and may lack ``message``.
* Errors are ``{"error": "string"}``: the whole body of a 4xx/5xx (a missing model is a 404) or, once the
  stream has started, one more line inside the 200 stream, with a ``status`` when the server knows one.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any, ClassVar, Mapping

from modelswap.hookspecs import ErrorInfo, InBandError, Message, Parsed

if TYPE_CHECKING:
    from modelswap._config import ModelSpec

__all__ = ["OllamaChat", "OllamaChatStream"]

# modelswap's generic params and their names under `options`.
_GENERIC_OPTIONS = {
    "temperature": "temperature", "top_p": "top_p", "max_tokens": "num_predict", "stop": "stop", "seed": "seed",
}
# Every key of Ollama's api.Options and api.Runner: extras with these names go under `options`, not top level.
_OLLAMA_OPTIONS = frozenset({
    "num_ctx", "num_batch", "num_gpu", "main_gpu", "use_mmap", "num_thread", "draft_num_predict",
    "num_keep", "seed", "num_predict", "top_k", "top_p", "min_p", "typical_p", "repeat_last_n", "temperature",
    "repeat_penalty", "presence_penalty", "frequency_penalty", "stop",
})
# Set by the adapter itself; an extra with one of these names must not replace them.
_OWN_FIELDS = frozenset({"model", "messages", "stream", "options"})
# "model 'x' not found" (unknown name) and "model \"x\" not found, try pulling it first" (no weights on disk).
_WONT_FIT = re.compile(r"requires more system memory|out of memory|insufficient memory", re.IGNORECASE)
_MODEL_NOT_FOUND = re.compile(r"""model\s+['"]?(?P<name>[^'"\s]+)['"]?\s+not found""", re.IGNORECASE)


class OllamaChat:
    """Wire translation for Ollama's ``/api/chat``."""

    kind: ClassVar[str] = "ollama"
    stream_format: ClassVar[str] = "ndjson"
    supported_params: ClassVar[frozenset[str]] = frozenset(_GENERIC_OPTIONS)
    native_schema: ClassVar[bool] = True

    def auth_headers(self, api_key: str | None) -> dict[str, str]:
        # A local server takes no key; Ollama's cloud (https://ollama.com/api) takes a bearer token.
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
        body: dict[str, Any] = {}
        options: dict[str, Any] = {}
        given = params.get("options")
        if given is not None:
            if not isinstance(given, Mapping):
                raise TypeError(f"`options` for an Ollama model must be a mapping of Ollama options, got {given!r}")
            options.update(given)
        for name, value in params.items():
            if value is None or name == "options":
                continue
            if name in _GENERIC_OPTIONS:
                options[_GENERIC_OPTIONS[name]] = _stop_list(value) if name == "stop" else value
            elif name in _OLLAMA_OPTIONS:
                options[name] = value
            elif name not in _OWN_FIELDS:
                body[name] = value  # a top-level ChatRequest field: keep_alive, think, truncate, tools, ...
        if model.context_window and "num_ctx" not in options:
            options["num_ctx"] = model.context_window
        body.update(
            model=model.model_id,
            messages=[_message(m) for m in messages],
            stream=bool(stream),  # always explicit: the server streams when the field is absent
        )
        if options:
            body["options"] = options
        if schema is not None:
            body["format"] = dict(schema)
        return "api/chat", body

    def parse_response(self, body: Any) -> Parsed:
        if not isinstance(body, dict):
            raise ValueError("expected an Ollama chat object")
        if "error" in body:  # a proxy that answers 200 with the error body
            raise ValueError(f"the body is an error, not an answer: {_error_text(body)}")
        if body.get("done") is not True:
            raise ValueError("expected `done: true` (a `done: false` object is one line of a stream)")
        return _parsed(body, (body.get("message") or {}).get("content") or "")

    def parse_error(self, status: int, body: Any, headers: Mapping[str, str]) -> ErrorInfo:
        message = _error_text(body)
        if status == 404:
            found = _MODEL_NOT_FOUND.search(message)
            if found:
                message += f"; pull it on the server with `ollama pull {found.group('name')}`"
            elif "page not found" in message.lower():
                # Go's router: the path is wrong, almost always a base_url that ends in /v1 or /api.
                message += ("; the server has no /api/chat under this base_url: give the server root "
                            "(http://localhost:11434), or use the `ollama` preset (kind openai) for /v1")
        # The model does not fit the server's memory: a 500 that no retry will fix.
        if status >= 500 and _WONT_FIT.search(message):
            return ErrorInfo(message + "; use a smaller model or quantisation, or a lower num_ctx", transient=False)
        return ErrorInfo(message)

    def stream_decoder(self) -> OllamaChatStream:
        return OllamaChatStream()


class OllamaChatStream:
    """Decodes the NDJSON chat stream: content deltas, then one ``done: true`` line with the counts.

    A ``{"error": ...}`` line ends the stream (the server sends it once output has started, so the status stays
    200). It is retried as transient unless it carries a 4xx ``status``; the provider never retries once a delta
    has reached the caller.
    """

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._final: dict[str, Any] | None = None
        self.done = False

    def feed(self, data: str, event: str) -> str | None:
        chunk = json.loads(data)
        if not isinstance(chunk, dict):
            raise ValueError("a stream line is not a JSON object")
        if "error" in chunk:
            status = chunk.get("status")
            transient = not isinstance(status, int) or status == 429 or status >= 500
            raise InBandError(ErrorInfo(_error_text(chunk), code=status if isinstance(status, int) else None), transient)
        content = (chunk.get("message") or {}).get("content")  # the final line may have no `message`
        if chunk.get("done") is True:
            self.done = True
            self._final = chunk
        if content:
            self._parts.append(content)
            return content
        return None

    def finish(self) -> Parsed:
        if self._final is None:
            raise ValueError("the stream ended before its `done: true` line (truncated)")
        return _parsed(self._final, "".join(self._parts))


def _message(message: Message) -> dict[str, Any]:
    out = dict(message)
    if out.get("role") == "developer":  # OpenAI's newer name for system; Ollama's templates drop unknown roles
        out["role"] = "system"
    return out


def _stop_list(value: Any) -> list[str]:
    # Ollama's `stop` is []string; a bare string would be rejected as an invalid option type.
    return [value] if isinstance(value, str) else list(value)


def _parsed(final: Mapping[str, Any], text: str) -> Parsed:
    return Parsed(text, final.get("done_reason") or None, _count(final, "prompt_eval_count"), _count(final, "eval_count"))


def _count(body: Mapping[str, Any], name: str) -> int | None:
    value = body.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _error_text(body: Any) -> str:
    """The message of ``{"error": "..."}``, of an OpenAI-style ``{"error": {"message"}}`` from a proxy, or the text."""
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            error = error.get("message") or json.dumps(error)
        if error is not None:
            return str(error)[:500]
        return json.dumps(body)[:500]
    return str(body).strip()[:500]
