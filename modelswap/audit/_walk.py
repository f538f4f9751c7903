"""Which files a scan reads: the walk of a tree, and each file's type by its name.

The walk honours ``.gitignore`` files (nested, those above the scanned directory up to the repository's top
included) and ``.git/info/exclude``, and skips ``.git``, virtualenvs, ``site-packages``, ``node_modules``,
caches, files of types the scanner does not read and files over 5 MB. ``.gitignore`` files are honoured inside
and outside git work trees (a copied or unpacked tree keeps its rules; ripgrep, by default, honours them only
inside one); symbolic links are not followed. The ignore rules themselves are :mod:`._gitignore`'s.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

from ._gitignore import IgnoreFile, IgnoreStack, find_repo_root

__all__ = ["MAX_FILE_BYTES", "SKIP_DIRS", "file_type", "iter_files"]

#: Files larger than this are not read (counted as ``too_large``).
MAX_FILE_BYTES = 5 * 1024 * 1024

#: Directory names never entered: version control, dependencies, virtualenvs, caches, notebook checkpoints.
SKIP_DIRS = frozenset({
    ".git", ".hg", ".svn", "node_modules", ".venv", "site-packages", "dist-packages", "__pycache__", ".tox",
    ".nox", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".ipynb_checkpoints", ".eggs",
})


def file_type(name: str) -> str | None:
    """The scanner's type for a file name, or None for files it does not read."""
    low = name.lower()
    if low.endswith((".py", ".pyw")):
        return "python"
    if low.endswith(".ipynb"):
        return "notebook"
    if low.endswith((".yaml", ".yml")):
        return "yaml"
    if low.endswith(".json"):
        return "json"
    if low.endswith(".toml"):
        return "toml"
    if low == ".env" or low.startswith(".env.") or low.endswith(".env") or low == ".envrc":
        return "dotenv"
    if (low in ("dockerfile", "containerfile") or low.startswith(("dockerfile.", "containerfile."))
            or low.endswith((".dockerfile", ".containerfile"))):
        return "dockerfile"
    return None


def _is_venv(path: str) -> bool:
    return os.path.isfile(os.path.join(path, "pyvenv.cfg"))


def iter_files(root: str | os.PathLike[str], *, respect_gitignore: bool = True,
               skipped: dict[str, int] | None = None) -> Iterator[tuple[str, str, int, str]]:
    """Yield ``(absolute path, path relative to root with '/', size, file type)`` for every file to scan.

    ``skipped`` (when given) counts what was passed over: ``too_large`` files, ``unreadable`` entries. Ignored
    files and files of other types are not counted.
    """
    root_path = Path(root).resolve()
    if skipped is None:
        skipped = {}
    stack = IgnoreStack()
    # Paths are matched relative to the repository's top, so the ignore files above the scanned directory
    # (up to the repository root) apply too; the scanned directory itself is scanned even if one ignores it.
    top = root_path
    if respect_gitignore:
        repo = find_repo_root(root_path)
        if repo is not None:
            top = repo
            stack = stack.push(IgnoreFile.from_path(repo / ".git" / "info" / "exclude", ""))
            parts = root_path.relative_to(repo).parts
            here = repo
            for depth in range(len(parts)):
                stack = stack.push(IgnoreFile.from_path(here / ".gitignore", "/".join(parts[:depth])))
                here = here / parts[depth]
    base_rel = root_path.relative_to(top).as_posix() if top != root_path else ""

    def walk(directory: str, rel_top: str, rel_root: str, ignores: IgnoreStack) -> Iterator[tuple[str, str, int, str]]:
        if respect_gitignore:
            ignores = ignores.push(IgnoreFile.from_path(os.path.join(directory, ".gitignore"), rel_top))
        try:
            with os.scandir(directory) as listing:
                entries = sorted(listing, key=lambda e: e.name)
        except OSError:
            return
        for entry in entries:
            name = entry.name
            child_top = f"{rel_top}/{name}" if rel_top else name
            child_root = f"{rel_root}/{name}" if rel_root else name
            try:
                if entry.is_dir(follow_symlinks=False):
                    if name in SKIP_DIRS or _is_venv(entry.path):
                        continue
                    if respect_gitignore and ignores.ignored(child_top, True):
                        continue
                    yield from walk(entry.path, child_top, child_root, ignores)
                elif entry.is_file(follow_symlinks=False):
                    kind = file_type(name)
                    if kind is None:
                        continue
                    if respect_gitignore and ignores.ignored(child_top, False):
                        continue
                    size = entry.stat(follow_symlinks=False).st_size
                    if size > MAX_FILE_BYTES:
                        skipped["too_large"] = skipped.get("too_large", 0) + 1
                        continue
                    yield entry.path, child_root, size, kind
            except OSError:
                skipped["unreadable"] = skipped.get("unreadable", 0) + 1

    if root_path.is_file():
        kind = file_type(root_path.name) or "text"
        size = root_path.stat().st_size
        if size > MAX_FILE_BYTES:
            skipped["too_large"] = skipped.get("too_large", 0) + 1
            return
        yield str(root_path), root_path.name, size, kind
        return
    yield from walk(str(root_path), base_rel, "", stack)
