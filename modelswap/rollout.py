"""Re-point the one parameter (promote or roll back), and the triggers that decide a rollback.

The parameter lives in one of three places, each a *target*:

* ``prefect-variable[:NAME]``: the Prefect Variable (default ``modelswap_model``) every flow reads at run time;
* ``config:PATH``: the ``default:`` of a modelswap YAML config (the line is rewritten, comments kept, the result
  validated before it replaces the file);
* ``configmap:PATH[:NAME]``: a Kubernetes ConfigMap manifest with ``MODELSWAP_MODEL`` (apply it with
  ``kubectl apply -f PATH`` or let GitOps pick it up).

Every switch appends one JSON line to the audit log: when, from, to, which trigger, the evidence (a report path
or URL), the target, and whether it was a dry run. Promotion uses the same mechanism as rollback.

Triggers (:func:`evaluate_triggers`): the p95 latency of the live model's calls against the SLA (as the share of
calls slower than it, against 5%), their error rate against a limit, and the accuracy of a rolling eval against
the accuracy at promotion. Each is an anytime-valid monitor (:mod:`modelswap.regress._sequential`) over every call
since the promotion: ``watch`` may run every hour for as long as it likes and still rolls back a good model at
most ``alpha`` of the time per trigger, and it rolls back the hour a breach is proven. A trigger is a dict
``{"name", "tripped", "status", "value", "threshold", "bounds", "events", "n", "detail"}``, ``status`` one of
``breach proven``, ``within limit``, ``inconclusive``; it trips only on a proven breach. :func:`traffic_split`
reports the live model's share of the calls and flags a sample-ratio mismatch.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import re
import time
from pathlib import Path
from typing import Any, Iterable, Mapping, Protocol

import yaml

from ._errors import ConfigError

__all__ = [
    "ConfigDefaultTarget",
    "ConfigMapTarget",
    "PrefectVariableTarget",
    "Target",
    "SLOW_SHARE",
    "evaluate_triggers",
    "parse_target",
    "promoted_at",
    "switch",
    "traffic_split",
]

CONFIGMAP_KEY = "MODELSWAP_MODEL"
SLOW_SHARE = 0.05  # p95 within the SLA <=> at most 5% of calls slower than it
_DEFAULT_LINE = re.compile(r"^default:[^\n]*$", re.MULTILINE)


class Target(Protocol):
    """Where the one parameter lives."""

    def describe(self) -> str: ...

    def current(self) -> str | None: ...

    def point_to(self, model: str) -> None: ...


class PrefectVariableTarget:
    """The Prefect Variable flows read at run time: a change applies to the next run, no redeploy."""

    def __init__(self, name: str = "modelswap_model") -> None:
        self.name = name

    def describe(self) -> str:
        return f"prefect-variable:{self.name}"

    def current(self) -> str | None:
        from prefect.variables import Variable

        value = Variable.get(self.name, default=None)
        return str(value) if value else None

    def point_to(self, model: str) -> None:
        from prefect.variables import Variable

        Variable.set(self.name, model, overwrite=True)


class ConfigDefaultTarget:
    """The ``default:`` line of a modelswap config file."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def describe(self) -> str:
        return f"config:{self.path}"

    def current(self) -> str | None:
        if not self.path.exists():
            raise ConfigError(f"{self.path}: no such config file.", file=str(self.path))
        data = yaml.safe_load(self.path.read_text()) or {}
        return data.get("default") if isinstance(data, dict) else None

    def point_to(self, model: str) -> None:
        from ._config import loads_config

        text = self.path.read_text()
        line = f"default: {json.dumps(model)}"
        updated = _DEFAULT_LINE.sub(line, text, count=1) if _DEFAULT_LINE.search(text) else f"{line}\n{text}"
        config = loads_config(updated, source=str(self.path))
        config.resolve(model)  # the new default must exist in this config
        _atomic_write(self.path, updated)


class ConfigMapTarget:
    """A Kubernetes ConfigMap manifest holding ``MODELSWAP_MODEL``; other keys in it are kept."""

    def __init__(self, path: str | os.PathLike[str], name: str = "modelswap-model", namespace: str | None = None) -> None:
        self.path = Path(path)
        self.name = name
        self.namespace = namespace

    def describe(self) -> str:
        return f"configmap:{self.path}:{self.name}"

    def _load(self) -> dict[str, Any]:
        if not self.path.exists():
            return {}
        data = yaml.safe_load(self.path.read_text()) or {}
        if not isinstance(data, dict) or data.get("kind") not in (None, "ConfigMap"):
            raise ConfigError(f"{self.path}: not a ConfigMap manifest; give a new path or a ConfigMap.", file=str(self.path))
        return data

    def current(self) -> str | None:
        return (self._load().get("data") or {}).get(CONFIGMAP_KEY)

    def point_to(self, model: str) -> None:
        manifest = self._load()
        metadata = manifest.get("metadata") or {}
        metadata.setdefault("name", self.name)
        if self.namespace:
            metadata["namespace"] = self.namespace
        metadata.setdefault("labels", {})["app.kubernetes.io/managed-by"] = "modelswap"
        metadata.setdefault("annotations", {})["modelswap/changed-at"] = _now()
        data = dict(manifest.get("data") or {})
        data[CONFIGMAP_KEY] = model
        out = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": data}
        _atomic_write(self.path, yaml.safe_dump(out, sort_keys=False))


def parse_target(text: str) -> Target:
    """A target from its command-line form (see the module docstring)."""
    kind, _, rest = text.partition(":")
    if kind == "prefect-variable":
        return PrefectVariableTarget(rest or "modelswap_model")
    if kind == "config" and rest:
        return ConfigDefaultTarget(rest)
    if kind == "configmap" and rest:
        path, _, name = rest.partition(":")
        return ConfigMapTarget(path, name or "modelswap-model")
    raise ConfigError(
        f"--target {text!r}: use prefect-variable[:NAME], config:PATH or configmap:PATH[:NAME].", field="--target"
    )


def switch(
    target: Target,
    to: str,
    *,
    action: str,
    trigger: str,
    evidence: str | None = None,
    audit: str | os.PathLike[str] = "modelswap-audit.jsonl",
    dry_run: bool = False,
    previous: str | None = None,
) -> dict[str, Any]:
    """Point ``target`` at ``to`` (unless ``dry_run``) and append the audit record, which is returned."""
    before = previous if previous is not None else target.current()
    record = {
        "ts": _now(),
        "action": action,
        "from": before,
        "to": to,
        "trigger": trigger,
        "evidence": evidence,
        "target": target.describe(),
        "dry_run": dry_run,
        "changed": False,
    }
    if not dry_run and before != to:
        target.point_to(to)
        record["changed"] = True
    path = Path(audit)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")
    return record


def evaluate_triggers(
    *,
    live: str,
    traffic: Iterable[Mapping[str, Any]] = (),
    since: float | None = None,
    window_s: float | None = None,
    latency_sla_ms: float | None = None,
    max_slow_share: float = SLOW_SHARE,
    max_error_rate: float | None = None,
    eval_passed: int | None = None,
    eval_cases: int | None = None,
    reference_accuracy: float | None = None,
    max_accuracy_drop: float | None = None,
    min_requests: int = 20,
    alpha: float = 0.05,
    now: float | None = None,
) -> list[dict[str, Any]]:
    """The rollback triggers for model ``live``; see the module docstring.

    Args:
        live: the alias whose calls are judged (other aliases' calls in ``traffic`` are ignored).
        traffic: recorded calls (:func:`modelswap.shadow.iter_traffic`).
        since: count calls from this epoch time on, normally the promotion (:func:`promoted_at`). The monitors
            are anytime-valid only over counts that keep growing from one start.
        window_s: without ``since``, only the last ``window_s`` seconds (each look then starts afresh: valid for
            one look per window, not for overlapping looks).
        latency_sla_ms: trips when more than ``max_slow_share`` of calls (5%: the p95) are proven slower.
        max_error_rate: trips when the error rate is proven above it.
        eval_passed, eval_cases, reference_accuracy, max_accuracy_drop: a rolling eval on the live model; trips
            when its accuracy is proven below ``reference_accuracy - max_accuracy_drop``.
        min_requests: act on traffic only with at least this many calls (a policy; the bounds need no minimum).
        alpha: each trigger's chance of a false rollback, over every look together.
    """
    from .regress._sequential import BREACH, monitor_floor, monitor_rate
    from .regress._stats import percentile

    if not 0.0 < alpha < 0.5:
        raise ConfigError(f"alpha must lie strictly between 0 and 0.5, got {alpha!r}.", field="alpha")
    for name, value in (("max_error_rate", max_error_rate), ("max_slow_share", max_slow_share),
                        ("max_accuracy_drop", max_accuracy_drop)):
        if value is not None and not 0.0 <= value <= 1.0:
            raise ConfigError(f"{name} is a fraction between 0 and 1, got {value!r} (write 5% as 0.05).", field=name)
    if since is None and window_s:
        since = (now or time.time()) - window_s
    recent = [row for row in traffic if row.get("alias") == live and (since is None or _ts(row) >= since)]
    triggers: list[dict[str, Any]] = []
    enough = len(recent) >= min_requests
    if latency_sla_ms is not None:
        # A failed or timed-out call is as slow as it took; one with no time recorded counts as slow.
        elapsed = [float(r["latency_s"]) * 1000 if r.get("latency_s") is not None else math.inf for r in recent]
        slow = sum(1 for ms in elapsed if ms > latency_sla_ms)
        finite = [ms for ms in elapsed if ms != math.inf]
        p95 = percentile(finite, 95) if finite else None
        watched = monitor_rate(slow, len(elapsed), max_slow_share, alpha)
        shown = f"p95 {p95:,.0f} ms; " if p95 is not None else ""
        triggers.append(_trigger(
            "latency_p95", watched, enough and watched.status == BREACH, p95, latency_sla_ms,
            f"{shown}{slow} of {len(elapsed)} calls slower than the {latency_sla_ms:,.0f} ms SLA, allowed "
            f"{max_slow_share:.0%}" if elapsed else "no calls of this model since the start"))
    if max_error_rate is not None:
        errors = sum(1 for r in recent if r.get("error"))
        watched = monitor_rate(errors, len(recent), max_error_rate, alpha)
        triggers.append(_trigger(
            "error_rate", watched, enough and watched.status == BREACH, watched.rate, max_error_rate,
            f"{errors} of {len(recent)} calls failed, allowed {max_error_rate:.1%}" if recent
            else "no calls of this model since the start"))
    if max_accuracy_drop is not None and eval_cases and eval_passed is not None and reference_accuracy is not None:
        floor = max(0.0, reference_accuracy - max_accuracy_drop)
        watched = monitor_floor(eval_passed, eval_cases, floor, alpha)
        triggers.append(_trigger(
            "accuracy_drop", watched, watched.status == BREACH, reference_accuracy - eval_passed / eval_cases,
            max_accuracy_drop, f"rolling eval {eval_passed} of {eval_cases} ({eval_passed / eval_cases:.1%}) against "
            f"{reference_accuracy:.1%} at promotion, allowed down to {floor:.1%}"))
    for trigger in triggers:
        if not enough and trigger["name"] != "accuracy_drop":
            trigger["detail"] += f" (fewer than {min_requests} calls: not enough to act on)"
    return triggers


def _trigger(name: str, watched: Any, tripped: bool, value: float | None, threshold: float, detail: str) -> dict[str, Any]:
    bounds = f"anytime-valid {1 - watched.alpha:.0%} bounds {watched.lower:.1%} to {watched.upper:.1%}"
    return {
        "name": name, "tripped": bool(tripped), "value": value, "threshold": threshold, "status": watched.status,
        "bounds": [watched.lower, watched.upper], "events": watched.events, "n": watched.n,
        "detail": f"{detail} ({bounds}): {watched.status}" if watched.n else detail,
    }


def traffic_split(
    traffic: Iterable[Mapping[str, Any]], live: str, *, since: float | None = None, expected_share: float | None = None
) -> dict[str, Any]:
    """How the recorded calls since ``since`` split between ``live`` and every other model (a canary's share).

    With ``expected_share`` (the share the router is told to send to ``live``), a split that departs from it is a
    sample-ratio mismatch: the comparison itself is suspect (calls lost or mis-routed on one side).
    """
    from .regress._sequential import sample_ratio

    counts: dict[str, int] = {}
    for row in traffic:
        if since is None or _ts(row) >= since:
            alias = str(row.get("alias"))
            counts[alias] = counts.get(alias, 0) + 1
    mine = counts.get(live, 0)
    others = sum(counts.values()) - mine
    split: dict[str, Any] = {"live": mine, "others": others, "by_model": counts,
                             "share": mine / (mine + others) if mine + others else None}
    if expected_share is not None:
        test = sample_ratio(mine, others, expected_share)
        split.update(expected_share=expected_share, p_value=test["p_value"], mismatch=test["mismatch"])
    return split


def promoted_at(audit: str | os.PathLike[str], live: str) -> float | None:
    """When ``live`` last became the model (the audit log's last real switch to it), as epoch seconds."""
    path = Path(audit)
    if not path.exists():
        return None
    when = None
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("to") == live and record.get("changed"):
            try:
                when = _dt.datetime.fromisoformat(str(record["ts"])).timestamp()
            except (KeyError, ValueError):
                continue
    return when


def _ts(row: Mapping[str, Any]) -> float:
    try:
        return float(row.get("ts") or 0)
    except (TypeError, ValueError):
        return 0.0


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text)
    os.replace(temporary, path)
