"""Numbers and orderings shared by the report builder, the verdict sentences, report.md and report.html."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

MINUS = "\u2212"  # typographic minus: "−51.5 points"


def signed(x: float, digits: int = 1) -> str:
    """``+1.5`` / ``−1.5`` / ``0.0`` with a typographic minus."""
    text = f"{abs(x):,.{digits}f}"
    if float(text.replace(",", "")) == 0.0:
        return text
    return ("+" if x > 0 else MINUS) + text


def pct(x: float | None, digits: int = 1) -> str:
    """A rate as a percentage: ``0.925`` -> ``92.5%``; ``n/a`` for None."""
    return "n/a" if x is None else f"{x * 100:.{digits}f}%"


def points(delta: float | None, digits: int = 1) -> str:
    """A rate difference in percentage points: ``-0.515`` -> ``−51.5 points``."""
    return "n/a" if delta is None else f"{signed(delta * 100, digits)} points"


def ci_points(ci: list[float | None] | tuple[float | None, float | None] | None, digits: int = 1) -> str:
    """``−63.2 to −40.1`` (percentage points), or ``n/a``."""
    if not ci or ci[0] is None or ci[1] is None:
        return "n/a"
    return f"{signed(ci[0] * 100, digits)} to {signed(ci[1] * 100, digits)}"


def p_value(p: float | None) -> str:
    """``1.2e-09``, ``0.034``, ``0.62``, ``1``."""
    if p is None:
        return "n/a"
    if p == 0.0:
        return "< 1e-300"
    if p < 0.001:
        return f"{p:.1e}"
    return f"{p:.2g}"


def ms(x: float | None) -> str:
    """Milliseconds for humans: ``1,234 ms``, ``12.3 ms``, ``0.41 ms``."""
    if x is None:
        return "n/a"
    if abs(x) >= 100:
        return f"{x:,.0f} ms"
    if abs(x) >= 10:
        return f"{x:.1f} ms"
    return f"{x:.2f} ms"


def signed_ms(x: float | None) -> str:
    if x is None:
        return "n/a"
    digits = 0 if abs(x) >= 100 else 1 if abs(x) >= 10 else 2
    return f"{signed(x, digits)} ms"


def cost(x: float | None) -> str:
    """A cost in the configured price's currency (USD unless the config says otherwise)."""
    if x is None:
        return "n/a"
    if x == 0:
        return "0"
    if abs(x) >= 100:
        return f"{x:,.2f}"
    return f"{x:.4g}" if abs(x) < 0.01 else f"{x:.4f}".rstrip("0").rstrip(".")


def count(x: int | None) -> str:
    return "n/a" if x is None else f"{x:,}"


def finite(x: float | None) -> float | None:
    """None for None, NaN and infinities, so reports stay strict JSON."""
    if x is None or not math.isfinite(x):
        return None
    return float(x)


def check_value(name: str, value: float | None) -> str:
    """A check's value in its natural unit."""
    if value is None:
        return "n/a"
    if name == "accuracy":
        return points(value)
    if name in ("error_rate", "baseline_health"):
        return pct(value)
    if name == "latency_p95":
        return ms(value)
    if name == "cost":
        return f"{signed(value * 100)}%"
    if name == "sample_size":
        return f"{int(value):,} cases"
    return str(value)


def check_threshold(name: str, value: float | None) -> str:
    """A check's threshold in its natural unit (``—`` when none was given)."""
    if value is None:
        return "\u2014"
    if name == "accuracy":
        return f"\u2265 {points(value)}"
    if name in ("error_rate", "baseline_health"):
        return f"\u2264 {pct(value)}"
    if name == "latency_p95":
        return f"\u2264 {ms(value)}"
    if name == "cost":
        return f"\u2264 {signed(value * 100)}%"
    if name == "sample_size":
        return f"\u2265 {int(value):,} cases"
    return str(value)


def decision_rows(report: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The evidence behind the verdict as (label, text) rows, for report.md and report.html alike: the margin,
    the bounds of the accuracy difference, the margin the data rule out, and the cases that would decide."""
    ni = (report.get("comparison") or {}).get("noninferiority")
    rows: list[tuple[str, str]] = []
    if ni:
        level = f"{ni['confidence'] * 100:g}%"
        margin = ni["margin"]
        rows.append(("Margin (largest acceptable drop)", f"{margin * 100:g} points" if margin else
                     "0: only a proven gain promotes"))
        rows.append((f"Accuracy difference, one-sided {level} bounds",
                     f"{signed(ni['lower'] * 100)} to {signed(ni['upper'] * 100)} points"))
        if ni["upper"] < 0:
            rows.append(("Drop the data prove", f"at least {-ni['upper'] * 100:.1f} points"))
        else:
            rows.append(("Drops the data rule out", f"any larger than {ni['provable_margin'] * 100:.1f} points"
                         if ni["provable_margin"] > 0 else "any drop"))
        exact = "exact" if ni.get("exact") else "asymptotic"
        deff = f", design effect {ni['design_effect']:.2f}" if (ni.get("design_effect") or 1) > 1 else ""
        rows.append(("Accuracy test", f"{ni['outcome']} (Tango's paired score test, {exact}{deff})"))
    needed = cases_needed(report)
    if needed:
        rows.append(("To decide", f"about {needed:,} paired cases (80% power at what was observed)"))
    return rows


def cases_needed(report: Mapping[str, Any]) -> int | None:
    """For a hold: the most cases any inconclusive check needs to decide (``None`` otherwise)."""
    if report.get("verdict") != "hold":
        return None
    return max((c["cases_needed"] for c in report.get("checks") or ()
                if c.get("status") == "hold" and c.get("cases_needed")), default=None)


def accuracy_evidence(ni: Mapping[str, Any]) -> str:
    """One line for the accuracy test: margin, bounds, outcome, and what the data rule out or prove."""
    head = (f"margin {ni['margin'] * 100:g} points; one-sided {ni['confidence'] * 100:g}% bounds of the difference "
            f"{signed(ni['lower'] * 100)} to {signed(ni['upper'] * 100)} points: {ni['outcome']}")
    if ni["upper"] < 0:
        return f"{head}; the data prove a drop of at least {-ni['upper'] * 100:.1f} points"
    if ni["provable_margin"] > 0:
        return f"{head}; the data rule out a drop larger than {ni['provable_margin'] * 100:.1f} points"
    return f"{head}; the data rule out any drop"


def check_bounds(chk: Mapping[str, Any]) -> str:
    """A check's one-sided bounds in its natural unit, or an empty string."""
    b = chk.get("bounds") or {}
    name = chk.get("name")
    if name == "accuracy" and "lower" in b:
        return f"{signed(b['lower'] * 100)} to {signed(b['upper'] * 100)} points"
    if name == "error_rate" and ("lower" in b or "increase_lower" in b):
        parts = [f"{pct(b['lower'])} to {pct(b['upper'])}"] if "lower" in b else []
        if "increase_lower" in b:
            parts.append(f"increase {signed(b['increase_lower'] * 100)} to {signed(b['increase_upper'] * 100)} points")
        return "; ".join(parts)
    if name == "latency_p95" and "slow_share_lower" in b:
        upper = b.get("p95_upper_ms")
        return (f"p95 \u2264 {ms(upper)}; " if upper is not None else "") + (
            f"slower than SLA {pct(b['slow_share_lower'])} to {pct(b['slow_share_upper'])}")
    if name == "cost" and "ratio_lower" in b:
        return f"ratio {b['ratio_lower']:.3f} to {b['ratio_upper']:.3f}"
    return ""


def nice_step(span: float, target: int) -> float:
    """A round step (1, 2, 2.5 or 5 times a power of ten) that cuts ``span`` into about ``target`` parts."""
    if span <= 0:
        return 1.0
    raw = span / target
    power = 10.0 ** math.floor(math.log10(raw))
    for m in (1.0, 2.0, 2.5, 5.0, 10.0):
        if raw <= m * power:
            return m * power
    return 10.0 * power  # pragma: no cover


def _severity(case: Mapping[str, Any]) -> tuple[float, float]:
    b, c = case["baseline"], case["candidate"]
    return ((b["pass_rate"] - c["pass_rate"]), ((b["score"] or 0.0) - (c["score"] or 0.0)))


def ordered_changes(report: Mapping[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(regressed, fixed) cases, the biggest change first (pass-rate drop, then score drop), else suite order."""
    regressed = [c for c in report["cases"] if c["changed"] == "regressed"]
    fixed = [c for c in report["cases"] if c["changed"] == "fixed"]
    regressed.sort(key=lambda c: tuple(-x for x in _severity(c)))
    fixed.sort(key=_severity)
    return regressed, fixed
