"""Provider kinds ``gemini`` (Gemini API) and ``vertex`` (Vertex AI): one wire format, two front doors.

``gemini`` posts to ``{base_url}/models/{model}:generateContent`` (base ``.../v1beta``); ``vertex`` to
``{base_url}/models/{model}:generateContent`` where the base ends in
``projects/{p}/locations/{l}/publishers/google`` (a base that stops at ``locations/{l}`` gets
``publishers/google/`` added). Streams use ``:streamGenerateContent?alt=sse``. The body is the same
``GenerateContentRequest`` for both. What the two kinds handle:

* **Auth.** Gemini: the key goes in the ``x-goog-api-key`` header, never in the URL (``?key=`` would put it in
  every proxy and access log). Vertex: ``Authorization: Bearer <OAuth access token>``, through
  :class:`VertexTokenAuth`: the token comes from ``API_KEY``/``api_key_env`` or, when the provider sets
  ``token_command`` (``gcloud auth print-access-token``), from running that command (no shell), cached for
  ``token_ttl_s``, refreshed when it expires and once more on a 401. Tokens are registered with the redactor
  and never appear in a message, a log line or a repr.
* **Turns.** ``contents`` holds ``user`` and ``model`` turns only, each with an explicit role (Vertex requires
  it): ``assistant`` becomes ``model``; every ``system``/``developer`` message, wherever it stands, becomes
  one part of ``systemInstruction``. Consecutive turns of one role are merged into one turn with several
  parts. An empty user message is refused before sending (the API answers 400 "empty text parameter"); an
  empty assistant turn carries nothing and is dropped. ``tool`` messages are refused.
* **Params** live in ``generationConfig``: ``max_tokens`` -> ``maxOutputTokens``, ``stop`` ->
  ``stopSequences`` (at most 5, refused above), ``top_p`` -> ``topP``, ``temperature``, ``seed``.
  Provider-specific extras that are GenerationConfig fields (``top_k``, ``thinking_config``,
  ``presence_penalty``, ``response_modalities``, ..., snake_case or camelCase) go there too, renamed to
  camelCase; request fields (``safety_settings``, ``tools``, ``tool_config``, ``cached_content``, Vertex
  ``labels``) go top level; anything else passes through unchanged. On 2.5 models ``maxOutputTokens`` also
  bounds the *thinking*: a small cap can end in ``MAX_TOKENS`` with no text.
  ``thinking_config={"thinking_budget": 0}`` turns thinking off on Flash.
* **Structured output** is native: ``responseMimeType: application/json`` plus ``responseSchema``, the JSON
  Schema translated by :func:`to_gemini_schema` into the OpenAPI-3.0 subset that ``Schema`` accepts (``$ref``
  inlined, ``null`` types as ``nullable``, ``const`` as ``enum``, uppercase types, int64 bounds as strings,
  ``propertyOrdering`` in declaration order, unsupported keywords dropped; see its docstring). The translation
  may loosen a constraint, never tighten one, and the core validates the answer against the *original* schema.
  A schema with no Gemini equivalent at all (a value of any type, a free-form map, a recursive ``$ref``) falls
  back to plain JSON mode with the schema as instructions in ``systemInstruction``. ``responseSchema`` rather
  than the newer ``responseJsonSchema`` because every Gemini model on both APIs accepts it; a model's params
  may set ``schema_field: responseJsonSchema`` to send the untranslated schema there instead (newer models
  only).
* **Responses.** The text is ``candidates[0].content.parts[*].text`` joined, without ``thought: true`` parts
  (reasoning). ``finishReason`` is reported as the API says it (``STOP``, ``MAX_TOKENS``, ...). A prompt
  blocked by ``promptFeedback.blockReason`` (no candidates at all) and an answer withheld by a content filter
  (``SAFETY``, ``RECITATION``, ``PROHIBITED_CONTENT``, ...) are errors (:class:`RequestRejectedError`), naming
  the reason and the flagged categories. Usage: ``promptTokenCount`` in, ``candidatesTokenCount`` out, as
  the API splits it: thinking (``thoughtsTokenCount``) is billed at the output price but not in that count,
  so it is ``Completion.reasoning_tokens`` and part of ``Completion.cost``.
* **Errors** are ``{"error": {"code", "message", "status", "details": [...]}}`` (sometimes wrapped in a list).
  A 429 is ``RESOURCE_EXHAUSTED``; its wait is ``details[@type=...RetryInfo].retryDelay`` (``"37s"``): Google
  sends no Retry-After header. The quota that ran out (``QuotaFailure``) and an invalid key (``ErrorInfo``
  reason ``API_KEY_INVALID``, which comes as a 400) are named in the message.
* **Streams** are SSE (CRLF line endings), each event a whole ``GenerateContentResponse`` with the next text;
  there is no sentinel: the stream is complete once a ``finishReason`` arrived and the server closed it, and
  the usage of the last chunk holds the totals. An error mid-stream is an event with the error body.

Where each part lives: this module holds the two adapters (paths, auth, reading bodies and error bodies);
:mod:`modelswap.plugins._gemini_request` builds the request body (turns, params, structured output);
:mod:`modelswap.plugins._gemini_schema` translates JSON Schema; :mod:`modelswap.plugins._gemini_response`
reads answers and decodes streams; :mod:`modelswap.plugins._vertex_auth` fetches, caches and refreshes
Vertex tokens.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, ClassVar, Mapping
from urllib.parse import quote

import httpx

from modelswap.hookspecs import ErrorInfo, InBandError, Message, Parsed
from modelswap.plugins._gemini_request import GENERIC_PARAMS, MAX_STOP_SEQUENCES, request_body
from modelswap.plugins._gemini_response import GeminiGenerateStream, answer, refused
from modelswap.plugins._gemini_schema import UnsupportedSchemaError, to_gemini_schema
from modelswap.plugins._vertex_auth import VertexTokenAuth

if TYPE_CHECKING:
    from modelswap._config import ModelSpec, ProviderSpec

__all__ = [
    "MAX_STOP_SEQUENCES",
    "GeminiGenerate",
    "GeminiGenerateStream",
    "UnsupportedSchemaError",
    "VertexGenerate",
    "VertexTokenAuth",
    "to_gemini_schema",
]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")  # google.protobuf.Duration in JSON: "37s", "0.250s"


class GeminiGenerate:
    """Wire translation for the Gemini API's ``models/{model}:generateContent``."""

    kind: ClassVar[str] = "gemini"
    stream_format: ClassVar[str] = "sse"
    supported_params: ClassVar[frozenset[str]] = frozenset(GENERIC_PARAMS)
    native_schema: ClassVar[bool] = True

    def auth_headers(self, api_key: str | None) -> dict[str, str]:
        return {"x-goog-api-key": api_key} if api_key else {}

    def build_request(
        self,
        model: ModelSpec,
        messages: list[Message],
        params: Mapping[str, Any],
        *,
        stream: bool = False,
        schema: Mapping[str, Any] | None = None,
    ) -> tuple[str, dict[str, Any]]:
        return self._path(model, stream), request_body(model, messages, params, schema)

    def _path(self, model: ModelSpec, stream: bool) -> str:
        model_id = model.model_id.strip("/")
        name = model_id if model_id.startswith(("models/", "tunedModels/")) else f"models/{model_id}"
        return _method(name, stream)

    def parse_response(self, body: Any) -> Parsed:
        if isinstance(body, list):
            # streamGenerateContent without alt=sse answers one JSON array of chunks (a proxy may do that).
            decoder = self.stream_decoder()
            try:
                for chunk in body:
                    decoder.take(chunk)
            except InBandError as exc:
                if exc.transient:
                    raise ValueError(f"the array holds an error: {exc.info.message}") from None
                raise refused(exc.info) from None
            return decoder.partial()
        if not isinstance(body, dict):
            raise ValueError("expected a GenerateContentResponse object")
        if "error" in body:  # a proxy that answers 200 with the error body
            raise ValueError(
                f"the body is an error, not an answer: {self.parse_error(200, body, {}).message}"
            )
        if not isinstance(body.get("candidates", []), list) or not (
            "candidates" in body or "promptFeedback" in body or "usageMetadata" in body
        ):
            raise ValueError("expected `candidates` (or `promptFeedback`) in a GenerateContentResponse")
        return answer(body)

    def parse_error(self, status: int, body: Any, headers: Mapping[str, str]) -> ErrorInfo:
        if isinstance(body, list) and body and isinstance(body[0], dict):
            body = body[0]  # streamGenerateContent without alt=sse wraps its error in the array too
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict):
            message = str(error.get("message") or "")
            status_name = error.get("status")
            retry_after: float | None = None
            notes: list[str] = []
            for detail in error.get("details") or []:
                if not isinstance(detail, dict):
                    continue
                kind = str(detail.get("@type", ""))
                if kind.endswith("google.rpc.RetryInfo"):
                    retry_after = _duration(detail.get("retryDelay"))
                elif kind.endswith("google.rpc.QuotaFailure"):
                    quotas = [
                        str(v.get("quotaId") or v.get("quotaMetric"))
                        for v in detail.get("violations") or []
                        if isinstance(v, dict) and (v.get("quotaId") or v.get("quotaMetric"))
                    ]
                    if quotas:
                        notes.append("quota " + ", ".join(quotas))
                elif kind.endswith("google.rpc.ErrorInfo") and detail.get("reason") == "API_KEY_INVALID":
                    notes.append(self._invalid_key_hint())
            if status in (401, 403) or status_name == "UNAUTHENTICATED":
                hint = self._unauthenticated_hint(status_name)
                if hint:
                    notes.append(hint)
            if notes:
                message = f"{message.rstrip('. ')} ({'; '.join(notes)})"
            code = error.get("code")
            return ErrorInfo(message, str(status_name) if status_name else None, code, retry_after)
        if isinstance(error, str):
            return ErrorInfo(error)
        return ErrorInfo(str(body).strip()[:300])

    def _invalid_key_hint(self) -> str:
        return "the key sent in x-goog-api-key was refused: check the provider's api_key_env"

    def _unauthenticated_hint(self, status_name: Any) -> str:
        return ""

    def stream_decoder(self) -> GeminiGenerateStream:
        return GeminiGenerateStream(self)


class VertexGenerate(GeminiGenerate):
    """Wire translation for Vertex AI's ``publishers/google/models/{model}:generateContent``, OAuth tokens."""

    kind: ClassVar[str] = "vertex"

    def auth_headers(self, api_key: str | None) -> dict[str, str]:
        # Used only when auth() returns None: a keyless proxy in front of Vertex.
        return {"authorization": f"Bearer {api_key}"} if api_key else {}

    def auth(self, spec: ProviderSpec) -> httpx.Auth | None:
        """Bearer tokens that expire: from ``token_command`` (cached, refreshed) or the environment."""
        if (
            spec.token_command is None
            and not spec.api_key_override
            and not spec.api_key_env
            and not spec.api_key_required
        ):
            return None
        return VertexTokenAuth(spec)

    def _path(self, model: ModelSpec, stream: bool) -> str:
        model_id = model.model_id.strip("/").removeprefix("models/")
        base = model.provider.base_url.rstrip("/")
        if re.search(r"/locations/[^/]+$", base):
            # A base URL that stops at the location: a publisher model, or an `endpoints/...` id as given.
            name = model_id if "/" in model_id else f"publishers/google/models/{model_id}"
        else:
            name = f"models/{model_id}"
        return _method(name, stream)

    def _invalid_key_hint(self) -> str:
        return "the access token was refused"

    def _unauthenticated_hint(self, status_name: Any) -> str:
        if status_name == "UNAUTHENTICATED":
            # A token_command token has been refreshed and resent once before this error is raised.
            return "the OAuth access token was refused: check token_command or the token in api_key_env"
        return ""


def _method(name: str, stream: bool) -> str:
    name = quote(name, safe="/")
    return f"{name}:streamGenerateContent?alt=sse" if stream else f"{name}:generateContent"


def _duration(value: Any) -> float | None:
    match = _DURATION.match(str(value)) if value is not None else None
    return float(match.group(1)) if match else None
