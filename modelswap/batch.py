"""Resumable batch inference: records in, one JSONL line per record out, in input order.

The engine behind ``modelswap batch`` and the Prefect flow ``batch_inference``; it needs no Prefect.

Why output is written in input order: resuming then needs no memory of which ids are done. Line *k* of the
output is the answer to record *k*, so a rerun counts the complete lines, cuts off a torn last line (a SIGKILL
in the middle of a write), skips that many input records and appends the rest. Every record ends up exactly
once, and memory stays flat whatever the size of the input: only the in-flight window is held, a few times the
concurrency, while a slow record makes later answers wait in that window.

Input is JSONL or CSV. Each record has an ``id`` and either a ``prompt`` (a string or a list of chat messages)
or fields that fill ``template`` (``str.format`` syntax: ``"Classify: {text}"``). Output lines hold ``id``,
``text``, ``finish_reason``, ``input_tokens``, ``output_tokens``, ``cost``, ``latency_s``, ``model``,
``model_id``, ``provider`` and ``error`` (None, or ``{"type", "message"}`` when the provider failed for that
record after its retries). Two failures stop the batch instead of being written, since every later record would
fail the same way: a configuration error, and an endpoint that nothing answers at any more (the server died).
Every line before the first such record is written, none after it, so rerunning the same command once the
server is back resumes exactly there.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import string
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

from ._errors import ConfigError, EndpointUnreachableError, ModelSwapError

__all__ = [
    "BatchRecord",
    "BatchSummary",
    "arun_batch",
    "count_done",
    "iter_records",
    "process_records",
    "run_batch",
]

Progress = Callable[["BatchSummary"], None]


@dataclass(slots=True)
class BatchRecord:
    """One input record: where it came from, its id and the messages to send."""

    id: str
    messages: list[dict[str, Any]]
    line: int = 0


@dataclass
class BatchSummary:
    """What a batch run did. ``skipped`` counts records a previous run had already answered."""

    output: str = ""
    model: str | None = None
    records: int = 0
    skipped: int = 0
    retried: int = 0
    succeeded: int = 0
    failed: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0
    wall_s: float = 0.0
    errors: dict[str, int] = field(default_factory=dict)

    @property
    def done(self) -> int:
        return self.succeeded + self.failed

    @property
    def records_per_s(self) -> float:
        return self.done / self.wall_s if self.wall_s > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "records_per_s": round(self.records_per_s, 3)}


# -- input ------------------------------------------------------------------------------------------------------


def iter_records(
    path: str | os.PathLike[str], template: str | None = None, *, start: int = 0, resume_id: str | None = None
) -> Iterator[BatchRecord]:
    """Stream the records of a JSONL or CSV file (by extension; ``.csv``/``.tsv`` are CSV, all else JSONL).

    Args:
        path: the input file.
        template: ``str.format`` text filled with each record's fields, for records without a ``prompt``.
        start: records to skip (already answered); they are read but not turned into messages.
        resume_id: the id the output's last line holds; record ``start`` (1-based) must have it, or the output
            belongs to another input.

    Raises:
        ConfigError: naming the file and line, for a record without an ``id``, a line that is not JSON, or a
            template field the record lacks.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such input file. Give a JSONL or CSV file of records with an `id`.", file=str(path))
    fields = _template_fields(template, path) if template else ()
    rows = _csv_rows(path) if path.suffix.lower() in (".csv", ".tsv") else _jsonl_rows(path)
    index = 0
    for line, row in rows:
        index += 1
        if index < start:
            continue
        if index == start:
            if resume_id is not None and str(row.get("id") if isinstance(row, dict) else None) != resume_id:
                raise ConfigError(
                    f"the output's line {start} answers id {resume_id!r}, but record {start} of {path} (line {line}) "
                    f"is {row.get('id') if isinstance(row, dict) else row!r}. The output belongs to another input; "
                    "give a new output path.",
                    file=str(path), line=line,
                )
            continue
        yield _record(path, line, row, template, fields)
    if index < start:
        raise ConfigError(
            f"the output already holds {start} results but {path} has only {index} records. Give a new output path.",
            file=str(path),
        )


def _jsonl_rows(path: Path) -> Iterator[tuple[int, Any]]:
    with path.open("rb") as handle:
        for line_no, raw in enumerate(handle, 1):
            if not raw.strip():
                continue
            try:
                yield line_no, json.loads(raw)
            except ValueError as exc:
                raise ConfigError(
                    f"{path}:{line_no}: not a JSON object ({exc}). Each line must be one record, "
                    'such as {"id": "1", "prompt": "..."}.',
                    file=str(path), line=line_no,
                ) from None


def _csv_rows(path: Path) -> Iterator[tuple[int, Any]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle, dialect="excel-tab" if path.suffix.lower() == ".tsv" else "excel")
        for row in reader:
            yield reader.line_num, row


def _template_fields(template: str, path: Path) -> tuple[str, ...]:
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(template) if name]
    except ValueError as exc:
        raise ConfigError(f"--template: {exc}. Use {{field}} for a field and {{{{ }}}} for a literal brace.", field="template") from None
    return tuple(dict.fromkeys(name.split(".")[0].split("[")[0] for name in names))


def _record(path: Path, line: int, row: Any, template: str | None, fields: Sequence[str]) -> BatchRecord:
    where = f"{path}:{line}"
    if not isinstance(row, dict):
        raise ConfigError(f"{where}: a record must be an object with an `id`, got {type(row).__name__}.", file=str(path), line=line)
    record_id = row.get("id")
    if record_id is None or record_id == "":
        raise ConfigError(f"{where}: the record has no `id`. Give every record a unique id.", file=str(path), line=line, field="id")
    prompt = row.get("prompt")
    if prompt is None or prompt == "":
        if template is None:
            raise ConfigError(
                f"{where}: record {record_id!r} has no `prompt`. Add one, or pass a template (--template) filled "
                "from the record's fields.",
                file=str(path), line=line, field="prompt",
            )
        missing = [name for name in fields if name not in row]
        if missing:
            raise ConfigError(
                f"{where}: record {record_id!r} lacks {', '.join(missing)}, which the template uses.",
                file=str(path), line=line, field=missing[0],
            )
        prompt = template.format_map(row)
    if isinstance(prompt, str):
        messages = [{"role": "user", "content": prompt}]
    elif isinstance(prompt, list) and all(isinstance(m, dict) and "role" in m for m in prompt):
        messages = prompt
    else:
        raise ConfigError(
            f"{where}: `prompt` of record {record_id!r} must be text or a list of chat messages.",
            file=str(path), line=line, field="prompt",
        )
    return BatchRecord(str(record_id), messages, line)


# -- output -----------------------------------------------------------------------------------------------------


def count_done(output: str | os.PathLike[str]) -> tuple[int, str | None]:
    """Complete lines already in ``output`` and the id on the last one; cuts off a torn last line.

    A process killed while writing leaves at most one partial line at the end; it is removed so the rerun
    appends after the last complete record.
    """
    path = Path(output)
    if not path.exists():
        return 0, None
    with path.open("r+b") as handle:
        size = handle.seek(0, io.SEEK_END)
        end = size
        # Find the last newline from the end; everything after it is a torn write.
        block = 1 << 16
        while end > 0:
            begin = max(0, end - block)
            handle.seek(begin)
            chunk = handle.read(end - begin)
            cut = chunk.rfind(b"\n")
            if cut >= 0:
                end = begin + cut + 1
                break
            end = begin
        if end != size:
            handle.truncate(end)
        handle.seek(0)
        lines, last = 0, b""
        while True:
            chunk = handle.read(1 << 20)
            if not chunk:
                break
            lines += chunk.count(b"\n")
            last = (last + chunk)[-(1 << 16):]
    last_id: str | None = None
    if lines:
        tail = last.rstrip(b"\n").rsplit(b"\n", 1)[-1]
        try:
            last_id = str(json.loads(tail)["id"])
        except (ValueError, KeyError, TypeError):
            raise ConfigError(
                f"{path}: the last line is not a modelswap batch result. Give a new output path, or remove the file "
                "to start over.",
                file=str(path), line=lines,
            ) from None
    return lines, last_id


def _result_line(record: BatchRecord, alias: str | None, completion: Any = None, error: Exception | None = None) -> bytes:
    if completion is not None:
        row = {
            "id": record.id, "text": completion.text, "finish_reason": completion.finish_reason,
            "input_tokens": completion.input_tokens, "output_tokens": completion.output_tokens, "cost": completion.cost,
            "latency_s": round(completion.latency_s, 6), "model": completion.alias, "model_id": completion.model_id,
            "provider": completion.provider, "error": None,
        }
        if completion.data is not None:
            row["data"] = completion.data
    else:
        row = {
            "id": record.id, "text": None, "finish_reason": None, "input_tokens": None, "output_tokens": None,
            "cost": None, "latency_s": None, "model": alias, "model_id": None, "provider": getattr(error, "provider", None),
            "error": {"type": type(error).__name__, "message": str(error)},
        }
    return json.dumps(row, ensure_ascii=False).encode() + b"\n"


# -- the engine -------------------------------------------------------------------------------------------------


async def process_records(
    records: Iterable[BatchRecord],
    output: str | os.PathLike[str],
    *,
    client: Any = None,
    config: Any = None,
    model: str | None = None,
    concurrency: int = 16,
    params: Mapping[str, Any] | None = None,
    schema: Mapping[str, Any] | None = None,
    progress: Progress | None = None,
    summary: BatchSummary | None = None,
) -> BatchSummary:
    """Answer ``records`` (already past the resume point) and append one line each to ``output``, in order.

    The window of records held in memory is four times ``concurrency``; a record is released once its line is
    written. Lines are flushed to the OS at least every 0.5 s and at the end.
    """
    from ._client import Client

    own_client = client is None
    client = client or Client(config)
    summary = summary or BatchSummary(output=str(output), model=model)
    call_params = dict(params or {})
    started = time.perf_counter()
    calls = asyncio.Semaphore(max(1, concurrency))
    window = asyncio.Semaphore(max(1, concurrency) * 4)
    ready: dict[int, bytes] = {}
    next_to_write = 0
    fatal: list[BaseException] = []
    # The first record the endpoint could not be reached for, after its retries: lines stop before it.
    down: list[tuple[int, BatchRecord, EndpointUnreachableError]] = []
    last_flush = time.monotonic()
    pending: set[asyncio.Task[None]] = set()

    handle = open(output, "ab", buffering=1 << 20)  # noqa: SIM115 (closed in finally)

    def write_ready() -> None:
        nonlocal next_to_write, last_flush
        stop = down[0][0] if down else None
        while next_to_write in ready and next_to_write != stop:
            handle.write(ready.pop(next_to_write))
            next_to_write += 1
            window.release()
        now = time.monotonic()
        if now - last_flush >= 0.5:
            handle.flush()
            last_flush = now
            if progress is not None:
                summary.wall_s = time.perf_counter() - started
                progress(summary)

    async def answer(index: int, record: BatchRecord) -> None:
        try:
            async with calls:
                completion = await client.acomplete(record.messages, model=model, schema=schema, **call_params)
        except ConfigError as exc:
            fatal.append(exc)
            ready[index] = b""  # never written: the batch stops
            window.release()  # wake the reader if it waits for room, so it sees the stop
            return
        except EndpointUnreachableError as exc:
            if not down or index < down[0][0]:
                down[:] = [(index, record, exc)]
            ready[index] = b""
            write_ready()
            window.release()
            return
        except ModelSwapError as exc:
            summary.failed += 1
            summary.errors[type(exc).__name__] = summary.errors.get(type(exc).__name__, 0) + 1
            ready[index] = _result_line(record, model, error=exc)
        else:
            summary.succeeded += 1
            summary.input_tokens += completion.input_tokens or 0
            summary.output_tokens += completion.output_tokens or 0
            summary.cost += completion.cost or 0.0
            ready[index] = _result_line(record, model, completion)
        if not fatal:
            write_ready()

    try:
        for index, record in enumerate(records):
            if fatal or down:
                break
            await window.acquire()
            if fatal or down:
                break
            summary.records += 1
            task = asyncio.ensure_future(answer(index, record))
            pending.add(task)
            task.add_done_callback(pending.discard)
        if pending:
            await asyncio.gather(*pending)
        if fatal:
            raise fatal[0]
        write_ready()
        if down:
            index, record, exc = down[0]
            written = summary.skipped + next_to_write
            raise EndpointUnreachableError(
                f"{exc} The batch stopped at record {written + 1} (id {record.id!r}): {written:,} lines are in "
                f"{output}, none after it. Once the server answers again, rerun the same command: it resumes at "
                f"id {record.id!r}.",
                provider=exc.provider,
            )
    finally:
        for task in pending:
            task.cancel()
        handle.flush()
        os.fsync(handle.fileno())
        handle.close()
        if own_client:
            await client.aclose()
        summary.wall_s += time.perf_counter() - started
        if progress is not None:
            progress(summary)
    return summary


async def arun_batch(
    input: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    model: str | None = None,
    template: str | None = None,
    concurrency: int = 16,
    params: Mapping[str, Any] | None = None,
    schema: Mapping[str, Any] | None = None,
    client: Any = None,
    config: Any = None,
    progress: Progress | None = None,
    retry_errors: bool = False,
) -> BatchSummary:
    """Run (or resume) a batch from ``input`` to ``output``; see the module docstring.

    With ``retry_errors``, the records whose line holds an error (the provider failed them after its retries)
    are asked again once the rest is done, and their lines replaced; the output is rewritten to a temporary
    file and renamed, so a kill during the retry leaves the previous output whole.

    Example:
        >>> from modelswap.batch import run_batch
        >>> summary = run_batch("prompts.jsonl", "answers.jsonl", model="gemma-raw")   # doctest: +SKIP
        >>> summary.succeeded, summary.failed                                          # doctest: +SKIP
    """
    done, last_id = count_done(output)
    summary = BatchSummary(output=str(output), model=model, skipped=done)
    records = iter_records(input, template, start=done, resume_id=last_id)
    options = {"client": client, "config": config, "model": model, "concurrency": concurrency, "params": params,
               "schema": schema}
    summary = await process_records(records, output, progress=progress, summary=summary, **options)
    if retry_errors:
        await _retry_failed(input, output, template, summary, options)
    return summary


def _failed(line: bytes) -> bool:
    # The writer's own separators make the common case a substring test, not a JSON parse.
    return b'"error": null' not in line and json.loads(line).get("error") is not None


async def _retry_failed(
    input: Any, output: Any, template: str | None, summary: BatchSummary, options: dict[str, Any]
) -> None:
    out = Path(output)
    retry = out.with_name(out.name + ".retry")
    retry.unlink(missing_ok=True)  # a retry pass killed earlier starts over

    def failed_records() -> Iterator[BatchRecord]:
        with out.open("rb") as lines:
            for record, line in zip(iter_records(input, template), lines):
                if _failed(line):
                    yield record

    again = await process_records(failed_records(), retry, summary=BatchSummary(output=str(retry)), **options)
    if again.records:
        merged = out.with_name(out.name + ".tmp")
        with out.open("rb") as old, retry.open("rb") as new, merged.open("wb") as target:
            for line in old:
                target.write(next(new) if _failed(line) else line)
            target.flush()
            os.fsync(target.fileno())
        os.replace(merged, out)
    retry.unlink(missing_ok=True)
    summary.retried = again.records
    summary.succeeded += again.succeeded
    summary.failed = again.failed  # every error line in the output was asked again: these are what remain
    summary.input_tokens += again.input_tokens
    summary.output_tokens += again.output_tokens
    summary.cost += again.cost
    summary.errors = dict(again.errors)


def run_batch(input: str | os.PathLike[str], output: str | os.PathLike[str], **options: Any) -> BatchSummary:
    """Blocking :func:`arun_batch`."""
    return asyncio.run(arun_batch(input, output, **options))
