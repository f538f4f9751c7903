"""The batch engine: input parsing, ordered output, resume after a torn write, and `modelswap batch`."""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path

import httpx
import pytest

from modelswap import Client, ConfigError, cli
from modelswap._config import loads_config
from modelswap.batch import count_done, iter_records, run_batch

CONFIG = (
    "default: m\nproviders:\n  p: {kind: openai, base_url: 'http://stub/v1', api_key_required: false,"
    " retry: {max_retries: 0}}\nmodels:\n  m: {provider: p, model_id: x, price: {input_per_mtok: 1, output_per_mtok: 2}}\n"
)


def _answering(delay: bool = True, fail_ids: frozenset[str] = frozenset()):
    async def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        prompt = body["messages"][-1]["content"]
        if delay:
            await asyncio.sleep(random.random() / 500)  # answers come back out of order
        if prompt.split()[-1] in fail_ids:
            return httpx.Response(400, json={"error": {"message": "bad prompt"}})
        return httpx.Response(200, json={
            "choices": [{"message": {"role": "assistant", "content": f"echo {prompt}"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 4, "completion_tokens": 2},
        })

    return handler


def _client(handler=None) -> Client:
    return Client(loads_config(CONFIG), transport=httpx.MockTransport(handler or _answering()))


def _write_jsonl(path: Path, n: int) -> Path:
    path.write_text("".join(json.dumps({"id": f"r{i}", "prompt": f"say r{i}"}) + "\n" for i in range(n)))
    return path


def _ids(path: Path) -> list[str]:
    return [json.loads(line)["id"] for line in path.read_text().splitlines()]


def test_output_is_in_input_order_with_usage_cost_and_model(tmp_path):
    source, out = _write_jsonl(tmp_path / "in.jsonl", 200), tmp_path / "out.jsonl"
    summary = run_batch(source, out, client=_client(), concurrency=16)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == [f"r{i}" for i in range(200)]
    assert rows[7]["text"] == "echo say r7" and rows[7]["model"] == "m" and rows[7]["error"] is None
    assert rows[0]["input_tokens"] == 4 and rows[0]["cost"] == pytest.approx((4 * 1 + 2 * 2) / 1e6)
    assert (summary.succeeded, summary.failed, summary.skipped) == (200, 0, 0)


def test_a_failed_record_gets_an_error_line_and_the_batch_goes_on(tmp_path):
    source, out = _write_jsonl(tmp_path / "in.jsonl", 20), tmp_path / "out.jsonl"
    summary = run_batch(source, out, client=_client(_answering(fail_ids=frozenset({"r3", "r11"}))))
    rows = {json.loads(line)["id"]: json.loads(line) for line in out.read_text().splitlines()}
    assert len(rows) == 20 and summary.failed == 2 and summary.errors == {"RequestRejectedError": 2}
    assert rows["r3"]["error"]["type"] == "RequestRejectedError" and "bad prompt" in rows["r3"]["error"]["message"]


def test_a_rerun_skips_what_is_done_and_cuts_a_torn_line(tmp_path):
    source, out = _write_jsonl(tmp_path / "in.jsonl", 50), tmp_path / "out.jsonl"
    run_batch(source, out, client=_client())
    lines = out.read_bytes().splitlines(keepends=True)
    out.write_bytes(b"".join(lines[:30]) + lines[30][:17])  # killed in the middle of line 31
    assert count_done(out) == (30, "r29")
    seen: list[str] = []

    async def counting(request):
        seen.append(json.loads(request.content)["messages"][-1]["content"])
        return await _answering()(request)

    summary = run_batch(source, out, client=_client(counting))
    assert _ids(out) == [f"r{i}" for i in range(50)]
    assert summary.skipped == 30 and summary.succeeded == 20 and len(seen) == 20
    assert run_batch(source, out, client=_client(counting)).succeeded == 0  # finished: nothing more to do


def test_resuming_against_another_input_is_refused(tmp_path):
    source, out = _write_jsonl(tmp_path / "in.jsonl", 5), tmp_path / "out.jsonl"
    run_batch(source, out, client=_client())
    other = tmp_path / "other.jsonl"
    other.write_text("".join(json.dumps({"id": f"x{i}", "prompt": "p"}) + "\n" for i in range(9)))
    with pytest.raises(ConfigError, match="belongs to another input"):
        run_batch(other, out, client=_client())
    short = _write_jsonl(tmp_path / "short.jsonl", 3)
    with pytest.raises(ConfigError, match="only 3 records"):
        run_batch(short, out, client=_client())


def test_csv_with_a_template(tmp_path):
    source = tmp_path / "in.csv"
    source.write_text("id,text\na,great film\nb,\"awful, boring\"\n")
    records = list(iter_records(source, "Sentiment of: {text}"))
    assert [(r.id, r.messages[0]["content"]) for r in records] == [
        ("a", "Sentiment of: great film"), ("b", "Sentiment of: awful, boring")]
    assert records[1].line == 3


@pytest.mark.parametrize(("content", "template", "words"), [
    ('{"id": 1, "prompt": "ok"}\n{"prompt": "no id"}\n', None, "in.jsonl:2: the record has no `id`"),
    ('{"id": 1, "prompt": "ok"}\nnot json\n', None, "in.jsonl:2: not a JSON object"),
    ('{"id": 1}\n', None, "has no `prompt`"),
    ('{"id": 1, "name": "x"}\n', "Hi {name}, {city}", "lacks city"),
    ('{"id": 1, "prompt": 5}\n', None, "must be text or a list of chat messages"),
])
def test_bad_input_names_the_file_and_line(tmp_path, content, template, words):
    source = tmp_path / "in.jsonl"
    source.write_text(content)
    with pytest.raises(ConfigError, match=words.replace("`", "`").replace("(", r"\(")):
        list(iter_records(source, template))


def test_chat_messages_are_accepted_as_the_prompt(tmp_path):
    source = tmp_path / "in.jsonl"
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    source.write_text(json.dumps({"id": "a", "prompt": messages}) + "\n")
    assert next(iter_records(source)).messages == messages


def test_a_config_error_stops_the_batch_instead_of_failing_every_record(tmp_path):
    source, out = _write_jsonl(tmp_path / "in.jsonl", 10), tmp_path / "out.jsonl"
    with pytest.raises(ConfigError, match="nope"):
        run_batch(source, out, client=_client(), model="nope")


def test_cli_batch_runs_and_resumes(tmp_path, monkeypatch, capsys):
    from modelswap.testing import FaultyServer

    for var in ("MODELSWAP_CONFIG", "MODELSWAP_MODEL", "MODEL_PROVIDER", "MODEL_ID", "INFERENCE_ENDPOINT", "API_KEY"):
        monkeypatch.delenv(var, raising=False)
    source, out = _write_jsonl(tmp_path / "in.jsonl", 40), tmp_path / "out.jsonl"
    with FaultyServer({"429": 0.2, "500": 0.1}, seed=3) as server:
        config = tmp_path / "modelswap.yaml"
        config.write_text(
            f"default: m\nproviders:\n  p: {{kind: openai, base_url: '{server.base_url}', api_key_required: false,"
            " retry: {max_retries: 10, initial_backoff_s: 0.001, max_backoff_s: 0.01}}\n"
            "models:\n  m: {provider: p, model_id: stub-model}\n"
        )
        code = cli.main(["--config", str(config), "batch", str(source), str(out), "--concurrency", "8", "--json"])
        report = json.loads(capsys.readouterr().out)
        assert code == 0 and report["succeeded"] == 40 and report["failed"] == 0
        assert server.counts["429"] > 0 and server.counts["500"] > 0
        assert cli.main(["--config", str(config), "batch", str(source), str(out), "-q"]) == 0
        assert "40 already done" in capsys.readouterr().out
    assert _ids(out) == [f"r{i}" for i in range(40)]


def test_cli_batch_reports_bad_input_with_exit_2(tmp_path, capsys):
    source = tmp_path / "in.jsonl"
    source.write_text('{"prompt": "x"}\n')
    assert cli.main(["batch", str(source), str(tmp_path / "out.jsonl")]) == 2
    err = capsys.readouterr().err
    assert "in.jsonl:1" in err and "Traceback" not in err


def test_retry_errors_asks_only_the_failed_records_again_and_keeps_the_order(tmp_path):
    source, out = _write_jsonl(tmp_path / "in.jsonl", 30), tmp_path / "out.jsonl"
    first = run_batch(source, out, client=_client(_answering(fail_ids=frozenset({"r3", "r17"}))))
    assert first.failed == 2
    asked: list[str] = []

    async def counting(request):
        asked.append(json.loads(request.content)["messages"][-1]["content"])
        return await _answering(fail_ids=frozenset({"r17"}))(request)  # r3 recovers, r17 still fails

    summary = run_batch(source, out, client=_client(counting), retry_errors=True)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(asked) == ["say r17", "say r3"]
    assert [r["id"] for r in rows] == [f"r{i}" for i in range(30)]
    assert rows[3]["error"] is None and rows[3]["text"] == "echo say r3"
    assert rows[17]["error"]["type"] == "RequestRejectedError"
    assert (summary.retried, summary.failed, summary.skipped) == (2, 1, 30)
    assert not (tmp_path / "out.jsonl.retry").exists() and not (tmp_path / "out.jsonl.tmp").exists()


def test_cli_retry_errors_flag(tmp_path, monkeypatch, capsys):
    from modelswap.testing import FaultyServer

    for var in ("MODELSWAP_CONFIG", "MODELSWAP_MODEL", "MODEL_PROVIDER", "MODEL_ID", "INFERENCE_ENDPOINT", "API_KEY"):
        monkeypatch.delenv(var, raising=False)
    source, out = _write_jsonl(tmp_path / "in.jsonl", 10), tmp_path / "out.jsonl"
    out.write_text("".join(json.dumps({"id": f"r{i}", "text": None if i == 4 else "old", "error": {"type": "TransientError",
                                       "message": "x"} if i == 4 else None}) + "\n" for i in range(10)))
    with FaultyServer() as server:
        config = tmp_path / "modelswap.yaml"
        config.write_text(f"default: m\nproviders:\n  p: {{kind: openai, base_url: '{server.base_url}', api_key_required: false}}\n"
                          "models:\n  m: {provider: p, model_id: stub}\n")
        assert cli.main(["--config", str(config), "batch", str(source), str(out), "--retry-errors", "-q"]) == 0
        assert sum(server.counts.values()) == 1
    assert "1 asked again" in capsys.readouterr().out
    assert json.loads(out.read_text().splitlines()[4])["text"] == "echo:say r4"


def test_a_server_that_goes_away_stops_the_batch_and_a_rerun_resumes_exactly_there(tmp_path):
    """Once nothing answers, the batch writes every line before the first unreachable record and none after it,
    instead of failing the rest of the input; the same command resumes there when the server is back."""
    from modelswap import EndpointUnreachableError

    source, out = _write_jsonl(tmp_path / "in.jsonl", 300), tmp_path / "out.jsonl"
    answer = _answering()
    served = {"n": 0}

    async def dies_after_100(request: httpx.Request) -> httpx.Response:
        served["n"] += 1
        if served["n"] > 100:
            raise httpx.ConnectError("All connection attempts failed", request=request)
        return await answer(request)

    with pytest.raises(EndpointUnreachableError, match=r"The batch stopped at record \d+ \(id 'r\d+'\).*rerun the same command"):
        run_batch(source, out, client=_client(dies_after_100), concurrency=8)
    written = _ids(out)
    assert 90 <= len(written) <= 100 and written == [f"r{i}" for i in range(len(written))]
    assert all(json.loads(line)["error"] is None for line in out.read_text().splitlines())

    summary = run_batch(source, out, client=_client(), concurrency=8)  # the server is back
    assert _ids(out) == [f"r{i}" for i in range(300)]
    assert (summary.skipped, summary.succeeded, summary.failed) == (len(written), 300 - len(written), 0)


def test_the_cli_says_where_a_dead_server_stopped_the_batch(tmp_path, capsys):
    source, out = _write_jsonl(tmp_path / "in.jsonl", 5), tmp_path / "out.jsonl"
    config = tmp_path / "c.yaml"
    # Port 9 (discard) on loopback: nothing listens, so every connection is refused at once.
    config.write_text(CONFIG.replace("http://stub/v1", "http://127.0.0.1:9/v1"))
    assert cli.main(["--config", str(config), "batch", str(source), str(out), "-q"]) == 1
    err = capsys.readouterr().err
    assert "cannot connect to http://127.0.0.1:9/v1" in err and "stopped at record 1 (id 'r0')" in err
    assert "Traceback" not in err and out.read_text() == ""
