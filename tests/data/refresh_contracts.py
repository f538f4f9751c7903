#!/usr/bin/env python3
"""Refresh tests/data/contracts from the project's shared contracts folder and report what changed upstream.

usage: python tests/data/refresh_contracts.py [SOURCE_DIR] [--check] [--dest DIR]

SOURCE_DIR defaults to ../shared/contracts beside the repository root. The fact files are copied byte for byte:
schemas/, examples/, templates/ (with MANIFEST.json) and chat_template_vectors.json; never code (*.py) or caches.
The report lists every added, removed and changed file against tests/data/contracts/SHA256SUMS, every local
file that no longer matches SHA256SUMS, and for changed JSON facts what moved upstream (x-provenance of a
schema, a template's source in MANIFEST.json, the golden renders per family). Then the copy is brought up to
date (files added, replaced, deleted) and SHA256SUMS rewritten.

--check   only report; exit 1 on any difference, 0 when everything matches. Nothing is written.
--dest    the copy to refresh (default tests/data/contracts; the tests point it at a scratch folder).
Exit 2: SOURCE_DIR is not a contracts folder. Standard library only.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEST = REPO / "tests" / "data" / "contracts"
DEFAULT_SOURCE = REPO.parent / "shared" / "contracts"
GROUPS = ("schemas", "examples", "templates")  # copied whole
SINGLES = ("chat_template_vectors.json",)
SKIP_SUFFIXES = (".py", ".pyc")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fact_files(root: Path) -> dict[str, Path]:
    """Relative POSIX path -> file, for every fact file under `root`."""
    found = {}
    for group in GROUPS:
        for path in sorted((root / group).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and not path.name.endswith(SKIP_SUFFIXES):
                found[path.relative_to(root).as_posix()] = path
    for name in SINGLES:
        if (root / name).is_file():
            found[name] = root / name
    return found


def read_sums(path: Path) -> dict[str, str]:
    """`sha256sum` format: '<hex>  <path>' (a '*' before the path marks binary mode)."""
    sums = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                digest, name = line.split(None, 1)
                sums[name.lstrip("*")] = digest
    return sums


def write_sums(path: Path, sums: dict[str, str]) -> None:
    path.write_text("".join(f"{sums[name]}  {name}\n" for name in sorted(sums)), encoding="utf-8")


def _json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def upstream_detail(name: str, old: Path, new: Path) -> list[str]:
    """What moved, for the JSON facts whose content names its source."""
    before, after = _json(old), _json(new)
    if not isinstance(after, dict):
        return []
    before = before if isinstance(before, dict) else {}
    lines = []
    if name.startswith("schemas/"):
        a, b = before.get("x-provenance") or {}, after.get("x-provenance") or {}
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                lines.append(f"x-provenance.{key}: {a.get(key)!r} -> {b.get(key)!r}")
    elif name == "templates/MANIFEST.json":
        for fam in sorted(set(before) | set(after)):
            a, b = before.get(fam) or {}, after.get(fam) or {}
            for key in ("file", "source", "special_tokens"):
                if a.get(key) != b.get(key):
                    lines.append(f"{fam}.{key}: {a.get(key)!r} -> {b.get(key)!r}")
    elif name == "chat_template_vectors.json":
        for fam in sorted(set(before) | set(after)):
            if before.get(fam) != after.get(fam):
                a, b = before.get(fam), after.get(fam)
                count = lambda v: len(v) if isinstance(v, list) else "-"
                lines.append(f"{fam}: changed ({count(a)} -> {count(b)} entries)")
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("source", nargs="?", default=str(DEFAULT_SOURCE), help="the shared contracts folder")
    ap.add_argument("--check", action="store_true", help="report only; exit 1 on any difference")
    ap.add_argument("--dest", type=Path, default=DEST, help="the copy to refresh")
    a = ap.parse_args(argv)
    dest = a.dest.resolve()
    sums = dest / "SHA256SUMS"
    source = Path(a.source).resolve()
    if not all((source / g).is_dir() for g in GROUPS):
        print(f"{source}: not a contracts folder (needs {', '.join(GROUPS)})", file=sys.stderr)
        return 2

    recorded = read_sums(sums)
    upstream = {name: (path, sha256(path)) for name, path in fact_files(source).items()}
    local = fact_files(dest) if dest.is_dir() else {}

    added = sorted(set(upstream) - set(recorded))
    removed = sorted(set(recorded) - set(upstream))
    changed = sorted(n for n in set(upstream) & set(recorded) if upstream[n][1] != recorded[n])
    # The copy in the repository against its own SHA256SUMS: edited, deleted, or not listed.
    drift = sorted(n for n in set(recorded) if n not in local or sha256(local[n]) != recorded[n])
    drift += sorted(n for n in set(local) - set(recorded))

    print(f"source: {source}")
    print(f"upstream: {len(upstream)} fact files; SHA256SUMS lists {len(recorded)}")
    for label, names in (("added", added), ("removed", removed), ("changed", changed), ("local drift", drift)):
        for name in names:
            print(f"{label:>11}  {name}")
            if label == "changed":
                for line in upstream_detail(name, dest / name, upstream[name][0]):
                    print(f"{'':>13}{line}")
    differences = bool(added or removed or changed or drift)
    if a.check:
        print("differences found" if differences else "up to date")
        return 1 if differences else 0

    for name in sorted(set(upstream)):
        target = dest / name
        if name in drift or name in added or name in changed or not target.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(upstream[name][0], target)  # content only: the shared folder is read-only
    for name in set(recorded) | set(local):
        if name not in upstream and (dest / name).is_file():
            (dest / name).unlink()
    for group in GROUPS:  # drop folders left empty by removals
        for folder in sorted((dest / group).rglob("*"), reverse=True):
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
    write_sums(sums, {name: digest for name, (_, digest) in upstream.items()})
    print(f"copied; SHA256SUMS rewritten ({len(upstream)} files)")
    if differences:
        print("next: update the date and counts in tests/data/contracts/PROVENANCE.md; if examples/ changed, "
              "regenerate the goldens (python tests/contracts_kit/make_goldens.py SOURCE_DIR) and run "
              "pytest tests/contracts_kit")
    return 0


if __name__ == "__main__":
    sys.exit(main())
