"""Small value helpers the checks and the suite loaders share: reading a suite's loosely typed values as text,
numbers or lists, showing them briefly in a reason, and suggesting the name someone probably meant.

Nothing here knows about assertions or cases; every function takes and returns plain values.
"""

from __future__ import annotations

import csv
import difflib
import json
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "NUMBER",
    "as_number",
    "as_text",
    "closest",
    "unknown",
    "is_number",
    "is_scalar",
    "js_json",
    "js_text",
    "short",
    "split_commas",
    "to_json",
]

NUMBER = re.compile(r"(?<![\w.])[-+\u2212]?(?:(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|\.\d+)(?:[eE][-+]?\d+)?")
"""A number as written in prose: sign (``-``, ``+`` or the Unicode minus), thousands commas, decimals, exponent."""


def as_text(value: Any) -> str:
    """``value`` as text: text unchanged, None as the empty text, anything else as compact JSON.

    Example:
        >>> as_text({"a": 1}), as_text(None), as_text("x")
        ('{"a": 1}', '', 'x')
    """
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return to_json(value)


def to_json(value: Any) -> str:
    """Compact JSON for a reason or a prompt: non-ASCII kept as is, values JSON lacks written with ``str``."""
    return json.dumps(value, ensure_ascii=False, default=str)


def as_number(value: Any) -> float | None:
    """``value`` as a float when it is a finite number or text holding exactly one (``"1,234.5"``,
    ``"\u22123"``), else None.

    Example:
        >>> as_number("1,234.5"), as_number(7), as_number("seven"), as_number(True)
        (1234.5, 7.0, None, None)
    """
    if is_number(value):
        return float(value)
    if isinstance(value, str):
        text = value.strip().replace("\u2212", "-")
        if NUMBER.fullmatch(text):
            return float(text.replace(",", ""))
    return None


def is_number(value: Any) -> bool:
    """Whether ``value`` is a finite int or float; booleans are not numbers here."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def is_scalar(value: Any) -> bool:
    """Whether ``value`` is text or a number (not a boolean): what a label or a list item may be."""
    return isinstance(value, (str, int, float)) and not isinstance(value, bool)


def split_commas(text: str) -> list[str]:
    """promptfoo's convention for a list given as text: comma-separated items, trimmed, empty ones dropped.

    Items in double quotes may hold commas.

    Example:
        >>> split_commas('refund, "30 days, or more", ')
        ['refund', '30 days, or more']
    """
    return [item.strip() for item in next(csv.reader([text], skipinitialspace=True), []) if item.strip()]


def short(text: str, limit: int = 80) -> str:
    """``text`` cut to ``limit`` characters, an ellipsis marking the cut, for reasons and error messages."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def closest(word: str, choices: Iterable[Any], cutoff: float = 0.6) -> str | None:
    """The choice ``word`` most probably misspells (difflib similarity at least ``cutoff``), or None.

    Example:
        >>> closest("expect", ["expected", "assert"])
        'expected'
    """
    matches = difflib.get_close_matches(word, [str(c) for c in choices], n=1, cutoff=cutoff)
    return matches[0] if matches else None


def unknown(what: str, name: Any, known: Iterable[Any], listing: str | None = None) -> str:
    """The message for a name that is not one of ``known``: a likely fix, then (with ``listing``) every choice.

    Example:
        >>> unknown("field", "expect", ["expected", "assert"], "Case fields")
        "unknown field 'expect'; did you mean 'expected'? Case fields: expected, assert."
    """
    suggestion = closest(str(name), known)
    text = f"unknown {what} {name!r}" + (f"; did you mean {suggestion!r}?" if suggestion else ".")
    return text + (f" {listing}: {', '.join(str(k) for k in known)}." if listing else "")


def js_json(value: Any) -> str:
    """``JSON.stringify(value)``: compact, and numbers as JavaScript writes them (``68.0`` is ``68``; NaN and the
    infinities are ``null``).

    Example:
        >>> js_json({"a": 68.0, "b": [1.5, float("nan")]})
        '{"a":68,"b":[1.5,null]}'
    """
    def plain(item: Any) -> Any:
        if isinstance(item, float):
            if item != item or item in (float("inf"), float("-inf")):
                return None
            return int(item) if item.is_integer() and abs(item) < 1e21 else item
        if isinstance(item, dict):
            return {str(k): plain(v) for k, v in item.items()}
        if isinstance(item, (list, tuple)):
            return [plain(v) for v in item]
        return item

    return json.dumps(plain(value), ensure_ascii=False, separators=(",", ":"))


def js_text(value: Any) -> str:
    """A value as JavaScript's ``String()`` prints it inside a nunjucks template.

    Example:
        >>> [js_text(v) for v in (True, None, 2.0, 0.5, ["a", 1, None], {"k": 1})]
        ['true', '', '2', '0.5', 'a,1,', '[object Object]']
    """
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value:
            return "NaN"
        if value in (float("inf"), float("-inf")):
            return "Infinity" if value > 0 else "-Infinity"
        return str(int(value)) if value.is_integer() and abs(value) < 1e21 else repr(value)
    if isinstance(value, (list, tuple)):
        return ",".join(js_text(v) for v in value)
    if isinstance(value, Mapping):
        return "[object Object]"
    return str(value)
