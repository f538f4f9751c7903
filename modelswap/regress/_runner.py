"""Run an eval suite on a baseline and a candidate model, concurrently and resumably.

Both models answer the same cases at the same time (their calls interleave), so drift in the endpoint or the
machine hits both alike. Each finished run (model role, case, repeat) is appended to ``results.jsonl`` in the
output folder as soon as it is graded; a rerun with the same folder keeps those and runs only the rest, so an
interrupted regression over thousands of cases never starts again from zero.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from .._errors import ConfigError, ModelSwapError
from .._redact import redact

__all__ = ["ROLES", "arun_regression", "compare", "load_results", "run_regression"]

ROLES = ("baseline", "candidate")
_PREVIEW = 300


@dataclass(frozen=True, slots=True)
class _Job:
    role: str
    alias: str
    case: Any
    repeat: int

    @property
    def key(self) -> tuple[str, str, str, int]:
        return (self.role, self.alias, str(self.case.id), self.repeat)


def load_results(path: Path) -> list[dict[str, Any]]:
    """The runs already recorded in ``results.jsonl``; a torn last line (a killed run) is cut off."""
    if not path.exists():
        return []
    raw = path.read_bytes()
    end = raw.rfind(b"\n") + 1
    if end != len(raw):
        with path.open("r+b") as handle:
            handle.truncate(end)
    results = []
    for line in raw[:end].splitlines():
        if line.strip():
            results.append(json.loads(line))
    return results


async def arun_regression(
    suite: Any,
    baseline: str,
    candidate: str,
    *,
    repeat: int = 1,
    concurrency: int = 8,
    client: Any = None,
    config: Any = None,
    out_dir: str | Path | None = None,
    judge: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[dict[str, Any]]:
    """Grade every case of ``suite`` ``repeat`` times on both models; return one result dict per run.

    Args:
        suite: a loaded :class:`modelswap.evals.Suite`.
        baseline, candidate: model aliases (or ``provider/model_id``).
        repeat: runs per case and model (sampling noise; the report flags cases whose runs disagree).
        concurrency: calls in flight across both models.
        client: a :class:`modelswap.Client` (default: one for ``config``).
        out_dir: where ``results.jsonl`` accumulates; with None nothing is written and nothing resumes.
        judge: the model alias that grades ``llm-rubric`` assertions (default: the suite's ``judge``).
    """
    from .._client import Client
    from ..evals import grade

    if repeat < 1:
        raise ConfigError("--repeat must be at least 1.", field="repeat")
    own_client = client is None
    client = client or Client(config)
    # An unknown alias fails before any call; what each alias points at now goes into every result, so a report
    # still says which model answered after the alias has been moved to another.
    resolved = {alias: client.resolve(alias) for alias in (baseline, candidate)}
    judge_alias = judge or getattr(suite, "judge", None)
    judge_fn = _judge(client, judge_alias) if judge_alias else None

    store = Path(out_dir) / "results.jsonl" if out_dir is not None else None
    if store is not None:
        store.parent.mkdir(parents=True, exist_ok=True)
    done = {(r["role"], r["alias"], str(r["case_id"]), int(r["repeat"])): r for r in load_results(store)} if store else {}
    jobs = [
        _Job(role, alias, case, n)
        for n in range(repeat)
        for case in suite.cases
        for role, alias in (("baseline", baseline), ("candidate", candidate))
    ]
    todo = [job for job in jobs if job.key not in done]
    results: list[dict[str, Any]] = [done[job.key] for job in jobs if job.key in done]
    total, finished = len(jobs), len(results)
    params = dict(getattr(suite, "params", None) or {})
    calls = asyncio.Semaphore(max(1, concurrency))
    handle = store.open("a", encoding="utf-8") if store is not None else None
    fatal: list[BaseException] = []

    async def run(job: _Job) -> None:
        nonlocal finished
        if fatal:
            return
        started = time.perf_counter()
        output: str | None = None
        completion = None
        error: str | None = None
        try:
            async with calls:
                started = time.perf_counter()  # the call's own time, not the wait for a slot
                completion = await client.acomplete(job.case.messages, model=job.alias, **params)
            output = completion.text
        except ConfigError as exc:
            fatal.append(exc)
            return
        except ModelSwapError as exc:
            error = f"{type(exc).__name__}: {exc}"
        latency = completion.latency_s if completion is not None else time.perf_counter() - started
        cost = completion.cost if completion is not None else None
        if error is None:
            graded = await asyncio.to_thread(grade, job.case, output or "", latency_s=latency, cost=cost, judge=judge_fn) \
                if judge_fn is not None else grade(job.case, output or "", latency_s=latency, cost=cost)
            passed, score = bool(graded.passed), float(graded.score)
            assertions = [
                {"type": r.type, "passed": bool(r.passed), "score": float(r.score), "reason": redact(str(r.reason)),
                 **({"metric": r.metric} if r.metric else {})}
                for r in graded.results
            ]
        else:
            passed, score, assertions = False, 0.0, []
        result = {
            "role": job.role, "alias": job.alias, "case_id": str(job.case.id), "repeat": job.repeat,
            "provider": resolved[job.alias].provider.name, "model_id": resolved[job.alias].model_id,
            # A failed call keeps the time it took (a timeout: the time it waited), so the slowest calls are
            # never dropped from the latency check.
            "passed": passed, "score": score, "latency_s": latency,
            "input_tokens": getattr(completion, "input_tokens", None),
            "output_tokens": getattr(completion, "output_tokens", None),
            "cost": cost, "error": redact(error) if error else None,
            "output": redact(output) if output is not None else None,
            "expected": job.case.expected, "prompt": _preview(job.case.messages), "assertions": assertions,
        }
        results.append(result)
        if handle is not None:
            handle.write(json.dumps(result, ensure_ascii=False, default=str) + "\n")
            handle.flush()
        finished += 1
        if progress is not None:
            progress(finished, total)

    try:
        await asyncio.gather(*(run(job) for job in todo))
        if fatal:
            raise fatal[0]
    finally:
        if handle is not None:
            handle.close()
        if own_client:
            await client.aclose()
    return results


def run_regression(suite: Any, baseline: str, candidate: str, **options: Any) -> list[dict[str, Any]]:
    """Blocking :func:`arun_regression`."""
    return asyncio.run(arun_regression(suite, baseline, candidate, **options))


def compare(
    suite: Any,
    baseline: str,
    candidate: str,
    *,
    thresholds: Mapping[str, Any] | None = None,
    repeat: int = 1,
    out_dir: str | Path | None = None,
    seed: int = 0,
    preflight: list[dict[str, Any]] | None = None,
    **run_options: Any,
) -> dict[str, Any]:
    """The whole regression: run ``suite`` on both models, decide, and write the reports into ``out_dir``.

    ``thresholds`` override the suite's own; bad ones raise :class:`~modelswap.ConfigError` before any call.
    ``run_options`` go to :func:`run_regression` (``client``,
    ``config``, ``concurrency``, ``judge``, ``progress``). The pre-flight checks, when given, are part of the
    reports. With ``out_dir``, the report's ``files`` names report.json, report.md and report.html.
    """
    from ._files import write_reports
    from ._report import build_report
    from ._verdict import normalize_thresholds

    merged = {**(getattr(suite, "thresholds", None) or {}), **(thresholds or {})}
    try:
        normalize_thresholds(merged)  # before any request: a typo must not cost a whole run
    except ValueError as exc:
        raise ConfigError(f"thresholds: {exc}.", field="thresholds") from None
    results = run_regression(suite, baseline, candidate, repeat=repeat, out_dir=out_dir, **run_options)
    report = build_report(
        results,
        suite={"name": suite.name, "source": str(suite.source), "n_cases": len(suite.cases)},
        baseline=baseline,
        candidate=candidate,
        thresholds=merged,
        repeat=repeat,
        seed=seed,
    )
    if preflight is not None:
        report["preflight"] = preflight
    if out_dir is not None:
        report["files"] = {name: str(path) for name, path in write_reports(report, out_dir).items()}
    return report


def _judge(client: Any, alias: str) -> Callable[[str], str]:
    def judge(prompt: str) -> str:
        return client.complete(prompt, model=alias, temperature=0).text

    return judge


def _preview(messages: Iterable[dict[str, Any]]) -> str:
    last = ""
    for message in messages:
        if message.get("role") == "user":
            last = str(message.get("content") or "")
    return last if len(last) <= _PREVIEW else last[: _PREVIEW - 1] + "…"
