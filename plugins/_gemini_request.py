"""Messages and params to a ``GenerateContentRequest`` body: the request half of ``gemini`` and ``vertex``.

* **Turns.** ``contents`` holds ``user`` and ``model`` turns only, each with an explicit role (Vertex requires
  it): ``assistant`` becomes ``model``; every ``system``/``developer`` message, wherever it stands, becomes
  one part of ``systemInstruction``. Consecutive turns of one role are merged into one turn with several
  parts. An empty user message is refused before sending (the API answers 400 "empty text parameter"); an
  empty assistant turn carries nothing and is dropped. ``tool`` messages are refused.
* **Params** live in ``generationConfig``: ``max_tokens`` -> ``maxOutputTokens``, ``stop`` ->
  ``stopSequences`` (at most :data:`MAX_STOP_SEQUENCES`, refused above), ``top_p`` -> ``topP``,
  ``temperature``, ``seed``. Extras that are GenerationConfig fields go there too, renamed to camelCase;
  request fields go top level; anything else passes through unchanged.
* **Structured output**: ``responseMimeType: application/json`` plus ``responseSchema`` (translated by
  :mod:`modelswap.plugins._gemini_schema`), or the untranslated schema in ``responseJsonSchema`` when the
  model's params say ``schema_field: responseJsonSchema``. A schema with no Gemini equivalent falls back to
  plain JSON mode with the schema as instructions in ``systemInstruction``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Mapping

from modelswap._errors import RequestRejectedError
from modelswap._structured import instruction
from modelswap.hookspecs import Message
from modelswap.plugins._gemini_schema import UnsupportedSchemaError, to_gemini_schema

if TYPE_CHECKING:
    from modelswap._config import ModelSpec

__all__ = ["GENERIC_PARAMS", "MAX_STOP_SEQUENCES", "request_body"]

MAX_STOP_SEQUENCES = 5
"""The API's limit on ``stopSequences``; more is a 400, refused here before sending."""

_SYSTEM_ROLES = frozenset({"system", "developer"})
_ROLE_NAMES = {"user": "user", "assistant": "model"}
#: modelswap's generic params and their GenerationConfig names.
GENERIC_PARAMS = {
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
_SNAKE = re.compile(r"_([a-z0-9])")


def request_body(
    model: ModelSpec,
    messages: list[Message],
    params: Mapping[str, Any],
    schema: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``GenerateContentRequest`` JSON body; refuses, before sending, what the API would reject."""
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
        if name in GENERIC_PARAMS:
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
    for name, wire in GENERIC_PARAMS.items():
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
    return body


# -- turns and params ----------------------------------------------------------------------------------------
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
