"""Scanning: one file into findings, and a whole tree, split across worker processes when it is large.

Each file is read as bytes (binaries and files over 5 MB are skipped); its matches (:mod:`._match`) are judged
by the rules (:mod:`._rules`) with what the file's format tells them: the YAML key path of each line
(:mod:`._yaml_shape`), a notebook's code cells (:mod:`._notebook`), whether a Python file is a Mage block. A line
holding ``modelswap-audit: ignore`` is not reported (a test's fake key, a documented example), nor is a file
holding ``modelswap-audit: ignore-file`` in its first 2 KB. Which files a tree holds is :mod:`._walk`'s business.
"""

from __future__ import annotations

import multiprocessing
import os
import re
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, Iterable

from ._match import WINDOW, provider_family, raw_matches
from ._notebook import notebook_code
from ._patterns import Patterns, load_patterns, mask
from ._report import AuditReport, Finding
from ._rules import comment_start, fix_for, logical_prefix, status_of
from ._walk import MAX_FILE_BYTES, iter_files
from ._yaml_shape import yaml_info, yaml_type

__all__ = [
    # Read from here by bench/bench_audit.py; their home is ._walk.
    # This module's own.
    "scan",
    "scan_file",
]

#: Mage's block folders: a Python file in one (or one level below) that takes ``**kwargs`` is a Mage block; so is any
#: file with a Mage block decorator or a ``mage_ai`` import.
MAGE_DIRS = frozenset({
    "data_loaders", "transformers", "data_exporters", "custom", "sensors", "conditionals", "callbacks",
})
_MAGE_MARKERS = re.compile(rb"(?m)^@(?:data_loader|transformer|data_exporter|custom|sensor|condition)\b|\bmage_ai\b")

# Parallel only when there is enough to share out: below this, starting workers costs more than it saves.
_PARALLEL_MIN_BYTES = 24 * 1024 * 1024

#: On a line, like `# noqa`: nothing on that line is reported (a test's fake key, a documented example).
_IGNORE_LINE = "modelswap-audit: ignore"
_IGNORE_FILE = b"modelswap-audit: ignore-file"   # in a file's first 2 KB: the file is read, nothing reported


def _findings_for_text(data: bytes, rel: str, ftype: str, patterns: Patterns, path: str = "") -> list[Finding]:
    """Findings in one file's text; ``ftype`` is the type by name, refined here (Mage blocks, YAML flavours)."""
    raws = raw_matches(data, patterns)
    if not raws:
        return []
    # Decided only for files with findings: the marker search is no prefilter.
    if ftype == "python" and (_MAGE_MARKERS.search(data) or (
            MAGE_DIRS.intersection(Path(path or rel).parts[-3:-1]) and b"kwargs" in data)):
        ftype = "mage"
    text = data.decode("utf-8", "replace")
    lines = text.split("\n")
    shape = None
    if ftype == "yaml":
        shape = yaml_info([ln.rstrip("\r") for ln in lines])
        ftype = yaml_type(rel, shape)
    syntax = ("python" if ftype in ("mage", "notebook") else
              "yaml" if ftype in ("modelswap_config", "kubernetes", "kestra", "compose") else ftype)
    comments: dict[int, int | None] = {}
    out: list[Finding] = []
    for raw in raws:
        index = raw.line - 1
        if raw.line not in comments:  # once per line: a minified file can hold thousands of matches on one
            comments[raw.line] = (-1 if _IGNORE_LINE in raw.line_text else comment_start(raw.line_text, syntax))
        if comments[raw.line] == -1:
            continue
        key_path: tuple[str, ...] = ()
        doc_kind = ""
        if shape is not None and index < len(shape.paths):
            key_path = shape.paths[index]
            doc_kind = shape.kinds.get(shape.docs[index], "")
        prefix = (logical_prefix(lines, index, raw.column) if index < len(lines)
                  else raw.line_text[max(0, raw.column - WINDOW):raw.column])
        got = status_of(raw, ftype, prefix, key_path, doc_kind, comments[raw.line])
        if got is None:
            continue
        status, note = got
        provider, family = provider_family(raw, patterns)
        matched = mask(raw.text) if raw.detector.kind == "api_key" else raw.text
        out.append(Finding(
            file=rel, line=raw.line, column=raw.column + 1, kind=raw.detector.kind, match=matched, status=status,
            fix=fix_for(raw.detector.kind, ftype, status, note), provider=provider, family=family, file_type=ftype,
            note=note,
        ))
    return out


def _notebook_findings(data: bytes, rel: str, patterns: Patterns) -> list[Finding]:
    """Findings in a notebook's code cells, placed on the JSON file's lines when the layout allows it."""
    try:
        code = notebook_code(data)
    except ValueError:
        return _findings_for_text(data, rel, "json", patterns)
    if code is None:
        return []
    return [code.place(finding) for finding in _findings_for_text(code.text, rel, "notebook", patterns)]


def scan_file(path: str, rel: str, ftype: str, patterns: Patterns | None = None) -> tuple[list[Finding], int, str | None]:
    """Findings in one file, the bytes read, and why it was skipped (``binary``, ``unreadable``) if it was."""
    patterns = patterns or load_patterns()
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError:
        return [], 0, "unreadable"
    if len(data) > MAX_FILE_BYTES:
        return [], 0, "too_large"
    if b"\x00" in data[:8192]:
        return [], 0, "binary"
    if _IGNORE_FILE in data[:2048]:
        return [], len(data), None
    if ftype == "notebook":
        return _notebook_findings(data, rel, patterns), len(data), None
    return _findings_for_text(data, rel, ftype, patterns, path), len(data), None


def _scan_batch(batch: list[tuple[str, str, str]]) -> tuple[list[Finding], int, int, dict[str, int]]:
    patterns = load_patterns()
    findings: list[Finding] = []
    nbytes = files = 0
    skipped: dict[str, int] = {}
    for path, rel, ftype in batch:
        found, size, reason = scan_file(path, rel, ftype, patterns)
        if reason:
            skipped[reason] = skipped.get(reason, 0) + 1
            continue
        files += 1
        nbytes += size
        findings.extend(found)
    return findings, nbytes, files, skipped


def _batches(items: list[tuple[str, str, int, str]], count: int) -> list[list[tuple[str, str, str]]]:
    total = sum(size for _, _, size, _ in items) or 1
    target = max(total // count, 1)
    out: list[list[tuple[str, str, str]]] = []
    current: list[tuple[str, str, str]] = []
    weight = 0
    for path, rel, size, ftype in items:
        current.append((path, rel, ftype))
        weight += size + 4096  # per-file overhead counts too
        if weight >= target:
            out.append(current)
            current, weight = [], 0
    if current:
        out.append(current)
    return out


def _pool_context() -> Any:
    methods = multiprocessing.get_all_start_methods()
    # fork starts workers in milliseconds with everything imported; it is only safe while this is the only thread.
    if "fork" in methods and threading.active_count() == 1 and sys.platform != "darwin":
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def scan(path: str | os.PathLike[str], *, respect_gitignore: bool = True, jobs: int | None = None) -> AuditReport:
    """Scan a directory (or one file) for model dependencies.

    Args:
        path: the directory (or file) to scan; findings name files relative to it.
        respect_gitignore: skip what ``.gitignore`` files and ``.git/info/exclude`` ignore (default True).
        jobs: worker processes; None picks one per core for large trees (and none for small ones), 1 scans in
            this process.

    Raises:
        FileNotFoundError: ``path`` does not exist.
    """
    started = time.perf_counter()
    root = Path(path)
    if not root.exists():
        raise FileNotFoundError(f"no such file or directory: {path}")
    patterns = load_patterns()
    skipped: dict[str, int] = {}
    items = list(iter_files(root, respect_gitignore=respect_gitignore, skipped=skipped))
    total = sum(size for _, _, size, _ in items)
    if jobs is None:
        jobs = (os.cpu_count() or 1) if total >= _PARALLEL_MIN_BYTES else 1
    jobs = max(1, min(jobs, len(items) or 1))

    findings: list[Finding] = []
    nbytes = files = 0
    results: Iterable[tuple[list[Finding], int, int, dict[str, int]]]
    if jobs > 1:
        try:
            with ProcessPoolExecutor(max_workers=jobs, mp_context=_pool_context()) as pool:
                results = list(pool.map(_scan_batch, _batches(items, jobs * 6)))
        except (OSError, RuntimeError, ImportError):  # no process support here (sandbox, frozen app): in-process
            results = [_scan_batch([(p, r, t) for p, r, _, t in items])]
    else:
        results = [_scan_batch([(p, r, t) for p, r, _, t in items])]
    for found, size, count, skip in results:
        findings.extend(found)
        nbytes += size
        files += count
        for reason, n in skip.items():
            skipped[reason] = skipped.get(reason, 0) + n
    findings.sort(key=lambda f: (f.file, f.line, f.column))
    return AuditReport(
        findings=findings, files_scanned=files, bytes_scanned=nbytes, seconds=time.perf_counter() - started,
        root=str(root.resolve()), files_skipped=skipped, patterns_updated=patterns.updated,
    )
