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
from typing import Any, Iterator, Mapping, Sequence

from ._check import AssertionSpecError, Check, CheckContext, Outcome
from ._types import Assertion
from ._values import is_number, short, to_json

__all__ = ["CHECKS", "json_equal", "json_values", "parse_json_path"]

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
    for data in json_values(out):
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
    "contains-json": Check(_contains_json, validate=_validate_schema_value),
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
