"""The JSON checks: ``is-json``, ``contains-json``, ``json-schema`` and ``json-path``, and the JSON reading they
share (JSON values embedded in text, JSON equality, the supported JSONPath subset, JSON Schema validation).

``is-json``, ``json-schema`` and ``json-path`` parse the *whole* output, so a reply wrapped in a Markdown code
fence fails them, as it would fail a pipeline's ``json.loads``; ``options.extract: true`` (or
``contains-json``) looks for JSON inside text instead. Schemas are validated with ``jsonschema`` (draft
2020-12 unless the schema names another).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from ._check import AssertionSpecError, Check, CheckContext, Outcome
from ._types import Assertion
from ._values import is_number, short, to_json

__all__ = ["CHECKS", "json_equal", "json_values", "parse_json_path", "promptfoo_json_objects"]

_PATH_STEP = re.compile(
    r"""\.([^.\[\]\s'"]+)"""            # .key
    r"""|\[\s*(-?\d+)\s*\]"""            # [0], [-1]
    r"""|\[\s*'((?:[^'\\]|\\.)*)'\s*\]"""  # ['key']
    r"""|\[\s*"((?:[^"\\]|\\.)*)"\s*\]"""  # ["key"]
)


# -- the checks ---------------------------------------------------------------------------------------------------


def _is_json(a: Assertion, out: str, ctx: CheckContext) -> Outcome:
    try:
        data = json.loads(out)
    except ValueError as exc:
        return Outcome(False, 0.0, f"output is not JSON ({_json_problem(exc)})")
    if a.value is None:
        return Outcome(True, 1.0, "output is JSON")
    return _schema_outcome(data, a.value)


def _contains_json(a: Assertion, out: str, ctx: CheckContext) -> Outcome:
    first_error: str | None = None
    found = False
    values = promptfoo_json_objects(out) if a.options.get("style") == "promptfoo" else json_values(out)
    for data in values:
        found = True
        if a.value is None:
            return Outcome(True, 1.0, f"output contains JSON {short(to_json(data))}")
        error = _schema_error(data, a.value)
        if error is None:
            return Outcome(True, 1.0, f"output contains JSON matching the schema: {short(to_json(data))}")
        first_error = first_error or error
    if not found:
        return Outcome(False, 0.0, "output contains no JSON object or array")
    return Outcome(False, 0.0, f"no JSON in the output matches the schema (first: {first_error})")


def _json_schema(a: Assertion, out: str, ctx: CheckContext) -> Outcome:
    if a.options.get("extract"):
        return _contains_json(a, out, ctx)
    return _is_json(a, out, ctx)


def _json_path(a: Assertion, out: str, ctx: CheckContext) -> Outcome:
    steps = parse_json_path(str(a.path))
    candidates: list[Any]
    if a.options.get("extract"):
        candidates = list(json_values(out))
        if not candidates:
            return Outcome(False, 0.0, "output contains no JSON object or array")
    else:
        try:
            candidates = [json.loads(out)]
        except ValueError as exc:
            return Outcome(False, 0.0, f"output is not JSON ({_json_problem(exc)})")
    reason = ""
    for data in candidates:
        found, value, reason = _walk(data, steps, str(a.path))
        if not found:
            continue
        if a.value is None:
            return Outcome(True, 1.0, f"{a.path} exists ({short(to_json(value))})")
        if json_equal(value, a.value):
            return Outcome(True, 1.0, f"{a.path} is {short(to_json(value))}")
        reason = f"{a.path} is {short(to_json(value))}, not {short(to_json(a.value))}"
    return Outcome(False, 0.0, reason)


# -- validation ---------------------------------------------------------------------------------------------------


def _validate_schema_value(a: Assertion) -> None:
    if a.value is not None:
        _check_schema(a.value)


def _validate_contains_json(a: Assertion) -> None:
    style = a.options.get("style")
    if style is not None and style not in ("promptfoo", "json"):
        raise AssertionSpecError(
            f"contains-json `options.style` is json (objects and arrays, strict JSON; the default) or promptfoo "
            f"(objects only, read leniently, a cut-off object closed), not {style!r}.",
            "options.style",
        )
    _validate_schema_value(a)


def _validate_json_path(a: Assertion) -> None:
    if not a.path:
        raise AssertionSpecError(
            "json-path needs `path`, such as `path: $.customer.name` or `path: $.items[0]`.", "path"
        )
    try:
        parse_json_path(a.path)
    except ValueError as exc:
        raise AssertionSpecError(f"{exc}", "path") from None


def _check_schema(schema: Any) -> None:
    import jsonschema

    if not isinstance(schema, Mapping):
        raise AssertionSpecError(
            f"the schema in `value` must be a mapping such as {{type: object, required: [name]}}, not {schema!r}.",
            "value",
        )
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        cls.check_schema(schema)
    except jsonschema.SchemaError as exc:
        where = _pointer(exc.absolute_path) if exc.absolute_path else "the schema"
        raise AssertionSpecError(
            f"not a valid JSON Schema: {exc.message} (at {where}). Fix the schema in `value`; "
            "see https://json-schema.org/understanding-json-schema.",
            "value",
        ) from None


CHECKS: dict[str, Check] = {
    "is-json": Check(_is_json, validate=_validate_schema_value),
    "contains-json": Check(_contains_json, frozenset({"style"}), validate=_validate_contains_json),
    "json-schema": Check(
        _json_schema, frozenset({"extract"}), "required",
        "the JSON Schema, such as {type: object, required: [name]}.", validate=_validate_schema_value,
    ),
    "json-path": Check(_json_path, frozenset({"extract"}), validate=_validate_json_path),
}
"""The assertion types this module implements."""


# -- reading JSON -------------------------------------------------------------------------------------------------


def parse_json_path(path: str) -> tuple[str | int, ...]:
    """Parse the JSONPath subset ``json-path`` supports: ``$``, ``.key``, ``[index]``, ``['key']``.

    A path without the leading ``$`` is read as if it had one (``a.b`` is ``$.a.b``).

    Raises:
        ValueError: the path uses anything else (wildcards, filters, slices, ``..``).

    Example:
        >>> parse_json_path("$.order.items[0]['unit price']")
        ('order', 'items', 0, 'unit price')
        >>> parse_json_path("customer.name")
        ('customer', 'name')
    """
    text = path.strip()
    if not text.startswith("$"):
        text = "$" + (text if text.startswith("[") else "." + text)
    steps: list[str | int] = []
    position = 1
    while position < len(text):
        match = _PATH_STEP.match(text, position)
        if match is None:
            raise ValueError(
                f"json-path {path!r}: unsupported syntax at {text[position:]!r}. Supported: $.key, $.list[0], "
                "$.list[-1], $['key with spaces']; no wildcards, filters, slices or '..'."
            )
        key, index, single, double = match.groups()
        if index is not None:
            steps.append(int(index))
        else:
            raw = key if key is not None else (single if single is not None else double)
            steps.append(re.sub(r"\\(.)", r"\1", raw) if key is None else raw)
        position = match.end()
    return tuple(steps)


def json_values(text: str) -> Iterator[Any]:
    """Every JSON object or array embedded in ``text``, outermost first, left to right.

    Example:
        >>> list(json_values('Sure: ```json\\n{"a": [1]}\\n``` and [2]'))
        [{'a': [1]}, [2]]
    """
    decoder = json.JSONDecoder()
    position = 0
    while True:
        starts = [i for i in (text.find("{", position), text.find("[", position)) if i >= 0]
        if not starts:
            return
        start = min(starts)
        try:
            value, end = decoder.raw_decode(text, start)
        except ValueError:
            position = start + 1
            continue
        yield value
        position = end


def promptfoo_json_objects(text: str) -> list[Any]:
    """The JSON objects promptfoo's ``contains-json`` finds in ``text`` (its ``extractJsonObjects``, 0.123.1).

    Only ``{...}`` objects count, arrays never; each candidate is read as YAML 1.2 flow style (``//`` comments
    allowed), so unquoted keys pass; an object cut off by the end of the text is closed with the missing braces;
    a found object is skipped over.

    Example:
        >>> promptfoo_json_objects('Here: {name: Ada, "langs": ["en"]} and [1, 2]')
        [{'name': 'Ada', 'langs': ['en']}]
    """
    import yaml

    loader = _yaml12_loader()
    found: list[Any] = []
    limit_length = 100_000
    i = 0
    while i < len(text):
        if text[i] == "{":
            opened, closed, j = 1, 0, i + 1
            end = min(i + limit_length, len(text))
            while j < end and opened > closed:
                if text[j] == "{":
                    opened += 1
                elif text[j] == "}":
                    closed += 1
                j += 1
                if opened == closed or j == len(text) or j == i + limit_length:
                    candidate = _slash_comments_to_hash(text[i:j] + "}" * max(0, opened - closed))
                    try:
                        data = yaml.load(candidate, Loader=loader)  # noqa: S506 (a safe loader)
                    except yaml.YAMLError:
                        if opened == closed:
                            break
                        continue
                    if isinstance(data, (dict, list)):
                        found.append(data)
                        i = j - 1
                        break
        i += 1
    return found


@functools.lru_cache(maxsize=1)
def _yaml12_loader() -> Any:
    """A safe YAML loader with YAML 1.2's core scalars, as promptfoo's js-yaml reads them (``yes`` stays text,
    ``1e3`` is a number)."""
    import yaml

    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class Yaml12Loader(base):  # type: ignore[misc, valid-type]
        pass

    Yaml12Loader.yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:float")]
        for first, resolvers in base.yaml_implicit_resolvers.items()
    }
    Yaml12Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                                       list("tTfF"))
    Yaml12Loader.add_implicit_resolver(
        "tag:yaml.org,2002:float",
        re.compile(r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"),
        list("-+0123456789."),
    )
    return Yaml12Loader


def _slash_comments_to_hash(text: str) -> str:
    """``//`` comments outside quotes as YAML ``#`` comments, line by line (promptfoo's
    convertSlashCommentsToHash); ``://`` inside a token (a URL) is kept."""
    lines = []
    for line in text.split("\n"):
        state, out, i = "normal", "", 0
        while i < len(line):
            char, prev = line[i], line[i - 1] if i else ""
            nxt = line[i + 1] if i + 1 < len(line) else ""
            if state == "normal":
                if char == "'" and not (prev.isascii() and prev.isalpha()):
                    state = "single"
                elif char == '"':
                    state = "double"
                elif char == "/" and nxt == "/":
                    token_start = max((k + 1 for k in range(i - 1, -1, -1) if line[k].isspace()), default=0)
                    if "://" in line[token_start:i + 2]:
                        out += line[i:]
                        break
                    count = 2
                    while i + count < len(line) and line[i + count] == "/":
                        count += 1
                    out += "#" * (count // 2) + line[i + count:]
                    break
                out += char
            else:
                out += char
                escaped = (len(line[:i]) - len(line[:i].rstrip("\\"))) % 2 == 1
                if state == "double" and char == '"' and not escaped:
                    state = "normal"
                elif state == "single" and char == "'" and not escaped and not (nxt.isascii() and nxt.isalpha()):
                    state = "normal"
            i += 1
        lines.append(out)
    return "\n".join(lines)


def json_equal(a: Any, b: Any) -> bool:
    """Equality as JSON means it: ``true`` is not ``1``, ``1`` equals ``1.0``, key order does not matter.

    Example:
        >>> json_equal({"n": 1, "ok": True}, {"ok": True, "n": 1.0}), json_equal(True, 1)
        (True, False)
    """
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b))
    if is_number(a) and is_number(b):
        return a == b
    return type(a) is type(b) and a == b


def _walk(data: Any, steps: Sequence[str | int], path: str) -> tuple[bool, Any, str]:
    here = "$"
    for step in steps:
        if isinstance(step, int):
            if not isinstance(data, list):
                return False, None, f"{path}: {here} is {_kind(data)}, not a list"
            if not -len(data) <= step < len(data):
                return False, None, f"{path}: {here} has {len(data)} items, no [{step}]"
            data = data[step]
            here += f"[{step}]"
        else:
            if not isinstance(data, dict):
                return False, None, f"{path}: {here} is {_kind(data)}, not an object"
            if step not in data:
                return False, None, f"{path}: {here} has no key {step!r}"
            data = data[step]
            here += f".{step}"
    return True, data, ""


@functools.lru_cache(maxsize=256)
def _validator(schema_json: str) -> Any:
    import jsonschema

    schema = json.loads(schema_json)
    return jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)(schema)


def _schema_error(data: Any, schema: Any) -> str | None:
    import jsonschema

    validator = _validator(json.dumps(schema, sort_keys=True, default=str))
    error = jsonschema.exceptions.best_match(validator.iter_errors(data))
    return None if error is None else f"{_pointer(error.absolute_path)}: {error.message}"


def _schema_outcome(data: Any, schema: Any) -> Outcome:
    error = _schema_error(data, schema)
    if error is None:
        return Outcome(True, 1.0, "output is JSON matching the schema")
    return Outcome(False, 0.0, f"output JSON breaks the schema at {error}")


def _pointer(path: Any) -> str:
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)


def _json_problem(exc: ValueError) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at line {exc.lineno} column {exc.colno}"
    return str(exc)


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "text", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )
