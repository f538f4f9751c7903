"""Kinds `gemini` and `vertex`: auth, turns, params, schema translation, responses, errors, streams, Vertex
tokens and the CLI, through httpx.MockTransport (and one loopback stub server for the CLI)."""

from __future__ import annotations

import asyncio
import json
import pickle
import re
import shlex
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterator

import httpx
import pytest

import modelswap
from modelswap import cli
from modelswap._config import ModelSpec, ProviderSpec, loads_config
from modelswap._provider import Provider, load_adapter
from modelswap._redact import redact
from modelswap.hookspecs import InBandError
from modelswap.plugins._vertex_auth import _TokenSource
from modelswap.plugins.gemini import (
    GeminiGenerate,
    UnsupportedSchemaError,
    VertexGenerate,
    VertexTokenAuth,
    to_gemini_schema,
)

KEY = "AIza" + "SyUnit-0123456789abcdefghijklmnopq"
TOKEN = "env-token-" + "0123456789abcdefghij"
SSE = {"content-type": "text/event-stream"}
FAKE_COMMAND = Path(__file__).with_name("fake_token_command.py")
GEMINI_URL = "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash"
VERTEX_BASE = (
    "https://europe-west4-aiplatform.googleapis.com/v1/projects/p1/locations/europe-west4/publishers/google"
)
OK = {
    "candidates": [
        {
            "content": {
                "role": "model",
                "parts": [
                    {"text": "Let me think.", "thought": True},
                    {"text": "Hi "},
                    {"functionCall": {"name": "f", "args": {}}},
                    {"text": "there"},
                ],
            },
            "finishReason": "STOP",
            "index": 0,
            "safetyRatings": [{"category": "HARM_CATEGORY_HARASSMENT", "probability": "NEGLIGIBLE"}],
        }
    ],
    "usageMetadata": {
        "promptTokenCount": 12,
        "candidatesTokenCount": 4,
        "thoughtsTokenCount": 30,
        "totalTokenCount": 46,
    },
}
CONFIG = """\
providers:
  google: {preset: gemini, retry: {max_retries: %(retries)d, initial_backoff_s: 0, max_backoff_s: 0}}
models:
  flash: {provider: google, model_id: gemini-2.5-flash}
  capped: {provider: google, model_id: gemini-2.5-flash, params: {max_tokens: 64, temperature: 0.1}}
  prefixed: {provider: google, model_id: models/gemini-2.5-flash}
  tuned: {provider: google, model_id: tunedModels/my-model-42}
  json-schema: {provider: google, model_id: gemini-2.5-flash, params: {schema_field: responseJsonSchema}}
default: flash
"""


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in (
        "MODELSWAP_CONFIG",
        "MODELSWAP_MODEL",
        "MODEL_PROVIDER",
        "MODEL_ID",
        "INFERENCE_ENDPOINT",
        "API_KEY",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    monkeypatch.setenv("VERTEX_ACCESS_TOKEN", TOKEN)


Handler = Callable[[httpx.Request], httpx.Response]


def _client(handler: Handler, retries: int = 0, config: str = CONFIG) -> modelswap.Client:
    return modelswap.Client(
        loads_config(config % {"retries": retries}), transport=httpx.MockTransport(handler)
    )


def _sent(prompt: Any = "Hello", **kwargs: Any) -> tuple[httpx.Request, dict[str, Any]]:
    """The one request a `complete` call sends, and its JSON body."""
    sent: list[httpx.Request] = []
    _client(lambda r: sent.append(r) or httpx.Response(200, json=OK)).complete(prompt, **kwargs)
    assert len(sent) == 1
    return sent[0], json.loads(sent[0].content)


def _answer(text: str, finish: str = "STOP") -> dict[str, Any]:
    return {
        "candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": finish}],
        "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 2},
    }


def _events(*chunks: dict[str, Any]) -> bytes:
    return "".join(f"data: {json.dumps(c)}\r\n\r\n" for c in chunks).encode()


def _chunk(
    *parts: dict[str, Any], finish: str | None = None, usage: dict[str, Any] | None = None
) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": list(parts)}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    chunk: dict[str, Any] = {"candidates": [candidate]}
    if usage is not None:
        chunk["usageMetadata"] = usage
    return chunk


def _google_error(code: int, status: str, message: str, *details: dict[str, Any]) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "status": status, "details": list(details)}}


def _retry_info(delay: str) -> dict[str, Any]:
    return {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay}


# -- registration and auth -------------------------------------------------------------------------------
def test_kinds_are_registered_under_the_entry_points() -> None:
    assert load_adapter("gemini") is GeminiGenerate and load_adapter("vertex") is VertexGenerate
    for adapter in (GeminiGenerate, VertexGenerate):
        assert adapter.stream_format == "sse" and adapter.native_schema is True
        assert adapter.supported_params == {"temperature", "top_p", "max_tokens", "stop", "seed"}
    assert (GeminiGenerate.kind, VertexGenerate.kind) == ("gemini", "vertex")


@pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])
def test_the_key_goes_in_a_header_never_in_the_url(stream: bool) -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        if stream:
            return httpx.Response(200, content=_events(_chunk({"text": "x"}, finish="STOP")), headers=SSE)
        return httpx.Response(200, json=OK)

    client = _client(handler)
    list(client.stream("x")) if stream else client.complete("x")
    request = sent[0]
    assert request.headers["x-goog-api-key"] == KEY
    assert KEY not in str(request.url) and "key" not in request.url.params
    assert dict(request.url.params) == ({"alt": "sse"} if stream else {})
    assert str(request.url).startswith(
        GEMINI_URL + (":streamGenerateContent" if stream else ":generateContent")
    )


def test_without_a_key_no_auth_header_is_sent() -> None:
    assert GeminiGenerate().auth_headers(None) == {} and GeminiGenerate().auth_headers("k") == {
        "x-goog-api-key": "k"
    }
    assert not hasattr(GeminiGenerate(), "auth")  # a static key needs no refreshing


def test_missing_key_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GEMINI_API_KEY")
    with pytest.raises(modelswap.MissingCredentialsError, match="GEMINI_API_KEY"):
        _client(lambda r: httpx.Response(200, json=OK)).complete("x")


@pytest.mark.parametrize(
    ("model", "path"),
    [
        ("flash", "models/gemini-2.5-flash"),
        ("prefixed", "models/gemini-2.5-flash"),
        ("tuned", "tunedModels/my-model-42"),
    ],
)
def test_model_ids_become_resource_names(model: str, path: str) -> None:
    request, _ = _sent("x", model=model)
    assert request.url.path == f"/v1beta/{path}:generateContent"


# -- turns -------------------------------------------------------------------------------------------------
def test_roles_map_to_user_and_model_and_every_turn_names_its_role() -> None:
    _, body = _sent(
        [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello"},
            {"role": "user", "content": "Bye"},
        ]
    )
    assert body["contents"] == [
        {"role": "user", "parts": [{"text": "Hi"}]},
        {"role": "model", "parts": [{"text": "Hello"}]},
        {"role": "user", "parts": [{"text": "Bye"}]},
    ]
    assert "systemInstruction" not in body


def test_system_and_developer_messages_become_system_instruction_parts_in_order() -> None:
    _, body = _sent(
        [
            {"role": "system", "content": "One."},
            {"role": "user", "content": "Hi"},
            {"role": "developer", "content": "Two."},
            {"role": "assistant", "content": "Hello"},
            {"role": "system", "content": "   "},
            {"role": "user", "content": "Bye"},
        ],
        system="Zero.",
    )
    assert body["systemInstruction"] == {"parts": [{"text": "Zero."}, {"text": "One."}, {"text": "Two."}]}
    assert "role" not in body["systemInstruction"]
    assert [c["role"] for c in body["contents"]] == ["user", "model", "user"]


def test_consecutive_turns_of_one_role_become_parts_of_one_turn() -> None:
    roles = ["user", "system", "user", "assistant", "assistant", "user"]
    _, body = _sent([{"role": role, "content": text} for role, text in zip(roles, "asbcde")])
    assert body["contents"] == [
        {"role": "user", "parts": [{"text": "a"}, {"text": "b"}]},
        {"role": "model", "parts": [{"text": "c"}, {"text": "d"}]},
        {"role": "user", "parts": [{"text": "e"}]},
    ]
    assert body["systemInstruction"] == {"parts": [{"text": "s"}]}


def test_an_empty_user_message_is_refused_before_sending() -> None:
    calls: list[httpx.Request] = []
    client = _client(lambda r: calls.append(r) or httpx.Response(200, json=OK))
    messages = [{"role": "user", "content": "Hi"}, {"role": "user", "content": ""}]
    with pytest.raises(
        modelswap.RequestRejectedError, match=r"google: message 2 of 2 \(user\) is empty"
    ) as caught:
        client.complete(messages)
    assert caught.value.provider == "google" and caught.value.error_type == "INVALID_ARGUMENT" and calls == []


def test_an_empty_assistant_turn_is_dropped() -> None:
    _, body = _sent(
        [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": ""},
            {"role": "user", "content": "Again"},
        ]
    )
    assert body["contents"] == [{"role": "user", "parts": [{"text": "Hi"}, {"text": "Again"}]}]


def test_tool_role_is_refused_with_advice() -> None:
    with pytest.raises(modelswap.RequestRejectedError, match="role 'tool'.*user message"):
        _client(lambda r: httpx.Response(200, json=OK)).complete([{"role": "tool", "content": "42"}])


def test_only_system_text_is_refused() -> None:
    with pytest.raises(modelswap.RequestRejectedError, match="no user message"):
        _client(lambda r: httpx.Response(200, json=OK)).complete([{"role": "system", "content": "Be brief."}])


# -- params ------------------------------------------------------------------------------------------------
def test_generic_params_go_to_generation_config() -> None:
    _, body = _sent("x", temperature=0.0, top_p=0.5, max_tokens=5, stop="END", seed=9)
    assert body == {
        "contents": [{"role": "user", "parts": [{"text": "x"}]}],
        "generationConfig": {
            "temperature": 0.0,
            "topP": 0.5,
            "maxOutputTokens": 5,
            "stopSequences": ["END"],
            "seed": 9,
        },
    }
    assert _sent("x", stop=("a", "b"))[1]["generationConfig"] == {"stopSequences": ["a", "b"]}
    assert "generationConfig" not in _sent("x")[1]


def test_more_than_five_stop_sequences_are_refused_before_sending() -> None:
    calls: list[httpx.Request] = []
    client = _client(lambda r: calls.append(r) or httpx.Response(200, json=OK))
    with pytest.raises(modelswap.RequestRejectedError, match="6 stop sequences; Gemini accepts at most 5"):
        client.complete("x", stop=list("abcdef"))
    assert calls == []
    assert client.complete("x", stop=list("abcde")).text == "Hi there"


def test_configured_params_reach_the_body_and_the_call_overrides_them() -> None:
    _, body = _sent("x", model="capped", temperature=0.9)
    assert body["generationConfig"] == {"temperature": 0.9, "maxOutputTokens": 64}


def test_provider_specific_extras_are_routed_to_their_place() -> None:
    _, body = _sent(
        "x",
        top_k=3,
        thinking_config={"thinking_budget": 0},
        responseModalities=["TEXT"],
        safety_settings=[{"category": "HARM_CATEGORY_HATE_SPEECH", "threshold": "BLOCK_NONE"}],
        cached_content="cachedContents/abc",
        toolConfig={"functionCallingConfig": {"mode": "NONE"}},
        some_new_field={"x": 1},
    )
    assert body["generationConfig"] == {
        "topK": 3,
        "thinkingConfig": {"thinking_budget": 0},
        "responseModalities": ["TEXT"],
    }
    assert body["safetySettings"] == [{"category": "HARM_CATEGORY_HATE_SPEECH", "threshold": "BLOCK_NONE"}]
    assert body["cachedContent"] == "cachedContents/abc"
    assert body["toolConfig"] == {"functionCallingConfig": {"mode": "NONE"}}
    assert body["some_new_field"] == {"x": 1}  # newer than the adapter: sent as given, the server judges


def test_a_generation_config_extra_is_merged_and_the_generic_params_win() -> None:
    _, body = _sent(
        "x", temperature=0.3, generation_config={"temperature": 1.0, "top_k": 4, "candidateCount": 1}
    )
    assert body["generationConfig"] == {"temperature": 0.3, "topK": 4, "candidateCount": 1}
    with pytest.raises(TypeError, match="mapping"):
        _sent("x", generationConfig=3)


@pytest.mark.parametrize("name", ["contents", "system_instruction", "systemInstruction"])
def test_fields_built_from_the_messages_cannot_be_replaced(name: str) -> None:
    with pytest.raises(TypeError, match=f"`{name}` is built from the messages"):
        _sent("x", **{name: "nope"})


# -- structured output: the translation --------------------------------------------------------------------
TRANSLATIONS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "types-upper-and-ordering": (
        {
            "type": "object",
            "properties": {"b": {"type": "string"}, "a": {"type": "boolean"}},
            "required": ["b", "zz"],
        },
        {
            "type": "OBJECT",
            "properties": {"b": {"type": "STRING"}, "a": {"type": "BOOLEAN"}},
            "required": ["b"],
            "propertyOrdering": ["b", "a"],
        },
    ),
    "ref-inlined-from-defs": (
        {
            "$defs": {"Tag": {"type": "string", "enum": ["x", "y"]}},
            "type": "array",
            "items": {"$ref": "#/$defs/Tag"},
        },
        {"type": "ARRAY", "items": {"type": "STRING", "enum": ["x", "y"]}},
    ),
    "ref-from-definitions-with-sibling-description": (
        {
            "definitions": {"N": {"type": "integer", "description": "inner"}},
            "type": "object",
            "properties": {"n": {"$ref": "#/definitions/N", "description": "outer"}},
        },
        {"type": "OBJECT", "properties": {"n": {"type": "INTEGER", "description": "outer"}}},
    ),
    "ref-to-a-ref": (
        {
            "$defs": {"A": {"$ref": "#/$defs/B"}, "B": {"type": "number", "format": "double"}},
            "$ref": "#/$defs/A",
        },
        {"type": "NUMBER", "format": "double"},
    ),
    "same-ref-twice-is-not-recursion": (
        {
            "$defs": {"P": {"type": "object", "properties": {"x": {"type": "number"}}}},
            "type": "object",
            "properties": {"a": {"$ref": "#/$defs/P"}, "b": {"$ref": "#/$defs/P"}},
        },
        {
            "type": "OBJECT",
            "properties": {
                "a": {"type": "OBJECT", "properties": {"x": {"type": "NUMBER"}}},
                "b": {"type": "OBJECT", "properties": {"x": {"type": "NUMBER"}}},
            },
            "propertyOrdering": ["a", "b"],
        },
    ),
    "nullable-type-array": ({"type": ["string", "null"]}, {"type": "STRING", "nullable": True}),
    "nullable-pydantic-optional-ref": (
        {
            "$defs": {"M": {"type": "object", "properties": {"k": {"type": "string"}}, "title": "M"}},
            "anyOf": [{"$ref": "#/$defs/M"}, {"type": "null"}],
            "default": None,
            "description": "maybe",
            "title": "Opt",
        },
        {"type": "OBJECT", "properties": {"k": {"type": "STRING"}}, "description": "maybe", "nullable": True},
    ),
    "nullable-enum": ({"enum": ["a", None]}, {"type": "STRING", "enum": ["a"], "nullable": True}),
    "any-of-kept-with-null": (
        {"anyOf": [{"type": "string"}, {"type": "integer"}, {"type": "null"}], "description": "id"},
        {"anyOf": [{"type": "STRING"}, {"type": "INTEGER"}], "description": "id", "nullable": True},
    ),
    "one-of-becomes-any-of": (
        {"oneOf": [{"type": "string"}, {"type": "number"}]},
        {"anyOf": [{"type": "STRING"}, {"type": "NUMBER"}]},
    ),
    "outer-keywords-hold-for-every-branch": (
        {
            "type": "object",
            "properties": {"a": {"type": "string"}},
            "anyOf": [{"required": ["a"]}, {"properties": {"b": {"type": "integer"}}}],
        },
        {
            "anyOf": [
                {"type": "OBJECT", "properties": {"a": {"type": "STRING"}}, "required": ["a"]},
                {
                    "type": "OBJECT",
                    "properties": {"a": {"type": "STRING"}, "b": {"type": "INTEGER"}},
                    "propertyOrdering": ["a", "b"],
                },
            ]
        },
    ),
    "several-types-become-any-of": (
        {"type": ["string", "integer"], "minLength": 2, "minimum": 1, "description": "d"},
        {
            "anyOf": [{"type": "STRING", "minLength": "2"}, {"type": "INTEGER", "minimum": 1}],
            "description": "d",
        },
    ),
    "const-string-becomes-enum": ({"const": "yes"}, {"type": "STRING", "enum": ["yes"]}),
    "non-string-enum-moves-to-the-description": (
        {"type": "integer", "enum": [1, 2], "description": "Level"},
        {"type": "INTEGER", "description": "Level (one of: 1, 2)"},
    ),
    "non-string-const": ({"const": True}, {"type": "BOOLEAN", "description": "One of: true"}),
    "all-of-merged": (
        {
            "allOf": [
                {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
                {"properties": {"b": {"type": "integer"}}, "required": ["b"]},
            ]
        },
        {
            "type": "OBJECT",
            "properties": {"a": {"type": "STRING"}, "b": {"type": "INTEGER"}},
            "required": ["a", "b"],
            "propertyOrdering": ["a", "b"],
        },
    ),
    "dropped-keywords": (
        {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": "x",
            "title": "T",
            "type": "object",
            "additionalProperties": False,
            "patternProperties": {"^x": {}},
            "properties": {
                "a": {
                    "type": "array",
                    "items": {"type": "string"},
                    "uniqueItems": True,
                    "contains": {"const": "z"},
                    "default": [],
                    "examples": [["q"]],
                }
            },
            "not": {"required": ["q"]},
            "minProperties": 1,
        },
        {
            "type": "OBJECT",
            "properties": {"a": {"type": "ARRAY", "items": {"type": "STRING"}}},
            "minProperties": "1",
        },
    ),
    "formats": (
        {
            "type": "object",
            "properties": {
                "t": {"type": "string", "format": "date-time"},
                "e": {"type": "string", "format": "email"},
                "f": {"type": "number", "format": "float"},
                "i": {"type": "integer", "format": "int64"},
                "bad": {"type": "integer", "format": "float"},
            },
        },
        {
            "type": "OBJECT",
            "properties": {
                "t": {"type": "STRING", "format": "date-time"},
                "e": {"type": "STRING", "description": "Format: email"},
                "f": {"type": "NUMBER", "format": "float"},
                "i": {"type": "INTEGER", "format": "int64"},
                "bad": {"type": "INTEGER", "description": "Format: float"},
            },
            "propertyOrdering": ["t", "e", "f", "i", "bad"],
        },
    ),
    "bounds-and-int64-strings": (
        {
            "type": "array",
            "minItems": 1,
            "maxItems": 3,
            "items": {"type": "integer", "exclusiveMinimum": 0, "exclusiveMaximum": 10},
        },
        {
            "type": "ARRAY",
            "items": {"type": "INTEGER", "minimum": 1, "maximum": 9},
            "minItems": "1",
            "maxItems": "3",
        },
    ),
    "exclusive-number-bound-is-loosened": (
        {"type": "number", "exclusiveMinimum": 0.5, "minimum": 0},
        {"type": "NUMBER", "minimum": 0.5},
    ),
    "keywords-only-on-their-type": (
        {
            "type": "string",
            "properties": {"x": {"type": "string"}},
            "required": ["x"],
            "minimum": 3,
            "items": {},
        },
        {"type": "STRING"},
    ),
    "types-inferred": (
        {"properties": {"a": {"enum": ["x"]}, "b": {"items": {"pattern": "^a"}}, "c": {"maximum": 3}}},
        {
            "type": "OBJECT",
            "properties": {
                "a": {"type": "STRING", "enum": ["x"]},
                "b": {"type": "ARRAY", "items": {"type": "STRING", "pattern": "^a"}},
                "c": {"type": "NUMBER", "maximum": 3},
            },
            "propertyOrdering": ["a", "b", "c"],
        },
    ),
    "pointer-escapes": ({"$defs": {"a/b": {"type": "boolean"}}, "$ref": "#/$defs/a~1b"}, {"type": "BOOLEAN"}),
}


@pytest.mark.parametrize("name", list(TRANSLATIONS))
def test_schema_translation(name: str) -> None:
    schema, expected = TRANSLATIONS[name]
    before = json.dumps(schema, sort_keys=True)
    assert to_gemini_schema(schema) == expected
    assert json.dumps(schema, sort_keys=True) == before  # the caller's schema is never modified


UNTRANSLATABLE: dict[str, tuple[Any, str]] = {
    "any-value": ({}, "any type"),
    "true": (True, "any type"),
    "false": (False, "not a schema"),
    "description-only": ({"description": "anything"}, "any type"),
    "free-form-object": ({"type": "object"}, "without declared properties"),
    "map": ({"type": "object", "additionalProperties": {"type": "integer"}}, "without declared properties"),
    "array-without-items": ({"type": "object", "properties": {"a": {"type": "array"}}}, "without `items`"),
    "tuple": ({"type": "array", "prefixItems": [{"type": "string"}]}, "tuple"),
    "recursive-ref": (
        {
            "$defs": {
                "Node": {
                    "type": "object",
                    "properties": {
                        "kids": {
                            "type": "array",
                            "items": {"anyOf": [{"$ref": "#/$defs/Node"}, {"type": "null"}]},
                        }
                    },
                }
            },
            "$ref": "#/$defs/Node",
        },
        "recursive $ref #/$defs/Node",
    ),
    "remote-ref": ({"$ref": "https://example.com/s.json"}, "non-local"),
    "dangling-ref": ({"$ref": "#/$defs/Nope"}, "points at nothing"),
    "only-null": ({"type": "null"}, "only be null"),
    "unknown-type": ({"type": "date"}, "type 'date'"),
    "all-of-conflict": ({"allOf": [{"type": "string"}, {"type": "integer"}]}, "disagree on 'type'"),
}


@pytest.mark.parametrize("name", list(UNTRANSLATABLE))
def test_schemas_gemini_cannot_express_are_refused_by_the_translation(name: str) -> None:
    schema, words = UNTRANSLATABLE[name]
    with pytest.raises(UnsupportedSchemaError, match=re.escape(words)):
        to_gemini_schema(schema)


def test_a_schema_that_grows_too_large_when_inlined_is_refused() -> None:
    defs: dict[str, Any] = {"L0": {"type": "string"}}
    for level in range(1, 14):  # each level doubles the inlined size: 2**13 leaves
        ref = {"$ref": f"#/$defs/L{level - 1}"}
        defs[f"L{level}"] = {"type": "object", "properties": {"a": ref, "b": ref}}
    with pytest.raises(UnsupportedSchemaError, match="more than 2000 nodes"):
        to_gemini_schema({"$defs": defs, "$ref": "#/$defs/L13"})


SCHEMA = {
    "type": "object",
    "properties": {"n": {"type": "integer"}},
    "required": ["n"],
    "additionalProperties": False,
}


def test_schema_is_sent_natively_as_response_schema() -> None:
    sent: list[dict[str, Any]] = []
    client = _client(
        lambda r: sent.append(json.loads(r.content)) or httpx.Response(200, json=_answer('{"n": 2}'))
    )
    assert client.complete("Two?", system="Count.", schema=SCHEMA, response_mime_type="text/plain").data == {
        "n": 2
    }
    assert sent[0]["generationConfig"] == {
        "responseMimeType": "application/json",  # the schema wins over a contradicting extra
        "responseSchema": {"type": "OBJECT", "properties": {"n": {"type": "INTEGER"}}, "required": ["n"]},
    }
    assert sent[0]["systemInstruction"] == {"parts": [{"text": "Count."}]}  # no prompt instructions needed


def test_the_answer_is_validated_against_the_original_schema_and_repaired() -> None:
    """additionalProperties: false is not sent, so Gemini may add a key; the core catches it, asks again."""
    answers = iter([_answer('{"n": 2, "why": "because"}'), _answer('{"n": 2}')])
    sent: list[dict[str, Any]] = []
    client = _client(lambda r: sent.append(json.loads(r.content)) or httpx.Response(200, json=next(answers)))
    completion = client.complete("Two?", schema=SCHEMA)
    assert completion.data == {"n": 2} and completion.attempts == 2
    assert [c["role"] for c in sent[1]["contents"]] == ["user", "model", "user"]
    assert "responseSchema" in sent[1]["generationConfig"]


def test_an_untranslatable_schema_falls_back_to_json_mode_with_instructions() -> None:
    free_form = {"type": "object", "additionalProperties": {"type": "integer"}}
    sent: list[dict[str, Any]] = []
    client = _client(
        lambda r: sent.append(json.loads(r.content)) or httpx.Response(200, json=_answer('{"a": 1}'))
    )
    assert client.complete("Count.", system="Be brief.", schema=free_form).data == {"a": 1}
    assert sent[0]["generationConfig"] == {"responseMimeType": "application/json"}
    instruction, own = sent[0]["systemInstruction"]["parts"]
    assert "JSON Schema" in instruction["text"] and '"additionalProperties"' in instruction["text"]
    assert own == {"text": "Be brief."}


def test_response_json_schema_is_an_opt_in_that_sends_the_schema_untranslated() -> None:
    sent: list[dict[str, Any]] = []
    client = _client(
        lambda r: sent.append(json.loads(r.content)) or httpx.Response(200, json=_answer('{"n": 1}'))
    )
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", **SCHEMA}
    assert client.complete("One?", model="json-schema", schema=schema).data == {"n": 1}
    assert sent[0]["generationConfig"] == {
        "responseMimeType": "application/json",
        "responseJsonSchema": SCHEMA,
    }
    assert "schema_field" not in sent[0]
    assert (
        "generationConfig" not in _sent("x", model="json-schema")[1]
    )  # without a schema the param does nothing
    with pytest.raises(TypeError, match="schema_field"):
        _sent("x", schema=SCHEMA, schema_field="openapi")


# -- responses ---------------------------------------------------------------------------------------------
def test_response_text_joins_the_text_parts_without_thoughts() -> None:
    completion = _client(lambda r: httpx.Response(200, json=OK)).complete("x")
    assert completion.text == "Hi there" and completion.finish_reason == "STOP"
    assert (completion.input_tokens, completion.output_tokens) == (12, 4)  # thoughts are not candidates
    assert completion.raw == OK


def test_max_tokens_spent_on_thinking_is_an_empty_answer_not_an_error() -> None:
    body = {
        "candidates": [{"content": {"role": "model"}, "finishReason": "MAX_TOKENS"}],
        "usageMetadata": {"promptTokenCount": 5, "thoughtsTokenCount": 16, "totalTokenCount": 21},
    }
    completion = _client(lambda r: httpx.Response(200, json=body)).complete("x", max_tokens=16)
    assert (completion.text, completion.finish_reason, completion.output_tokens) == ("", "MAX_TOKENS", None)


@pytest.mark.parametrize(
    ("reason", "advice"),
    [
        ("SAFETY", "safety_settings"),
        ("PROHIBITED_CONTENT", "Rephrase"),
        ("RECITATION", "paraphrase"),
        ("SPII", "Rephrase"),
    ],
)
def test_an_answer_withheld_by_a_filter_is_refused(reason: str, advice: str) -> None:
    body = {
        "candidates": [
            {
                "finishReason": reason,
                "index": 0,
                "safetyRatings": [
                    {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": True},
                    {"category": "HARM_CATEGORY_HARASSMENT", "probability": "NEGLIGIBLE"},
                ],
            }
        ]
    }
    calls: list[httpx.Request] = []
    client = _client(lambda r: calls.append(r) or httpx.Response(200, json=body), retries=2)
    with pytest.raises(modelswap.RequestRejectedError) as caught:
        client.complete("x")
    message = str(caught.value)
    assert f"withheld the answer (finishReason {reason}; HARM_CATEGORY_DANGEROUS_CONTENT: HIGH)" in message
    assert "HARASSMENT" not in message and advice in message
    assert caught.value.error_type == reason and caught.value.status == 200 and len(calls) == 1


def test_a_blocked_prompt_is_refused() -> None:
    body = {"promptFeedback": {"blockReason": "OTHER"}, "usageMetadata": {"promptTokenCount": 3}}
    with pytest.raises(
        modelswap.RequestRejectedError, match=r"blocked the prompt \(blockReason OTHER\)"
    ) as caught:
        _client(lambda r: httpx.Response(200, json=body)).complete("x")
    assert caught.value.error_type == "PROMPT_BLOCKED:OTHER"
    assert caught.value.provider and str(caught.value).startswith(caught.value.provider + ": ")


@pytest.mark.parametrize("body", [{"choices": []}, [1], "text", {"candidates": "no"}])
def test_a_body_that_is_not_a_gemini_response_is_a_bad_response(body: Any) -> None:
    with pytest.raises(modelswap.BadResponseError, match="not a valid gemini completion"):
        _client(lambda r: httpx.Response(200, json=body)).complete("x")


def test_an_error_body_with_status_200_is_a_bad_response() -> None:
    body = _google_error(500, "INTERNAL", "An internal error has occurred.")
    with pytest.raises(modelswap.BadResponseError, match="An internal error has occurred"):
        _client(lambda r: httpx.Response(200, json=body)).complete("x")


def test_only_candidate_0_is_the_answer() -> None:
    other = {"index": 1, "content": {"role": "model", "parts": [{"text": "B"}]}, "finishReason": "STOP"}
    first = {"index": 0, "content": {"role": "model", "parts": [{"text": "A"}]}, "finishReason": "MAX_TOKENS"}
    completion = _client(lambda r: httpx.Response(200, json={"candidates": [other, first]})).complete("x")
    assert (completion.text, completion.finish_reason) == ("A", "MAX_TOKENS")
    raw = _events(
        {"candidates": [{**first, "finishReason": None}]},
        {"candidates": [other]},
        {"candidates": [{"index": 0, "content": {"parts": [{"text": "!"}]}, "finishReason": "STOP"}]},
    )
    *deltas, final = list(_client(lambda r: httpx.Response(200, content=raw, headers=SSE)).stream("x"))
    assert deltas == ["A", "!"] and final.finish_reason == "STOP"


def test_a_json_array_of_chunks_is_read_like_a_stream() -> None:
    body = [
        _chunk({"text": "a"}, usage={"promptTokenCount": 2}),
        _chunk({"text": "b"}, finish="STOP", usage={"promptTokenCount": 2, "candidatesTokenCount": 2}),
    ]
    completion = _client(lambda r: httpx.Response(200, json=body)).complete("x")
    assert (completion.text, completion.finish_reason, completion.output_tokens) == ("ab", "STOP", 2)
    blocked = [{"promptFeedback": {"blockReason": "SAFETY"}}]
    with pytest.raises(modelswap.RequestRejectedError, match="blocked the prompt"):
        _client(lambda r: httpx.Response(200, json=blocked)).complete("x")


def test_acomplete_works_the_same() -> None:
    async def main() -> modelswap.Completion:
        async with _client(lambda r: httpx.Response(200, json=OK)) as client:
            return await client.acomplete("x")

    assert asyncio.run(main()).text == "Hi there"


# -- errors ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "code", "wanted"),
    [
        (400, "INVALID_ARGUMENT", modelswap.RequestRejectedError),
        (400, "FAILED_PRECONDITION", modelswap.RequestRejectedError),
        (401, "UNAUTHENTICATED", modelswap.AuthenticationError),
        (403, "PERMISSION_DENIED", modelswap.AuthenticationError),
        (404, "NOT_FOUND", modelswap.RequestRejectedError),
        (429, "RESOURCE_EXHAUSTED", modelswap.RateLimitedError),
        (500, "INTERNAL", modelswap.TransientError),
        (503, "UNAVAILABLE", modelswap.TransientError),
        (504, "DEADLINE_EXCEEDED", modelswap.TransientError),
    ],
)
def test_error_statuses_map_to_typed_errors(status: int, code: str, wanted: type[Exception]) -> None:
    calls: list[httpx.Request] = []
    body = _google_error(status, code, "Something went wrong.", _retry_info("0s"))
    client = _client(lambda r: calls.append(r) or httpx.Response(status, json=body), retries=2)
    with pytest.raises(wanted) as caught:
        client.complete("x")
    error = caught.value
    assert type(error) is wanted and error.error_type == code and "Something went wrong" in str(error)
    assert len(calls) == (3 if issubclass(wanted, modelswap.TransientError) else 1)


def _provider_with_sleeps(client: modelswap.Client, sleeps: list[float], handler: Handler) -> None:
    spec = client.resolve(None).provider
    client._providers[spec] = Provider(spec, transport=httpx.MockTransport(handler), sleep=sleeps.append)


def test_the_retry_delay_in_the_body_is_waited_before_retrying() -> None:
    answers = iter(
        [
            httpx.Response(
                429, json=_google_error(429, "RESOURCE_EXHAUSTED", "Slow down.", _retry_info("1.500s"))
            ),
            httpx.Response(200, json=OK),
        ]
    )
    client = _client(lambda r: httpx.Response(500), retries=1)
    sleeps: list[float] = []
    _provider_with_sleeps(client, sleeps, lambda r: next(answers))
    assert client.complete("x").attempts == 2 and sleeps == [1.5]


def test_a_503_with_a_retry_delay_waits_that_long() -> None:
    answers = iter([httpx.Response(503, json=_google_error(503, "UNAVAILABLE", "Busy.", _retry_info("2s"))),
                    httpx.Response(200, json=OK)])
    client = _client(lambda r: httpx.Response(500), retries=1)
    sleeps: list[float] = []
    _provider_with_sleeps(client, sleeps, lambda r: next(answers))
    assert client.complete("x").attempts == 2 and sleeps == [2.0]


def test_a_retry_after_header_wins_over_the_body() -> None:
    body = _google_error(429, "RESOURCE_EXHAUSTED", "Slow down.", _retry_info("30s"))
    with pytest.raises(modelswap.RateLimitedError) as caught:
        _client(lambda r: httpx.Response(429, json=body, headers={"retry-after": "2"})).complete("x")
    assert caught.value.retry_after == 2


def test_a_daily_quota_is_not_waited_for() -> None:
    calls: list[httpx.Request] = []
    body = _google_error(429, "RESOURCE_EXHAUSTED", "Quota exceeded.", _retry_info("86400s"))
    client = _client(lambda r: calls.append(r) or httpx.Response(429, json=body), retries=3)
    with pytest.raises(modelswap.RateLimitedError, match="wait 86400s") as caught:
        client.complete("x")
    assert caught.value.retry_after == 86400 and len(calls) == 1  # over max_retry_after_s: fail now


@pytest.mark.parametrize(
    ("delay", "seconds"),
    [("37s", 37.0), ("0.250s", 0.25), ("0s", 0.0), ("1m", None), (None, None), (5, None)],
)
def test_retry_delay_parsing(delay: Any, seconds: float | None) -> None:
    info = GeminiGenerate().parse_error(
        429, _google_error(429, "RESOURCE_EXHAUSTED", "m", _retry_info(delay)), {}
    )
    assert info.retry_after_s == seconds


def test_an_invalid_key_says_so_although_it_comes_as_a_400() -> None:
    body = _google_error(
        400,
        "INVALID_ARGUMENT",
        "API key not valid. Please pass a valid API key.",
        {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "API_KEY_INVALID",
            "domain": "googleapis.com",
        },
    )
    with pytest.raises(modelswap.RequestRejectedError, match="API key not valid.*x-goog-api-key was refused"):
        _client(lambda r: httpx.Response(400, json=body)).complete("x")


def test_an_error_wrapped_in_a_list_and_a_plain_text_error_are_read() -> None:
    body = [_google_error(404, "NOT_FOUND", "models/nope is not found for API version v1beta.")]
    with pytest.raises(modelswap.RequestRejectedError, match="is not found for API version") as caught:
        _client(lambda r: httpx.Response(404, json=body)).complete("x")
    assert caught.value.error_type == "NOT_FOUND"
    with pytest.raises(modelswap.TransientError, match="Bad gateway"):
        _client(lambda r: httpx.Response(502, text="<html>Bad gateway</html>")).complete("x")


def test_the_key_is_never_in_an_error_message() -> None:
    echoed = f"API key {KEY} not valid"
    failures: list[Exception] = []
    for status, code in (
        (400, "INVALID_ARGUMENT"),
        (403, "PERMISSION_DENIED"),
        (429, "RESOURCE_EXHAUSTED"),
        (503, "UNAVAILABLE"),
    ):
        client = _client(lambda r, s=status, c=code: httpx.Response(s, json=_google_error(s, c, echoed)))
        with pytest.raises(modelswap.ProviderError) as caught:
            client.complete("x")
        failures.append(caught.value)
    in_stream = _events(_google_error(503, "UNAVAILABLE", echoed))
    with pytest.raises(modelswap.TransientError) as caught:
        list(_client(lambda r: httpx.Response(200, content=in_stream, headers=SSE)).stream("x"))
    failures.append(caught.value)
    for error in failures:
        rebuilt = pickle.loads(pickle.dumps(error))
        for text in (str(error), repr(error), str(rebuilt), repr(error.__dict__)):
            assert KEY not in text and KEY[4:] not in text


# -- streams -----------------------------------------------------------------------------------------------
def test_stream_yields_text_deltas_then_the_completion() -> None:
    raw = _events(
        _chunk({"text": "thinking...", "thought": True}, usage={"promptTokenCount": 9}),
        _chunk({"text": "Hel"}, usage={"promptTokenCount": 9, "candidatesTokenCount": 1}),
        _chunk({"text": "lo"}, {"text": "!"}),
        {
            "candidates": [{"finishReason": "MAX_TOKENS", "index": 0}],
            "usageMetadata": {"promptTokenCount": 9, "candidatesTokenCount": 7, "thoughtsTokenCount": 3},
        },
    )
    sent: list[httpx.Request] = []
    client = _client(lambda r: sent.append(r) or httpx.Response(200, content=raw, headers=SSE))
    *deltas, final = list(client.stream("x"))
    assert deltas == ["Hel", "lo!"] and final.text == "Hello!"
    assert (final.finish_reason, final.input_tokens, final.output_tokens) == ("MAX_TOKENS", 9, 7)
    assert sent[0].url.params["alt"] == "sse" and sent[0].headers["accept"] == "text/event-stream"
    assert "stream" not in json.loads(sent[0].content)  # the method name says it, not the body


def test_a_usage_chunk_after_the_finish_reason_is_still_read() -> None:
    raw = _events(
        _chunk({"text": "ok"}, finish="STOP", usage={"promptTokenCount": 4}),
        {"usageMetadata": {"promptTokenCount": 4, "candidatesTokenCount": 1}},
    )
    *_, final = list(_client(lambda r: httpx.Response(200, content=raw, headers=SSE)).stream("x"))
    assert (final.text, final.finish_reason, final.input_tokens, final.output_tokens) == ("ok", "STOP", 4, 1)


def test_a_stream_cut_before_any_finish_reason_is_truncated_and_transient() -> None:
    raw = _events(_chunk({"text": "par"}))
    calls: list[httpx.Request] = []
    client = _client(lambda r: calls.append(r) or httpx.Response(200, content=raw, headers=SSE), retries=1)
    with pytest.raises(modelswap.TransientError, match="truncated"):
        list(client.stream("x"))
    assert len(calls) == 1  # text was already yielded: no retry
    empty = _events({"usageMetadata": {"promptTokenCount": 4}})
    calls.clear()
    client = _client(lambda r: calls.append(r) or httpx.Response(200, content=empty, headers=SSE), retries=1)
    with pytest.raises(modelswap.TransientError, match="truncated"):
        list(client.stream("x"))
    assert len(calls) == 2  # nothing yielded yet: retried


def test_an_answer_withheld_mid_stream_raises_after_the_text_so_far() -> None:
    raw = _events(_chunk({"text": "Once upon"}), _chunk(finish="RECITATION"))
    seen: list[Any] = []
    with pytest.raises(
        modelswap.RequestRejectedError, match="withheld the answer after 9 characters"
    ) as caught:
        for item in _client(lambda r: httpx.Response(200, content=raw, headers=SSE)).stream("x"):
            seen.append(item)
    assert seen == ["Once upon"] and caught.value.error_type == "RECITATION"


@pytest.mark.parametrize(
    ("code", "status", "transient"),
    [
        (503, "UNAVAILABLE", True),
        (500, "INTERNAL", True),
        (429, "RESOURCE_EXHAUSTED", True),
        (504, "DEADLINE_EXCEEDED", True),
        (400, "INVALID_ARGUMENT", False),
        (403, "PERMISSION_DENIED", False),
        (None, None, True),
    ],
)
def test_in_band_errors_are_transient_only_when_they_are_the_servers(
    code: Any, status: Any, transient: bool
) -> None:
    decoder = GeminiGenerate().stream_decoder()
    error = {k: v for k, v in {"code": code, "status": status, "message": "m"}.items() if v is not None}
    with pytest.raises(InBandError) as caught:
        decoder.feed(json.dumps({"error": error}), "message")
    assert caught.value.transient is transient and caught.value.info.error_type == status


def test_an_unreadable_event_is_a_bad_response() -> None:
    raw = b"data: {not json\r\n\r\n"
    with pytest.raises(modelswap.BadResponseError, match="unreadable gemini stream event"):
        list(_client(lambda r: httpx.Response(200, content=raw, headers=SSE)).stream("x"))


def test_astream_works_the_same() -> None:
    raw = _events(
        _chunk({"text": "a"}), _chunk({"text": "b"}, finish="STOP", usage={"candidatesTokenCount": 2})
    )

    async def main() -> list[Any]:
        async with _client(lambda r: httpx.Response(200, content=raw, headers=SSE)) as client:
            return [item async for item in client.astream("x")]

    *deltas, final = asyncio.run(main())
    assert deltas == ["a", "b"] and final.text == "ab" and final.output_tokens == 2


# -- vertex ------------------------------------------------------------------------------------------------
def _vertex_config(
    tmp_path: Path,
    *,
    command: list[str] | str | None = None,
    ttl: str | None = None,
    base_url: str = VERTEX_BASE,
    model_id: str = "gemini-2.5-flash",
    extra: str = "",
) -> str:
    fields = [
        f"kind: vertex, base_url: '{base_url}', api_key_env: VERTEX_ACCESS_TOKEN",
        "retry: {max_retries: %(retries)d, initial_backoff_s: 0, max_backoff_s: 0}",
    ]
    if command is not None:
        fields.append(f"token_command: {json.dumps(command)}")
    if ttl is not None:
        fields.append(f"token_ttl_s: {ttl}")
    if extra:
        fields.append(extra)
    return (
        f"providers:\n  gcp: {{{', '.join(fields)}}}\n"
        f"models:\n  flash: {{provider: gcp, model_id: {model_id}}}\ndefault: flash\n"
    )


def _command(tmp_path: Path, *flags: str) -> tuple[list[str], Path]:
    counter = tmp_path / "runs.txt"
    return [sys.executable, str(FAKE_COMMAND), str(counter), *flags], counter


def _runs(counter: Path) -> int:
    return len(counter.read_text().splitlines()) if counter.exists() else 0


def _token(run: int) -> str:
    return f"vertex-test-token-{run}-qwertyuiop"


def _bearer(request: httpx.Request) -> str:
    return request.headers["authorization"].removeprefix("Bearer ")


@pytest.mark.parametrize(
    ("base_url", "model_id", "path"),
    [
        (VERTEX_BASE, "gemini-2.5-flash", "publishers/google/models/gemini-2.5-flash"),
        (VERTEX_BASE, "models/gemini-2.5-flash", "publishers/google/models/gemini-2.5-flash"),
        (
            VERTEX_BASE.removesuffix("/publishers/google"),
            "gemini-2.0-flash-001",
            "publishers/google/models/gemini-2.0-flash-001",
        ),
        (VERTEX_BASE.removesuffix("/publishers/google"), "endpoints/1234567890", "endpoints/1234567890"),
    ],
)
def test_vertex_urls(base_url: str, model_id: str, path: str, tmp_path: Path) -> None:
    sent: list[httpx.Request] = []
    config = _vertex_config(tmp_path, base_url=base_url, model_id=model_id)
    _client(lambda r: sent.append(r) or httpx.Response(200, json=OK), config=config).complete("x")
    assert str(sent[0].url) == (
        "https://europe-west4-aiplatform.googleapis.com/v1/projects/p1/locations/europe-west4/"
        f"{path}:generateContent"
    )


def test_vertex_sends_the_token_from_the_environment_as_a_bearer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[httpx.Request] = []
    client = _client(
        lambda r: sent.append(r) or httpx.Response(200, json=OK), config=_vertex_config(tmp_path)
    )
    client.complete("x")
    monkeypatch.setenv(
        "VERTEX_ACCESS_TOKEN", TOKEN + "-renewed"
    )  # read on every request: a renewal is picked up
    client.complete("x")
    assert [_bearer(r) for r in sent] == [TOKEN, TOKEN + "-renewed"]
    assert "x-goog-api-key" not in sent[0].headers
    body = json.loads(sent[0].content)
    assert body["contents"] == [{"role": "user", "parts": [{"text": "x"}]}]


def test_vertex_without_any_token_names_the_variable_and_token_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VERTEX_ACCESS_TOKEN")
    calls: list[httpx.Request] = []
    client = _client(
        lambda r: calls.append(r) or httpx.Response(200, json=OK), config=_vertex_config(tmp_path)
    )
    with pytest.raises(
        modelswap.MissingCredentialsError, match="set `VERTEX_ACCESS_TOKEN`.*token_command"
    ) as caught:
        client.complete("x")
    assert caught.value.env_var == "VERTEX_ACCESS_TOKEN" and caught.value.provider == "gcp" and calls == []


def test_vertex_without_credentials_configured_sends_no_authorization(tmp_path: Path) -> None:
    config = (
        f"providers:\n  proxy: {{kind: vertex, base_url: '{VERTEX_BASE}', api_key_required: false}}\n"
        "models:\n  flash: {provider: proxy, model_id: gemini-2.5-flash}\ndefault: flash\n"
    )
    sent: list[httpx.Request] = []
    modelswap.Client(
        loads_config(config),
        transport=httpx.MockTransport(lambda r: sent.append(r) or httpx.Response(200, json=OK)),
    ).complete("x")
    assert "authorization" not in sent[0].headers


def test_api_key_from_the_environment_overrides_the_token_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    command, counter = _command(tmp_path)
    monkeypatch.setenv("API_KEY", "override-token-0123456789")
    sent: list[httpx.Request] = []
    client = _client(
        lambda r: sent.append(r) or httpx.Response(200, json=OK),
        config=_vertex_config(tmp_path, command=command),
    )
    client.complete("x")  # the default model: API_KEY applies, as for the Kubernetes ConfigMap swap
    assert _bearer(sent[0]) == "override-token-0123456789" and _runs(counter) == 0


def test_a_command_token_is_cached_across_calls_and_clients(tmp_path: Path) -> None:
    command, counter = _command(tmp_path)
    config = _vertex_config(tmp_path, command=command)
    sent: list[httpx.Request] = []
    client = _client(lambda r: sent.append(r) or httpx.Response(200, json=OK), config=config)
    for _ in range(3):
        client.complete("x")

    async def main() -> None:
        async with _client(lambda r: sent.append(r) or httpx.Response(200, json=OK), config=config) as other:
            await other.acomplete("x")

    asyncio.run(main())
    assert _runs(counter) == 1 and {_bearer(r) for r in sent} == {_token(1)}


def test_an_async_first_call_runs_the_command_off_the_event_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    command, counter = _command(tmp_path)
    sent: list[httpx.Request] = []
    loop_threads: list[int] = []
    fetch_threads: list[int] = []
    fetch = _TokenSource._fetch

    def recording_fetch(self: _TokenSource) -> str:
        fetch_threads.append(threading.get_ident())
        return fetch(self)

    monkeypatch.setattr(_TokenSource, "_fetch", recording_fetch)

    async def main() -> list[Any]:
        loop_threads.append(threading.get_ident())
        async with _client(
            lambda r: sent.append(r) or httpx.Response(200, json=OK),
            config=_vertex_config(tmp_path, command=command),
        ) as client:
            return list(await asyncio.gather(*(client.acomplete("x") for _ in range(5))))

    completions = asyncio.run(main())
    assert [c.text for c in completions] == ["Hi there"] * 5
    assert {_bearer(r) for r in sent} == {_token(1)} and _runs(counter) == 1
    assert len(fetch_threads) == 1 and fetch_threads != loop_threads  # gcloud never stalls the event loop


def test_a_command_token_is_refreshed_when_it_expires(tmp_path: Path) -> None:
    command, counter = _command(tmp_path)
    sent: list[httpx.Request] = []
    config = _vertex_config(tmp_path, command=command, ttl="0.000001")  # the config schema wants ttl > 0
    client = _client(lambda r: sent.append(r) or httpx.Response(200, json=OK), config=config)
    client.complete("x")
    client.complete("x")
    assert _runs(counter) == 2 and [_bearer(r) for r in sent] == [_token(1), _token(2)]


def test_a_ttl_of_zero_fetches_for_every_request_and_expiry_is_exact(tmp_path: Path) -> None:
    command, counter = _command(tmp_path)
    spec = ProviderSpec(
        name="gcp", kind="vertex", base_url=VERTEX_BASE, token_command=tuple(command), token_ttl_s=0
    )
    seen: list[str] = []
    with httpx.Client(
        auth=VertexTokenAuth(spec, _TokenSource(spec)),
        transport=httpx.MockTransport(lambda r: seen.append(_bearer(r)) or httpx.Response(200)),
    ) as http:
        http.get("https://example.test/a")
        http.get("https://example.test/b")
    assert seen == [_token(1), _token(2)] and _runs(counter) == 2

    now = [100.0]
    spec = ProviderSpec(
        name="gcp", kind="vertex", base_url=VERTEX_BASE, token_command=tuple(command), token_ttl_s=50
    )
    source = _TokenSource(spec, clock=lambda: now[0])
    assert source.token() == _token(3)
    now[0] = 149.999
    assert source.cached() == _token(3) and source.token() == _token(3)
    now[0] = 150.0
    assert source.cached() is None and source.token() == _token(4) and _runs(counter) == 4


def test_a_401_refreshes_the_token_once_and_resends(tmp_path: Path) -> None:
    command, counter = _command(tmp_path)
    sent: list[str] = []  # the bearer of each request as sent (the auth flow resends the same Request object)

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(_bearer(request))
        if _bearer(request) == _token(1):  # the first token was revoked early
            return httpx.Response(
                401, json=_google_error(401, "UNAUTHENTICATED", "Request had invalid credentials.")
            )
        return httpx.Response(200, json=OK)

    client = _client(handler, config=_vertex_config(tmp_path, command=command))
    completion = client.complete("x")
    assert completion.text == "Hi there" and completion.attempts == 1
    assert sent == [_token(1), _token(2)] and _runs(counter) == 2
    client.complete("x")  # the refreshed token is the cached one now
    assert sent[-1] == _token(2) and _runs(counter) == 2


def test_a_second_401_is_an_authentication_error_after_exactly_one_refresh(tmp_path: Path) -> None:
    command, counter = _command(tmp_path)
    sent: list[httpx.Request] = []
    body = _google_error(401, "UNAUTHENTICATED", "Request had invalid credentials.")
    client = _client(
        lambda r: sent.append(r) or httpx.Response(401, json=body),
        retries=3,
        config=_vertex_config(tmp_path, command=command),
    )
    with pytest.raises(
        modelswap.AuthenticationError, match="access token was refused: check token_command"
    ) as caught:
        client.complete("x")
    assert len(sent) == 2 and _runs(counter) == 2
    assert _token(1) not in repr(caught.value.__dict__) and _token(2) not in str(caught.value)


def test_a_401_in_a_stream_and_in_async_calls_refreshes_too(tmp_path: Path) -> None:
    command, counter = _command(tmp_path)
    raw = _events(_chunk({"text": "ok"}, finish="STOP"))
    sent: list[str] = []
    revoked = {_token(1)}

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(_bearer(request))
        if _bearer(request) in revoked:
            return httpx.Response(401, json=_google_error(401, "UNAUTHENTICATED", "expired"))
        return (
            httpx.Response(200, content=raw, headers=SSE)
            if "alt=sse" in str(request.url)
            else httpx.Response(200, json=OK)
        )

    config = _vertex_config(tmp_path, command=command)
    *_, final = list(_client(handler, config=config).stream("x"))
    assert final.text == "ok" and sent == [_token(1), _token(2)]
    revoked.add(_token(2))  # the async client starts from the cached token 2, which is now refused as well

    async def main() -> tuple[Any, Any]:
        async with _client(handler, config=config) as client:
            return await client.acomplete("x"), [item async for item in client.astream("x")][-1]

    completion, streamed = asyncio.run(main())
    assert completion.text == "Hi there" and streamed.text == "ok"
    assert sent[2:] == [_token(2), _token(3), _token(3)] and _runs(counter) == 3


def test_a_401_with_an_unchanged_environment_token_is_not_resent(tmp_path: Path) -> None:
    sent: list[httpx.Request] = []
    body = _google_error(401, "UNAUTHENTICATED", "Request had invalid credentials.")
    client = _client(
        lambda r: sent.append(r) or httpx.Response(401, json=body), config=_vertex_config(tmp_path)
    )
    with pytest.raises(modelswap.AuthenticationError, match="VERTEX_ACCESS_TOKEN"):
        client.complete("x")
    assert len(sent) == 1


def test_concurrent_requests_run_the_command_once(tmp_path: Path) -> None:
    command, counter = _command(tmp_path)
    client = _client(lambda r: httpx.Response(200, json=OK), config=_vertex_config(tmp_path, command=command))
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: client.complete("x").text, range(16)))
    assert results == ["Hi there"] * 16 and _runs(counter) == 1


def test_a_command_given_as_one_string_and_a_warning_line_before_the_token(tmp_path: Path) -> None:
    command, _ = _command(tmp_path, "--warn")
    sent: list[httpx.Request] = []
    config = _vertex_config(tmp_path, command=" ".join(shlex.quote(word) for word in command))
    _client(lambda r: sent.append(r) or httpx.Response(200, json=OK), config=config).complete("x")
    assert _bearer(sent[0]) == _token(1)


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (
            ("--fail",),
            r"failed with exit code 1: ERROR: \(gcloud.auth.print-access-token\) cannot refresh \*\*\*",
        ),
        (("--empty",), "printed no token"),
    ],
)
def test_a_failing_command_is_a_config_error(tmp_path: Path, flags: tuple[str, ...], words: str) -> None:
    command, _ = _command(tmp_path, *flags)
    calls: list[httpx.Request] = []
    client = _client(
        lambda r: calls.append(r) or httpx.Response(200, json=OK),
        config=_vertex_config(tmp_path, command=command),
    )
    with pytest.raises(modelswap.ConfigError, match=words) as caught:
        client.complete("x")
    assert caught.value.field == "providers.gcp.token_command" and calls == []
    assert "ya29." not in str(caught.value)


def test_a_missing_command_is_a_config_error(tmp_path: Path) -> None:
    config = _vertex_config(tmp_path, command=["no-such-gcloud-here", "auth", "print-access-token"])
    with pytest.raises(modelswap.ConfigError, match="no-such-gcloud-here is not installed or not on PATH"):
        _client(lambda r: httpx.Response(200, json=OK), config=config).complete("x")


def test_the_token_is_never_in_a_message_or_repr(tmp_path: Path) -> None:
    command, _ = _command(tmp_path)
    body = _google_error(403, "PERMISSION_DENIED", f"token {_token(1)} lacks aiplatform.endpoints.predict")
    client = _client(
        lambda r: httpx.Response(403, json=body), config=_vertex_config(tmp_path, command=command)
    )
    with pytest.raises(modelswap.AuthenticationError) as caught:
        client.complete("x")
    provider = client.provider(client.resolve(None).provider)
    auth = provider.client.auth
    assert isinstance(auth, VertexTokenAuth)
    for text in (
        str(caught.value),
        repr(caught.value.__dict__),
        repr(auth),
        repr(auth._source),
        repr(provider.spec),
        redact(f"Authorization: Bearer {_token(1)}"),
    ):
        assert _token(1) not in text
    assert "lacks aiplatform.endpoints.predict" in str(caught.value)


# -- the CLI ----------------------------------------------------------------------------------------------
class _Stub(BaseHTTPRequestHandler):
    """Answers every POST with the class's (status, body) and records what it received."""

    answer: tuple[int, dict[str, Any]] = (200, _answer("Paris"))
    received: ClassVar[
        list[tuple[str, dict[str, str], Any]]
    ] = []  # a fresh list per server (see the fixture)

    def do_POST(self) -> None:  # http.server's naming
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        self.received.append((self.path, {k.lower(): v for k, v in self.headers.items()}, json.loads(body)))
        status, answer = self.answer
        content = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def stub(tmp_path: Path) -> Iterator[tuple[Path, type[_Stub]]]:
    handler = type("Handler", (_Stub,), {"received": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    config = tmp_path / "modelswap.yaml"
    config.write_text(
        f"providers:\n  google: {{preset: gemini, "
        f"base_url: 'http://127.0.0.1:{server.server_address[1]}/v1beta',"
        " retry: {max_retries: 0}}\n"
        "models:\n  flash: {provider: google, model_id: gemini-2.5-flash}\ndefault: flash\n"
    )
    yield config, handler
    server.shutdown()
    server.server_close()


def test_cli_call_with_the_gemini_kind(
    stub: tuple[Path, type[_Stub]], capsys: pytest.CaptureFixture[str]
) -> None:
    config, handler = stub
    code = cli.main(
        [
            "--config",
            str(config),
            "call",
            "flash",
            "Capital of France?",
            "--system",
            "One word.",
            "-p",
            "max_tokens=8",
            "-p",
            'stop=["\\n"]',
            "-p",
            "top_k=1",
            "--json",
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    printed = json.loads(out)
    assert (printed["text"], printed["finish_reason"], printed["input_tokens"], printed["output_tokens"]) == (
        "Paris",
        "STOP",
        5,
        2,
    )
    ((path, headers, body),) = handler.received
    assert path == "/v1beta/models/gemini-2.5-flash:generateContent" and headers["x-goog-api-key"] == KEY
    assert body == {
        "contents": [{"role": "user", "parts": [{"text": "Capital of France?"}]}],
        "systemInstruction": {"parts": [{"text": "One word."}]},
        "generationConfig": {"topK": 1, "maxOutputTokens": 8, "stopSequences": ["\n"]},
    }
    assert KEY not in out + err


def test_cli_call_reports_a_gemini_rate_limit_with_exit_code_1(
    stub: tuple[Path, type[_Stub]], capsys: pytest.CaptureFixture[str]
) -> None:
    config, handler = stub
    handler.answer = (429, _google_error(429, "RESOURCE_EXHAUSTED", "Quota exceeded.", _retry_info("37s")))
    assert cli.main(["--config", str(config), "call", "flash", "hi"]) == 1
    err = capsys.readouterr().err
    assert "rate limited (HTTP 429): Quota exceeded. The server asked to wait 37s." in err
    assert "Traceback" not in err


def test_models_check_reports_the_gemini_kind(
    stub: tuple[Path, type[_Stub]], capsys: pytest.CaptureFixture[str]
) -> None:
    config, _ = stub
    assert cli.main(["--config", str(config), "models", "--check", "flash", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (
        report["kind"] == "gemini"
        and report["json_schema"] == "native"
        and report["streaming"] == "yes (sse)"
    )
    assert set(report["params"].values()) == {"yes"}


# -- the adapters directly ---------------------------------------------------------------------------------
def test_build_request_directly() -> None:
    spec = ProviderSpec(name="g", kind="gemini", base_url="https://generativelanguage.googleapis.com/v1beta")
    model = ModelSpec(alias="flash", provider=spec, model_id="gemini-2.5-flash")
    path, body = GeminiGenerate().build_request(model, [{"role": "user", "content": "Hi"}], {}, stream=True)
    assert path == "models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    assert body == {"contents": [{"role": "user", "parts": [{"text": "Hi"}]}]}


def test_thinking_tokens_are_reported_and_billed_as_output() -> None:
    priced = CONFIG.replace(
        "flash: {provider: google, model_id: gemini-2.5-flash}",
        "flash: {provider: google, model_id: gemini-2.5-flash, price: {input_per_mtok: 1, output_per_mtok: 10}}",
    )
    completion = _client(lambda r: httpx.Response(200, json=OK), config=priced).complete("x")
    assert (completion.output_tokens, completion.reasoning_tokens) == (4, 30)
    assert completion.cost == pytest.approx((12 * 1 + (4 + 30) * 10) / 1e6)
