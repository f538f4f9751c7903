"""``report.md``: the verdict first, then why, the models side by side, the comparison, the checks and the
cases that changed (regressed first). Text from model outputs is escaped: it cannot add links, HTML or
table columns."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from . import _format as F

__all__ = ["render_markdown"]

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")
# Only what could start a tag or an entity is escaped, so "p < 0.05" stays readable in the raw file.
_HTML_START = re.compile(r"<(?=[A-Za-z/!?])|&(?=[#A-Za-z])")


def _inert(text: str) -> str:
    return _MD_SPECIAL.sub(r"\\\1", _HTML_START.sub(lambda m: "&lt;" if m.group() == "<" else "&amp;", text))


_TOP = 20


def preview(value: Any, limit: int) -> str:
    """One line of at most ``limit`` characters (whitespace collapsed, an ellipsis when cut)."""
    if value is None:
        return ""
    text = (
        value
        if isinstance(value, str)
        else json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    )
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def cell(value: Any, limit: int = 100) -> str:
    """Safe inside a markdown table cell: no HTML, links, emphasis or pipes survive."""
    return _inert(preview(value, limit)) or " "


def text(value: str) -> str:
    """Prose from the report (reasons, details) made inert: no HTML, links or emphasis; not shortened."""
    return _inert(" ".join(value.split()))


def code(value: str) -> str:
    """An inline code span for an alias or an id (backticks inside are replaced)."""
    return "`" + value.replace("`", "'").replace("\n", " ") + "`"


def _side_cell(side: Mapping[str, Any] | None, limit: int) -> str:
    if side is None:
        return "*(no result)*"
    if side.get("error"):
        return "**error:** " + cell(side["error"], limit)
    out = cell(side.get("output"), limit)
    n = side.get("n_runs", 1)
    if n > 1:
        errors = side.get("errors") or 0
        out += f" ({side['pass_rate'] * 100:.0f}% of {n} runs passed" + (
            f", {errors} errored)" if errors else ")"
        )
    return out


def _case_rows(cases: list[Mapping[str, Any]]) -> list[str]:
    rows = [
        "| case | prompt | expected | baseline output | candidate output | latency b \u2192 c |",
        "|---|---|---|---|---|---:|",
    ]
    for c in cases:
        b, k = c.get("baseline"), c.get("candidate")
        lat = f"{F.ms((b or {}).get('latency_ms'))} \u2192 {F.ms((k or {}).get('latency_ms'))}"
        rows.append(
            f"| {cell(c['case_id'], 40)} | {cell(c.get('prompt'), 80)} | {cell(c.get('expected'), 50)} | "
            f"{_side_cell(b, 90)} | {_side_cell(k, 90)} | {lat} |"
        )
    return rows


def render_markdown(report: Mapping[str, Any]) -> str:
    from ._format import decision_rows, ordered_changes

    verdict = report["verdict"]
    models = report["models"]
    mb, mc = models["baseline"], models["candidate"]
    comp = report["comparison"]
    suite = report.get("suite") or {}
    conf = report.get("stats", {}).get("confidence", 0.95)
    level = f"{conf * 100:g}%"
    repeat = report.get("repeat", 1)
    lines: list[str] = []
    add = lines.append

    add(f"# Verdict: {verdict.upper()}")
    add("")
    suite_name = suite.get("name") or "(unnamed suite)"
    n_cases = suite.get("n_cases")
    cases_txt = f"{n_cases:,} cases" if isinstance(n_cases, int) else f"{comp['cases']['paired']:,} cases"
    add(
        f"{code(report['baseline'])} (baseline) \u2192 {code(report['candidate'])} (candidate) on suite "
        f"{code(str(suite_name))} ({cases_txt}, {repeat} run{'s' if repeat != 1 else ''} each)."
    )
    if suite.get("source"):
        add(f"Suite source: {code(str(suite['source']))}.")
    add("")
    add("## Why")
    add("")
    for reason in report["reasons"]:
        add(f"- {text(reason)}")
    add("")
    evidence = decision_rows(report)
    if evidence:
        add("## Evidence")
        add("")
        add("| | |")
        add("|---|---|")
        for label, value in evidence:
            add(f"| {label} | {text(value)} |")
        add("")

    add("## Models")
    add("")
    add(f"| | baseline {code(mb['alias'])} | candidate {code(mc['alias'])} |")
    add("|---|---:|---:|")

    def acc(m: Mapping[str, Any]) -> str:
        ci = m.get("accuracy_ci") or [None, None]
        ci_txt = f" ({level} CI {F.pct(ci[0])}\u2013{F.pct(ci[1])})" if ci[0] is not None else ""
        return f"{F.pct(m['accuracy'])}{ci_txt}"

    def errs(m: Mapping[str, Any]) -> str:
        return f"{F.pct(m['error_rate'])} ({m['errors']:,} of {m['n_runs']:,})"

    def cost(m: Mapping[str, Any]) -> str:
        unknown = m.get("cost_unknown_runs") or 0
        return F.cost(m.get("cost")) + (f" ({unknown:,} calls without a price)" if unknown else "")

    rows = [
        ("Model", lambda m: code(f"{m['provider']}/{m['model_id']}") if m.get("model_id") else "n/a"),
        ("Accuracy", acc),
        ("Mean score", lambda m: "n/a" if m.get("mean_score") is None else f"{m['mean_score']:.3f}"),
        ("Latency p50", lambda m: F.ms(m.get("latency_p50_ms"))),
        ("Latency p95", lambda m: F.ms(m.get("latency_p95_ms"))),
        ("Error rate", errs),
        ("Input tokens", lambda m: F.count(m.get("input_tokens"))),
        ("Output tokens", lambda m: F.count(m.get("output_tokens"))),
        ("Cost", cost),
        ("Runs", lambda m: f"{m['n_runs']:,} ({m['n_cases']:,} cases)"),
    ]
    if repeat > 1:
        rows.append(("Flaky cases", lambda m: f"{m.get('flaky_cases', 0):,}"))
    for label, fn in rows:
        add(f"| {label} | {fn(mb)} | {fn(mc)} |")
    add("")

    add("## Comparison")
    add("")
    mn = comp["mcnemar"]
    acc_d, lat_d, cost_d = comp["accuracy_delta"], comp["latency_p95_delta_ms"], comp["cost_delta"]
    add(f"| | candidate \u2212 baseline | {level} CI |")
    add("|---|---:|---:|")
    add(f"| Accuracy | {F.points(acc_d['value'])} | {F.ci_points(acc_d['ci'])} |")
    lat_ci = lat_d.get("ci") or [None, None]
    lat_ci_txt = f"{F.signed_ms(lat_ci[0])} to {F.signed_ms(lat_ci[1])}" if lat_ci[0] is not None else "n/a"
    add(f"| Latency p95 | {F.signed_ms(lat_d['value'])} | {lat_ci_txt} |")
    rel = cost_d.get("relative")
    cost_txt = (
        F.cost(cost_d["value"])
        if cost_d["value"] is None or cost_d["value"] < 0
        else "+" + F.cost(cost_d["value"])
    )
    add(f"| Cost | {cost_txt}" + (f" ({F.signed(rel * 100)}%)" if rel is not None else "") + " | |")
    add("")
    add(
        f"Paired outcomes over {comp['cases']['paired']:,} cases: {mn['both_pass']:,} both pass, "
        f"**{mn['b']:,} regressed**, {mn['c']:,} fixed, {mn['both_fail']:,} both fail; "
        f"McNemar exact p = {F.p_value(mn['p_value'])}."
    )
    add("")

    metrics = report.get("metrics") or {}
    if metrics:
        add("## Metrics")
        add("")
        add("Assertions grouped by their `metric` name: mean score, and assertions passed.")
        add("")
        add("| metric | baseline | candidate |")
        add("|---|---:|---:|")
        for name, sides in metrics.items():
            cells = [
                f"{F.pct(m['score'])} ({m['passed']:,}/{m['total']:,})" if m.get("score") is not None else "n/a"
                for m in (sides["baseline"], sides["candidate"])
            ]
            add(f"| {text(name)} | {cells[0]} | {cells[1]} |")
        add("")

    add("## Checks")
    add("")
    add("| check | status | outcome | value | threshold | bounds | detail |")
    add("|---|---|---|---:|---:|---|---|")
    for chk in report["checks"]:
        add(
            f"| {chk['name']} | {chk['status']} | {chk.get('outcome', '')} | {F.check_value(chk['name'], chk['value'])} | "
            f"{F.check_threshold(chk['name'], chk['threshold'])} | {text(F.check_bounds(chk))} | {text(chk['detail'])} |"
        )
    add("")

    preflight = [c for c in report.get("preflight") or () if isinstance(c, Mapping)]
    if preflight:
        add("## Pre-flight")
        add("")
        add("| check | result | detail |")
        add("|---|---|---|")
        for chk in preflight:
            result = "pass" if chk.get("passed") else "**fail**"
            add(f"| {cell(chk.get('name'), 40)} | {result} | {text(str(chk.get('detail') or ''))} |")
        add("")

    regressed, fixed = ordered_changes(report)
    for title, group in (("Regressed cases", regressed), ("Fixed cases", fixed)):
        shown = group[:_TOP]
        more = f" (the first {_TOP}; all are in report.json)" if len(group) > _TOP else ""
        add(f"## {title}: {len(group):,}{more}")
        add("")
        if shown:
            lines.extend(_case_rows(shown))
        else:
            add("None.")
        add("")

    if repeat > 1:
        flaky = [
            c
            for c in report["cases"]
            if any((c.get(r) or {}).get("flaky") for r in ("baseline", "candidate"))
        ]
        add(f"## Flaky cases: {len(flaky):,}")
        add("")
        if flaky:
            add("Cases whose repeats disagree (pass rate over the repeats):")
            add("")
            add("| case | baseline | candidate |")
            add("|---|---:|---:|")
            for c in flaky[:_TOP]:
                cells = [F.pct((c.get(r) or {}).get("pass_rate"), 0) for r in ("baseline", "candidate")]
                add(f"| {cell(c['case_id'], 40)} | {cells[0]} | {cells[1]} |")
            if len(flaky) > _TOP:
                add("")
                add(f"\u2026 and {len(flaky) - _TOP:,} more in report.json.")
        else:
            add("None: every case gave the same result on every repeat.")
        add("")

    add("---")
    add("")
    add(
        f"Accuracy counts errored calls as failures. A case passes when most of its repeats pass (a tie: mean "
        f"score \u2265 0.5). Intervals: percentile bootstrap over cases, {report.get('stats', {}).get('n_resamples', 0):,} "
        f"resamples, seed {report.get('stats', {}).get('seed', 0)}; the deltas are paired. McNemar: exact two-sided "
        f"binomial test on the regressed and fixed cases. Generated by modelswap {report.get('modelswap_version', '?')} "
        f"at {report.get('generated_at', '?')}."
    )
    add("")
    return "\n".join(lines)
