"""The audit as a table for people and as JSON for programs; ``run_audit``, the command behind ``modelswap audit``."""

from __future__ import annotations

import json
import os
import sys
from typing import IO, Any

from ._report import AuditReport
from ._scan import scan

__all__ = ["FORMATS", "format_table", "run_audit", "to_json"]

FORMATS = ("table", "json", "sarif")


def _size(nbytes: int) -> str:
    value = float(nbytes)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def format_table(report: AuditReport) -> str:
    """A plain-text table: one row per finding (hard-coded first, with the configurable ones' reason), then the
    numbered fixes the rows refer to."""
    summary = report.summary()
    head = (f"modelswap audit: {summary['findings']} findings ({summary['hard_coded']} hard-coded, "
            f"{summary['configurable']} configurable) in {summary['files_with_findings']} files; "
            f"{report.files_scanned} files, {_size(report.bytes_scanned)} scanned in {report.seconds:.2f} s")
    if not report.findings:
        return head + "\nNo model dependencies found.\n"
    fixes: dict[str, int] = {}
    rows = []
    for finding in sorted(report.findings, key=lambda f: (f.status != "hard_coded", f.file, f.line, f.column)):
        number = fixes.setdefault(finding.fix, len(fixes) + 1)
        where = f"{finding.file}:{finding.line}:{finding.column}"
        if finding.cell is not None:
            where += f" (cell {finding.cell} line {finding.cell_line})"
        rows.append((
            where, finding.kind, finding.status, finding.provider or finding.family or "-",
            _clip(finding.match, 48), f"[{number}]", _clip(finding.note if finding.status != "hard_coded" else "", 48),
        ))
    header = ("LOCATION", "KIND", "STATUS", "PROVIDER/FAMILY", "MATCH", "FIX", "WHY CONFIGURABLE")
    widths = [max(len(header[i]), *(len(r[i]) for r in rows)) for i in range(len(header))]
    widths[0] = min(widths[0], 70)

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()

    out = [head, "", line(header), line(tuple("-" * w for w in widths))]
    out.extend(line(r) for r in rows)
    out.append("")
    out.append("Fixes:")
    out.extend(f"  [{n}] {text}" for text, n in fixes.items())
    return "\n".join(out) + "\n"


def json_dict(report: AuditReport) -> dict[str, Any]:
    return {"findings": [f.to_dict() for f in report.findings], "summary": report.summary()}


def to_json(report: AuditReport) -> str:
    """``{"findings": [...], "summary": {...}}`` as JSON text; each finding has file, line, column, kind, match,
    status, provider, family, file_type, fix and note (and cell, cell_line in notebooks)."""
    return json.dumps(json_dict(report), indent=2, ensure_ascii=False) + "\n"


def run_audit(path: str, fmt: str = "table", out: IO[str] | None = None, *, respect_gitignore: bool = True,
              jobs: int | None = None, err: IO[str] | None = None) -> int:
    """Scan ``path`` and print the report: the body of ``modelswap audit PATH [--format table|json|sarif]``.

    Returns the exit code: 1 when hard-coded findings exist, 0 when none do, 2 for a path that does not exist or
    an unknown format (with one line on ``err``, stderr by default).
    """
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    if fmt not in FORMATS:
        print(f"error: audit: unknown format {fmt!r}; use one of: {', '.join(FORMATS)}", file=err)
        return 2
    if not os.path.exists(path):
        print(f"error: audit: no such file or directory: {path}", file=err)
        return 2
    report = scan(path, respect_gitignore=respect_gitignore, jobs=jobs)
    if fmt == "json":
        out.write(to_json(report))
    elif fmt == "sarif":
        from ._sarif import to_sarif

        out.write(to_sarif(report))
    else:
        out.write(format_table(report))
    return 1 if report.hard_coded else 0
