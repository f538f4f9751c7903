"""Re-point the one parameter (promote or roll back), and the triggers that decide a rollback.

The parameter lives in one of three places, each a *target*:

* ``prefect-variable[:NAME]``: the Prefect Variable (default ``modelswap_model``) every flow reads at run time;
* ``config:PATH``: the ``default:`` of a modelswap YAML config (the line is rewritten, comments kept, the result
  validated before it replaces the file);
* ``configmap:PATH[:NAME]``: a Kubernetes ConfigMap manifest with ``MODELSWAP_MODEL`` (apply it with
  ``kubectl apply -f PATH`` or let GitOps pick it up).

Every switch appends one JSON line to the audit log: when, from, to, which trigger, the evidence (a report path
or URL), the target, and whether it was a dry run. Promotion uses the same mechanism as rollback.

Triggers (:func:`evaluate_triggers`): the accuracy of a rolling eval against a reference, the p95 latency of
recent traffic against the SLA, the error rate of recent traffic. Each is a dict ``{"name", "tripped", "value",
"threshold", "detail"}``; one that cannot be measured (no data) does not trip.
"""

from __future__ import annotations

import datetime as _dt
import json
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
    "evaluate_triggers",
    "parse_target",
    "switch",
]

CONFIGMAP_KEY = "MODELSWAP_MODEL"
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
    window_s: float | None = 3600.0,
    latency_sla_ms: float | None = None,
    max_error_rate: float | None = None,
    eval_accuracy: float | None = None,
    reference_accuracy: float | None = None,
    max_accuracy_drop: float | None = None,
    min_requests: int = 20,
    now: float | None = None,
) -> list[dict[str, Any]]:
    """The rollback triggers for model ``live``; see the module docstring."""
    from .regress._stats import percentile

    cutoff = (now or time.time()) - window_s if window_s else None
    recent = [
        row for row in traffic
        if row.get("alias") == live and (cutoff is None or float(row.get("ts") or 0) >= cutoff)
    ]
    triggers: list[dict[str, Any]] = []
    enough = len(recent) >= min_requests
    if latency_sla_ms is not None:
        latencies = [float(r["latency_s"]) * 1000 for r in recent if r.get("latency_s") is not None and not r.get("error")]
        p95 = percentile(latencies, 95) if latencies else None
        tripped = bool(enough and p95 is not None and p95 > latency_sla_ms)
        triggers.append({
            "name": "latency_p95", "tripped": tripped, "value": p95, "threshold": latency_sla_ms,
            "detail": f"p95 {p95:,.0f} ms over {len(latencies)} calls (SLA {latency_sla_ms:,.0f} ms)" if p95 is not None
            else "no successful calls of this model in the window",
        })
    if max_error_rate is not None:
        errors = sum(1 for r in recent if r.get("error"))
        rate = errors / len(recent) if recent else None
        tripped = bool(enough and rate is not None and rate > max_error_rate)
        triggers.append({
            "name": "error_rate", "tripped": tripped, "value": rate, "threshold": max_error_rate,
            "detail": f"{errors} of {len(recent)} calls failed" if recent else "no calls of this model in the window",
        })
    if max_accuracy_drop is not None and eval_accuracy is not None and reference_accuracy is not None:
        drop = reference_accuracy - eval_accuracy
        triggers.append({
            "name": "accuracy_drop", "tripped": drop > max_accuracy_drop, "value": drop, "threshold": max_accuracy_drop,
            "detail": f"rolling eval {eval_accuracy:.1%} against {reference_accuracy:.1%} at promotion",
        })
    for trigger in triggers:
        if not enough and trigger["name"] != "accuracy_drop":
            trigger["detail"] += f" (fewer than {min_requests} calls: not enough to act on)"
    return triggers


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text)
    os.replace(temporary, path)
