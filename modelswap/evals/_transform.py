"""promptfoo's ``options.transform`` where it is a plain expression on ``output``, run without JavaScript.

promptfoo runs a transform as JavaScript. modelswap runs no code from suites, but most transforms in real configs
are one plain expression: a chain of string methods on ``output``. :func:`compile_transform` reads that subset and
refuses anything else with the reason, so an import lists what it cannot carry over instead of guessing:

* ``output``, ``JSON.parse(...)``, ``JSON.stringify(...)``, ``String(...)``, parentheses;
* methods: ``trim``, ``trimStart``, ``trimEnd``, ``toLowerCase``, ``toUpperCase``, ``replace`` and ``replaceAll``
  (a string or a ``/regex/flags`` literal, and a replacement text with ``$1``, ``$&``, ``$$``), ``split`` (a
  string or a regex), ``slice``, ``substring``, ``at``, ``join``; indexes ``[n]`` and property names (``.answer``,
  ``['key']``) on parsed JSON; ``.length``.

A value that is not text (a parsed object, a split list) reaches the assertions as compact JSON, as in promptfoo.

Example:
    >>> compile_transform("output.trim().toLowerCase()")("  Paris\\n")
    'paris'
    >>> compile_transform("JSON.parse(output).city")('{"city": "Lyon"}')
    'Lyon'
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any, Callable

from ._values import js_json, js_text

__all__ = ["TransformError", "apply_transform", "compile_transform", "js_regex_to_python"]


class TransformError(Exception):
    """A transform is outside the supported subset (at compile time) or failed on an output (at run time)."""


_TOKEN = re.compile(
    r"""\s*(?:
        (?P<number>-?\d+(?:\.\d+)?)
      | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|`(?:[^`\\$]|\\.)*`)
      | (?P<regex>/(?:[^/\\\n\[]|\\.|\[(?:[^\]\\]|\\.)*\])+/[a-z]*)
      | (?P<name>[A-Za-z_$][\w$]*)
      | (?P<punct>[.()\[\],;])
    )""",
    re.VERBOSE,
)
_NO_ARGS = {
    "trim": str.strip, "trimStart": str.lstrip, "trimEnd": str.rstrip, "toLowerCase": str.lower,
    "toUpperCase": str.upper,
}
_WITH_ARGS = {"replace", "replaceAll", "split", "slice", "substring", "at", "join", "includes", "startsWith",
              "endsWith"}

Node = Callable[[str], Any]


class _Regex:
    def __init__(self, literal: str) -> None:
        body, flags = literal[1:].rsplit("/", 1)
        if set(flags) - set("gimsu"):
            raise TransformError(f"regex flags {flags!r}: only g, i, m, s and u are supported")
        self.global_ = "g" in flags
        self.pattern = re.compile(
            js_regex_to_python(body, multiline="m" in flags),
            (re.IGNORECASE if "i" in flags else 0) | (re.MULTILINE if "m" in flags else 0)
            | (re.DOTALL if "s" in flags else 0),
        )


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens: list[tuple[str, str]] = []
        position = 0
        text = source.strip()
        if text.startswith("return "):
            text = text[len("return "):]
        text = text.rstrip().rstrip(";")
        while position < len(text):
            match = _TOKEN.match(text, position)
            if match is None or match.end() == position:
                raise TransformError(f"cannot read {text[position:position + 20]!r}")
            kind = match.lastgroup or ""
            self.tokens.append((kind, match.group(kind)))
            position = match.end()
            while position < len(text) and text[position].isspace():
                position += 1
        self.at = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (value is not None and token[1] != value):
            raise TransformError(f"expected {value or 'more'} at token {self.at + 1}")
        self.at += 1
        return token

    def parse(self) -> Node:
        node = self.expression()
        if self.peek() is not None:
            raise TransformError(f"unexpected {self.peek()[1]!r}")  # type: ignore[index]
        return node

    def expression(self) -> Node:
        node = self.primary()
        while (token := self.peek()) is not None and token[1] in (".", "["):
            node = self.member(node)
        return node

    def primary(self) -> Node:
        kind, value = self.take()
        if kind == "name" and value == "output":
            return lambda out: out
        if kind == "name" and value in ("JSON", "String"):
            function = value
            if value == "JSON":
                self.take(".")
                function = "JSON." + self.take()[1]
            self.take("(")
            inner = self.expression()
            self.take(")")
            if function == "JSON.parse":
                return lambda out: _json_parse(_as_text(inner(out)))
            if function == "JSON.stringify":
                return lambda out: js_json(inner(out))
            if function == "String":
                return lambda out: _as_text(inner(out))
            raise TransformError(f"{function} is not supported")
        if kind == "punct" and value == "(":
            inner = self.expression()
            self.take(")")
            return inner
        raise TransformError(f"{value!r} is not supported; start from `output`")

    def member(self, node: Node) -> Node:
        if self.take()[1] == "[":
            key = self.literal()
            self.take("]")
            return lambda out: _index(node(out), key)
        name = self.take()[1]
        if name == "length":
            return lambda out: len(node(out))
        if self.peek() is None or self.peek()[1] != "(":  # type: ignore[index]
            return lambda out: _index(node(out), name)
        self.take("(")
        args: list[Any] = []
        while self.peek() is not None and self.peek()[1] != ")":  # type: ignore[index]
            args.append(self.literal())
            if self.peek() is not None and self.peek()[1] == ",":  # type: ignore[index]
                self.take(",")
        self.take(")")
        if name in _NO_ARGS:
            if args:
                raise TransformError(f"{name}() takes no arguments")
            method = _NO_ARGS[name]
            return lambda out: method(_need_text(node(out), name))
        if name not in _WITH_ARGS:
            raise TransformError(f"the method {name}() is not supported")
        return lambda out: _call(node(out), name, args)

    def literal(self) -> Any:
        kind, value = self.take()
        if kind == "number":
            return float(value) if "." in value else int(value)
        if kind == "string":
            if value.startswith("`"):
                value = '"' + value[1:-1].replace('"', '\\"') + '"'
            elif value.startswith("'"):
                value = '"' + value[1:-1].replace('\\\'', "'").replace('"', '\\"') + '"'
            return json.loads(value)
        if kind == "regex":
            try:
                return _Regex(value)
            except re.error as exc:
                raise TransformError(f"regex {value}: {exc}") from None
        raise TransformError(f"{value!r}: only text, number and /regex/ arguments are supported")


def compile_transform(expression: str) -> Callable[[str], str]:
    """Compile a promptfoo transform expression into a function from an output to the transformed text.

    Raises:
        TransformError: the expression is not in the supported subset (see the module docs), naming what.
    """
    if "\n" in expression.strip():
        raise TransformError("a function body (several lines) is JavaScript code")
    if "=>" in expression or "function" in expression:
        raise TransformError("a function is JavaScript code")
    try:
        node = _Parser(expression).parse()
    except TransformError as exc:
        raise TransformError(f"not a plain expression on `output` ({exc})") from None

    def run(output: str) -> str:
        try:
            value = node(output)
        except TransformError:
            raise
        except (ValueError, TypeError, IndexError, KeyError, AttributeError) as exc:
            raise TransformError(f"{expression}: {exc}") from None
        if value is None:
            raise TransformError(f"{expression}: gave no value")
        return _as_text(value)

    return run


def apply_transform(expression: str, output: str) -> str:
    """``expression`` applied to ``output`` (compiled once per expression).

    Raises:
        TransformError: unsupported, or it failed on this output (``JSON.parse`` of text that is not JSON).
    """
    return _compiled(expression)(output)


_compiled = functools.lru_cache(maxsize=256)(compile_transform)


# -- JavaScript semantics ---------------------------------------------------------------------------------------


def js_regex_to_python(pattern: str, *, multiline: bool = False) -> str:
    r"""A JavaScript regex (no flags, as promptfoo compiles ``regex`` values) in Python's syntax, same matches.

    Named groups ``(?<n>...)`` become ``(?P<n>...)``; ``\d``/``\w`` keep JavaScript's ASCII meaning; without the
    ``m`` flag, ``$`` outside a class means the very end (Python's ``$`` also matches before a final newline).

    Example:
        >>> js_regex_to_python(r"^(?<year>\d{4})$")
        '^(?P<year>[0-9]{4})\\Z'
    """
    ascii_classes = {"d": "0-9", "w": "A-Za-z0-9_"}
    out: list[str] = []
    in_class = False
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            escape = pattern[i + 1]
            if escape in "dw":
                out.append(ascii_classes[escape] if in_class else f"[{ascii_classes[escape]}]")
            elif escape in "DW" and not in_class:
                out.append(f"[^{ascii_classes[escape.lower()]}]")
            else:
                out.append(char + escape)
            i += 2
            continue
        if in_class:
            in_class = char != "]"
            out.append(char)
        elif char == "[":
            in_class = True
            out.append(char)
            if pattern[i + 1:i + 2] == "]":  # []] is not a thing in JS: [] matches nothing
                out.append("]")
                i += 1
        elif char == "$" and not multiline:
            out.append(r"\Z")
        elif pattern.startswith("(?<", i) and pattern[i + 3:i + 4] not in ("=", "!"):
            out.append("(?P<")
            i += 3
            continue
        else:
            out.append(char)
        i += 1
    return "".join(out)


def _as_text(value: Any) -> str:
    # What the assertions see: text and numbers as JavaScript prints them, anything else as JSON.stringify.
    return js_text(value) if isinstance(value, (str, bool, int, float)) else js_json(value)


def _json_parse(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise TransformError(f"JSON.parse: {exc}") from None


def _need_text(value: Any, method: str) -> str:
    if not isinstance(value, str):
        raise TransformError(f"{method}() on a {type(value).__name__}, not text")
    return value


def _index(value: Any, key: Any) -> Any:
    if isinstance(value, (list, str)) and isinstance(key, int):
        return value[key] if -len(value) <= key < len(value) and key >= 0 else None
    if isinstance(value, dict):
        return value.get(str(key))
    raise TransformError(f"[{key!r}] on a {type(value).__name__}")


def _js_replacement(template: str, match: re.Match[str]) -> str:
    def one(m: re.Match[str]) -> str:
        token = m.group(0)
        if token == "$$":
            return "$"
        if token == "$&":
            return match.group(0)
        group = int(token[1:])
        return (match.group(group) or "") if group <= (match.re.groups or 0) else token
    return re.sub(r"\$\$|\$&|\$\d{1,2}", one, template)


def _js_slice(args: list[Any]) -> slice:
    start = int(args[0]) if args else 0
    return slice(start, int(args[1]) if len(args) > 1 else None)


def _call(value: Any, name: str, args: list[Any]) -> Any:
    if name == "join":
        if not isinstance(value, list):
            raise TransformError("join() on a value that is not a list")
        separator = args[0] if args else ","
        return str(separator).join(_as_text(v) for v in value)
    if name == "at":
        if not isinstance(value, (list, str)) or not args or not isinstance(args[0], int):
            raise TransformError("at(n) needs a list or text and a whole number")
        n = args[0]
        return value[n] if -len(value) <= n < len(value) else None
    if name == "slice" and isinstance(value, list):
        return value[_js_slice(args)]
    text = _need_text(value, name)
    if name in ("includes", "startsWith", "endsWith"):
        needle = str(args[0]) if args else "undefined"
        return {"includes": needle in text, "startsWith": text.startswith(needle),
                "endsWith": text.endswith(needle)}[name]
    if name == "slice":
        return text[_js_slice(args)]
    if name == "substring":
        start = max(0, min(int(args[0]) if args else 0, len(text)))
        end = max(0, min(int(args[1]), len(text))) if len(args) > 1 else len(text)
        return text[min(start, end):max(start, end)]
    if name == "split":
        if not args:
            return [text]
        separator = args[0]
        parts = separator.pattern.split(text) if isinstance(separator, _Regex) else (
            list(text) if separator == "" else text.split(str(separator)))
        return parts[: int(args[1])] if len(args) > 1 else parts
    # replace / replaceAll
    if len(args) != 2 or not isinstance(args[1], str):
        raise TransformError(f"{name}(pattern, text) needs a pattern and a replacement text")
    pattern, replacement = args
    if isinstance(pattern, _Regex):
        if name == "replaceAll" and not pattern.global_:
            raise TransformError("replaceAll with a regex needs the g flag")
        count = 0 if pattern.global_ else 1
        return pattern.pattern.sub(lambda m: _js_replacement(replacement, m), text, count=count)
    literal = re.compile(re.escape(str(pattern)))
    return literal.sub(lambda m: _js_replacement(replacement, m), text, count=0 if name == "replaceAll" else 1)
