"""The Prefect flow ``migration``: the model-migration runbook, in order, each step leaving an artifact.

1. **audit** the code for hard-coded models, endpoints and keys (when ``audit_path`` is given);
2. **inventory** every model dependency across the environments' configs, open-weight or API-gated, with
   license and urgency (most urgent first: that is the model to move);
3. **select** the replacement: ``candidate`` if given, else the best-ranked configured model under the license
   policy (the catalog's open-weight shortlist is published alongside, for models not configured yet);
4. **regression** of the candidate against the live model on the eval suite: anything but promote stops here;
5. **shadow**: replay recorded traffic to the candidate (when ``traffic`` is given); agreement not proven at or above
   ``min_agreement`` stops here;
6. **cutover**: point the one parameter (``target``) at the candidate, with an audit record;
7. **watch**: evaluate the rollback triggers on the traffic; **rollback** to the previous model when one trips.

``dry_run=True`` (the default) runs every measurement and writes every artifact, but changes nothing: the
cutover and the rollback are recorded in the audit log as dry runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact

__all__ = ["migration"]


@task(name="modelswap-audit")
def audit_code(path: str, out_dir: str) -> dict[str, Any]:
    from modelswap.audit import scan, to_json

    report = scan(path)
    data = json.loads(to_json(report))
    Path(out_dir, "audit.json").write_text(json.dumps(data, indent=2))
    findings = data.get("findings", [])
    hard = [f for f in findings if f.get("status") == "hard_coded"]
    create_table_artifact(
        key="migration-audit",
        table=[{k: f.get(k) for k in ("file", "line", "kind", "status", "provider", "family", "fix")} for f in hard[:200]],
        description=f"{len(hard)} hard-coded of {len(findings)} findings under {path}",
    )
    return {"findings": len(findings), "hard_coded": len(hard), "path": str(Path(out_dir, "audit.json"))}


@task(name="modelswap-inventory")
def take_inventory(configs: list[str], audit_json: str | None) -> list[dict[str, Any]]:
    from modelswap import load_config
    from modelswap.migrate import build_inventory, load_audit

    loaded = {}
    for item in configs:
        env, _, path = item.rpartition("=")
        loaded[env or Path(path).stem] = load_config(path)
    findings = load_audit(audit_json) if audit_json else ()
    rows = [item.to_dict() for item in build_inventory(loaded, audit=findings)]
    create_table_artifact(
        key="migration-inventory",
        table=[{k: r[k] for k in ("model_id", "provider", "weights", "license", "environments", "urgency")} for r in rows],
        description="every model dependency, most urgent first",
    )
    return rows


@task(name="modelswap-select")
def select_candidate(config: str | None, baseline: str, candidate: str | None, policy: str | None,
                     need_context: int | None) -> dict[str, Any]:
    from modelswap import load_config
    from modelswap.migrate import Need, candidates_from_catalog, candidates_from_config, load_catalog, parse_policy, rank

    loaded = load_config(config)
    catalog = load_catalog()
    rules, need = parse_policy(policy), Need(context_tokens=need_context)
    configured = [c for c in candidates_from_config(loaded, catalog) if c.id != f"config:{baseline}"]
    ranked = rank(configured, rules, need)
    shortlist = rank(candidates_from_catalog(catalog), rules, need)[:5]
    chosen = candidate or (ranked[0].candidate.id.removeprefix("config:") if ranked else None)
    lines = [f"# Replacement for {baseline}", "", f"Chosen: **{chosen or 'none (no configured model passes)'}**", ""]
    lines += [f"- {r.rank}. {r.candidate.name}: " + "; ".join(r.reasons) for r in ranked[:5]]
    lines += ["", "## Open-weight shortlist from the catalog (configure one to test it)", ""]
    lines += [f"- {r.rank}. {r.candidate.name}: " + "; ".join(r.reasons) for r in shortlist]
    create_markdown_artifact(key="migration-select", markdown="\n".join(lines))
    return {"candidate": chosen, "ranked": [r.to_dict() for r in ranked[:5]], "shortlist": [r.to_dict() for r in shortlist]}


@task(name="modelswap-regression")
def run_gate(suite: str, baseline: str, candidate: str, config: str | None, out_dir: str,
             thresholds: dict[str, Any] | None, concurrency: int) -> dict[str, Any]:
    from modelswap.evals import load_suite
    from modelswap.regress import compare

    report = compare(load_suite(suite), baseline, candidate, thresholds=thresholds, out_dir=Path(out_dir, "regression"),
                     config=config, concurrency=concurrency)
    paths = report["files"]
    create_markdown_artifact(key="migration-regression", markdown=Path(paths["md"]).read_text())
    return {"verdict": report["verdict"], "reasons": report["reasons"], "html": str(paths["html"])}


@task(name="modelswap-shadow")
def run_shadow(traffic: str, candidate: str, config: str | None, min_agreement: float) -> dict[str, Any]:
    from modelswap.shadow import iter_traffic, run_replay, verdict_line

    report = run_replay(iter_traffic(traffic), candidate, config=config, min_agreement=min_agreement)
    line = verdict_line(report)
    create_table_artifact(key="migration-shadow", table=[{"side": s, **report[s]} for s in ("recorded", "shadow")],
                          description=line)
    return {"agreement": report["agreement"], "verdict": report["verdict"], "passed": report["passed"],
            "requests": report["requests"], "summary": line}


@flow(name="migration", log_prints=False)
def migration(
    configs: list[str],
    suite: str,
    candidate: str | None = None,
    baseline: str | None = None,
    target: str = "prefect-variable",
    traffic: str | None = None,
    audit_path: str | None = None,
    policy: str | None = None,
    need_context: int | None = None,
    thresholds: dict[str, Any] | None = None,
    min_agreement: float = 0.9,
    latency_sla_ms: float | None = None,
    max_error_rate: float | None = 0.05,
    min_requests: int = 20,
    out_dir: str = "migration-report",
    audit_log: str = "modelswap-audit.jsonl",
    concurrency: int = 8,
    dry_run: bool = True,
) -> dict[str, Any]:
    """Run the migration runbook (see the module docstring) and return what each step decided.

    Args:
        configs: the environments' configs, ``ENV=PATH`` or ``PATH``; the LAST is the one the cutover runs on.
        suite: the eval suite for the regression gate.
        candidate: the replacement alias; None lets the select step choose among the configured models.
        baseline: the live model; None is the one parameter's current value (Prefect Variable, env, default).
        target: where the parameter lives: ``prefect-variable``, ``config:PATH`` or ``configmap:PATH``.
        min_requests: the watch step acts on the new model's latency and errors only with at least this many of
            its calls in ``traffic`` (fewer: reported, not acted on).
        dry_run: measure and report, change nothing (default).

    Example:
        >>> from modelswap.flows import migration
        >>> migration(["prod=modelswap.yaml"], "examples/sentiment/suite.yaml", candidate="gemma-raw",  # doctest: +SKIP
        ...           baseline="gemma-chat", target="config:modelswap.yaml", dry_run=True)
    """
    from modelswap import Client
    from modelswap.rollout import evaluate_triggers, parse_target, switch
    from modelswap.shadow import iter_traffic
    from modelswap.tasks import resolve_model

    logger = get_run_logger()
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    config = configs[-1].rpartition("=")[2]
    steps: dict[str, Any] = {"dry_run": dry_run}
    live = resolve_model(baseline) or Client(config).resolve(None).alias

    audited = audit_code(audit_path, out_dir) if audit_path else None
    steps["audit"] = audited
    steps["inventory"] = take_inventory(configs, audited["path"] if audited else None)
    chosen = select_candidate(config, live, candidate, policy, need_context)
    steps["select"] = {"candidate": chosen["candidate"]}
    new = chosen["candidate"]
    if not new:
        steps["outcome"] = "stopped: no configured model passes the policy"
        return steps

    gate = run_gate(suite, live, new, config, out_dir, thresholds, concurrency)
    steps["regression"] = gate
    if gate["verdict"] != "promote":
        steps["outcome"] = f"stopped at the regression gate: {gate['verdict']}"
        logger.info("%s", steps["outcome"])
        return steps

    if traffic:
        shadowed = run_shadow(traffic, new, config, min_agreement)
        steps["shadow"] = shadowed
        if not shadowed["passed"]:
            steps["outcome"] = f"stopped at shadow traffic ({shadowed['verdict']}): {shadowed['summary']}"
            return steps

    where = parse_target(target)
    steps["cutover"] = switch(where, new, action="promote", trigger="migration", evidence=gate["html"],
                              audit=audit_log, dry_run=dry_run, previous=live)

    rows = list(iter_traffic(traffic)) if traffic else []
    triggers = evaluate_triggers(live=new, traffic=rows, latency_sla_ms=latency_sla_ms, max_error_rate=max_error_rate,
                                 min_requests=min_requests)
    steps["watch"] = triggers
    tripped = [t["name"] for t in triggers if t["tripped"]]
    if tripped:
        steps["rollback"] = switch(where, live, action="rollback", trigger=", ".join(tripped), evidence=traffic,
                                   audit=audit_log, dry_run=dry_run, previous=new)
        steps["outcome"] = f"rolled back to {live}: {', '.join(tripped)}"
    else:
        steps["outcome"] = f"{'would move' if dry_run else 'moved'} {live} -> {new}"
    create_markdown_artifact(
        key="migration-summary",
        markdown=f"# Migration {live} -> {new}\n\n**{steps['outcome']}**\n\n```json\n"
        + json.dumps({k: v for k, v in steps.items() if k != "inventory"}, indent=2, default=str)[:20000] + "\n```",
    )
    logger.info("%s", steps["outcome"])
    return steps
