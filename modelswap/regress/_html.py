"""``report.html``: one self-contained page for a change review.

Inline CSS and inline SVG charts drawn here in Python: no JavaScript, no external stylesheet, font or image,
so it opens offline and passes strict content-security policies. Every string that comes from the report
(model outputs above all: they are untrusted) goes through ``html.escape``. Colours: the Okabe-Ito blue and
vermillion for the two models (distinguishable with the common colour-vision deficiencies), and every
colour-coded mark also carries a text label.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from typing import Any

from . import _format as F

__all__ = ["render_html"]

BASE_COLOUR = "#0072b2"
CAND_COLOUR = "#d55e00"
INK = "#1f2328"
MUTED = "#57606a"
GRID = "#d8dee4"
SLA_COLOUR = "#a40e26"
OUTCOME_COLOURS = {"both pass": "#afb8c1", "regressed": "#cf222e", "fixed": "#0969da", "both fail": "#57606a"}
_SEP = " \u00b7 "
_MAX_REGRESSED = 200
_MAX_FIXED = 100
_MAX_FLAKY = 50
_PREVIEW = 280
_FULL = 4000

_CSS = """
:root{--fg:#1f2328;--muted:#57606a;--line:#d0d7de;--soft:#f6f8fa;--base:#0072b2;--cand:#d55e00}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;color:var(--fg);background:#fff;font:15px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:1120px;margin:0 auto;padding:28px 20px 56px}
h1{font-size:1.55rem;line-height:1.25;margin:.25rem 0 .35rem;font-weight:650}
h2{font-size:1.15rem;margin:2.2rem 0 .7rem;padding-bottom:.3rem;border-bottom:1px solid var(--line)}
h3{font-size:1rem;margin:1.4rem 0 .5rem}
p{margin:.4rem 0}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace;font-size:.88em}
h1 code{font-size:.92em;background:var(--soft);padding:0 .3em;border-radius:4px}
.eyebrow{text-transform:uppercase;letter-spacing:.07em;font-size:.75rem;color:var(--muted);margin:0}
.meta{color:var(--muted);margin:0;font-size:.92rem}
.verdict{border:1px solid;border-left-width:8px;border-radius:8px;padding:14px 18px 12px;margin:20px 0 8px}
.verdict-promote{background:#dafbe1;border-color:#1a7f37;color:#0f3d1d}
.verdict-hold{background:#fff8c5;border-color:#9a6700;color:#3d2a00}
.verdict-rollback{background:#ffebe9;border-color:#cf222e;color:#5c0a10}
.verdict-label{font-size:1.7rem;font-weight:750;letter-spacing:.02em;line-height:1.2}
.verdict-sub{font-size:.9rem;margin:.15rem 0 .3rem}
.reasons{margin:.4rem 0 0;padding-left:1.25rem}
.reasons li{margin:.2rem 0}
.evidence{margin:.6rem 0 0;font-size:.88rem}.evidence th{text-align:left;font-weight:600;padding-right:1rem}
nav.toc{font-size:.88rem;color:var(--muted);margin:.6rem 0 0}
nav.toc a{color:#0550ae;margin-right:.9rem}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{border-bottom:1px solid var(--line);padding:6px 8px;text-align:left;vertical-align:top}
thead th{background:var(--soft);font-weight:600;white-space:nowrap}
tbody th{font-weight:600;white-space:nowrap}
.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.pill{display:inline-block;padding:0 .55em;border-radius:999px;font-size:.78rem;font-weight:650;border:1px solid;white-space:nowrap}
.s-pass,.s-fixed{background:#dafbe1;color:#0f3d1d;border-color:#4ac26b}
.s-hold{background:#fff8c5;color:#3d2a00;border-color:#d4a72c}
.s-rollback,.s-regressed{background:#ffebe9;color:#5c0a10;border-color:#ff8182}
.s-skipped,.s-same{background:var(--soft);color:var(--muted);border-color:var(--line)}
.swatch{display:inline-block;width:.75em;height:.75em;border-radius:2px;margin-right:.35em;vertical-align:-.04em}
.cases td{min-width:7rem}
.cases td.text{max-width:22rem}
.out{white-space:pre-wrap;overflow-wrap:anywhere;font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.8rem;line-height:1.45}
.why{color:var(--muted);font-size:.78rem;margin-top:.25rem}
.err{color:#a40e26;font-size:.82rem;overflow-wrap:anywhere}
details{margin-top:.2rem}
details summary{cursor:pointer;color:#0550ae;font-size:.78rem}
figure{margin:1rem 0 1.4rem}
figcaption{color:var(--muted);font-size:.85rem;margin-top:.2rem}
svg{max-width:100%;height:auto;display:block}
svg text{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;font-size:12px}
.grid2{display:grid;grid-template-columns:repeat(auto-fit,minmax(320px,1fr));gap:8px 28px;align-items:start}
.grid2.wide-right{grid-template-columns:repeat(auto-fit,minmax(min(100%,440px),1fr))}
td.ci{text-align:right;font-variant-numeric:tabular-nums}
.muted{color:var(--muted)}
footer{margin-top:2.5rem;padding-top:.8rem;border-top:1px solid var(--line);color:var(--muted);font-size:.82rem}
@media print{main{max-width:none;padding:0}.verdict{break-inside:avoid}details>*:not(summary){display:block}}
"""


def e(value: Any) -> str:
    """Escaped text (None -> empty)."""
    return "" if value is None else html.escape(str(value), quote=True)


def _text(value: Any) -> str:
    if value is None:
        return ""
    return (
        value
        if isinstance(value, str)
        else json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    )


def _block(value: Any, css: str = "out") -> str:
    """A preview of at most _PREVIEW characters; longer text also goes in a <details> (cut at _FULL)."""
    text = _text(value)
    if not text:
        return (
            '<span class="muted">(empty)</span>' if value is not None else '<span class="muted">\u2014</span>'
        )
    if len(text) <= _PREVIEW:
        return f'<div class="{css}">{e(text)}</div>'
    full = (
        text
        if len(text) <= _FULL
        else text[:_FULL] + f"\u2026 ({len(text) - _FULL:,} more characters in report.json)"
    )
    return (
        f'<div class="{css}">{e(text[:_PREVIEW])}\u2026</div>'
        f'<details><summary>all {len(text):,} characters</summary><div class="{css}">{e(full)}</div></details>'
    )


def _svg_open(width: int, height: int, label: str) -> str:
    return (
        f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" aria-label="{e(label)}">'
        f"<title>{e(label)}</title>"
    )


def _accuracy_svg(mb: Mapping[str, Any], mc: Mapping[str, Any], level: str) -> str:
    width, left, right, row = 500, 190, 486, 44
    top = 14
    height = top + 2 * row + 30
    span = right - left

    def x(v: float) -> float:
        return left + span * max(0.0, min(1.0, v))

    parts = [_svg_open(width, height, f"Accuracy with {level} confidence intervals")]
    for tick in range(0, 101, 20):
        xt = x(tick / 100)
        parts.append(
            f'<line x1="{xt:.1f}" y1="{top - 4}" x2="{xt:.1f}" y2="{top + 2 * row}" stroke="{GRID}"/>'
        )
        parts.append(
            f'<text x="{xt:.1f}" y="{top + 2 * row + 16}" text-anchor="middle" fill="{MUTED}">{tick}%</text>'
        )
    for i, (m, colour, role) in enumerate(((mb, BASE_COLOUR, "baseline"), (mc, CAND_COLOUR, "candidate"))):
        y = top + i * row
        acc = m.get("accuracy")
        ci = m.get("accuracy_ci") or [None, None]
        parts.append(f'<text x="0" y="{y + 15}" font-weight="600">{e(_short(m["alias"], 26))}</text>')
        sub = f"{role} \u00b7 {F.pct(acc)}"
        parts.append(f'<text x="0" y="{y + 31}" fill="{MUTED}">{e(sub)}</text>')
        if acc is not None:
            parts.append(
                f'<rect x="{left}" y="{y + 8}" width="{x(acc) - left:.1f}" height="20" rx="2" fill="{colour}"/>'
            )
        if ci[0] is not None and ci[1] is not None:
            x0, x1, ym = x(ci[0]), x(ci[1]), y + 18
            parts.append(
                f'<g stroke="{INK}" stroke-width="1.6"><line x1="{x0:.1f}" y1="{ym}" x2="{x1:.1f}" y2="{ym}"/>'
                f'<line x1="{x0:.1f}" y1="{ym - 7}" x2="{x0:.1f}" y2="{ym + 7}"/>'
                f'<line x1="{x1:.1f}" y1="{ym - 7}" x2="{x1:.1f}" y2="{ym + 7}"/></g>'
            )
    parts.append("</svg>")
    return "".join(parts)


def _latency_svg(report: Mapping[str, Any]) -> str:
    hist = report.get("latency_histogram")
    if not hist:
        return '<p class="muted">No latency was recorded.</p>'
    models = report["models"]
    sla = (report.get("thresholds") or {}).get("latency_sla_ms")
    width, left, right = 680, 10, 666
    header, bars, axis = 18, 72, 40  # per panel: title line, bar area, tick labels + overflow note
    panel = header + bars + axis
    height = 2 * panel + (20 if sla else 0)
    upper = float(hist["upper_ms"])
    step = float(hist["bin_ms"])
    span = right - left

    def x(v: float) -> float:
        return left + span * max(0.0, min(1.0, v / upper)) if upper > 0 else left

    label = "Latency distribution per model (ms), with p50 and p95 marked" + (
        f" and the SLA of {F.ms(sla)}" if sla else ""
    )
    parts = [_svg_open(width, height, label)]
    peak = max([1, *hist["baseline"], *hist["candidate"]])
    from ._format import nice_step

    tick_step = nice_step(upper, 6)
    ticks = []
    tick = 0.0
    while tick <= upper + 1e-9:
        ticks.append(tick)
        tick += tick_step
    for i, (role, colour) in enumerate((("baseline", BASE_COLOUR), ("candidate", CAND_COLOUR))):
        m = models[role]
        y_title = i * panel + 13
        y_top = i * panel + header + 6
        base_y = i * panel + header + bars
        parts.append(
            f'<text x="{left}" y="{y_title}"><tspan font-weight="600">{e(_short(m["alias"], 40))}</tspan>'
            f'<tspan dx="8" fill="{MUTED}">{role} \u00b7 p50 {e(F.ms(m.get("latency_p50_ms")))} \u00b7 '
            f"p95 {e(F.ms(m.get('latency_p95_ms')))}</tspan></text>"
        )
        bar_w = span * step / upper if upper > 0 else span
        for j, n in enumerate(hist[role]):
            if n:
                h = max((base_y - y_top - 14) * n / peak, 0.8)
                parts.append(
                    f'<rect x="{left + j * bar_w:.1f}" y="{base_y - h:.1f}" width="{max(bar_w - 1, 0.8):.1f}" '
                    f'height="{h:.1f}" fill="{colour}"/>'
                )
        parts.append(f'<line x1="{left}" y1="{base_y}" x2="{right}" y2="{base_y}" stroke="{MUTED}"/>')
        for q, dash in (("p50", "4 3"), ("p95", "")):
            v = m.get(f"latency_{q}_ms")
            if v is None:
                continue
            xv = x(v)
            dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
            parts.append(
                f'<line x1="{xv:.1f}" y1="{y_top}" x2="{xv:.1f}" y2="{base_y}" stroke="{INK}" stroke-width="1.5"{dash_attr}/>'
            )
            anchor = "end" if xv > right - 40 else "start"
            dx = -4 if anchor == "end" else 4
            parts.append(
                f'<text x="{xv + dx:.1f}" y="{y_top + 9}" text-anchor="{anchor}" font-size="11">{q}</text>'
            )
        for n_tick, tick in enumerate(ticks):
            xt = x(tick)
            parts.append(
                f'<line x1="{xt:.1f}" y1="{base_y}" x2="{xt:.1f}" y2="{base_y + 4}" stroke="{MUTED}"/>'
            )
            text = f"{tick:,.0f}" if tick_step >= 1 else f"{tick:g}"
            if n_tick == len(ticks) - 1:
                text += " ms"
            anchor = "end" if xt > right - 24 else "start" if xt < left + 10 else "middle"
            parts.append(
                f'<text x="{xt:.1f}" y="{base_y + 16}" text-anchor="{anchor}" font-size="11" fill="{MUTED}">{text}</text>'
            )
        over = hist["overflow"][role]
        if over:
            parts.append(
                f'<text x="{right}" y="{base_y + 31}" text-anchor="end" font-size="11" fill="{MUTED}">'
                f"the last bar includes {over:,} call{'s' if over != 1 else ''} \u2265 {e(F.ms(upper))}</text>"
            )
    if sla:
        xs = x(float(sla))
        anchor = "end" if xs > right - 60 else "start" if xs < left + 60 else "middle"
        parts.append(
            f'<line x1="{xs:.1f}" y1="{header}" x2="{xs:.1f}" y2="{2 * panel - axis + 4}" stroke="{SLA_COLOUR}" '
            f'stroke-width="2" stroke-dasharray="6 4"/>'
            f'<text x="{xs:.1f}" y="{height - 4}" text-anchor="{anchor}" font-size="11" fill="{SLA_COLOUR}" '
            f'font-weight="600">SLA {e(F.ms(sla))}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _outcomes_svg(mn: Mapping[str, Any]) -> str:
    rows = [
        ("both pass", mn.get("both_pass", 0)),
        ("regressed", mn.get("b", 0)),
        ("fixed", mn.get("c", 0)),
        ("both fail", mn.get("both_fail", 0)),
    ]
    total = sum(n for _, n in rows) or 1
    width, left, right, row = 460, 90, 370, 26
    height = 4 * row + 8
    parts = [_svg_open(width, height, "Paired outcomes per case: " + ", ".join(f"{k} {n}" for k, n in rows))]
    for i, (name, n) in enumerate(rows):
        y = 4 + i * row
        w = (right - left) * n / total
        parts.append(f'<text x="{left - 8}" y="{y + 15}" text-anchor="end">{name}</text>')
        parts.append(
            f'<rect x="{left}" y="{y + 3}" width="{max(w, 1.5 if n else 0):.1f}" height="16" rx="2" fill="{OUTCOME_COLOURS[name]}"/>'
        )
        parts.append(
            f'<text x="{left + w + 6:.1f}" y="{y + 15}" font-weight="{600 if name in ("regressed", "fixed") else 400}">'
            f"{n:,} ({n / total * 100:.1f}%)</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _pill(status: str) -> str:
    return f'<span class="pill s-{e(status)}">{e(status)}</span>'


def _side_cell(side: Mapping[str, Any] | None) -> str:
    if side is None:
        return '<td class="text"><span class="muted">(no result)</span></td>'
    parts = []
    if side.get("error"):
        parts.append(f'<div class="err"><strong>error:</strong> {e(_short(str(side["error"]), 400))}</div>')
    if side.get("output") is not None or not side.get("error"):
        parts.append(_block(side.get("output")))
    failed = [a for a in side.get("assertions") or () if isinstance(a, Mapping) and a.get("passed") is False]
    if failed:
        reasons = "; ".join(
            f"{a.get('type', 'assertion')}: {a.get('reason')}"
            if a.get("reason")
            else str(a.get("type", "assertion"))
            for a in failed[:3]
        )
        parts.append(f'<div class="why">failed {e(_short(reasons, 300))}</div>')
    if (side.get("n_runs") or 1) > 1:
        errors = side.get("errors") or 0
        errored = f", {errors} errored" if errors else ""
        parts.append(
            f'<div class="why">{side["pass_rate"] * 100:.0f}% of {side["n_runs"]} runs passed{errored}</div>'
        )
    return f'<td class="text">{"".join(parts)}</td>'


def _cases_table(cases: Sequence[Mapping[str, Any]], caption: str) -> str:
    rows = []
    for c in cases:
        b, k = c.get("baseline") or {}, c.get("candidate") or {}
        rows.append(
            "<tr>"
            f"<td><code>{e(_short(str(c['case_id']), 60))}</code><br>{_pill(c['changed'])}</td>"
            f'<td class="text">{_block(c.get("prompt"))}</td>'
            f'<td class="text">{_block(c.get("expected"))}</td>'
            f"{_side_cell(c.get('baseline'))}{_side_cell(c.get('candidate'))}"
            f'<td class="num">{e(F.ms(b.get("latency_ms")))}<br>{e(F.ms(k.get("latency_ms")))}</td>'
            "</tr>"
        )
    return (
        '<div class="scroll"><table class="cases">'
        + (f'<caption class="muted" style="text-align:left">{e(caption)}</caption>' if caption else "")
        + "<thead><tr><th>case</th><th>prompt</th><th>expected</th>"
        f'<th><span class="swatch" style="background:{BASE_COLOUR}"></span>baseline output</th>'
        f'<th><span class="swatch" style="background:{CAND_COLOUR}"></span>candidate output</th>'
        '<th class="num">latency<br>b / c</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def render_html(report: Mapping[str, Any]) -> str:
    from ._format import ordered_changes

    verdict = report["verdict"]
    models = report["models"]
    mb, mc = models["baseline"], models["candidate"]
    comp = report["comparison"]
    suite = report.get("suite") or {}
    stats = report.get("stats") or {}
    level = f"{stats.get('confidence', 0.95) * 100:g}%"
    repeat = report.get("repeat", 1)
    out: list[str] = []
    add = out.append

    icon = {"promote": "\u2714", "hold": "\u23f8", "rollback": "\u2716"}.get(verdict, "")
    sub = {
        "promote": "No threshold is breached: the candidate can take over.",
        "hold": "Not enough evidence either way, or the comparison is incomplete: do not cut over yet.",
        "rollback": "The candidate breaches a threshold: keep the baseline.",
    }.get(verdict, "")
    title = f"{verdict.upper()}: {report['baseline']} \u2192 {report['candidate']} \u00b7 modelswap regression report"
    add("<!DOCTYPE html>")
    add('<html lang="en"><head><meta charset="utf-8">')
    add('<meta name="viewport" content="width=device-width, initial-scale=1">')
    add('<meta name="color-scheme" content="light">')
    add(f"<title>{e(title)}</title><style>{_CSS}</style></head><body><main>")

    # Header and verdict
    n_cases = suite.get("n_cases")
    meta = [f"suite <strong>{e(suite.get('name') or '(unnamed)')}</strong>"]
    meta.append(f"{n_cases:,} cases" if isinstance(n_cases, int) else f"{comp['cases']['paired']:,} cases")
    meta.append(f"{repeat} run{'s' if repeat != 1 else ''} per case")
    if suite.get("source"):
        meta.append(f"source <code>{e(suite['source'])}</code>")
    add('<header><p class="eyebrow">modelswap regression report</p>')
    add(f"<h1><code>{e(report['baseline'])}</code> \u2192 <code>{e(report['candidate'])}</code></h1>")
    add(f'<p class="meta">{_SEP.join(meta)}</p></header>')
    add(f'<section class="verdict verdict-{e(verdict)}" aria-label="Verdict: {e(verdict)}">')
    add(f'<div class="verdict-label"><span aria-hidden="true">{icon}</span> {e(verdict.capitalize())}</div>')
    add(f'<p class="verdict-sub">{e(sub)}</p><ul class="reasons">')
    for reason in report["reasons"]:
        add(f"<li>{e(reason)}</li>")
    add("</ul>")
    evidence = F.decision_rows(report)
    if evidence:
        add('<table class="evidence"><tbody>')
        for label, value in evidence:
            add(f'<tr><th scope="row">{e(label)}</th><td>{e(value)}</td></tr>')
        add("</tbody></table>")
    add("</section>")
    add(
        '<nav class="toc" aria-label="Sections"><a href="#models">Models</a><a href="#latency">Latency</a>'
        '<a href="#comparison">Comparison</a><a href="#checks">Checks</a><a href="#cases">Cases</a>'
        + ('<a href="#flaky">Flaky</a>' if repeat > 1 else "")
        + '<a href="#errors">Errors and cost</a></nav>'
    )

    # Models
    add('<section id="models"><h2>Models</h2>')

    def acc_cell(m: Mapping[str, Any]) -> str:
        ci = m.get("accuracy_ci") or [None, None]
        extra = (
            f'<br><span class="muted">{level} CI {F.pct(ci[0])}\u2013{F.pct(ci[1])}</span>'
            if ci[0] is not None
            else ""
        )
        return f"{F.pct(m.get('accuracy'))}{extra}"

    rows = [
        ("Model", lambda m: f'<code>{e(m["provider"])}/{e(m["model_id"])}</code>' if m.get("model_id") else "n/a"),
        ("Accuracy", acc_cell),
        ("Mean score", lambda m: "n/a" if m.get("mean_score") is None else f"{m['mean_score']:.3f}"),
        ("Latency p50", lambda m: e(F.ms(m.get("latency_p50_ms")))),
        ("Latency p95", lambda m: e(F.ms(m.get("latency_p95_ms")))),
        (
            "Error rate",
            lambda m: (
                f'{F.pct(m.get("error_rate"))} <span class="muted">({m["errors"]:,} of {m["n_runs"]:,})</span>'
            ),
        ),
        ("Cost", lambda m: e(F.cost(m.get("cost")))),
        ("Runs", lambda m: f'{m["n_runs"]:,} <span class="muted">({m["n_cases"]:,} cases)</span>'),
    ]
    if repeat > 1:
        rows.append(("Flaky cases", lambda m: f"{m.get('flaky_cases', 0):,}"))
    add(
        '<div class="grid2"><div class="scroll"><table><thead><tr><th></th>'
        f'<th class="num"><span class="swatch" style="background:{BASE_COLOUR}"></span>baseline<br><code>{e(_short(mb["alias"], 40))}</code></th>'
        f'<th class="num"><span class="swatch" style="background:{CAND_COLOUR}"></span>candidate<br><code>{e(_short(mc["alias"], 40))}</code></th>'
        "</tr></thead><tbody>"
    )
    for label, fn in rows:
        add(
            f'<tr><th scope="row">{label}</th><td class="num">{fn(mb)}</td><td class="num">{fn(mc)}</td></tr>'
        )
    add("</tbody></table></div>")
    add(
        f"<figure>{_accuracy_svg(mb, mc, level)}<figcaption>Accuracy (passed runs / all runs; errors count as failures), "
        f"with {level} bootstrap confidence intervals over cases.</figcaption></figure></div></section>"
    )

    # Latency
    add('<section id="latency"><h2>Latency</h2>')
    add(
        f"<figure>{_latency_svg(report)}<figcaption>The latency of every call that reported one; dashed line p50, "
        "solid line p95"
        + (", red dashed line the SLA" if (report.get("thresholds") or {}).get("latency_sla_ms") else "")
        + ".</figcaption></figure></section>"
    )

    # Comparison
    mn = comp["mcnemar"]
    acc_d, lat_d, cost_d = comp["accuracy_delta"], comp["latency_p95_delta_ms"], comp["cost_delta"]
    lat_ci = lat_d.get("ci") or [None, None]
    add('<section id="comparison"><h2>Comparison</h2><div class="grid2 wide-right">')
    add(
        f"<figure>{_outcomes_svg(mn)}<figcaption>Paired outcomes over {comp['cases']['paired']:,} cases answered by both "
        f"models (a case passes when most of its repeats pass). McNemar exact p = {e(F.p_value(mn['p_value']))}."
        "</figcaption></figure>"
    )
    rel = cost_d.get("relative")
    add(
        f'<div class="scroll"><table><thead><tr><th>candidate \u2212 baseline</th><th class="num">value</th><th class="num">{level} CI</th></tr></thead><tbody>'
    )
    add(
        f'<tr><th scope="row">Accuracy</th><td class="num">{e(F.points(acc_d.get("value")))}</td><td class="num">{e(F.ci_points(acc_d.get("ci")))}</td></tr>'
    )
    lat_ci_txt = f"{F.signed_ms(lat_ci[0])} to {F.signed_ms(lat_ci[1])}" if lat_ci[0] is not None else "n/a"
    add(
        f'<tr><th scope="row">Latency p95</th><td class="num">{e(F.signed_ms(lat_d.get("value")))}</td><td class="ci">{e(lat_ci_txt)}</td></tr>'
    )
    p50_d = (comp.get("latency_p50_delta_ms") or {}).get("value")
    add(
        f'<tr><th scope="row">Latency p50</th><td class="num">{e(F.signed_ms(p50_d))}</td><td class="num"></td></tr>'
    )
    err_d = (comp.get("error_rate_delta") or {}).get("value")
    add(
        f'<tr><th scope="row">Error rate</th><td class="num">{e(F.points(err_d))}</td><td class="num"></td></tr>'
    )
    cost_txt = "n/a" if rel is None else f"{F.signed(rel * 100)}%"
    add(f'<tr><th scope="row">Cost</th><td class="num">{e(cost_txt)}</td><td class="num"></td></tr>')
    add(
        f'<tr><th scope="row">McNemar</th><td class="num">{mn["b"]:,} regressed / {mn["c"]:,} fixed</td>'
        f'<td class="num">p = {e(F.p_value(mn["p_value"]))}</td></tr>'
    )
    add("</tbody></table></div></div></section>")

    metrics = report.get("metrics") or {}
    if metrics:
        add(
            '<section id="metrics"><h2>Metrics</h2><p>Assertions grouped by their <code>metric</code> name: mean '
            'score, and assertions passed.</p><div class="scroll"><table><thead><tr><th>metric</th>'
            '<th class="num">baseline</th><th class="num">candidate</th></tr></thead><tbody>'
        )
        for name, sides in metrics.items():
            cells = "".join(
                f'<td class="num">{e(F.pct(m["score"]))} ({m["passed"]:,}/{m["total"]:,})</td>'
                if m.get("score") is not None else '<td class="num">n/a</td>'
                for m in (sides["baseline"], sides["candidate"])
            )
            add(f"<tr><td><code>{e(name)}</code></td>{cells}</tr>")
        add("</tbody></table></div></section>")

    # Checks
    add(
        '<section id="checks"><h2>Checks</h2><div class="scroll"><table><thead><tr><th>check</th><th>status</th>'
        '<th class="num">value</th><th class="num">threshold</th><th>bounds</th><th>detail</th></tr></thead><tbody>'
    )
    for chk in report["checks"]:
        add(
            f"<tr><td><code>{e(chk['name'])}</code></td><td>{_pill(chk['status'])}</td>"
            f'<td class="num">{e(F.check_value(chk["name"], chk["value"]))}</td>'
            f'<td class="num">{e(F.check_threshold(chk["name"], chk["threshold"]))}</td>'
            f'<td>{e(F.check_bounds(chk))}</td><td>{e(chk["detail"])}</td></tr>'
        )
    add("</tbody></table></div></section>")

    preflight = [c for c in report.get("preflight") or () if isinstance(c, Mapping)]
    if preflight:
        add(
            '<section id="preflight"><h2>Pre-flight</h2><div class="scroll"><table><thead><tr><th>check</th>'
            "<th>result</th><th>detail</th></tr></thead><tbody>"
        )
        for chk in preflight:
            status = "pass" if chk.get("passed") else "rollback"
            label = "pass" if chk.get("passed") else "fail"
            add(
                f'<tr><td><code>{e(chk.get("name"))}</code></td><td><span class="pill s-{status}">{label}</span></td>'
                f"<td>{e(chk.get('detail'))}</td></tr>"
            )
        add("</tbody></table></div></section>")

    # Cases
    regressed, fixed = ordered_changes(report)
    add('<section id="cases"><h2>Cases that changed</h2>')
    add(
        f"<p>{len(regressed):,} regressed (the baseline passed, the candidate failed) and {len(fixed):,} fixed. "
        "Biggest changes first; every case is in <code>report.json</code>.</p>"
    )
    for name, group, cap in (("Regressed", regressed, _MAX_REGRESSED), ("Fixed", fixed, _MAX_FIXED)):
        add(f"<h3>{name}: {len(group):,}</h3>")
        if not group:
            add('<p class="muted">None.</p>')
            continue
        caption = (
            f"the first {cap:,} of {len(group):,}; the rest are in report.json" if len(group) > cap else ""
        )
        add(_cases_table(group[:cap], caption))
    add("</section>")

    if repeat > 1:
        flaky = [
            c
            for c in report["cases"]
            if any((c.get(r) or {}).get("flaky") for r in ("baseline", "candidate"))
        ]
        add(f'<section id="flaky"><h2>Flaky cases: {len(flaky):,}</h2>')
        if flaky:
            add("<p>Cases whose repeats disagree; the share of repeats that passed:</p>")
            add(
                '<div class="scroll"><table><thead><tr><th>case</th><th class="num">baseline</th><th class="num">candidate</th><th>prompt</th></tr></thead><tbody>'
            )
            for c in flaky[:_MAX_FLAKY]:
                cells = [F.pct((c.get(r) or {}).get("pass_rate"), 0) for r in ("baseline", "candidate")]
                add(
                    f'<tr><td><code>{e(_short(str(c["case_id"]), 60))}</code></td><td class="num">{cells[0]}</td>'
                    f'<td class="num">{cells[1]}</td><td class="text">{_block(c.get("prompt"))}</td></tr>'
                )
            add("</tbody></table></div>")
            if len(flaky) > _MAX_FLAKY:
                add(f'<p class="muted">\u2026 and {len(flaky) - _MAX_FLAKY:,} more in report.json.</p>')
        else:
            add('<p class="muted">None: every case gave the same result on every repeat.</p>')
        add("</section>")

    # Errors and cost
    add('<section id="errors"><h2>Errors and cost</h2><div class="grid2">')
    for role, m, colour in (("baseline", mb, BASE_COLOUR), ("candidate", mc, CAND_COLOUR)):
        add(
            f'<div><h3><span class="swatch" style="background:{colour}"></span>{role} <code>{e(_short(m["alias"], 40))}</code></h3>'
        )
        add(
            f"<p>{m['errors']:,} errored call{'s' if m['errors'] != 1 else ''} of {m['n_runs']:,} ({F.pct(m.get('error_rate'))}).</p>"
        )
        types = m.get("error_types") or {}
        if types:
            examples = m.get("error_examples") or {}
            add(
                '<div class="scroll"><table><thead><tr><th>error</th><th class="num">calls</th><th>example</th></tr></thead><tbody>'
            )
            for kind, n in list(types.items())[:8]:
                add(
                    f'<tr><td><code>{e(kind)}</code></td><td class="num">{n:,}</td>'
                    f'<td class="err">{e(_short(str(examples.get(kind, "")), 200))}</td></tr>'
                )
            add("</tbody></table></div>")
        unknown = m.get("cost_unknown_runs") or 0
        add(
            "<table><tbody>"
            f'<tr><th scope="row">Input tokens</th><td class="num">{e(F.count(m.get("input_tokens")))}</td></tr>'
            f'<tr><th scope="row">Output tokens</th><td class="num">{e(F.count(m.get("output_tokens")))}</td></tr>'
            f'<tr><th scope="row">Cost</th><td class="num">{e(F.cost(m.get("cost")))}</td></tr>'
            + (
                f'<tr><th scope="row">Calls without a price</th><td class="num">{unknown:,}</td></tr>'
                if unknown
                else ""
            )
            + "</tbody></table></div>"
        )
    add("</div>")
    if cost_d.get("value") is not None:
        add(
            f"<p>Cost change: {e(F.cost(cost_d['value']) if cost_d['value'] < 0 else '+' + F.cost(cost_d['value']))}"
            + (f" ({e(F.signed(rel * 100))}%)" if rel is not None else "")
            + " in the configured price's currency.</p>"
        )
    add("</section>")

    add(
        "<footer><p>Accuracy counts errored calls as failures. A case passes when most of its repeats pass (a tie: mean "
        f"score \u2265 0.5). Intervals: percentile bootstrap over cases, {stats.get('n_resamples', 0):,} resamples, seed "
        f"{e(stats.get('seed', 0))}; the deltas are paired by case. McNemar: exact two-sided binomial test on the regressed "
        f"and fixed cases. Both are shown for reference; the verdict is decided on one-sided bounds (Tango's paired "
        f"score test for accuracy, Clopper-Pearson for rates, an order statistic for p95, the delta method for the "
        f"cost ratio). Latency percentiles interpolate linearly.</p><p>Generated by modelswap "
        f"{e(report.get('modelswap_version', '?'))} at {e(report.get('generated_at', '?'))}.</p></footer>"
    )
    add("</main></body></html>")
    return "\n".join(out) + "\n"
