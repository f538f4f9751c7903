"""Writing a finished report to disk: ``report.json``, ``report.md`` and ``report.html``, each atomically."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ._html import render_html
from ._markdown import render_markdown
from ._report import dumps_report

__all__ = ["write_reports"]


def _write(path: Path, text: str) -> None:
    """Write via a temporary file and rename, so a reader never sees half a report (permissions follow the
    umask, as for any file the user writes)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write_reports(report: Mapping[str, Any], out_dir: str | os.PathLike[str]) -> dict[str, Path]:
    """Write ``report.json``, ``report.md`` and ``report.html`` into ``out_dir`` (created if missing)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "report.json", "md": out / "report.md", "html": out / "report.html"}
    _write(paths["json"], dumps_report(report))
    _write(paths["md"], render_markdown(report))
    _write(paths["html"], render_html(report))
    return paths
