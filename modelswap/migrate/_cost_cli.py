"""``modelswap cost``: read the inputs, compute, print the table or JSON, and draw the chart.

The front of the cost model: :mod:`._cost` computes a :class:`~._cost.CostResult` and :mod:`._chart` draws a
finished one, so neither imports the other's caller.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TextIO

from .._errors import ConfigError
from ._chart import cost_chart_svg
from ._cost import compute_cost, format_table, load_cost_inputs

__all__ = ["run_cost"]


def run_cost(path: str | Path, fmt: str = "table", chart: str | Path | None = None, out: TextIO | None = None,
             err: TextIO | None = None) -> int:
    """``modelswap cost FILE [--format table|json] [--chart OUT.svg]``. Exit 0, or 2 for bad input."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        if fmt not in ("table", "json"):
            raise ConfigError(f"--format {fmt!r}: use table or json.", field="--format")
        result = compute_cost(load_cost_inputs(path))
        chart_path = None
        if chart:
            chart_path = Path(chart)
            try:
                if chart_path.parent and not chart_path.parent.exists():
                    chart_path.parent.mkdir(parents=True, exist_ok=True)
                chart_path.write_text(cost_chart_svg(result), encoding="utf-8")
            except OSError as exc:
                raise ConfigError(f"--chart {chart}: cannot write the chart ({exc.strerror or exc}).",
                                  file=str(chart), field="--chart") from None
    except ConfigError as exc:
        print(f"error: {exc}", file=err)
        return 2
    if fmt == "json":
        data = result.to_dict()
        if chart_path is not None:
            data["chart"] = str(chart_path)
        print(json.dumps(data, indent=2), file=out)
    else:
        print(format_table(result), file=out)
        if chart_path is not None:
            print(f"\nchart: {chart_path}", file=out)
    return 0
