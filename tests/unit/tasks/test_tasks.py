"""The Prefect tasks: model resolution, the four tasks, retries, the opt-in cache, and batch chunks that resume.

Unit tests call ``task.fn(...)`` against the in-process stub (``modelswap.testing.FaultyServer``); the tests
that need a Prefect backend (the Variable, real retries, the cache, submitted chunks) share one temporary
server through the session fixture ``prefect_harness``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from prefect.cache_policies import NO_CACHE
from prefect.settings import PREFECT_API_URL, PREFECT_LOCAL_STORAGE_PATH, temporary_settings
from prefect.states import Failed
from prefect.tasks import exponential_backoff

import modelswap.tasks as tasks
from modelswap import (
    AuthenticationError,
    BadResponseError,
    ConfigError,
    MissingCredentialsError,
    ProviderTimeoutError,
    RateLimitedError,
    RequestRejectedError,
    StructuredOutputError,
    TransientError,
    UnknownModelError,
)
from modelswap.batch import count_done
from modelswap.testing import FaultyServer
from modelswap.tasks import (
    MODEL_CALL_CACHE,
    MODEL_VARIABLE,
    classify,
    client_for,
    complete,
    complete_batch,
    extract_json,
    parse_label,
    resolve_model,
    retry_on_transient,
)


@pytest.fixture
def no_prefect_api():
    """No Prefect API configured, whatever the profile (or an earlier harness test) set."""
    with temporary_settings(restore_defaults={PREFECT_API_URL}):
        yield


def _records(n: int, start: int = 0) -> list[dict]:
    return [{"id": f"r{i}", "prompt": f"say r{i}"} for i in range(start, start + n)]


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


# -- the package --------------------------------------------------------------------------------------------------


def test_importing_modelswap_does_not_import_prefect():
    code = (
        "import sys, modelswap, modelswap.batch, modelswap.testing\n"
        "modelswap.Client, modelswap.complete, modelswap.load_config\n"
        "assert not [m for m in sys.modules if m == 'prefect' or m.startswith('prefect.')], 'prefect imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_all_is_explicit_and_importable():
    assert set(tasks.__all__) >= {
        "complete", "complete_batch", "extract_json", "classify", "ModelSwapCredentials", "ModelSwapConfig",
        "resolve_model", "MODEL_CALL_CACHE",
    }
    for name in tasks.__all__:
        assert getattr(tasks, name) is not None


@pytest.mark.parametrize("task, name", [
    (complete, "modelswap-complete"),
    (complete_batch, "modelswap-complete-batch"),
    (extract_json, "modelswap-extract-json"),
    (classify, "modelswap-classify"),
])
def test_task_defaults(task, name):
    assert task.name == name
    assert task.retries == 3
    assert task.retry_delay_seconds == exponential_backoff(backoff_factor=2)(3) == [2, 4, 8]
    assert task.retry_jitter_factor == 0.5
    assert task.retry_condition_fn is retry_on_transient
    assert task.cache_policy is NO_CACHE
    assert task.timeout_seconds is None
    assert "Example:" in task.fn.__doc__
    changed = task.with_options(retries=5, cache_policy=MODEL_CALL_CACHE)
    assert changed.retries == 5 and changed.retry_condition_fn is retry_on_transient
    assert changed.cache_policy is MODEL_CALL_CACHE


@pytest.mark.parametrize("error, retried", [
    (TransientError("503", provider="p", status=503), True),
    (RateLimitedError("429", provider="p", status=429, retry_after=1.0), True),
    (ProviderTimeoutError("timeout", provider="p"), True),
    (RequestRejectedError("400", provider="p", status=400), False),
    (AuthenticationError("401", provider="p", status=401), False),
    (BadResponseError("not JSON", provider="p"), False),
    (StructuredOutputError("schema", provider="p"), False),
    (ConfigError("bad config"), False),
    (MissingCredentialsError("no key", env_var="X_API_KEY", provider="p"), False),
    (UnknownModelError("no alias", alias="x"), False),
    (ValueError("a bug"), False),
])
def test_retry_condition_retries_only_transient_errors(error, retried):
    assert retry_on_transient(complete, None, Failed(data=error)) is retried


# -- model resolution ---------------------------------------------------------------------------------------------


def test_an_explicit_model_wins_without_asking_prefect(monkeypatch):
    from prefect.variables import Variable

    monkeypatch.setattr(Variable, "get", lambda *a, **k: pytest.fail("the Variable must not be read"))
    assert resolve_model("groq/llama-3.1-8b-instant") == "groq/llama-3.1-8b-instant"


def test_no_prefect_api_outside_a_run_means_no_lookup(no_prefect_api, monkeypatch):
    from prefect.variables import Variable

    calls = []
    monkeypatch.setattr(Variable, "get", lambda *a, **k: calls.append(a) or "m2")
    assert resolve_model(None) is None
    assert calls == []  # no temporary Prefect server is started just to read a Variable


def test_an_unreachable_prefect_api_falls_back_quietly(caplog):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    caplog.set_level(logging.DEBUG, logger="modelswap.tasks")
    started = time.perf_counter()
    with temporary_settings(updates={PREFECT_API_URL: f"http://127.0.0.1:{port}/api"}):
        assert resolve_model(None) is None
    assert time.perf_counter() - started < 15
    assert any("cannot read the Prefect Variable" in r.getMessage() for r in caplog.records)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING and r.name.startswith("modelswap")]


@pytest.mark.parametrize("value, expected", [("m2", "m2"), ("  m2 ", "m2"), ("", None), (42, None), (None, None)])
def test_the_variable_must_hold_a_model_name(monkeypatch, value, expected):
    from prefect.variables import Variable

    monkeypatch.setattr(Variable, "get", lambda *a, **k: value)
    with temporary_settings(updates={PREFECT_API_URL: "http://127.0.0.1:9/api"}):
        assert resolve_model(None) == expected


def test_client_for_shares_one_client_per_config_and_reloads_an_edited_file(offline_config, write_config):
    config_file = offline_config
    from modelswap import Client, load_config

    first = client_for(config_file)
    assert client_for(str(config_file)) is first
    config = load_config(config_file)
    assert client_for(config) is client_for(config) and client_for(config).config is config
    time.sleep(0.01)
    write_config("http://127.0.0.1:1/v1", name="offline.yaml", extra="  m3: {provider: p, model_id: stub-c}\n")
    assert client_for(config_file) is not first and "m3" in client_for(config_file).config.models
    assert isinstance(client_for(None), Client)
    with pytest.raises(TypeError, match="config must be"):
        client_for(42)
    with pytest.raises(ConfigError, match="config file not found"):
        client_for(config_file.parent / "missing.yaml")


# -- complete, extract_json, classify (task.fn) ------------------------------------------------------------------


def test_complete_returns_the_completion_as_a_dict(config_file, stub):
    result = complete.fn("hello", "m2", config=str(config_file), max_tokens=5)
    assert result["text"] == "echo:hello"
    assert (result["alias"], result["model_id"], result["provider"]) == ("m2", "stub-b", "p")
    assert result["input_tokens"] == 5 and result["output_tokens"] == 3 and result["attempts"] == 1
    assert "raw" not in result
    json.dumps(result)  # a JSON-serializable task result
    assert stub.models == {"stub-b": 1}


def test_complete_takes_chat_messages_and_a_system_prompt(tmp_path):
    seen = []
    with FaultyServer(answer=lambda messages: seen.append(messages) or "ok") as server:
        path = tmp_path / "c.yaml"
        path.write_text(_config_text(server.base_url))
        messages = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hey"},
                    {"role": "user", "content": "again"}]
        assert complete.fn(messages, "m1", system="Be brief.", config=path)["text"] == "ok"
    assert seen == [[{"role": "system", "content": "Be brief."}, *messages]]


def _config_text(base_url: str) -> str:
    return (
        f"default: m1\nproviders:\n  p: {{kind: openai, base_url: '{base_url}', api_key_required: false,"
        " retry: {max_retries: 0}}\n"
        "models:\n  m1: {provider: p, model_id: stub-a}\n  m2: {provider: p, model_id: stub-b}\n"
    )


def test_a_config_error_is_raised_as_is(offline_config):
    with pytest.raises(UnknownModelError, match="Did you mean 'm1'"):
        complete.fn("hello", "m11", config=offline_config)


def test_extract_json_returns_the_validated_data(tmp_path):
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    with FaultyServer(answer=lambda messages: '{"city": "Paris"}') as server:
        path = tmp_path / "c.yaml"
        path.write_text(_config_text(server.base_url))
        assert extract_json.fn("Which city? The Eiffel Tower.", schema, "m1", config=path) == {"city": "Paris"}


def test_extract_json_raises_when_the_answer_never_matches(tmp_path):
    schema = {"type": "object", "required": ["city"]}
    with FaultyServer(answer=lambda messages: "no JSON here") as server:
        path = tmp_path / "c.yaml"
        path.write_text(_config_text(server.base_url))
        with pytest.raises(StructuredOutputError):
            extract_json.fn("Which city?", schema, "m1", config=path)
        assert server.counts["ok"] == 2  # the answer and one repair


@pytest.mark.parametrize("answer, labels, expected", [
    ("negative", ["positive", "negative"], "negative"),
    ("Negative", ["positive", "negative"], "negative"),
    ("  **negative**.\n", ["positive", "negative"], "negative"),
    ("'positive'", ["positive", "negative"], "positive"),
    ("Label: positive", ["positive", "negative"], "positive"),
    ("The sentiment is Negative.", ["positive", "negative"], "negative"),
    ("It is positive, not negative.", ["positive", "negative"], "positive"),
    ("<think>positive? or negative?</think>\nnegative", ["positive", "negative"], "negative"),
    ("very positive", ["positive", "very positive"], "very positive"),
    ("Bug", ["bug", "bugfix"], "bug"),
    ("feature-request", ["bug", "feature-request"], "feature-request"),
    ("NEG", ["neg", "negative"], "neg"),
    ("negatively", ["negative"], None),
    ("neutral", ["positive", "negative"], None),
    ("", ["positive", "negative"], None),
])
def test_parse_label(answer, labels, expected):
    assert parse_label(answer, labels) == expected


def test_classify_lists_the_labels_and_parses_the_answer(tmp_path):
    seen = []
    with FaultyServer(answer=lambda messages: seen.append(messages) or "The sentiment is Negative.") as server:
        path = tmp_path / "c.yaml"
        path.write_text(_config_text(server.base_url))
        label = classify.fn("Broke in a day.", ["positive", "negative"], "m1", instruction="Sentiment?", config=path)
    assert label == "negative"
    prompt = seen[0][-1]["content"]
    assert prompt.startswith("Sentiment?") and "positive, negative" in prompt and "Broke in a day." in prompt


def test_classify_names_the_labels_when_the_answer_has_none(tmp_path):
    with FaultyServer(answer=lambda messages: "I cannot decide.") as server:
        path = tmp_path / "c.yaml"
        path.write_text(_config_text(server.base_url))
        with pytest.raises(BadResponseError, match=r"none of the labels \['positive', 'negative'\]") as caught:
            classify.fn("Meh.", ["positive", "negative"], "m1", config=path)
    assert caught.value.labels == ["positive", "negative"] and caught.value.text == "I cannot decide."
    assert not retry_on_transient(classify, None, Failed(data=caught.value))


@pytest.mark.parametrize("labels", [[], ["a", "A"], ["a", ""], ["a", 3]])
def test_classify_refuses_bad_labels(labels, offline_config):
    with pytest.raises(ValueError, match="labels"):
        classify.fn("text", labels, "m1", config=offline_config)


# -- the cache key (no backend) -----------------------------------------------------------------------------------


def _inputs(path: Path, **changes):
    return {"prompt": "hello", "model": "m1", "system": None, "config": str(path), "params": {}, **changes}


def test_the_cache_key_follows_the_resolved_model_the_messages_and_the_params(offline_config, write_config):
    config_file = offline_config
    key = MODEL_CALL_CACHE.compute_key(None, _inputs(config_file), {})
    assert key == MODEL_CALL_CACHE.compute_key(None, _inputs(config_file), {})
    # The same request written as messages is the same request.
    as_messages = _inputs(config_file, prompt=[{"role": "user", "content": "hello"}])
    assert MODEL_CALL_CACHE.compute_key(None, as_messages, {}) == key
    # A config object resolving to the same endpoint and model id gives the same key.
    from modelswap import load_config

    assert MODEL_CALL_CACHE.compute_key(None, _inputs(config_file, config=load_config(config_file)), {}) == key
    for changed in (
        _inputs(config_file, model="m2"),
        _inputs(config_file, prompt="hello!"),
        _inputs(config_file, system="Be brief."),
        _inputs(config_file, params={"temperature": 0}),
        {**_inputs(config_file), "schema": {"type": "object"}},
    ):
        assert MODEL_CALL_CACHE.compute_key(None, changed, {}) != key
    # Another base URL for the same alias and model id is another model.
    elsewhere = write_config("http://127.0.0.1:2/v1", name="elsewhere.yaml")
    assert elsewhere != config_file
    assert MODEL_CALL_CACHE.compute_key(None, _inputs(elsewhere), {}) != key


def test_the_cache_key_resolves_a_missing_model_and_ignores_keys(no_prefect_api, write_config, monkeypatch):
    path = write_config("http://127.0.0.1:2/v1").parent / "keyed.yaml"
    path.write_text(
        "default: m1\nproviders:\n  p: {kind: openai, base_url: 'http://127.0.0.1:2/v1', api_key_env: STUB_API_KEY}\n"
        "models:\n  m1: {provider: p, model_id: stub-a}\n  m2: {provider: p, model_id: stub-b}\n"
    )
    monkeypatch.setenv("STUB_API_KEY", "sk-first-key-0000000000000000")
    by_default = MODEL_CALL_CACHE.compute_key(None, _inputs(path, model=None), {})
    assert by_default == MODEL_CALL_CACHE.compute_key(None, _inputs(path, model="m1"), {})
    monkeypatch.setenv("STUB_API_KEY", "sk-other-key-1111111111111111")
    assert MODEL_CALL_CACHE.compute_key(None, _inputs(path, model=None), {}) == by_default
    monkeypatch.setenv("MODELSWAP_MODEL", "m2")
    assert MODEL_CALL_CACHE.compute_key(None, _inputs(path, model=None), {}) != by_default


def test_the_cache_key_refuses_inputs_that_are_not_json(offline_config):
    with pytest.raises(ValueError, match="not a JSON value"):
        MODEL_CALL_CACHE.compute_key(None, _inputs(offline_config, params={"client": object()}), {})


# -- complete_batch (task.fn) ------------------------------------------------------------------------------------


def test_complete_batch_writes_one_ordered_part_file(config_file, stub, tmp_path):
    part = tmp_path / "out" / "part-00000.jsonl"
    records = _records(25) + [{"id": "chat", "messages": [{"role": "user", "content": "as messages"}]}]
    summary = complete_batch.fn(records, str(part), "m2", concurrency=4, config=str(config_file))
    rows = _lines(part)
    assert [r["id"] for r in rows] == [f"r{i}" for i in range(25)] + ["chat"]
    assert rows[3]["text"] == "echo:say r3" and rows[-1]["text"] == "echo:as messages"
    assert {r["model_id"] for r in rows} == {"stub-b"}
    assert (summary["records"], summary["succeeded"], summary["failed"], summary["skipped"]) == (26, 26, 0, 0)
    assert summary["model"] == "m2" and summary["output"] == str(part) and summary["input_tokens"] == 26 * 5


def test_complete_batch_resumes_a_part_file_without_redoing_records(config_file, stub, tmp_path):
    part = tmp_path / "part-00003.jsonl"
    records = _records(30)
    complete_batch.fn(records[:12], str(part), "m1", concurrency=4, config=str(config_file))  # "crashed" here
    with part.open("ab") as handle:
        handle.write(b'{"id": "r12", "text": "ec')  # a torn write
    assert stub.counts["ok"] == 12

    summary = complete_batch.fn(records, str(part), "m1", concurrency=4, config=str(config_file))
    assert (summary["skipped"], summary["records"], summary["succeeded"]) == (12, 18, 18)
    assert stub.counts["ok"] == 30  # 12 + 18: nothing answered twice
    assert [r["id"] for r in _lines(part)] == [f"r{i}" for i in range(30)]

    again = complete_batch.fn(records, str(part), "m1", config=str(config_file))
    assert (again["skipped"], again["records"]) == (30, 0) and stub.counts["ok"] == 30
    assert count_done(part) == (30, "r29")


def test_complete_batch_refuses_a_part_file_of_another_chunk(config_file, tmp_path):
    part = tmp_path / "part.jsonl"
    complete_batch.fn(_records(5), str(part), "m1", concurrency=4, config=str(config_file))
    with pytest.raises(ConfigError, match="belongs to another chunk"):
        complete_batch.fn(_records(10, start=100), str(part), "m1", config=str(config_file))
    with pytest.raises(ConfigError, match="only|already holds 5 results"):
        complete_batch.fn(_records(3), str(part), "m1", config=str(config_file))


def test_complete_batch_records_failures_and_stops_on_config_errors(write_config, status_server, tmp_path):
    rejecting = status_server(400)
    path = write_config(rejecting.base_url)
    summary = complete_batch.fn(_records(4), str(tmp_path / "p.jsonl"), "m1", concurrency=2, config=path)
    assert (summary["failed"], summary["errors"]) == (4, {"RequestRejectedError": 4})
    assert [r["error"]["type"] for r in _lines(tmp_path / "p.jsonl")] == ["RequestRejectedError"] * 4
    with pytest.raises(UnknownModelError):
        complete_batch.fn(_records(4), str(tmp_path / "q.jsonl"), "nope", config=path)
    assert not (tmp_path / "q.jsonl").exists()
    with pytest.raises(ConfigError, match=r"records\[1\] has no `id`"):
        complete_batch.fn([{"id": "a", "prompt": "x"}, {"prompt": "y"}], str(tmp_path / "r.jsonl"), "m1", config=path)
    with pytest.raises(ConfigError, match=r"records\[0\] \(id 'a'\) needs a `prompt`"):
        complete_batch.fn([{"id": "a"}], str(tmp_path / "r.jsonl"), "m1", config=path)


def test_complete_batch_runs_inside_a_running_event_loop(no_prefect_api, config_file, tmp_path):
    async def in_async_code():
        return complete_batch.fn(_records(5), str(tmp_path / "p.jsonl"), concurrency=4, config=config_file)

    summary = asyncio.run(in_async_code())
    assert summary["succeeded"] == 5 and summary["model"] == "m1"  # no model anywhere: the config default


# -- with a Prefect backend (one server for the session) ---------------------------------------------------------


def test_only_transient_errors_are_retried_by_prefect(prefect_harness, write_config, status_server):
    from prefect import flow

    fast = complete.with_options(retry_delay_seconds=0)

    @flow
    def call(path: str) -> str:
        state = fast("hi", "m1", config=path, return_state=True)
        return type(state.result(raise_on_failure=False)).__name__

    with FaultyServer({"500": 1.0}) as failing:
        assert call(str(write_config(failing.base_url, name="500.yaml"))) == "TransientError"
        assert failing.counts["500"] == 4  # the first run and 3 retries
    rejecting = status_server(400)
    assert call(str(write_config(rejecting.base_url, name="400.yaml"))) == "RequestRejectedError"
    assert rejecting.counts[400] == 1  # a 4xx is final


def test_the_variable_switches_the_model_at_run_time(prefect_harness, config_file, stub, monkeypatch):
    from prefect import flow
    from prefect.variables import Variable

    @flow
    def pipeline(model: str | None = None) -> str:
        return complete("hi", model, config=str(config_file))["alias"]

    @flow
    def switched_mid_run() -> tuple[str, str]:
        first = complete("hi", config=str(config_file))["alias"]
        Variable.set(MODEL_VARIABLE, "m1", overwrite=True)
        return first, complete("hi", config=str(config_file))["alias"]

    try:
        assert pipeline() == "m1"  # no Variable: the config's default
        Variable.set(MODEL_VARIABLE, "m2", overwrite=True)
        # The next run uses the new model, with no redeploy; a run reads the Variable once, so a change during
        # the run does not mix two models in it.
        assert switched_mid_run() == ("m2", "m2")
        monkeypatch.setenv("MODELSWAP_MODEL", "m2")
        assert resolve_model(None) == "m1"  # the Variable beats the environment; read outside a run too
        assert pipeline("m2") == "m2"  # an explicit model beats the Variable
    finally:
        Variable.unset(MODEL_VARIABLE)
    assert resolve_model(None) is None
    assert stub.models == {"stub-a": 1, "stub-b": 3}


def test_the_model_call_cache_serves_a_repeat_without_a_request(prefect_harness, config_file, stub, tmp_path):
    from prefect import flow

    cached = complete.with_options(cache_policy=MODEL_CALL_CACHE, persist_result=True, result_serializer="json")

    @flow
    def calls() -> list[tuple[str, str]]:
        states = [
            cached("hello", "m1", config=str(config_file), return_state=True),
            cached("hello", "m1", config=str(config_file), return_state=True),
            cached("hello", "m2", config=str(config_file), return_state=True),
        ]
        return [(state.name, state.result()["model_id"]) for state in states]

    with temporary_settings(updates={PREFECT_LOCAL_STORAGE_PATH: str(tmp_path / "results")}):
        first, repeat, other_model = calls()
    assert first == ("Completed", "stub-a")
    assert repeat == ("Cached", "stub-a")
    assert other_model == ("Completed", "stub-b")
    assert stub.models == {"stub-a": 1, "stub-b": 1}  # the repeat sent no HTTP request
    assert list((tmp_path / "results").iterdir())  # persisted as the docs say


def test_complete_batch_chunks_submitted_from_a_flow(prefect_harness, config_file, stub, tmp_path):
    from prefect import flow

    records = _records(40)

    @flow
    def batch() -> list[dict]:
        futures = [
            complete_batch.submit(records[i : i + 20], str(tmp_path / f"part-{i // 20:05d}.jsonl"), "m1",
                                  concurrency=4, config=str(config_file))
            for i in range(0, 40, 20)
        ]
        return [future.result() for future in futures]

    summaries = batch()
    assert [s["succeeded"] for s in summaries] == [20, 20]
    assert [r["id"] for r in _lines(tmp_path / "part-00001.jsonl")] == [f"r{i}" for i in range(20, 40)]
    assert stub.counts["ok"] == 40
