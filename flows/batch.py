"""The Prefect flow ``batch_inference``: a file of records in, one JSONL line per record out, resumable.

The flow streams the input once and cuts it into chunks; each chunk is one Prefect task (``complete_batch``)
that answers its records with async concurrency and writes an ordered part file. At the end the parts are
joined into the output. Whatever kills the run (SIGKILL included), a rerun with the same arguments finds:

* the output's complete lines (a previous, finished run) and starts after them;
* the parts directory ``OUTPUT.parts/`` with its ``manifest.json`` (where the chunks start and how large they
  are), so every chunk keeps its number and each part resumes by its own line count;
* a join that had already replaced the output (the manifest's start is behind the output): only the cleanup
  is left.

The join writes ``OUTPUT.tmp`` and renames it over the output, so no reader ever sees a torn file.

Scale-out: the chunks are ordinary Prefect tasks, so a ``DaskTaskRunner`` spreads them over a Dask cluster
(the paths must then be on storage every worker sees). See the README's Kubernetes section.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_progress_artifact, create_table_artifact, update_progress_artifact
from prefect.task_runners import ThreadPoolTaskRunner

from modelswap.batch import BatchSummary, count_done, iter_records
from modelswap.tasks import complete_batch, resolve_model

__all__ = ["batch_inference"]

_MANIFEST = "manifest.json"


@flow(name="batch-inference", task_runner=ThreadPoolTaskRunner(max_workers=4), log_prints=False)
def batch_inference(
    input: str,
    output: str,
    model: str | None = None,
    prompt_template: str | None = None,
    chunk_size: int = 1000,
    concurrency: int = 16,
    params: dict[str, Any] | None = None,
    config: str | None = None,
    max_chunks_in_flight: int = 4,
) -> dict[str, Any]:
    """Answer every record of ``input`` (JSONL or CSV) into ``output`` (JSONL), resuming a previous run.

    Args:
        input: records with an ``id`` and a ``prompt``, or fields for ``prompt_template``.
        output: the JSONL results, one line per record, in input order.
        model: the one parameter of the swap; None uses the Prefect Variable ``modelswap_model``, then the
            environment, then the config's default.
        prompt_template: ``str.format`` text filled with each record's fields (``"Sentiment of: {text}"``).
        chunk_size: records per task; also the unit of resumption.
        concurrency: calls in flight inside one chunk.
        params: generation params for every call (``{"max_tokens": 8, "temperature": 0}``).
        config: path of a modelswap config file (default: ``$MODELSWAP_CONFIG``, ``./modelswap.yaml``, built-in).
        max_chunks_in_flight: chunks submitted at once; bounds the memory of the flow run.

    Returns:
        The summary: records answered, failed, skipped as already done, tokens, cost, wall time.

    Example:
        >>> from modelswap.flows import batch_inference
        >>> batch_inference("reviews.jsonl", "labels.jsonl", model="gemma-raw",           # doctest: +SKIP
        ...                 prompt_template="Review: {text}\\nSentiment:", params={"max_tokens": 2})
    """
    logger = get_run_logger()
    started = time.perf_counter()
    model = resolve_model(model)
    out = Path(output)
    parts = Path(f"{output}.parts")
    start, chunk_size = _prepare(out, parts, input, chunk_size)
    done_before = start
    _, last_id = count_done(out)
    records = iter_records(input, prompt_template, start=start, resume_id=last_id if start else None)

    total_records = max(_count_lines(input), 1)
    progress_id = create_progress_artifact(progress=0.0, key=None, description=f"batch {input} -> {output}")
    futures: list[tuple[int, Any]] = []
    summaries: list[dict[str, Any]] = []
    chunk: list[dict[str, Any]] = []
    index = 0
    submitted = 0

    def submit(number: int, rows: list[dict[str, Any]]) -> None:
        nonlocal submitted
        part = parts / f"{number:07d}.jsonl"
        done, _ = count_done(part)
        if done >= len(rows):  # finished by an earlier run
            summaries.append({"records": 0, "skipped": done})
            return
        future = complete_batch.with_options(name=f"modelswap-complete-batch-{number}").submit(
            rows, str(part), model, concurrency=concurrency, config=config, params=params
        )
        futures.append((number, future))
        submitted += 1
        while len(futures) >= max_chunks_in_flight:  # wait for the oldest: the flow holds a bounded window
            _collect(futures, summaries)

    for record in records:
        chunk.append({"id": record.id, "prompt": record.messages})
        if len(chunk) == chunk_size:
            submit(index, chunk)
            index, chunk = index + 1, []
            finished = done_before + sum(part.get("records", 0) + part.get("skipped", 0) for part in summaries)
            update_progress_artifact(progress_id, progress=min(99.0, 100.0 * finished / total_records))
    if chunk:
        submit(index, chunk)
        index += 1
    while futures:
        _collect(futures, summaries)
    update_progress_artifact(progress_id, progress=100.0)

    _join(out, parts, index)
    summary = _total(summaries, output, model, skipped=done_before, wall_s=time.perf_counter() - started)
    create_table_artifact(
        key="batch-inference-summary",
        table=[{"metric": key, "value": value} for key, value in summary.items() if not isinstance(value, dict)],
        description=f"modelswap batch {input} -> {output} ({model or 'active model'})",
    )
    logger.info(
        "%s: %s answered, %s failed, %s already done", output, summary["succeeded"], summary["failed"], summary["skipped"]
    )
    return summary


def _count_lines(path: str) -> int:
    """Roughly the records in the input (lines; one less for a CSV header), for the progress artifact."""
    lines = 0
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            lines += block.count(b"\n")
    return lines - 1 if path.lower().endswith((".csv", ".tsv")) else lines


def _prepare(out: Path, parts: Path, input: str, chunk_size: int) -> tuple[int, int]:
    """Where the chunks start and their size: from the manifest of an interrupted run, else from the output."""
    manifest_path = parts / _MANIFEST
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text())
        done, _ = count_done(out)
        if done > manifest["start"]:
            # The join had replaced the output when the run died: only the cleanup was left.
            shutil.rmtree(parts)
        else:
            return int(manifest["start"]), int(manifest["chunk_size"])
    done, _ = count_done(out)
    parts.mkdir(parents=True, exist_ok=True)
    temporary = manifest_path.with_suffix(".tmp")
    temporary.write_text(json.dumps({"input": str(input), "start": done, "chunk_size": chunk_size}))
    os.replace(temporary, manifest_path)
    return done, chunk_size


def _collect(futures: list[tuple[int, Any]], summaries: list[dict[str, Any]]) -> None:
    _, future = futures.pop(0)
    summaries.append(future.result())


def _join(out: Path, parts: Path, chunks: int) -> None:
    """Output so far + every part, in order, into OUTPUT.tmp; then one rename, then the parts go."""
    temporary = out.with_name(out.name + ".tmp")
    with temporary.open("wb") as target:
        if out.exists():
            with out.open("rb") as source:
                shutil.copyfileobj(source, target, 1 << 20)
        for number in range(chunks):
            with (parts / f"{number:07d}.jsonl").open("rb") as source:
                shutil.copyfileobj(source, target, 1 << 20)
        target.flush()
        os.fsync(target.fileno())
    os.replace(temporary, out)
    shutil.rmtree(parts)


def _total(
    summaries: list[dict[str, Any]], output: str, model: str | None, skipped: int, wall_s: float
) -> dict[str, Any]:
    total = BatchSummary(output=output, model=model, skipped=skipped, wall_s=wall_s)
    for part in summaries:
        total.succeeded += part.get("succeeded", 0)
        total.failed += part.get("failed", 0)
        total.skipped += part.get("skipped", 0)
        total.input_tokens += part.get("input_tokens", 0)
        total.output_tokens += part.get("output_tokens", 0)
        total.cost += part.get("cost", 0.0)
        for name, count in (part.get("errors") or {}).items():
            total.errors[name] = total.errors.get(name, 0) + count
    total.records = total.succeeded + total.failed
    return total.to_dict()
