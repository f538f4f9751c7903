"""The Prefect flow batch_inference: chunks as tasks, ordered output, resumption, the Variable swap, Dask."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("prefect", reason="the prefect extra is not installed (pip install 'modelswap[prefect]')")

from modelswap.testing import FaultyServer  # noqa: E402

MODEL_ENV = ("MODELSWAP_CONFIG", "MODELSWAP_MODEL", "MODEL_PROVIDER", "MODEL_ID", "INFERENCE_ENDPOINT", "API_KEY")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch):
    for var in MODEL_ENV:
        monkeypatch.delenv(var, raising=False)
    yield
    from modelswap.tasks._model import close_clients

    close_clients()


@pytest.fixture
def server():
    with FaultyServer({"429": 0.05, "500": 0.05}, seed=1) as stub:
        yield stub


@pytest.fixture
def config(server: FaultyServer, tmp_path: Path) -> Path:
    path = tmp_path / "modelswap.yaml"
    path.write_text(
        f"default: m1\nproviders:\n  p: {{kind: openai, base_url: '{server.base_url}', api_key_required: false,"
        " retry: {max_retries: 8, initial_backoff_s: 0.001, max_backoff_s: 0.01}}\n"
        "models:\n  m1: {provider: p, model_id: stub-a}\n  m2: {provider: p, model_id: stub-b}\n"
    )
    return path


def _input(tmp_path: Path, n: int) -> Path:
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps({"id": f"r{i}", "text": f"item {i}"}) + "\n" for i in range(n)))
    return path


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_batch_flow_answers_every_record_once_in_order(prefect_harness, tmp_path, config, server):
    from modelswap.flows import batch_inference

    source, out = _input(tmp_path, 230), tmp_path / "out.jsonl"
    summary = batch_inference(str(source), str(out), model="m2", prompt_template="Label {text}", chunk_size=50,
                              concurrency=8, config=str(config))
    rows = _rows(out)
    assert [r["id"] for r in rows] == [f"r{i}" for i in range(230)]
    assert rows[3]["text"] == "echo:Label item 3" and rows[3]["model"] == "m2"
    assert summary["succeeded"] == 230 and summary["failed"] == 0
    assert set(server.models) == {"stub-b"}
    assert not Path(f"{out}.parts").exists()


def test_a_rerun_resumes_parts_and_skips_finished_chunks(prefect_harness, tmp_path, config, server):
    from modelswap.flows import batch_inference

    source, out = _input(tmp_path, 120), tmp_path / "out.jsonl"
    parts = Path(f"{out}.parts")
    parts.mkdir()
    (parts / "manifest.json").write_text(json.dumps({"input": str(source), "start": 0, "chunk_size": 50}))
    # A killed run: chunk 0 finished, chunk 1 torn in the middle of its 11th line, chunk 2 never started.
    done = [json.dumps({"id": f"r{i}", "text": "earlier", "error": None}) + "\n" for i in range(60)]
    (parts / "0000000.jsonl").write_text("".join(done[:50]))
    (parts / "0000001.jsonl").write_text("".join(done[50:60]) + '{"id": "r6')
    summary = batch_inference(str(source), str(out), prompt_template="{text}", chunk_size=999, config=str(config))
    rows = _rows(out)
    assert [r["id"] for r in rows] == [f"r{i}" for i in range(120)]
    assert [r["text"] for r in rows[:60]] == ["earlier"] * 60  # not asked again
    assert sum(server.counts.values()) - server.counts["429"] - server.counts["500"] == 60
    assert summary["skipped"] == 60 and summary["succeeded"] == 60


def test_a_run_killed_after_the_join_only_cleans_up(prefect_harness, tmp_path, config, server):
    from modelswap.flows import batch_inference

    source, out = _input(tmp_path, 30), tmp_path / "out.jsonl"
    batch_inference(str(source), str(out), prompt_template="{text}", chunk_size=10, config=str(config))
    before = out.read_bytes()
    parts = Path(f"{out}.parts")
    parts.mkdir()  # as if the kill came between the rename and the cleanup
    (parts / "manifest.json").write_text(json.dumps({"input": str(source), "start": 0, "chunk_size": 10}))
    summary = batch_inference(str(source), str(out), prompt_template="{text}", chunk_size=10, config=str(config))
    assert out.read_bytes() == before and summary["succeeded"] == 0 and summary["skipped"] == 30
    assert not parts.exists()


def test_the_variable_swaps_the_model_of_a_flow_run(prefect_harness, tmp_path, config, server):
    from prefect.variables import Variable

    from modelswap.flows import batch_inference

    source = _input(tmp_path, 12)
    Variable.set("modelswap_model", "m2", overwrite=True)
    try:
        batch_inference(str(source), str(tmp_path / "a.jsonl"), prompt_template="{text}", config=str(config))
        assert set(server.models) == {"stub-b"}
        server.models.clear()
        Variable.set("modelswap_model", "m1", overwrite=True)  # no redeploy: the next run reads it
        batch_inference(str(source), str(tmp_path / "b.jsonl"), prompt_template="{text}", config=str(config))
        assert set(server.models) == {"stub-a"}
    finally:
        Variable.unset("modelswap_model")


def test_batch_flow_runs_its_chunks_on_dask(prefect_harness, tmp_path, config, server):
    prefect_dask = pytest.importorskip("prefect_dask", reason="the dask extra is not installed")
    from modelswap.flows import batch_inference

    source, out = _input(tmp_path, 60), tmp_path / "out.jsonl"
    runner = prefect_dask.DaskTaskRunner(cluster_kwargs={"n_workers": 2, "processes": False, "threads_per_worker": 1})
    summary = batch_inference.with_options(task_runner=runner)(
        str(source), str(out), prompt_template="{text}", chunk_size=15, config=str(config)
    )
    assert [r["id"] for r in _rows(out)] == [f"r{i}" for i in range(60)] and summary["succeeded"] == 60
