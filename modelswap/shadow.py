"""Shadow traffic: record what production asks and gets, replay it to a candidate, compare.

Recording is off unless asked for: ``Client(recorder=TrafficRecorder("traffic.jsonl", sample=0.1))``, or with no
code change, ``MODELSWAP_RECORD=traffic.jsonl`` (and ``MODELSWAP_RECORD_SAMPLE=0.1``) in the environment. Each
sampled call becomes one JSONL line: time, model alias and id, messages, params, the answer, latency, tokens,
cost, error. Keys never reach the file (every string passes :func:`modelswap._redact.redact`), and
``redact_patterns`` (regexes: e-mail addresses, account numbers, ...) mask configured fields of the text too.

:func:`replay` sends the recorded requests to a candidate and compares each answer with the recorded one by an
assertion (``similar`` at a threshold by default, or ``equals``, ``contains``, ``icontains``, ``levenshtein``), then reports the
agreement rate, latency of both sides (p50, p95), error rates and cost.

With ``min_agreement``, the agreement is an anytime-valid monitor (:func:`modelswap.regress._sequential.monitor_floor`):
``pass`` once the data prove it at or above the floor, ``fail`` once they prove it below, ``inconclusive`` until
then, with about how many requests would decide. With ``state`` (a JSONL file of earlier comparisons, no text
kept), a replay adds only the requests it has not compared yet and judges all of them together: an hourly shadow
run then looks at one growing sample, and its verdict stays right however many hours it runs.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import random
import re
import threading
import time
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

from ._errors import ConfigError, ModelSwapError
from ._redact import redact

__all__ = ["TrafficRecorder", "iter_traffic", "recorder_from_env", "replay", "run_replay", "verdict_line"]

_EMAIL = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"


class TrafficRecorder:
    """Appends a sample of calls to a JSONL file; safe to share between threads.

    Args:
        path: the traffic file (appended to).
        sample: fraction of calls recorded, 0..1.
        redact_patterns: regexes whose matches are masked in messages and answers (``"email"`` is a shortcut
            for an e-mail address pattern).
        seed: makes the sampling repeatable (tests).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        sample: float = 1.0,
        redact_patterns: Sequence[str] = (),
        seed: int | None = None,
    ) -> None:
        if not 0.0 <= sample <= 1.0:
            raise ConfigError(f"the traffic sample rate must be between 0 and 1, got {sample}.", field="sample")
        self.path = Path(path)
        self.sample = sample
        patterns = [_EMAIL if p == "email" else p for p in redact_patterns]
        try:
            self._patterns = re.compile("|".join(f"(?:{p})" for p in patterns)) if patterns else None
        except re.error as exc:
            raise ConfigError(f"a redact pattern is not a valid regex: {exc}.", field="redact_patterns") from None
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def _clean(self, text: Any) -> Any:
        if not isinstance(text, str):
            return text
        text = redact(text)
        return self._patterns.sub("[redacted]", text) if self._patterns is not None else text

    def record(
        self,
        spec: Any,
        messages: Sequence[Mapping[str, Any]],
        params: Mapping[str, Any],
        completion: Any = None,
        error: BaseException | None = None,
        latency_s: float | None = None,
    ) -> None:
        """Record one call (if it is sampled)."""
        with self._lock:
            if self.sample < 1.0 and self._random.random() >= self.sample:
                return
        row = {
            "ts": time.time(),
            "alias": spec.alias,
            "model_id": spec.model_id,
            "provider": spec.provider.name,
            "messages": [{**m, "content": self._clean(m.get("content"))} for m in messages],
            "params": {k: v for k, v in params.items() if v is not None and isinstance(v, (str, int, float, bool, list))},
            "text": self._clean(completion.text) if completion is not None else None,
            "finish_reason": getattr(completion, "finish_reason", None),
            "latency_s": completion.latency_s if completion is not None else latency_s,
            "input_tokens": getattr(completion, "input_tokens", None),
            "output_tokens": getattr(completion, "output_tokens", None),
            "cost": getattr(completion, "cost", None),
            "error": f"{type(error).__name__}: {self._clean(str(error))}" if error is not None else None,
        }
        line = json.dumps(row, ensure_ascii=False, default=str) + "\n"
        with self._lock, self.path.open("a", encoding="utf-8") as handle:
            handle.write(line)


def recorder_from_env(environ: Mapping[str, str] | None = None) -> TrafficRecorder | None:
    """A recorder when ``MODELSWAP_RECORD`` names a file (``MODELSWAP_RECORD_SAMPLE`` sets the rate)."""
    env = os.environ if environ is None else environ
    path = env.get("MODELSWAP_RECORD")
    if not path:
        return None
    raw = env.get("MODELSWAP_RECORD_SAMPLE", "1")
    try:
        sample = float(raw)
    except ValueError:
        raise ConfigError(f"MODELSWAP_RECORD_SAMPLE={raw!r} is not a number; use a rate such as 0.1.", field="MODELSWAP_RECORD_SAMPLE") from None
    patterns = [p for p in env.get("MODELSWAP_RECORD_REDACT", "").split(",") if p]
    return TrafficRecorder(path, sample=sample, redact_patterns=patterns)


def iter_traffic(path: str | os.PathLike[str], *, since: float | None = None) -> Iterator[dict[str, Any]]:
    """The recorded calls of a traffic file (newer than ``since``, a Unix time, when given)."""
    source = Path(path)
    if not source.is_file():
        raise ConfigError(f"{source}: no such traffic file. Record one with MODELSWAP_RECORD={source}.", file=str(source))
    with source.open("rb") as handle:
        for number, raw in enumerate(handle, 1):
            if not raw.strip():
                continue
            try:
                row = json.loads(raw)
            except ValueError:
                if not raw.endswith(b"\n"):
                    return  # a torn last line: the recorder was killed mid-write
                raise ConfigError(f"{source}:{number}: not a recorded call (invalid JSON).", file=str(source), line=number) from None
            if not isinstance(row, dict) or "messages" not in row:
                raise ConfigError(f"{source}:{number}: not a recorded call (no `messages`).", file=str(source), line=number)
            if since is not None and float(row.get("ts") or 0) <= since:
                continue
            yield row


async def replay(
    traffic: Iterable[Mapping[str, Any]],
    candidate: str,
    *,
    client: Any = None,
    config: Any = None,
    concurrency: int = 8,
    assertion: str = "similar",
    threshold: float = 0.8,
    limit: int | None = None,
    min_agreement: float | None = None,
    alpha: float = 0.05,
    state: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Replay recorded calls to ``candidate`` and compare; returns the shadow report (see the module docstring)."""
    from ._client import Client
    from .evals import Assertion, evaluate
    from .regress._stats import percentile

    if min_agreement is not None and not 0.0 <= min_agreement <= 1.0:
        raise ConfigError(f"min_agreement is a fraction between 0 and 1, got {min_agreement!r} (write 90% as 0.9).",
                          field="min_agreement")
    if not 0.0 < alpha < 0.5:
        raise ConfigError(f"alpha must lie strictly between 0 and 0.5, got {alpha!r}.", field="alpha")
    earlier = _load_state(state) if state else []
    seen = {p["key"] for p in earlier}
    own_client = client is None
    client = client or Client(config)
    client.resolve(candidate)
    rows = [row for row in itertools.islice(traffic, limit) if _row_key(row) not in seen]
    calls = asyncio.Semaphore(max(1, concurrency))
    pairs: list[dict[str, Any]] = []

    async def one(row: Mapping[str, Any]) -> None:
        params = {k: v for k, v in (row.get("params") or {}).items() if k in ("temperature", "top_p", "max_tokens", "stop", "seed")}
        started = time.perf_counter()
        try:
            async with calls:
                completion = await client.acomplete(list(row["messages"]), model=candidate, **params)
            text, error, latency, cost = completion.text, None, completion.latency_s, completion.cost
        except ConfigError:
            raise
        except ModelSwapError as exc:
            text, error, latency, cost = None, f"{type(exc).__name__}: {redact(str(exc))}", time.perf_counter() - started, None
        recorded = row.get("text")
        if error is None and recorded is not None:
            # A raw-completion answer keeps the space before its first word; that is not part of the answer.
            reference = recorded.strip()
            check = Assertion(type=assertion, value=reference, threshold=threshold)
            result = evaluate(check, text or "", expected=reference)
            agree, score, reason = bool(result.passed), float(result.score), result.reason
        else:
            agree, score, reason = False, 0.0, error or "nothing was recorded to compare with (the recorded call failed)"
        pairs.append({
            "key": _row_key(row), "recorded_alias": row.get("alias"), "prompt": _last_user(row["messages"]), "recorded": recorded,
            "candidate": text, "agree": agree, "score": score, "reason": reason,
            "recorded_latency_s": row.get("latency_s"), "candidate_latency_s": latency if error is None else None,
            "recorded_error": row.get("error"), "candidate_error": error,
            "recorded_cost": row.get("cost"), "candidate_cost": cost,
        })

    try:
        await asyncio.gather(*(one(row) for row in rows))
    finally:
        if own_client:
            await client.aclose()
    if state:
        _append_state(state, pairs)
    judged = earlier + pairs

    def stats(side: str) -> dict[str, Any]:
        latencies = [p[f"{side}_latency_s"] * 1000 for p in judged if p[f"{side}_latency_s"] is not None]
        costs = [p[f"{side}_cost"] for p in judged if p[f"{side}_cost"] is not None]
        errors = sum(1 for p in judged if p[f"{side}_error"])
        return {
            "latency_p95_ms": percentile(latencies, 95) if latencies else None,
            "latency_p50_ms": percentile(latencies, 50) if latencies else None,
            "error_rate": errors / len(judged) if judged else 0.0,
            "cost": sum(costs) if costs else None,
        }

    comparable = [p for p in judged if p["recorded"] is not None]
    agreed = sum(1 for p in comparable if p["agree"])
    report: dict[str, Any] = {
        "candidate": candidate,
        "recorded_models": sorted({str(p["recorded_alias"]) for p in judged}),
        "requests": len(judged),
        "new_requests": len(pairs),
        "assertion": {"type": assertion, "threshold": threshold},
        "agreement": agreed / len(comparable) if comparable else None,
        "recorded": stats("recorded"),
        "shadow": stats("candidate"),
        "sample_ratio": _sides(judged),
        "disagreements": [p for p in pairs if not p["agree"]][:50],
    }
    if min_agreement is not None:
        report.update(_agreement_verdict(agreed, len(comparable), min_agreement, alpha))
    return report


def verdict_line(report: Mapping[str, Any]) -> str:
    """The one-line shadow verdict: the agreement, its anytime-valid bounds, the floor, and what would decide."""
    agreement = report["agreement"]
    shown = f"{agreement:.1%}" if agreement is not None else "n/a"
    watched = report.get("agreement_monitor")
    if watched is None:  # replayed without a floor: nothing is judged
        return f"shadow {report['candidate']}: {report['requests']} requests, agreement {shown}"
    head = (f"shadow {report['candidate']}: {report['requests']} requests, agreement {shown} "
            f"({report['assertion']['type']}; anytime-valid {1 - report['alpha']:.0%} bounds {watched['lower']:.1%} "
            f"to {watched['upper']:.1%}, need {report['min_agreement']:.0%}): {report['verdict'].upper()}")
    if report["verdict"] == "inconclusive":
        needed = watched["requests_to_decide"]
        head += (f"; about {needed:,} requests at this agreement would decide" if needed
                 else "; at this agreement no number of requests decides")
    return head


def _agreement_verdict(agreed: int, compared: int, floor: float, alpha: float) -> dict[str, Any]:
    from .regress._sequential import BREACH, WITHIN, calls_to_decide, monitor_floor

    watched = monitor_floor(agreed, compared, floor, alpha)
    verdict = {WITHIN: "pass", BREACH: "fail"}.get(watched.status, "inconclusive")
    needed = calls_to_decide(agreed, compared, floor, alpha, floor=True) if verdict == "inconclusive" else None
    return {"min_agreement": floor, "alpha": alpha, "verdict": verdict, "passed": verdict == "pass",
            "agreement_monitor": {**watched.to_dict(), "requests_to_decide": needed}}


def _sides(pairs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """How many of the replayed requests each side answered, and whether the split is lopsided (a sample-ratio
    mismatch: the candidate drops or fails calls the live model answered, or the reverse)."""
    from .regress._sequential import sample_ratio

    recorded = sum(1 for p in pairs if p["recorded"] is not None)
    candidate = sum(1 for p in pairs if not p["candidate_error"])
    test = sample_ratio(recorded, candidate)
    return {"recorded_answered": recorded, "candidate_answered": candidate, "p_value": test["p_value"],
            "mismatch": test["mismatch"]}


_STATE_FIELDS = ("key", "recorded_alias", "agree", "recorded_latency_s", "candidate_latency_s", "recorded_error",
                 "candidate_error", "recorded_cost", "candidate_cost")


def _row_key(row: Mapping[str, Any]) -> str:
    """One recorded call: when, which model, what was asked (hashed, so the state file keeps no text)."""
    import hashlib

    asked = json.dumps([row.get("ts"), row.get("alias"), row.get("messages")], sort_keys=True, default=str)
    return hashlib.sha256(asked.encode()).hexdigest()[:24]


def _load_state(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    file = Path(path)
    if not file.exists():
        return []
    pairs = []
    lines = file.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            pair = json.loads(line)
        except ValueError:
            if number == len(lines):
                break  # a torn last line from an interrupted run: that comparison is simply redone
            raise ConfigError(f"{file}:{number}: not a shadow state line; delete the file to start afresh.",
                              file=str(file), line=number) from None
        # Only the "recorded" answer's presence matters to the verdict; the text itself is not kept.
        pairs.append({**pair, "recorded": "" if pair.get("recorded_present") else None})
    return pairs


def _append_state(path: str | os.PathLike[str], pairs: Sequence[Mapping[str, Any]]) -> None:
    file = Path(path)
    file.parent.mkdir(parents=True, exist_ok=True)
    if file.exists():
        data = file.read_bytes()
        if data and not data.endswith(b"\n"):
            with file.open("r+b") as torn:  # drop the torn last line so the next one starts clean
                torn.truncate(data.rfind(b"\n") + 1)
    with file.open("a", encoding="utf-8") as out:
        for pair in pairs:
            kept = {name: pair.get(name) for name in _STATE_FIELDS}
            out.write(json.dumps({**kept, "recorded_present": pair.get("recorded") is not None}) + "\n")


def run_replay(traffic: Iterable[Mapping[str, Any]], candidate: str, **options: Any) -> dict[str, Any]:
    """Blocking :func:`replay`."""
    return asyncio.run(replay(traffic, candidate, **options))


def _last_user(messages: Sequence[Mapping[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            return str(message.get("content") or "")[:300]
    return ""
