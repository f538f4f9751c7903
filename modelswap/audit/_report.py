"""What a scan returns: :class:`Finding` (one model dependency, where it is, and what to do about it) and
:class:`AuditReport` (every finding, and how much was read)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ._patterns import KINDS

__all__ = ["AuditReport", "Finding"]


@dataclass(frozen=True)
class Finding:
    """One model dependency.

    Attributes:
        file: path relative to the scanned directory, with ``/`` separators.
        line: 1-based line in the file (for a notebook: the line of the JSON file when the notebook is laid out
            one source line per JSON line, as Jupyter writes it; otherwise the line within the cell).
        column: 1-based column, in characters (for a notebook mapped to its JSON lines: in the JSON text).
        kind: ``model_id``, ``model_path``, ``endpoint``, ``prompt_format`` or ``api_key``.
        match: the text found (a key is masked: its first 4 characters and ``***``).
        status: ``hard_coded`` or ``configurable``.
        fix: what to do about it.
        provider: the API provider the value belongs to, when known (``openai``, ``groq``, ``vllm``...).
        family: the open-weight or prompt-format family, when known (``llama``, ``gemma``, ``chatml``...).
        file_type: ``python``, ``mage``, ``notebook``, ``modelswap_config``, ``kubernetes``, ``kestra``,
            ``compose``, ``yaml``, ``json``, ``toml``, ``dotenv``, ``dockerfile`` or ``text``.
        note: why the status is what it is (the lookup that makes a literal a default, the ConfigMap...).
        cell, cell_line: for notebooks, the 1-based cell (counting every cell) and the line within it.
    """

    file: str
    line: int
    column: int
    kind: str
    match: str
    status: str
    fix: str
    provider: str | None = None
    family: str | None = None
    file_type: str = ""
    note: str = ""
    cell: int | None = None
    cell_line: int | None = None

    @property
    def hard_coded(self) -> bool:
        return self.status == "hard_coded"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "file": self.file, "line": self.line, "column": self.column, "kind": self.kind, "match": self.match,
            "status": self.status, "provider": self.provider, "family": self.family, "file_type": self.file_type,
            "fix": self.fix, "note": self.note,
        }
        if self.cell is not None:
            out["cell"] = self.cell
            out["cell_line"] = self.cell_line
        return out


@dataclass
class AuditReport:
    """What :func:`scan` found, and how much it read."""

    findings: list[Finding]
    files_scanned: int
    bytes_scanned: int
    seconds: float
    root: str = ""
    files_skipped: dict[str, int] = field(default_factory=dict)
    patterns_updated: str = ""

    @property
    def hard_coded(self) -> list[Finding]:
        return [f for f in self.findings if f.status == "hard_coded"]

    @property
    def configurable(self) -> list[Finding]:
        return [f for f in self.findings if f.status == "configurable"]

    def summary(self) -> dict[str, Any]:
        by_kind: dict[str, dict[str, int]] = {}
        for finding in self.findings:
            counts = by_kind.setdefault(finding.kind, {"hard_coded": 0, "configurable": 0})
            counts[finding.status] += 1
        return {
            "root": self.root,
            "findings": len(self.findings),
            "hard_coded": len(self.hard_coded),
            "configurable": len(self.configurable),
            "files_with_findings": len({f.file for f in self.findings}),
            "by_kind": {k: by_kind[k] for k in KINDS if k in by_kind},
            "files_scanned": self.files_scanned,
            "bytes_scanned": self.bytes_scanned,
            "files_skipped": dict(self.files_skipped),
            "seconds": round(self.seconds, 3),
            "patterns_updated": self.patterns_updated,
        }
