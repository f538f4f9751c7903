"""Suite files and places in them: reading a file, naming the file, line and field of any piece for errors.

Every loader reports a bad piece as a :class:`~modelswap.ConfigError` led by ``file:line: field:``; a
:class:`Location` carries what it takes to say so. YAML pieces find their line through the composed node tree,
JSONL and CSV rows carry it fixed. YAML is read with duplicate keys refused: a parser would silently keep the last.
"""

from __future__ import annotations

import contextlib
import gc
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

from .._errors import ConfigError
from .._yaml import line_of
from .._yaml import parse_yaml as _parse_yaml

__all__ = ["Location", "field_name", "gc_paused", "jsonl_rows", "parse_yaml", "read_text", "resolve_ref"]


@dataclass(frozen=True)
class Location:
    """Where a piece of a suite came from, to name file, line and field in errors.

    YAML pieces carry the composed node tree (line looked up by path); JSONL and CSV rows a fixed line.

    Attributes:
        source: the file, as shown in messages.
        root: the composed YAML node tree of the file, or None.
        line: the fixed 1-based line, for pieces without a node tree.
        prefix: the path from the root to this piece (keys and list indexes).

    Example:
        >>> Location("suite.jsonl", line=3).at("assert", 0).error("bad").args[0]
        'suite.jsonl:3: assert[0]: bad'
    """

    source: str
    root: Any = None
    line: int | None = None
    prefix: tuple[Any, ...] = ()

    def at(self, *path: Any) -> Location:
        """The location of a piece inside this one, ``path`` keys and indexes further down."""
        return Location(self.source, self.root, self.line, self.prefix + path)

    def line_of(self, *path: Any) -> int | None:
        """The 1-based line of the piece at ``path`` below this one, or None when unknown."""
        if self.root is not None:
            return line_of(self.root, self.prefix + path)
        return self.line

    def error(self, message: str, *path: Any) -> ConfigError:
        """A ConfigError for the piece at ``path`` below this one, its message led by ``file:line: field:``."""
        full = self.prefix + path
        line = self.line_of(*path)
        field = field_name(full)
        where = f"{self.source}:{line}" if line else self.source
        return ConfigError(
            f"{where}: {field + ': ' if field else ''}{message}", file=self.source, line=line, field=field
        )


def field_name(path: Sequence[Any]) -> str | None:
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text or None


def jsonl_rows(path: Path, source: str) -> Iterator[tuple[Any, Location]]:
    """The JSON value on each non-blank line of ``path``, with its location."""
    for line_no, raw in enumerate(read_text(path).splitlines(), 1):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw)
        except ValueError as exc:
            raise ConfigError(
                f"{source}:{line_no}: not valid JSON ({exc}). Each line must be one case, such as "
                '{"id": "c1", "prompt": "...", "expected": "..."}.',
                file=source, line=line_no,
            ) from None
        yield row, Location(source, line=line_no)


def read_text(path: Path) -> str:
    """A suite file's text, or a ConfigError naming it."""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the file ({exc.__class__.__name__}: {exc}).", file=str(path)) from None


def resolve_ref(ref: str, base_dir: Path) -> Path:
    """The path a ``file://`` reference names; relative paths start at the referring file's folder."""
    target = Path(ref[len("file://"):] if ref.startswith("file://") else ref).expanduser()
    return target if target.is_absolute() else base_dir / target


def parse_yaml(text: str, source: str) -> tuple[Any, Any]:
    """``(node tree, data)`` of a YAML document; dates become ISO text and duplicate keys are refused.

    Raises:
        ConfigError: not YAML, or a key given twice in one mapping (YAML would silently keep the last).
    """
    root, data = _parse_yaml(text, source)
    _refuse_duplicate_keys(root, source)
    return root, data


def _refuse_duplicate_keys(node: Any, source: str, path: tuple[Any, ...] = ()) -> None:
    if node is None:
        return
    if node.id == "mapping":
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            if key in seen:
                field = field_name((*path, key))
                raise ConfigError(
                    f"{source}:{line}: {field}: key {key!r} appears twice in one mapping (first on line "
                    f"{seen[key]}); YAML would keep only the last. Remove or rename one.",
                    file=source, line=line, field=field,
                )
            seen[key] = line
            _refuse_duplicate_keys(value_node, source, (*path, key))
    elif node.id == "sequence":
        for i, item in enumerate(node.value):
            _refuse_duplicate_keys(item, source, (*path, i))


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a suite is built.

    A suite of thousands of cases allocates hundreds of thousands of small objects that all live on; the collector
    would scan them again and again as they pile up (a third of the time of loading 10,000 tests). Nothing built
    here forms cycles that need it, and it runs again right after.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
