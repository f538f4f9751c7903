"""Shared by the migration tools: YAML input with file:line:field errors, numbers written the way teams write
them, and the formatting of tokens and money."""

from __future__ import annotations

import difflib
import math
import re
from pathlib import Path
from typing import Any, Iterable, Mapping

from .._yaml import line_of as _line_of
from .._yaml import parse_yaml
from .._errors import ConfigError

__all__ = [
    "YamlDoc",
    "fmt_money",
    "fmt_tokens",
    "load_yaml",
]

_SUFFIX = {"k": 1e3, "m": 1e6, "b": 1e9, "g": 1e9, "t": 1e12}
_NUMBER = re.compile(r"^\s*\$?\s*([-+]?(?:\d[\d,_]*\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([kKmMbBgGtT])?\s*$")


class YamlDoc:
    """A parsed YAML mapping that remembers where each field was, for errors that name file, line and field."""

    def __init__(self, data: Mapping[str, Any], root: Any, source: str) -> None:
        self.data = data
        self.root = root
        self.source = source

    def error(self, path: Iterable[Any], message: str) -> ConfigError:
        path = tuple(path)
        line = _line_of(self.root, path)
        field = ".".join(map(str, path)) or None
        where = f"{self.source}:{line}" if line else self.source
        return ConfigError(f"{where}: {field + ': ' if field else ''}{message}", file=self.source, line=line, field=field)

    def section(self, path: tuple[Any, ...], allowed: Iterable[str], required: bool = True) -> dict[str, Any]:
        """The mapping at ``path``; unknown keys are refused with the closest allowed one."""
        node: Any = self.data
        for part in path:
            node = node.get(part) if isinstance(node, Mapping) else None
        if node is None:
            if required:
                raise self.error(path[:-1], f"missing section `{path[-1]}`. Add it (see the example in the docs).")
            return {}
        if not isinstance(node, Mapping):
            raise self.error(path, f"expected a mapping of fields, got {type(node).__name__} {node!r}.")
        allowed = list(allowed)
        for key in node:
            if key not in allowed:
                close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
                raise self.error((*path, key), f"unknown field {key!r}" + (f"; did you mean {close[0]!r}?" if close else "")
                                 + f" Allowed here: {', '.join(allowed)}.")
        return dict(node)

    def number(self, path: tuple[Any, ...], value: Any, *, minimum: float | None = 0.0, exclusive: bool = False,
               maximum: float | None = None) -> float:
        """``value`` as a float: YAML numbers, and text such as ``2.0e9``, ``2_000_000``, ``$2,500`` or ``400M``."""
        number = parse_number(value)
        if number is None:
            raise self.error(path, f"expected a number, got {type(value).__name__} {value!r}. Write it like 2.0e9, "
                                   "2000000000 or 2B.")
        if minimum is not None and (number < minimum or (exclusive and number == minimum)):
            raise self.error(path, f"must be {'greater than' if exclusive else 'at least'} {minimum:g}, got {number:g}.")
        if maximum is not None and number > maximum:
            raise self.error(path, f"must be at most {maximum:g}, got {number:g}.")
        return number

    def boolean(self, path: tuple[Any, ...], value: Any) -> bool:
        if isinstance(value, bool):
            return value
        raise self.error(path, f"expected true or false, got {value!r}.")


def parse_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        # YAML 1.1 reads `2.0e9` (no sign in the exponent) as text, so text numbers are the common case.
        match = _NUMBER.match(value)
        if not match:
            return None
        number = float(match.group(1).replace(",", "").replace("_", ""))
        if match.group(2):
            number *= _SUFFIX[match.group(2).lower()]
    else:
        return None
    return number if math.isfinite(number) else None


def load_yaml(path: str | Path, what: str) -> YamlDoc:
    """Read ``path`` as a YAML mapping.

    Raises:
        ConfigError: unreadable file, invalid YAML (with its line), or not a mapping.
    """

    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{source}: {what} not found. Check the path.", file=source) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{source}: cannot read the {what} ({exc.__class__.__name__}: {exc}).", file=source) from None
    root, data = parse_yaml(text, source)
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}:1: the {what} must be a YAML mapping, not {type(data).__name__}.", file=source, line=1)
    return YamlDoc(data, root, source)


def fmt_tokens(tokens: float | None) -> str:
    """``2.4e9`` -> ``2.4B``."""
    if tokens is None:
        return "-"
    for size, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(tokens) >= size:
            return f"{tokens / size:.3g}{suffix}"
    return f"{tokens:.3g}"


def fmt_money(amount: float | None, currency: str = "$") -> str:
    """``12500`` -> ``$12,500``; amounts under 100 keep cents."""
    if amount is None:
        return "-"
    if abs(amount) < 100:
        return f"{currency}{amount:,.2f}"
    return f"{currency}{amount:,.0f}"
