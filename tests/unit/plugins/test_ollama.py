"""Kind `ollama`: options mapping, explicit stream, num_ctx, extras, parsing, errors and the NDJSON decoder."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

import modelswap
from modelswap._config import ModelSpec, ProviderSpec, loads_config
from modelswap._provider import load_adapter
from modelswap.hookspecs import InBandError
from modelswap.plugins.ollama import OllamaChat, OllamaChatStream

PROVIDER = ProviderSpec(name="o", kind="ollama", base_url="http://localhost:11434", api_key_required=False)
SAMPLING = {"temperature", "top_p", "max_tokens", "stop", "seed", "num_predict", "num_ctx", "top_k", "min_p",
            "repeat_penalty"}
USER = [{"role": "user", "content": "Hi"}]
FINAL = {"model": "llama3.2", "message": {"role": "assistant", "content": ""}, "done": True, "done_reason": "stop",
         "total_duration": 4883583458, "prompt_eval_count": 26, "eval_count": 282}


def _model(context_window: int | None = None) -> ModelSpec:
    return ModelSpec(alias="llama", provider=PROVIDER, model_id="llama3.2", context_window=context_window)


def _build(params: dict[str, Any] | None = None, *, context_window: int | None = None, **kwargs: Any) -> dict[str, Any]:
    path, body = OllamaChat().build_request(_model(context_window), list(USER), params or {}, **kwargs)
    assert path == "api/chat"
    return body


def _decode(*lines: dict[str, Any]) -> tuple[list[str | None], OllamaChatStream]:
    decoder = OllamaChat().stream_decoder()
    return [decoder.feed(json.dumps(line), "line") for line in lines], decoder


# -- the adapter is what the entry point names ----------------------------------------------------------------
def test_kind_ollama_loads_this_adapter() -> None:
    assert load_adapter("ollama") is OllamaChat
    assert OllamaChat.kind == "ollama" and OllamaChat.stream_format == "ndjson" and OllamaChat.native_schema
    assert OllamaChat.supported_params == {"temperature", "top_p", "max_tokens", "stop", "seed"}


# -- requests -------------------------------------------------------------------------------------------------
def test_generic_params_map_to_ollama_options() -> None:
    body = _build({"temperature": 0, "top_p": 0.9, "max_tokens": 64, "stop": ["\n", "User:"], "seed": 42})
    assert body["options"] == {"temperature": 0, "top_p": 0.9, "num_predict": 64, "stop": ["\n", "User:"], "seed": 42}


@pytest.mark.parametrize(("stop", "expected"), [("\n", ["\n"]), (("a", "b"), ["a", "b"]), (["x"], ["x"])])
def test_stop_is_always_a_list(stop: Any, expected: list[str]) -> None:
    assert _build({"stop": stop})["options"]["stop"] == expected


def test_none_params_are_not_sent() -> None:
    body = _build({"temperature": None, "max_tokens": None})
    assert "options" not in body


@pytest.mark.parametrize(
    "params",
    [
        {"temperature": 0.1, "top_p": 0.5, "max_tokens": 8, "stop": "x", "seed": 1},
        {"top_k": 40, "num_ctx": 4096, "min_p": 0.05, "repeat_penalty": 1.1, "num_predict": 12},
    ],
)
def test_no_sampling_key_ever_lands_at_the_top_level(params: dict[str, Any]) -> None:
    for stream in (False, True):
        body = _build(params, context_window=2048, stream=stream)
        assert not SAMPLING & set(body), body  # the server silently ignores them there


def test_complete_always_sends_stream_false() -> None:
    # The server streams NDJSON when `stream` is absent; a JSON decode of that would fail.
    assert _build()["stream"] is False
    assert OllamaChat().build_request(_model(), list(USER), {})[1]["stream"] is False
    assert _build(stream=False)["stream"] is False
    assert _build(stream=True)["stream"] is True


def test_stream_cannot_be_overridden_by_an_extra() -> None:
    body = _build({"stream": True, "model": "other", "messages": []})
    assert body["stream"] is False and body["model"] == "llama3.2" and body["messages"] == USER


def test_context_window_becomes_num_ctx() -> None:
    assert _build(context_window=8192)["options"] == {"num_ctx": 8192}
    assert _build({"max_tokens": 5}, context_window=8192)["options"] == {"num_predict": 5, "num_ctx": 8192}


def test_no_num_ctx_without_a_context_window() -> None:
    assert "options" not in _build()


@pytest.mark.parametrize("params", [{"num_ctx": 2048}, {"options": {"num_ctx": 2048}}])
def test_an_explicit_num_ctx_wins_over_the_context_window(params: dict[str, Any]) -> None:
    assert _build(params, context_window=8192)["options"]["num_ctx"] == 2048


def test_ollama_option_extras_go_under_options_and_others_to_the_top_level() -> None:
    body = _build({"top_k": 20, "repeat_penalty": 1.1, "keep_alive": "10m", "think": False, "truncate": False,
                   "options": {"num_gpu": 1}, "temperature": 0.3})
    assert body["options"] == {"num_gpu": 1, "top_k": 20, "repeat_penalty": 1.1, "temperature": 0.3}
    assert (body["keep_alive"], body["think"], body["truncate"]) == ("10m", False, False)


def test_generic_params_win_over_the_same_key_in_an_options_extra() -> None:
    assert _build({"options": {"temperature": 1.0}, "temperature": 0})["options"] == {"temperature": 0}


def test_options_extra_must_be_a_mapping() -> None:
    with pytest.raises(TypeError, match="options"):
        _build({"options": ["top_k", 3]})


def test_messages_keep_their_roles_and_extra_fields() -> None:
    messages = [
        {"role": "system", "content": "S"},
        {"role": "user", "content": "U", "images": ["iVBORw0KGgo="]},
        {"role": "assistant", "content": "A"},
        {"role": "user", "content": "U2"},
    ]
    body = OllamaChat().build_request(_model(), messages, {})[1]
    assert body["messages"] == messages
    assert body["messages"][1] is not messages[1]  # copied, never mutated


def test_developer_messages_become_system() -> None:
    body = OllamaChat().build_request(_model(), [{"role": "developer", "content": "D"}, *USER], {})[1]
    assert body["messages"][0] == {"role": "system", "content": "D"}


def test_schema_goes_to_top_level_format() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    body = _build({"format": "json"}, schema=schema)
    assert body["format"] == schema and "response_format" not in body


def test_auth_is_an_optional_bearer() -> None:
    assert OllamaChat().auth_headers(None) == {}
    assert OllamaChat().auth_headers("k") == {"authorization": "Bearer k"}


@pytest.mark.parametrize("key", [None, "ollama-cloud-key"])
def test_the_key_is_sent_only_when_configured(key: str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    if key:
        monkeypatch.setenv("OLLAMA_API_KEY", key)
    else:
        monkeypatch.delenv("OLLAMA_API_KEY", raising=False)
    seen: list[httpx.Request] = []
    config = loads_config(
        "providers:\n  o: {kind: ollama, base_url: 'https://ollama.com', api_key_env: OLLAMA_API_KEY, api_key_required: false}\n"
        "models:\n  m: {provider: o, model_id: gpt-oss:120b}\ndefault: m\n"
    )
    client = modelswap.Client(config, transport=httpx.MockTransport(lambda r: seen.append(r) or httpx.Response(200, json=FINAL)))
    client.complete("x")
    assert str(seen[0].url) == "https://ollama.com/api/chat"
    assert seen[0].headers.get("authorization") == (f"Bearer {key}" if key else None)


def test_model_params_from_the_config_are_mapped_too() -> None:
    sent: list[dict] = []
    config = loads_config(
        "providers:\n  o: {kind: ollama, base_url: 'http://localhost:11434', api_key_required: false}\n"
        "models:\n  m: {provider: o, model_id: llama3.2, context_window: 4096, params: {temperature: 0, max_tokens: 16, top_k: 1}}\n"
        "default: m\n"
    )
    client = modelswap.Client(config, transport=httpx.MockTransport(
        lambda r: sent.append(json.loads(r.content)) or httpx.Response(200, json=FINAL)))
    client.complete("x", max_tokens=32)
    assert sent[0]["options"] == {"temperature": 0, "num_predict": 32, "top_k": 1, "num_ctx": 4096}
    assert sent[0]["stream"] is False


# -- responses ------------------------------------------------------------------------------------------------
def test_parse_response_reads_content_done_reason_and_counts() -> None:
    body = {**FINAL, "message": {"role": "assistant", "content": "Hello", "thinking": "hmm"}, "done_reason": "length"}
    parsed = OllamaChat().parse_response(body)
    assert tuple(parsed) == ("Hello", "length", 26, 282, None)  # thinking is not the answer (and is counted as output)


def test_parse_response_without_message_done_reason_or_counts() -> None:
    parsed = OllamaChat().parse_response({"model": "m", "done": True})
    assert tuple(parsed) == ("", None, None, None, None)


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ([], "object"),
        ({"model": "m", "message": {"content": "x"}}, "done"),
        ({"model": "m", "message": {"content": "x"}, "done": False}, "done"),
        ({"error": "boom"}, "boom"),
    ],
)
def test_parse_response_rejects_what_is_not_a_final_answer(body: Any, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        OllamaChat().parse_response(body)


# -- errors ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("message", "name"),
    [
        ("model \"llama9\" not found, try pulling it first", "llama9"),
        ("model 'qwen3:8b' not found", "qwen3:8b"),
        ("model 'hf.co/org/repo:Q4_K_M' not found", "hf.co/org/repo:Q4_K_M"),
    ],
)
def test_a_missing_model_says_how_to_pull_it(message: str, name: str) -> None:
    info = OllamaChat().parse_error(404, {"error": message}, {})
    assert info.message.startswith(message)
    assert f"`ollama pull {name}`" in info.message


def test_other_errors_keep_the_server_message() -> None:
    info = OllamaChat().parse_error(400, {"error": "\"llama3.2\" does not support thinking"}, {})
    assert info.message == "\"llama3.2\" does not support thinking" and info.error_type is None


def test_a_wrong_path_404_says_to_use_the_server_root() -> None:
    assert "server root" in OllamaChat().parse_error(404, "404 page not found", {}).message


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"error": {"message": "proxy said no", "type": "x"}}, "proxy said no"),
        ({"detail": "odd"}, '{"detail": "odd"}'),
        ("  Bad Gateway \n", "Bad Gateway"),
    ],
)
def test_unusual_error_bodies_still_give_a_message(body: Any, expected: str) -> None:
    assert OllamaChat().parse_error(502, body, {}).message == expected


# -- streams --------------------------------------------------------------------------------------------------
def test_stream_joins_deltas_and_takes_counts_from_the_done_line() -> None:
    deltas, decoder = _decode(
        {"message": {"role": "assistant", "content": "Hel"}, "done": False},
        {"message": {"role": "assistant", "content": "", "thinking": "..."}, "done": False},
        {"message": {"role": "assistant", "content": "lo"}, "done": False},
        {"model": "m", "done": True, "done_reason": "stop", "prompt_eval_count": 3, "eval_count": 2},  # no message
    )
    assert deltas == ["Hel", None, "lo", None]
    assert decoder.done
    assert tuple(decoder.finish()) == ("Hello", "stop", 3, 2, None)


def test_content_on_the_done_line_is_kept() -> None:
    deltas, decoder = _decode({"message": {"content": "A"}, "done": False}, {"message": {"content": "B"}, "done": True})
    assert deltas == ["A", "B"] and decoder.finish().text == "AB"


def test_a_stream_without_its_done_line_is_truncated() -> None:
    _, decoder = _decode({"message": {"content": "A"}, "done": False})
    assert not decoder.done
    with pytest.raises(ValueError, match="truncated"):
        decoder.finish()


def test_an_error_line_is_an_in_band_error() -> None:
    decoder = OllamaChat().stream_decoder()
    with pytest.raises(InBandError) as caught:
        decoder.feed('{"error": "an error was encountered while running the model"}', "line")
    assert caught.value.transient and caught.value.info.message == "an error was encountered while running the model"


@pytest.mark.parametrize(("status", "transient"), [(400, False), (404, False), (429, True), (500, True), (503, True)])
def test_an_error_line_with_a_status_is_transient_only_for_server_trouble(status: int, transient: bool) -> None:
    with pytest.raises(InBandError) as caught:
        OllamaChat().stream_decoder().feed(json.dumps({"error": "e", "status": status}), "line")
    assert caught.value.transient is transient and caught.value.info.code == status


@pytest.mark.parametrize("line", ["[1, 2]", '"text"', "not json"])
def test_a_line_that_is_not_an_object_is_a_value_error(line: str) -> None:
    with pytest.raises(ValueError):
        OllamaChat().stream_decoder().feed(line, "line")


def test_each_stream_gets_a_fresh_decoder() -> None:
    adapter = OllamaChat()
    first = adapter.stream_decoder()
    first.feed('{"message": {"content": "x"}, "done": true}', "line")
    assert first.done and not adapter.stream_decoder().done


def test_a_model_too_big_for_memory_is_not_retried() -> None:
    info = OllamaChat().parse_error(500, {"error": "model requires more system memory (8.0 GiB) than is available"}, {})
    assert info.transient is False and "smaller model" in info.message
    assert OllamaChat().parse_error(500, {"error": "llama runner process has terminated"}, {}).transient is None
