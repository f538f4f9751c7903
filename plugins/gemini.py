"""Provider kinds ``gemini`` (Gemini API) and ``vertex`` (Vertex AI): one wire format, two front doors.

``gemini`` posts to ``{base_url}/models/{model}:generateContent`` (base ``.../v1beta``); ``vertex`` to
``{base_url}/models/{model}:generateContent`` where the base ends in
``projects/{p}/locations/{l}/publishers/google`` (a base that stops at ``locations/{l}`` gets
``publishers/google/`` added). Streams use ``:streamGenerateContent?alt=sse``. The body is the same
``GenerateContentRequest`` for both. What this handles:

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
"""

from __future__ import annotations

import asyncio
import json
import re
import shlex
import subprocess
import threading
import time
from typing import TYPE_CHECKING, Any, AsyncGenerator, Callable, ClassVar, Generator, Mapping
from urllib.parse import quote

import httpx

from modelswap._errors import ConfigError, MissingCredentialsError, RequestRejectedError
from modelswap._redact import redact, remember_secret
from modelswap._structured import instruction
from modelswap.hookspecs import ErrorInfo, InBandError, Message, Parsed

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

MAX_STOP_SEQUENCES = 5
"""The API's limit on ``stopSequences``; more is a 400, refused here before sending."""

_SYSTEM_ROLES = frozenset({"system", "developer"})
_ROLE_NAMES = {"user": "user", "assistant": "model"}
# modelswap's generic params and their GenerationConfig names.
_GENERIC = {
    "temperature": "temperature",
    "top_p": "topP",
    "max_tokens": "maxOutputTokens",
    "stop": "stopSequences",
    "seed": "seed",
}
# Every GenerationConfig field of the Gemini API (v1beta) and of Vertex AI (v1), in JSON (camelCase) names.
_GENERATION_CONFIG = frozenset(
    {
        "candidateCount",
        "stopSequences",
        "maxOutputTokens",
        "temperature",
        "topP",
        "topK",
        "seed",
        "responseMimeType",
        "responseSchema",
        "responseJsonSchema",
        "responseJsonSchemaOrdered",
        "presencePenalty",
        "frequencyPenalty",
        "responseLogprobs",
        "logprobs",
        "enableEnhancedCivicAnswers",
        "responseModalities",
        "speechConfig",
        "thinkingConfig",
        "imageConfig",
        "mediaResolution",
        "audioTimestamp",
        "audioTranscriptionConfig",
        "enableAffectiveDialog",
        "responseFormat",
        "routingConfig",
        "translationConfig",
    }
)
# Request fields besides contents/systemInstruction/generationConfig (both APIs; labels etc. are Vertex's).
_REQUEST_FIELDS = frozenset(
    {
        "tools",
        "toolConfig",
        "safetySettings",
        "cachedContent",
        "labels",
        "modelArmorConfig",
        "outputConfig",
        "continuationToken",
    }
)
# Built from the messages; an extra with one of these names would silently replace them.
_OWN_FIELDS = frozenset({"contents", "systemInstruction", "model"})
_SCHEMA_FIELDS = {
    "responseschema": "responseSchema",
    "response_schema": "responseSchema",
    "responsejsonschema": "responseJsonSchema",
    "response_json_schema": "responseJsonSchema",
}
# Finish reasons that mean the answer was withheld by a filter: an error, not an (empty or cut) answer.
_WITHHELD = frozenset(
    {
        "SAFETY",
        "RECITATION",
        "LANGUAGE",
        "BLOCKLIST",
        "PROHIBITED_CONTENT",
        "SPII",
        "IMAGE_SAFETY",
        "IMAGE_PROHIBITED_CONTENT",
        "IMAGE_RECITATION",
    }
)
# google.rpc codes that are the server's trouble, worth a retry when they arrive inside a 200 stream.
_TRANSIENT_STATUSES = frozenset(
    {"RESOURCE_EXHAUSTED", "UNAVAILABLE", "INTERNAL", "DEADLINE_EXCEEDED", "ABORTED", "UNKNOWN"}
)
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")  # google.protobuf.Duration in JSON: "37s", "0.250s"
_SNAKE = re.compile(r"_([a-z0-9])")


class GeminiGenerate:
    """Wire translation for the Gemini API's ``models/{model}:generateContent``."""

    kind: ClassVar[str] = "gemini"
    stream_format: ClassVar[str] = "sse"
    supported_params: ClassVar[frozenset[str]] = frozenset(_GENERIC)
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
        system, contents = _split_messages(model, messages)
        body: dict[str, Any] = {"contents": contents}
        config: dict[str, Any] = {}
        schema_field = "responseSchema"
        for name, value in params.items():
            if value is None:
                continue
            if name == "schema_field":
                schema_field = _schema_field(value)
                continue
            if name in _GENERIC:
                continue  # below, so that they win over a generationConfig given as an extra
            if name in ("generationConfig", "generation_config"):
                if not isinstance(value, Mapping):
                    raise TypeError(f"`{name}` must be a mapping of GenerationConfig fields, got {value!r}")
                config.update({_camel(k): v for k, v in value.items()})
                continue
            wire = _camel(name)
            if wire in _OWN_FIELDS:
                raise TypeError(
                    f"`{name}` is built from the messages and cannot be passed as a param; "
                    "give system text as a system message"
                )
            if wire in _GENERATION_CONFIG:
                config[wire] = value
            elif wire in _REQUEST_FIELDS:
                body[wire] = value
            else:
                body[name] = value  # a field newer than this adapter: sent as given
        for name, wire in _GENERIC.items():
            value = params.get(name)
            if value is not None:
                config[wire] = _stop_list(model, value) if name == "stop" else value
        if schema is not None:
            config["responseMimeType"] = "application/json"
            config.pop("responseSchema", None)
            config.pop("responseJsonSchema", None)
            if schema_field == "responseJsonSchema":
                config["responseJsonSchema"] = {k: v for k, v in schema.items() if k != "$schema"}
            else:
                try:
                    config["responseSchema"] = to_gemini_schema(schema)
                except UnsupportedSchemaError:
                    # Plain JSON mode: the server ensures JSON, the instructions the shape, the core the rest.
                    system.insert(0, instruction(schema))
        if system:
            body["systemInstruction"] = {"parts": [{"text": text} for text in system]}
        if config:
            body["generationConfig"] = config
        return self._path(model, stream), body

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
                raise _refused(exc.info) from None
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
        blocked = _prompt_blocked(body)
        if blocked is not None:
            raise _refused(blocked)
        candidate = _first_candidate(body)
        text = "".join(_texts(candidate))
        finish_reason = candidate.get("finishReason") or None
        if finish_reason in _WITHHELD:
            raise _refused(_withheld(candidate, text))
        usage = body.get("usageMetadata") or {}
        return Parsed(
            text, finish_reason, _count(usage, "promptTokenCount"), _count(usage, "candidatesTokenCount"),
            _count(usage, "thoughtsTokenCount"),
        )

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


class GeminiGenerateStream:
    """Decodes ``alt=sse`` events: each one a ``GenerateContentResponse`` carrying the next piece of text.

    There is no terminal event: the stream is complete when the server closes it after a ``finishReason``
    (``done`` stays False, so every chunk, a trailing usage-only one included, is read). Usage counts are
    cumulative; the last non-null value of each wins.
    """

    def __init__(self, adapter: GeminiGenerate) -> None:
        self._adapter = adapter
        self._parts: list[str] = []
        self._finish_reason: str | None = None
        self._usage: dict[str, Any] = {}
        self.done = False

    def feed(self, data: str, event: str) -> str | None:
        if not data.strip():
            return None
        return self.take(json.loads(data))

    def take(self, chunk: Any) -> str | None:
        """Take one decoded chunk; return the answer text it adds."""
        if not isinstance(chunk, dict):
            raise ValueError("a stream event is not a JSON object")
        if "error" in chunk:
            info = self._adapter.parse_error(200, chunk, {})
            raise InBandError(info, transient=_is_server_side(info))
        usage = chunk.get("usageMetadata")
        if isinstance(usage, dict):
            self._usage.update({k: v for k, v in usage.items() if v is not None})
        blocked = _prompt_blocked(chunk)
        if blocked is not None:
            raise InBandError(blocked, transient=False)
        candidate = _first_candidate(chunk)
        text = "".join(_texts(candidate))
        if text:
            self._parts.append(text)
        finish_reason = candidate.get("finishReason")
        if finish_reason:
            self._finish_reason = finish_reason
            if finish_reason in _WITHHELD:
                raise InBandError(_withheld(candidate, "".join(self._parts)), transient=False)
        return text or None

    def finish(self) -> Parsed:
        if self._finish_reason is None:
            raise ValueError("the stream ended before any finishReason (truncated)")
        return self.partial()

    def partial(self) -> Parsed:
        """What arrived so far, complete or not."""
        usage = self._usage
        return Parsed(
            "".join(self._parts),
            self._finish_reason,
            _count(usage, "promptTokenCount"),
            _count(usage, "candidatesTokenCount"),
            _count(usage, "thoughtsTokenCount"),
        )


# -- messages -----------------------------------------------------------------------------------------------
def _split_messages(model: ModelSpec, messages: list[Message]) -> tuple[list[str], list[dict[str, Any]]]:
    """The systemInstruction texts and the user/model turns; refuses what the API would reject."""
    name = model.provider.name
    system: list[str] = []
    contents: list[dict[str, Any]] = []
    for position, message in enumerate(messages, 1):
        role, content = message.get("role"), message.get("content")
        if not isinstance(content, str):
            raise TypeError(f"message {position} must have string content, got {type(content).__name__}")
        if role in _SYSTEM_ROLES:
            if content.strip():
                system.append(content)
            continue
        wire_role = _ROLE_NAMES.get(str(role))
        if wire_role is None:
            raise _rejected(
                name,
                f"message {position} of {len(messages)} has role {role!r}; Gemini takes only user and model "
                "turns (system text goes to systemInstruction). Send it as a user message",
            )
        if not content:
            if wire_role == "model":
                continue  # an empty answer in the history says nothing, and an empty part is a 400
            raise _rejected(
                name,
                f"message {position} of {len(messages)} (user) is empty; Gemini rejects an empty text part "
                "with a 400 ('empty text parameter'). Remove it or give it text",
            )
        if contents and contents[-1]["role"] == wire_role:
            contents[-1]["parts"].append({"text": content})
        else:
            contents.append({"role": wire_role, "parts": [{"text": content}]})
    if not contents:
        raise _rejected(name, "no user message to send; generateContent needs at least one user turn")
    return system, contents


def _stop_list(model: ModelSpec, value: Any) -> list[str]:
    stops = [value] if isinstance(value, str) else list(value)
    if len(stops) > MAX_STOP_SEQUENCES:
        raise _rejected(
            model.provider.name,
            f"{len(stops)} stop sequences; Gemini accepts at most {MAX_STOP_SEQUENCES} (a 400 otherwise). "
            "Keep the ones that matter",
        )
    return stops


def _rejected(provider: str, problem: str) -> RequestRejectedError:
    # Refused before sending, as the server's own 400 would have been: the same type, never retried.
    return RequestRejectedError(
        f"{provider}: {problem}.", provider=provider, status=None, error_type="INVALID_ARGUMENT"
    )


def _camel(name: str) -> str:
    return _SNAKE.sub(lambda m: m.group(1).upper(), name)


def _schema_field(value: Any) -> str:
    field = _SCHEMA_FIELDS.get(str(value).lower())
    if field is None:
        raise TypeError(f"`schema_field` must be responseSchema or responseJsonSchema, got {value!r}")
    return field


def _method(name: str, stream: bool) -> str:
    name = quote(name, safe="/")
    return f"{name}:streamGenerateContent?alt=sse" if stream else f"{name}:generateContent"


# -- responses ----------------------------------------------------------------------------------------------
def _first_candidate(body: Mapping[str, Any]) -> Mapping[str, Any]:
    """Candidate 0. With candidateCount > 1 a stream chunk may carry only another candidate's text."""
    for candidate in body.get("candidates") or []:
        if isinstance(candidate, dict) and candidate.get("index", 0) in (0, None):
            return candidate
    return {}


def _texts(candidate: Mapping[str, Any]) -> list[str]:
    parts = (candidate.get("content") or {}).get("parts") or []
    # Thought summaries (`thought: true`) are reasoning, not the answer; function calls carry no text.
    return [
        p["text"]
        for p in parts
        if isinstance(p, dict) and isinstance(p.get("text"), str) and not p.get("thought")
    ]


def _prompt_blocked(body: Mapping[str, Any]) -> ErrorInfo | None:
    feedback = body.get("promptFeedback")
    if not isinstance(feedback, dict):
        return None
    reason = feedback.get("blockReason")
    if not reason or body.get("candidates"):
        return None
    flagged = _flagged(feedback.get("safetyRatings"))
    message = (
        f"Gemini blocked the prompt (blockReason {reason}{'; ' + flagged if flagged else ''}) "
        "and gave no answer. "
        "Rephrase the prompt, or relax the model's safety_settings if the use is legitimate"
    )
    return ErrorInfo(message, f"PROMPT_BLOCKED:{reason}")


def _withheld(candidate: Mapping[str, Any], text: str) -> ErrorInfo:
    reason = str(candidate.get("finishReason"))
    flagged = _flagged(candidate.get("safetyRatings"))
    said = candidate.get("finishMessage")
    cut = f" after {len(text)} characters" if text else ""
    message = (
        f"Gemini withheld the answer{cut} (finishReason {reason}{'; ' + flagged if flagged else ''}"
        f"{'; ' + str(said) if said else ''}). "
        + (
            "It recited protected material: ask for a summary or a paraphrase instead"
            if reason in ("RECITATION", "IMAGE_RECITATION")
            else "Rephrase the prompt, or relax the model's safety_settings if the use is legitimate"
        )
    )
    return ErrorInfo(message, reason)


def _flagged(ratings: Any) -> str:
    """The safety categories rated above NEGLIGIBLE/LOW, or marked blocked."""
    found = []
    for rating in ratings or []:
        if not isinstance(rating, dict):
            continue
        probability = rating.get("probability")
        if rating.get("blocked") or probability in ("MEDIUM", "HIGH"):
            found.append(f"{rating.get('category')}: {probability or 'blocked'}")
    return ", ".join(found)


def _refused(info: ErrorInfo) -> InBandError:
    # The core turns this into a RequestRejectedError that names the provider; a refusal is never retried.
    return InBandError(info, transient=False)


def _count(usage: Mapping[str, Any], name: str) -> int | None:
    value = usage.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _duration(value: Any) -> float | None:
    match = _DURATION.match(str(value)) if value is not None else None
    return float(match.group(1)) if match else None


def _is_server_side(info: ErrorInfo) -> bool:
    """Whether an in-band error is the server's trouble (worth a retry) rather than the request's."""
    if isinstance(info.code, int) and (info.code == 429 or info.code >= 500):
        return True
    if info.error_type:
        return info.error_type in _TRANSIENT_STATUSES
    return not isinstance(info.code, int)


# -- structured output --------------------------------------------------------------------------------------
class UnsupportedSchemaError(ValueError):
    """A JSON Schema that Gemini's ``Schema`` cannot express, not even loosened."""


_TYPES = {
    "string": "STRING",
    "number": "NUMBER",
    "integer": "INTEGER",
    "boolean": "BOOLEAN",
    "array": "ARRAY",
    "object": "OBJECT",
}
# Formats the Gemini API documents per type (Vertex accepts more; this is what both accept).
_FORMATS = {
    "STRING": frozenset({"date-time", "enum"}),
    "NUMBER": frozenset({"float", "double"}),
    "INTEGER": frozenset({"int32", "int64"}),
}
_STRING_HINTS = ("pattern", "minLength", "maxLength")
_NUMBER_HINTS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")
_MAX_NODES = 2000  # inlining $refs can multiply a schema; past this the server's own limits would refuse it


def to_gemini_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """Translate a JSON Schema into the OpenAPI-3.0 subset that Gemini's ``responseSchema`` accepts.

    Kept: ``type`` (uppercase), ``properties``, ``required`` (names that are properties), ``items``, ``enum``
    (strings), ``description``, ``nullable``, ``anyOf``, ``minimum``/``maximum``, ``minLength``/``maxLength``,
    ``pattern``, ``minItems``/``maxItems``, ``minProperties``/``maxProperties`` (int64: sent as strings), and
    the formats both APIs document (``date-time``, ``float``/``double``, ``int32``/``int64``). Each keyword
    only on the type it applies to. Objects with more than one property get ``propertyOrdering`` in
    declaration order (the API orders them alphabetically otherwise, which defeats "reason first, answer last"
    schemas).

    Converted: ``$ref`` to ``#/$defs``, ``#/definitions`` or any local pointer is inlined (its siblings win);
    ``type: [T, "null"]``, ``anyOf``/``oneOf`` with a null branch, and ``null`` in an enum become
    ``nullable: true``; several types become ``anyOf``; ``oneOf`` becomes ``anyOf``; ``allOf`` is merged;
    ``const`` becomes a one-value ``enum``; ``exclusiveMinimum``/``exclusiveMaximum`` become inclusive bounds
    (the next integer for integers, the bound itself for numbers).

    Loosened (the core validates the answer against the original schema): ``additionalProperties``,
    ``patternProperties``, ``not``, ``if``/``then``/``else``, ``uniqueItems``, ``multipleOf``, ``contains``,
    ``dependent*``, ``unevaluated*`` are dropped; a non-string ``enum``/``const`` and an undocumented
    ``format`` move into the description, where the model still reads them. ``title``, ``default``,
    ``examples``, ``$schema``, ``$id``, ``$comment`` are dropped (older API versions refused ``title``; none
    constrains).

    Raises:
        UnsupportedSchemaError: nothing Gemini accepts is close enough: a value of any type (``{}``,
            ``true``), an object without ``properties`` (the API rejects an empty OBJECT), an array without
            ``items``, tuple ``items``/``prefixItems``, a recursive or non-local ``$ref``, ``false``, or a
            schema that grows past 2000 nodes once inlined.

    Example:
        >>> to_gemini_schema({"type": "object", "properties": {"n": {"type": ["integer", "null"]}}})
        {'type': 'OBJECT', 'properties': {'n': {'type': 'INTEGER', 'nullable': True}}}
    """
    return _SchemaTranslator(schema).node(schema, ())


class _SchemaTranslator:
    def __init__(self, root: Mapping[str, Any]) -> None:
        self._root = root
        self._nodes = 0

    def node(self, schema: Any, refs: tuple[str, ...]) -> dict[str, Any]:
        self._nodes += 1
        if self._nodes > _MAX_NODES:
            raise UnsupportedSchemaError(f"more than {_MAX_NODES} nodes once $refs are inlined")
        if schema is True or (isinstance(schema, Mapping) and not _constraining(schema)):
            raise UnsupportedSchemaError("a value of any type")
        if not isinstance(schema, Mapping):
            raise UnsupportedSchemaError(f"{schema!r} is not a schema Gemini can express")
        s = dict(schema)
        ref = s.pop("$ref", None)
        if ref is not None:
            if ref in refs:
                raise UnsupportedSchemaError(f"recursive $ref {ref}")
            target = self._resolve(ref)
            merged = {**dict(target), **{k: v for k, v in s.items() if k not in ("$defs", "definitions")}}
            return self.node(merged, (*refs, ref))
        for part in s.pop("allOf", None) or []:
            part, refs = self._deref(part, refs)
            s = _merge(s, part)
        nullable = False
        # oneOf is read as anyOf (Gemini has no exclusivity; the core checks it). With both, anyOf is kept.
        any_of, one_of = s.pop("anyOf", None), s.pop("oneOf", None)
        branches = any_of if any_of is not None else one_of
        if branches is not None:
            kept = [b for b in branches if not _is_null(b)]
            nullable = len(kept) < len(branches)
            if not kept:
                raise UnsupportedSchemaError("a value that can only be null")
            if len(kept) == 1:
                # Optional[X]: the branch is the type; the outer keywords (a field's description) win.
                branch, branch_refs = self._deref(kept[0], refs)
                out = self.node(_merge(s, branch), branch_refs)
            else:
                # The outer keywords hold for every branch (JSON Schema's implicit allOf).
                rest = {k: v for k, v in s.items() if k not in ("description", "title")}
                out = {"anyOf": []}
                for kept_branch in kept:
                    branch, branch_refs = self._deref(kept_branch, refs)
                    out["anyOf"].append(self.node(_merge(rest, branch), branch_refs))
                _describe(out, s.get("description"), [])
            if nullable:
                out["nullable"] = True
            return out
        types = s.get("type")
        type_list = [types] if isinstance(types, str) else list(types) if isinstance(types, list) else []
        if "null" in type_list:
            nullable = True
            type_list = [t for t in type_list if t != "null"]
        values: list[Any] | None = None
        if "const" in s:
            values = [s["const"]]
        elif isinstance(s.get("enum"), list):
            values = list(s["enum"])
        if values is not None and None in values:
            nullable = True
            values = [v for v in values if v is not None]
        if not type_list:
            type_list = _inferred_types(s, values)
            if not type_list:
                if nullable:
                    raise UnsupportedSchemaError("a value that can only be null")
                raise UnsupportedSchemaError("a value of any type")
        if len(type_list) == 1:
            out = self._typed(s, type_list[0], values, refs)
        else:
            out = {"anyOf": [self._typed(s, t, values, refs, annotate=False) for t in type_list]}
            _describe(out, s.get("description"), [])
        if nullable:
            out["nullable"] = True
        return out

    def _typed(
        self,
        s: Mapping[str, Any],
        json_type: Any,
        values: list[Any] | None,
        refs: tuple[str, ...],
        annotate: bool = True,
    ) -> dict[str, Any]:
        wire = _TYPES.get(json_type) if isinstance(json_type, str) else None
        if wire is None:
            raise UnsupportedSchemaError(f"type {json_type!r}")
        out: dict[str, Any] = {"type": wire}
        notes: list[str] = []
        fmt = s.get("format")
        if isinstance(fmt, str):
            if fmt in _FORMATS.get(wire, ()):
                out["format"] = fmt
            else:
                notes.append(f"format: {fmt}")
        if values is not None:
            mine = [v for v in values if _json_type_matches(v, json_type)]
            if wire == "STRING" and mine:
                out["enum"] = mine
            elif mine:
                notes.append("one of: " + ", ".join(json.dumps(v) for v in mine))
        if wire == "STRING":
            _int64(out, s, "minLength", "maxLength")
            if isinstance(s.get("pattern"), str):
                out["pattern"] = s["pattern"]
        elif wire in ("NUMBER", "INTEGER"):
            for bound, exclusive, pick, step in (
                ("minimum", "exclusiveMinimum", max, 1),
                ("maximum", "exclusiveMaximum", min, -1),
            ):
                candidates = [s[bound]] if _is_number(s.get(bound)) else []
                if _is_number(s.get(exclusive)):
                    # Gemini has no exclusive bounds: exact for integers, the inclusive bound for numbers.
                    edge = s[exclusive]
                    candidates.append(edge + step if wire == "INTEGER" and float(edge).is_integer() else edge)
                if candidates:
                    out[bound] = pick(candidates)
        elif wire == "ARRAY":
            items = s.get("items")
            if "prefixItems" in s or isinstance(items, list):
                raise UnsupportedSchemaError("a tuple (prefixItems)")
            if items is None:
                raise UnsupportedSchemaError("an array without `items`")
            out["items"] = self.node(items, refs)
            _int64(out, s, "minItems", "maxItems")
        elif wire == "OBJECT":
            properties = s.get("properties")
            if not isinstance(properties, Mapping) or not properties:
                raise UnsupportedSchemaError("an object without declared properties")
            out["properties"] = {str(k): self.node(v, refs) for k, v in properties.items()}
            required = [r for r in s.get("required") or [] if r in properties]
            if required:
                out["required"] = required
            if len(properties) > 1:
                out["propertyOrdering"] = [str(k) for k in properties]
            _int64(out, s, "minProperties", "maxProperties")
        _describe(out, s.get("description") if annotate else None, notes)
        return out

    def _resolve(self, ref: str) -> Mapping[str, Any]:
        if not ref.startswith("#"):
            raise UnsupportedSchemaError(f"non-local $ref {ref}")
        node: Any = self._root
        for token in [t for t in ref[1:].split("/") if t]:
            token = token.replace("~1", "/").replace("~0", "~")
            if isinstance(node, Mapping) and token in node:
                node = node[token]
            elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
                node = node[int(token)]
            else:
                raise UnsupportedSchemaError(f"$ref {ref} points at nothing")
        if node is True:
            return {}
        if not isinstance(node, Mapping):
            raise UnsupportedSchemaError(f"$ref {ref} is not a schema")
        return node

    def _deref(self, schema: Any, refs: tuple[str, ...]) -> tuple[dict[str, Any], tuple[str, ...]]:
        """``schema`` with a top-level ``$ref`` replaced by its target (siblings win), and the refs seen."""
        if not isinstance(schema, Mapping):
            if schema is True:
                return {}, refs
            raise UnsupportedSchemaError(f"{schema!r} is not a schema Gemini can express")
        s = dict(schema)
        ref = s.pop("$ref", None)
        if ref is None:
            return s, refs
        if ref in refs:
            raise UnsupportedSchemaError(f"recursive $ref {ref}")
        return self._deref({**dict(self._resolve(ref)), **s}, (*refs, ref))


# Keywords that say something about the value (the rest only annotate it).
_CONSTRAINING = frozenset(
    {
        "type",
        "properties",
        "required",
        "items",
        "prefixItems",
        "enum",
        "const",
        "$ref",
        "anyOf",
        "oneOf",
        "allOf",
        "format",
        "pattern",
        "minLength",
        "maxLength",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "minItems",
        "maxItems",
        "minProperties",
        "maxProperties",
        "additionalProperties",
        "patternProperties",
    }
)


def _constraining(schema: Mapping[str, Any]) -> bool:
    return any(key in _CONSTRAINING for key in schema)


def _is_null(schema: Any) -> bool:
    if not isinstance(schema, Mapping):
        return False
    kind = schema.get("type")
    return (
        kind == "null"
        or kind == ["null"]
        or ("const" in schema and schema["const"] is None)
        or schema.get("enum") == [None]
    )


def _inferred_types(s: Mapping[str, Any], values: list[Any] | None) -> list[str]:
    if "properties" in s:
        return ["object"]
    if "items" in s or "prefixItems" in s:
        return ["array"]
    if values:
        kinds = []
        for value in values:
            kind = _json_type_of(value)
            if kind not in kinds:
                kinds.append(kind)
        return kinds
    if any(key in s for key in _STRING_HINTS):
        return ["string"]
    if any(key in s for key in _NUMBER_HINTS):
        return ["number"]
    return []


def _json_type_of(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _json_type_matches(value: Any, json_type: str) -> bool:
    kind = _json_type_of(value)
    return kind == json_type or (json_type == "number" and kind == "integer")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _int64(out: dict[str, Any], s: Mapping[str, Any], *names: str) -> None:
    # int64 fields travel as JSON strings in the proto3 mapping (Vertex's discovery document insists).
    for name in names:
        value = s.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            out[name] = str(value)


def _describe(out: dict[str, Any], description: Any, notes: list[str]) -> None:
    text = description if isinstance(description, str) else ""
    if notes:
        joined = "; ".join(notes)
        text = f"{text} ({joined})" if text else joined[:1].upper() + joined[1:]
    if text:
        out["description"] = text


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """``allOf``: properties and required add up; any other keyword must agree."""
    merged = dict(base)
    for key, value in extra.items():
        if key == "properties" and isinstance(value, Mapping):
            merged["properties"] = {**dict(merged.get("properties") or {}), **dict(value)}
        elif key == "required" and isinstance(value, list):
            merged["required"] = list(dict.fromkeys([*(merged.get("required") or []), *value]))
        elif key in ("description", "title", "$defs", "definitions", "$comment", "examples", "default"):
            merged.setdefault(key, value)
        elif key in merged and merged[key] != value:
            raise UnsupportedSchemaError(f"allOf parts disagree on {key!r}")
        else:
            merged[key] = value
    return merged


# -- Vertex tokens ------------------------------------------------------------------------------------------
_COMMAND_TIMEOUT_S = 60.0


class _TokenSource:
    """Where one provider's bearer token comes from, with the cached command token (shared per process).

    Precedence: ``API_KEY`` (the ConfigMap override), then ``token_command``, then ``api_key_env``.
    Environment tokens are read on every request, so an updated variable is picked up; command tokens are
    cached for ``token_ttl_s`` and fetched by one thread while the others wait.
    """

    def __init__(self, spec: ProviderSpec, clock: Callable[[], float] = time.monotonic) -> None:
        self._spec = spec
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: tuple[str, float] | None = None  # (token, expiry on the clock), replaced as one
        self.from_command = spec.token_command is not None and not spec.api_key_override

    def __repr__(self) -> str:
        return f"<{type(self).__name__} provider={self._spec.name!r} from_command={self.from_command}>"

    def cached(self) -> str | None:
        """The current command token without waiting, or None when it must be fetched."""
        cache = self._cache
        return cache[0] if cache is not None and self._clock() < cache[1] else None

    def token(self) -> str | None:
        """The token to send (None: send none, for keyless proxies)."""
        if not self.from_command:
            return self._from_environment()
        token = self.cached()
        if token is not None:
            return token
        with self._lock:
            token = self.cached()  # another thread may have fetched it while this one waited
            if token is None:
                token = self._fetch()
            return token

    def refresh(self, rejected: str | None) -> str | None:
        """A token to retry with after ``rejected`` got a 401, or None when there is no other one to try."""
        if not self.from_command:
            token = self._from_environment()
            return token if token != rejected else None
        with self._lock:
            token = self.cached()
            if token is None or token == rejected:
                token = self._fetch()
            # gcloud hands out its cached token until it nears expiry: resending that one would 401 again.
            return token if token != rejected else None

    def _from_environment(self) -> str | None:
        spec = self._spec
        try:
            return spec.api_key()
        except MissingCredentialsError:
            var = spec.api_key_env or "API_KEY"
            raise MissingCredentialsError(
                f"Provider {spec.name!r} needs a Google OAuth access token: set `{var}` (for example to the "
                f"output of `gcloud auth print-access-token`), or set providers.{spec.name}.token_command: "
                "gcloud auth print-access-token, which modelswap runs and refreshes by itself.",
                env_var=var,
                provider=spec.name,
            ) from None

    def _fetch(self) -> str:
        spec = self._spec
        command = spec.token_command
        argv = shlex.split(command) if isinstance(command, str) else list(command or ())
        shown = " ".join(argv)
        where = f"providers.{spec.name}.token_command"
        if not argv:
            raise ConfigError(f"{where} is empty; give the command that prints an access token.", field=where)
        try:
            # No shell: the configured words are the argv, so nothing in them is interpreted.
            done = subprocess.run(
                argv,
                capture_output=True,
                text=True,
                timeout=_COMMAND_TIMEOUT_S,
                stdin=subprocess.DEVNULL,
                check=False,
            )
        except FileNotFoundError:
            raise ConfigError(
                f"{where} `{shown}` cannot run: {argv[0]} is not installed or not on PATH.", field=where
            ) from None
        except subprocess.TimeoutExpired:
            raise ConfigError(
                f"{where} `{shown}` did not finish within {_COMMAND_TIMEOUT_S:g}s. Run it in a shell to see "
                "whether it waits for input (a login prompt, say).",
                field=where,
            ) from None
        except OSError as exc:
            raise ConfigError(f"{where} `{shown}` cannot run ({exc.strerror or exc}).", field=where) from None
        lines = [line.strip() for line in done.stdout.splitlines() if line.strip()]
        if done.returncode != 0:
            said = redact(" ".join(done.stderr.split()))[:300]
            raise ConfigError(
                f"{where} `{shown}` failed with exit code {done.returncode}"
                + (f": {said}" if said else "")
                + ". Run it in a shell to see why (for gcloud: `gcloud auth login`).",
                field=where,
            )
        if not lines:
            raise ConfigError(f"{where} `{shown}` printed no token.", field=where)
        token = lines[-1]  # tools print warnings first; the token is the last line
        remember_secret(token)
        self._cache = (token, self._clock() + spec.token_ttl_s)
        return token


_sources: dict[tuple[Any, ...], _TokenSource] = {}
_sources_lock = threading.Lock()


def _token_source(spec: ProviderSpec) -> _TokenSource:
    """One token source per endpoint and credentials, however many clients talk to it."""
    key = (
        spec.name,
        spec.base_url,
        spec.token_command,
        spec.token_ttl_s,
        spec.api_key_env,
        hash(spec.api_key_override) if spec.api_key_override else None,
    )
    with _sources_lock:
        source = _sources.get(key)
        if source is None:
            source = _sources[key] = _TokenSource(spec)
        return source


class VertexTokenAuth(httpx.Auth):
    """Sets ``Authorization: Bearer`` from the provider's token source; on a 401, refreshes and resends once.

    Works for both clients: the sync flow fetches a token inline, the async flow in a worker thread (running
    ``gcloud`` takes a second, which must not stall the event loop). A cached token costs no thread hop.
    """

    requires_request_body = False
    requires_response_body = False

    def __init__(self, spec: ProviderSpec, source: _TokenSource | None = None) -> None:
        self._source = source if source is not None else _token_source(spec)
        self._provider = spec.name

    def __repr__(self) -> str:
        return f"VertexTokenAuth(provider={self._provider!r})"

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = self._source.token()
        _authorize(request, token)
        response = yield request
        if response.status_code == 401:
            fresh = self._source.refresh(token)
            if fresh is not None:
                _authorize(request, fresh)
                yield request

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        source = self._source
        if source.from_command:
            token = source.cached() or await asyncio.to_thread(source.token)
        else:
            token = source.token()  # the environment: nothing to wait for
        _authorize(request, token)
        response = yield request
        if response.status_code == 401:
            fresh = (
                await asyncio.to_thread(source.refresh, token)
                if source.from_command
                else source.refresh(token)
            )
            if fresh is not None:
                _authorize(request, fresh)
                yield request


def _authorize(request: httpx.Request, token: str | None) -> None:
    if token:
        request.headers["authorization"] = f"Bearer {token}"
