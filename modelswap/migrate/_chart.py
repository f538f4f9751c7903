"""Charts as hand-written SVG (no plotting dependency): the break-even chart of ``modelswap cost --chart``.

The document is plain SVG 1.1 that browsers, GitHub and CI artifact viewers show as is. Elements a test or a
stylesheet may want carry ids: ``series-api``, ``series-self-host``, ``break-even``, ``current-volume``,
``legend``, ``x-axis`` and ``y-axis``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Sequence
from xml.sax.saxutils import escape, quoteattr

from ._common import fmt_tokens

if TYPE_CHECKING:
    from ._cost import CostResult

__all__ = ["Series", "cost_chart_svg", "line_chart_svg", "nice_ticks"]

_API_COLOUR = "#1f77b4"
_SELF_HOST_COLOUR = "#d62728"
_MAX_POINTS = 4000


@dataclass(frozen=True, slots=True)
class Series:
    id: str
    label: str
    points: Sequence[tuple[float, float]]
    colour: str
    dash: str | None = None


@dataclass(frozen=True, slots=True)
class Marker:
    id: str
    x: float
    y: float | None  # None: a vertical line across the plot
    label: str
    colour: str = "#333333"


def nice_ticks(top: float, count: int = 5) -> list[float]:
    """Round tick values from 0 to at least ``top``: steps of 1, 2 or 5 x 10^k."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    ticks = [0.0]
    while ticks[-1] < top - 1e-12 * top:
        ticks.append(round(ticks[-1] + step, 12))
    return ticks


def _money_short(amount: float) -> str:
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(amount) >= size:
            return f"${amount / size:.3g}{suffix}"
    return f"${amount:.3g}"


def line_chart_svg(series: Sequence[Series], markers: Sequence[Marker], *, title: str, x_label: str, y_label: str,
                   x_format: Callable[[float], str] = fmt_tokens, y_format: Callable[[float], str] = _money_short,
                   subtitle: str | None = None, width: int = 820, height: int = 500) -> str:
    """A line chart from ``0`` to the largest x and y of the series, with axes, ticks, a legend and markers."""
    left, right, top, bottom = 86, 24, 88, 74
    plot_w, plot_h = width - left - right, height - top - bottom
    xs = [x for s in series for x, _ in s.points] + [m.x for m in markers]
    ys = [y for s in series for _, y in s.points] + [m.y for m in markers if m.y is not None]
    x_ticks = nice_ticks(max(xs, default=1.0))
    y_ticks = nice_ticks(max(ys, default=1.0) * 1.05)
    x_max, y_max = x_ticks[-1] or 1.0, y_ticks[-1] or 1.0

    def px(x: float) -> float:
        return round(left + plot_w * x / x_max, 2)

    def py(y: float) -> float:
        return round(top + plot_h * (1 - y / y_max), 2)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        'font-family="Helvetica, Arial, sans-serif" font-size="12">',
        f"<title>{escape(title)}</title>",
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>',
        f'<text x="{width / 2}" y="26" text-anchor="middle" font-size="16" font-weight="bold">{escape(title)}</text>',
    ]
    if subtitle:
        out.append(f'<text x="{width / 2}" y="44" text-anchor="middle" fill="#555555">{escape(subtitle)}</text>')
    # Grid and axes.
    out.append('<g id="y-axis">')
    for t in y_ticks:
        out.append(f'<line x1="{left}" y1="{py(t)}" x2="{left + plot_w}" y2="{py(t)}" stroke="#e5e5e5"/>')
        out.append(f'<text x="{left - 8}" y="{py(t) + 4}" text-anchor="end">{escape(y_format(t))}</text>')
    out.append(f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#333333"/>')
    out.append(f'<text x="18" y="{top + plot_h / 2}" text-anchor="middle" '
               f'transform="rotate(-90 18 {top + plot_h / 2})">{escape(y_label)}</text>')
    out.append("</g>")
    out.append('<g id="x-axis">')
    for t in x_ticks:
        out.append(f'<line x1="{px(t)}" y1="{top + plot_h}" x2="{px(t)}" y2="{top + plot_h + 5}" stroke="#333333"/>')
        out.append(f'<text x="{px(t)}" y="{top + plot_h + 19}" text-anchor="middle">{escape(x_format(t))}</text>')
    out.append(f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#333333"/>')
    out.append(f'<text x="{left + plot_w / 2}" y="{height - 18}" text-anchor="middle">{escape(x_label)}</text>')
    out.append("</g>")
    # Series.
    for s in series:
        points = " ".join(f"{px(x)},{py(y)}" for x, y in s.points)
        dash = f' stroke-dasharray="{s.dash}"' if s.dash else ""
        out.append(f'<polyline id={quoteattr(s.id)} fill="none" stroke="{s.colour}" stroke-width="2.5"{dash} '
                   f'points="{points}"><title>{escape(s.label)}</title></polyline>')
    # Markers.
    for m in markers:
        label = escape(m.label)
        if m.y is None:
            anchor = "end" if px(m.x) > left + plot_w * 0.8 else "start"
            shift = -6 if anchor == "end" else 6
            out.append(f'<g id={quoteattr(m.id)}><line x1="{px(m.x)}" y1="{top}" x2="{px(m.x)}" y2="{top + plot_h}" '
                       f'stroke="{m.colour}" stroke-dasharray="6 4"/>'
                       f'<text x="{px(m.x) + shift}" y="{top + 14}" text-anchor="{anchor}" fill="{m.colour}" '
                       f'stroke="#ffffff" stroke-width="4" paint-order="stroke">{label}</text></g>')
        else:
            # Above and to the left of the point when there is room: the rising API line is below it there.
            cx, cy = px(m.x), py(m.y)
            anchor = "end" if cx > left + 280 else "start"
            tx = cx - 14 if anchor == "end" else cx + 14
            ty = max(top + 16, cy - 44)
            out.append(f'<g id={quoteattr(m.id)}><line x1="{cx}" y1="{cy}" x2="{tx}" y2="{ty + 4}" stroke="{m.colour}" '
                       f'stroke-width="1"/><circle cx="{cx}" cy="{cy}" r="6" fill="#ffffff" stroke="{m.colour}" '
                       f'stroke-width="2.5"/><text x="{tx}" y="{ty}" text-anchor="{anchor}" fill="{m.colour}" '
                       f'font-weight="bold" stroke="#ffffff" stroke-width="4" paint-order="stroke">{label}</text></g>')
    # Legend: one row between the subtitle and the plot, clear of the data.
    out.append('<g id="legend">')
    lx, ly = left, top - 16
    for s in series:
        dash = f' stroke-dasharray="{s.dash}"' if s.dash else ""
        out.append(f'<line x1="{lx}" y1="{ly}" x2="{lx + 22}" y2="{ly}" stroke="{s.colour}" stroke-width="2.5"{dash}/>')
        out.append(f'<text x="{lx + 28}" y="{ly + 4}">{escape(s.label)}</text>')
        lx += 28 + 7 * len(s.label) + 28
    out.append("</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"


def cost_chart_svg(result: CostResult) -> str:
    """Both monthly cost lines over monthly volume: the API line, the self-host step line, the break-even point and
    the current volume."""
    inputs = result.inputs
    volume = inputs.workload.monthly_tokens
    be = result.break_even
    x_max = 2.0 * volume
    if be.status == "at" and be.monthly_tokens:
        x_max = max(x_max, 1.3 * be.monthly_tokens)
    if be.api_cheaper_again_above:
        x_max = max(x_max, 1.15 * be.api_cheaper_again_above, 1.15 * (be.self_host_cheaper_above or 0))
    x_max = nice_ticks(x_max)[-1]

    cap = result.tokens_per_gpu_month
    steps = math.ceil(x_max / cap) if cap > 0 else 1
    lease = inputs.self_host.gpu_monthly_lease
    fixed = result.engineering_monthly
    points: list[tuple[float, float]] = []
    if steps <= _MAX_POINTS // 2:
        for n in range(1, steps + 1):
            cost = inputs.self_host.gpus_for(n) * lease + fixed
            points += [((n - 1) * cap, cost), (min(n * cap, x_max), cost)]
    else:  # too many steps to draw one by one: sample the line
        for k in range(_MAX_POINTS + 1):
            v = x_max * k / _MAX_POINTS
            points.append((v, result.self_host_at(v)))
    api_label = f"API ({inputs.api.model})" if inputs.api.model else "API"
    gpu = inputs.self_host.gpu or "GPU"
    series = [
        Series("series-api", api_label, [(0.0, 0.0), (x_max, result.api_at(x_max))], _API_COLOUR),
        Series("series-self-host", f"Self-host ({gpu} lease + engineering)", points, _SELF_HOST_COLOUR),
    ]
    markers = [Marker("current-volume", volume, None, f"current {fmt_tokens(volume)}/month", "#555555")]
    if be.status == "at" and be.monthly_tokens is not None:
        markers.append(Marker("break-even", be.monthly_tokens, result.api_at(be.monthly_tokens),
                              f"break-even {fmt_tokens(be.monthly_tokens)} tokens/month", "#2ca02c"))
    elif be.status == "always":
        markers.append(Marker("break-even", 0.0, 0.0, "self-host never costs more", "#2ca02c"))
    if be.status == "never":
        subtitle = "no break-even: the API is cheaper at every volume"
    elif be.status == "always":
        subtitle = "self-hosting adds no cost at any volume"
    else:
        subtitle = f"break-even at {fmt_tokens(be.monthly_tokens)} tokens/month on {be.gpus} GPUs"
        if be.api_cheaper_again_above is not None:
            subtitle += f"; the API leads again above {fmt_tokens(be.api_cheaper_again_above)}"
            if be.self_host_cheaper_above is not None:
                subtitle += f"; self-host cheaper at every volume above {fmt_tokens(be.self_host_cheaper_above)}"
    return line_chart_svg(series, markers, title="API vs self-host: monthly cost by monthly volume", subtitle=subtitle,
                          x_label="monthly tokens (input + output, at the current mix)", y_label="cost per month (USD)")
