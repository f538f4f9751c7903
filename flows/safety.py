"""Prefect flows that prove a swap safe: ``regression``, ``shadow`` and ``rollback_watch``.

Each is the command of the same name (``modelswap regress``, ``modelswap shadow``, ``modelswap watch``) as a flow
with artifacts, so a deployment can run it on a schedule and a reviewer can read the evidence in the Prefect UI.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact

from modelswap.tasks import resolve_model

__all__ = ["regression", "rollback_watch", "shadow"]


@task(name="modelswap-run-regression", retries=0)
def _compare(suite_path: str, baseline: str, candidate: str, repeat: int, concurrency: int, config: str | None,
             out_dir: str, judge: str | None, thresholds: dict[str, float] | None) -> dict[str, Any]:
    from modelswap.evals import load_suite
    from modelswap.regress import compare

    return compare(load_suite(suite_path), baseline, candidate, thresholds=thresholds, repeat=repeat, out_dir=out_dir,
                   concurrency=concurrency, config=config, judge=judge)


@flow(name="regression", log_prints=False)
def regression(
    suite: str,
    candidate: str,
    baseline: str | None = None,
    repeat: int = 1,
    out_dir: str = "regression-report",
    thresholds: dict[str, float] | None = None,
    concurrency: int = 8,
    config: str | None = None,
    judge: str | None = None,
) -> dict[str, Any]:
    """Run ``suite`` on the baseline and the candidate; publish the verdict, a table and the HTML report.

    Args:
        suite: eval suite (YAML, JSONL or promptfooconfig.yaml).
        candidate: the model to swap in.
        baseline: the model in production; None is the one parameter's current value (the Prefect Variable
            ``modelswap_model``, then the environment, then the config default).
        repeat: runs per case and model.
        out_dir: where report.json, report.md and report.html go (results there make a rerun resume).
        thresholds: ``max_accuracy_drop`` (the non-inferiority margin, default 0.05), ``alpha``, ``min_cases``,
            ``latency_sla_ms``, ``max_error_rate``, ``max_error_increase``, ``max_cost_increase``; they override
            the suite's own and are checked before any call.

    Returns:
        The report; its ``verdict`` is promote (every limit shown to hold), hold (the data cannot tell yet:
        ``comparison.noninferiority.cases_needed`` says about how many cases would) or rollback (a breach
        proven).

    Example:
        >>> from modelswap.flows import regression
        >>> regression("examples/sentiment/suite.yaml", candidate="gemma-chat", baseline="gemma-raw")  # doctest: +SKIP
    """
    from modelswap import Client
    from modelswap.regress import check_bounds, decision_rows

    logger = get_run_logger()
    base = resolve_model(baseline) or Client(config).resolve(None).alias
    report = _compare(suite, base, candidate, repeat, concurrency, config, out_dir, judge, thresholds)
    paths = report["files"]
    models = report["models"]
    create_table_artifact(
        key="regression-models",
        table=[{"role": role, **{k: v for k, v in models[role].items() if not isinstance(v, (list, dict))}}
               for role in ("baseline", "candidate")],
        description=f"{base} vs {candidate}: {report['verdict']}",
    )
    create_table_artifact(
        key="regression-evidence",
        table=[{"check": c["name"], "outcome": c["outcome"], "bounds": check_bounds(c), "cases_needed": c["cases_needed"],
                "detail": c["detail"]} for c in report.get("checks") or ()],
        description=f"{report['verdict']}: " + "; ".join(f"{label}: {value}" for label, value in decision_rows(report)),
    )
    markdown = Path(paths["md"]).read_text() if "md" in paths else f"# {report['verdict']}"
    create_markdown_artifact(key="regression-report", markdown=markdown, description=f"verdict {report['verdict']}")
    if "html" in paths:
        create_link_artifact(key="regression-html", link=Path(paths["html"]).resolve().as_uri(),
                             link_text="report.html", description="the self-contained HTML report")
    logger.info("verdict %s: %s", report["verdict"], "; ".join(report.get("reasons") or []))
    return report


@flow(name="shadow", log_prints=False)
def shadow(
    traffic: str,
    candidate: str,
    assertion: str = "similar",
    threshold: float = 0.8,
    min_agreement: float = 0.9,
    alpha: float = 0.05,
    state: str | None = None,
    since_hours: float | None = None,
    concurrency: int = 8,
    config: str | None = None,
) -> dict[str, Any]:
    """Replay recorded traffic to ``candidate`` and compare, judging the agreement against ``min_agreement``.

    Schedule it hourly: with ``state`` (a JSONL file of earlier comparisons, no text kept) each run replays only
    the requests it has not seen and judges all of them together, on anytime-valid bounds, so the verdict
    (``pass``, ``fail``, ``inconclusive``) stays right however many hours it runs. ``since_hours`` replays only the
    last hours instead (each run then stands alone).

    Example:
        >>> from modelswap.flows import shadow
        >>> shadow("traffic.jsonl", candidate="gemma-chat", min_agreement=0.9)  # doctest: +SKIP
    """
    from modelswap.shadow import iter_traffic, run_replay, verdict_line

    since = time.time() - since_hours * 3600 if since_hours else None
    report = run_replay(iter_traffic(traffic, since=since), candidate, config=config, concurrency=concurrency,
                        assertion=assertion, threshold=threshold, min_agreement=min_agreement, alpha=alpha,
                        state=state)
    rows = [{"side": side, **report[side]} for side in ("recorded", "shadow")]
    create_table_artifact(key="shadow-latency-errors-cost", table=rows,
                          description=f"shadow {candidate}: agreement {report['agreement']}")
    worst = report["disagreements"][:10]
    lines = [f"# Shadow of {candidate}", "", f"**{verdict_line(report)}**", ""]
    lines += [f"- `{p['prompt'][:80]}`: recorded `{(p['recorded'] or '')[:60]}`, shadow `{(p['candidate'] or '')[:60]}`"
              for p in worst]
    create_markdown_artifact(key="shadow-report", markdown="\n".join(lines))
    get_run_logger().info("%s", verdict_line(report))
    return report


@flow(name="rollback-watch", log_prints=False)
def rollback_watch(
    target: str,
    fallback: str,
    live: str | None = None,
    traffic: str | None = None,
    since: float | None = None,
    window_min: float | None = None,
    latency_sla_ms: float | None = None,
    max_error_rate: float | None = None,
    min_requests: int = 20,
    alpha: float = 0.05,
    expected_share: float | None = None,
    audit: str = "modelswap-audit.jsonl",
    dry_run: bool = False,
) -> dict[str, Any]:
    """Evaluate the rollback triggers for the live model; when one trips, re-point the parameter to ``fallback``.

    Schedule it as often as you like: the triggers count every call since ``since`` (default: the live model's
    promotion in ``audit``) on anytime-valid bounds, so hourly looks keep each trigger's false-rollback chance at
    ``alpha`` in all, and a proven breach rolls back at the first look that proves it. ``window_min`` counts only
    the last minutes instead (valid for one look per window).

    Example:
        >>> from modelswap.flows import rollback_watch
        >>> rollback_watch("prefect-variable", fallback="gemma-raw", traffic="traffic.jsonl",  # doctest: +SKIP
        ...                latency_sla_ms=2000, max_error_rate=0.05)
    """
    from modelswap.rollout import evaluate_triggers, parse_target, promoted_at, switch, traffic_split
    from modelswap.shadow import iter_traffic

    where = parse_target(target)
    current = live or where.current()
    if since is None and window_min is None and current:
        since = promoted_at(audit, current)
    rows = list(iter_traffic(traffic)) if traffic else []
    triggers = evaluate_triggers(live=current or "", traffic=rows, since=since,
                                 window_s=window_min * 60 if window_min else None, latency_sla_ms=latency_sla_ms,
                                 max_error_rate=max_error_rate, min_requests=min_requests, alpha=alpha)
    split = traffic_split(rows, current or "", since=since, expected_share=expected_share) if rows else None
    tripped = [t for t in triggers if t["tripped"]]
    record = None
    if tripped and current:
        record = switch(where, fallback, action="rollback", trigger=", ".join(t["name"] for t in tripped),
                        evidence=traffic, audit=audit, dry_run=dry_run, previous=current)
    columns = ("name", "tripped", "status", "value", "threshold", "bounds", "detail")
    create_table_artifact(key="rollback-triggers", table=[{k: t[k] for k in columns} for t in triggers],
                          description=f"live {current}: {'ROLLED BACK' if record else 'ok'}")
    if split and split.get("mismatch"):
        get_run_logger().warning("sample ratio mismatch: %s has %.1f%% of the calls, expected %.1f%%", current,
                                 100 * split["share"], 100 * split["expected_share"])
    return {"live": current, "since": since, "triggers": triggers, "sample_ratio": split, "rolled_back": bool(record),
            "audit": record}
