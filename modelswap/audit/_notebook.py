"""A notebook's code cells as one text to scan, and each finding in it placed back in the notebook.

Only code cells are read (nbformat 4 ``cells[].source``, nbformat 3 ``worksheets[0].cells[].input``). A finding
keeps its cell (counting every cell) and line within the cell; when the notebook is laid out one source line per
JSON line, as Jupyter writes it, its line and column are moved onto the JSON file itself, so an editor or code
scanning opens the right place.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from ._report import Finding

__all__ = ["NotebookCode", "notebook_code"]


@dataclass
class NotebookCode:
    """The code cells of one notebook, joined, and where each of their lines came from."""

    lines: list[str]                             # the code cells' lines, one after the other
    where: list[tuple[int, int, int | None]]     # per line: cell number, line in cell, JSON line index
    json_lines: list[str]                        # the notebook file's own lines

    @property
    def text(self) -> bytes:
        """The code to scan: line N of it is ``lines[N - 1]``."""
        return "\n".join(self.lines).encode("utf-8")

    def place(self, finding: Finding) -> Finding:
        """``finding`` (made on :attr:`text`) with its cell, and on the JSON file's line when the layout allows."""
        cell, cell_line, json_index = self.where[finding.line - 1]
        line, column = cell_line, finding.column
        if json_index is not None:
            raw = self.json_lines[json_index]
            piece = self.lines[finding.line - 1]
            opening = raw.find('"')
            for ascii_only in (False, True):
                escaped_prefix = json.dumps(piece[:finding.column - 1], ensure_ascii=ascii_only)[1:-1]
                escaped_match = json.dumps(piece[finding.column - 1:finding.column - 1 + len(finding.match)],
                                           ensure_ascii=ascii_only)[1:-1]
                at = opening + 1 + len(escaped_prefix)
                if finding.kind == "api_key" or raw[at:].startswith(escaped_match):
                    line, column = json_index + 1, at + 1
                    break
        return Finding(
            file=finding.file, line=line, column=column, kind=finding.kind, match=finding.match,
            status=finding.status, fix=finding.fix, provider=finding.provider, family=finding.family,
            file_type="notebook", note=finding.note, cell=cell, cell_line=cell_line,
        )


def notebook_code(data: bytes) -> NotebookCode | None:
    """The code cells of the notebook ``data``, or None when it holds none (or is no notebook-shaped JSON).

    Raises:
        ValueError: ``data`` is not JSON at all.
    """
    notebook = json.loads(data)
    if not isinstance(notebook, dict):
        return None
    cells = notebook.get("cells")
    source_key = "source"
    if cells is None:  # nbformat 3
        sheets = notebook.get("worksheets") or [{}]
        cells = sheets[0].get("cells", []) if isinstance(sheets[0], dict) else []
        source_key = "input"
    if not isinstance(cells, list):
        return None
    raw_lines = data.decode("utf-8", "replace").split("\n")
    key_lines = [i for i, ln in enumerate(raw_lines) if ln.lstrip().startswith(f'"{source_key}":')]
    positional = len(key_lines) == len(cells)

    virtual: list[str] = []
    where: list[tuple[int, int, int | None]] = []   # per virtual line: cell number, line in cell, JSON line index
    for number, cell in enumerate(cells, 1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get(source_key, "")
        parts = source if isinstance(source, list) else str(source).splitlines(keepends=True)
        pieces = [str(p) for p in parts]
        json_line = None
        if positional and isinstance(source, list):
            first = key_lines[number - 1] + 1
            ok = first + len(pieces) <= len(raw_lines)
            for j, piece in enumerate(pieces):
                if not ok:
                    break
                candidate = raw_lines[first + j].strip().rstrip(",")
                try:
                    ok = json.loads(candidate) == piece
                except ValueError:
                    ok = False
            json_line = first if ok else None
        for j, piece in enumerate("".join(pieces).split("\n")):
            virtual.append(piece)
            where.append((number, j + 1, None if json_line is None or j >= len(pieces) else json_line + j))
    if not virtual:
        return None
    return NotebookCode(virtual, where, raw_lines)
