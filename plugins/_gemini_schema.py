"""JSON Schema to Gemini's ``Schema``: the translation behind ``gemini``/``vertex`` native structured output.

Gemini's ``responseSchema`` takes an OpenAPI-3.0 subset, not JSON Schema. :func:`to_gemini_schema` translates
(``$ref`` inlined, ``null`` types as ``nullable``, ``const`` as ``enum``, uppercase types, int64 bounds as
strings, ``propertyOrdering`` in declaration order, unsupported keywords dropped; its docstring has the whole
list). The translation may loosen a constraint, never tighten one: the core validates every answer against the
*original* schema. A schema with no Gemini equivalent at all raises :class:`UnsupportedSchemaError`, and the
request falls back to plain JSON mode (see :mod:`modelswap.plugins._gemini_request`).
"""

from __future__ import annotations

import json
from typing import Any, Mapping

__all__ = ["UnsupportedSchemaError", "to_gemini_schema"]


class UnsupportedSchemaError(ValueError):
    """A JSON Schema that Gemini's ``Schema`` cannot express, not even loosened."""


_TYPES = {
    "string": "STRING",
    "number": "NUMBER",
    "integer": "INTEGER",
    "boolean": "BOOLEAN",
    "array": "ARRAY",
    "object": "OBJECT",
}
# Formats the Gemini API documents per type (Vertex accepts more; this is what both accept).
_FORMATS = {
    "STRING": frozenset({"date-time", "enum"}),
    "NUMBER": frozenset({"float", "double"}),
    "INTEGER": frozenset({"int32", "int64"}),
}
_STRING_HINTS = ("pattern", "minLength", "maxLength")
_NUMBER_HINTS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")
_MAX_NODES = 2000  # inlining $refs can multiply a schema; past this the server's own limits would refuse it


def to_gemini_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """Translate a JSON Schema into the OpenAPI-3.0 subset that Gemini's ``responseSchema`` accepts.

    Kept: ``type`` (uppercase), ``properties``, ``required`` (names that are properties), ``items``, ``enum``
    (strings), ``description``, ``nullable``, ``anyOf``, ``minimum``/``maximum``, ``minLength``/``maxLength``,
    ``pattern``, ``minItems``/``maxItems``, ``minProperties``/``maxProperties`` (int64: sent as strings), and
    the formats both APIs document (``date-time``, ``float``/``double``, ``int32``/``int64``). Each keyword
    only on the type it applies to. Objects with more than one property get ``propertyOrdering`` in
    declaration order (the API orders them alphabetically otherwise, which defeats "reason first, answer last"
    schemas).

    Converted: ``$ref`` to ``#/$defs``, ``#/definitions`` or any local pointer is inlined (its siblings win);
    ``type: [T, "null"]``, ``anyOf``/``oneOf`` with a null branch, and ``null`` in an enum become
    ``nullable: true``; several types become ``anyOf``; ``oneOf`` becomes ``anyOf``; ``allOf`` is merged;
    ``const`` becomes a one-value ``enum``; ``exclusiveMinimum``/``exclusiveMaximum`` become inclusive bounds
    (the next integer for integers, the bound itself for numbers).

    Loosened (the core validates the answer against the original schema): ``additionalProperties``,
    ``patternProperties``, ``not``, ``if``/``then``/``else``, ``uniqueItems``, ``multipleOf``, ``contains``,
    ``dependent*``, ``unevaluated*`` are dropped; a non-string ``enum``/``const`` and an undocumented
    ``format`` move into the description, where the model still reads them. ``title``, ``default``,
    ``examples``, ``$schema``, ``$id``, ``$comment`` are dropped (older API versions refused ``title``; none
    constrains).

    Raises:
        UnsupportedSchemaError: nothing Gemini accepts is close enough: a value of any type (``{}``,
            ``true``), an object without ``properties`` (the API rejects an empty OBJECT), an array without
            ``items``, tuple ``items``/``prefixItems``, a recursive or non-local ``$ref``, ``false``, or a
            schema that grows past 2000 nodes once inlined.

    Example:
        >>> to_gemini_schema({"type": "object", "properties": {"n": {"type": ["integer", "null"]}}})
        {'type': 'OBJECT', 'properties': {'n': {'type': 'INTEGER', 'nullable': True}}}
    """
    return _SchemaTranslator(schema).node(schema, ())


class _SchemaTranslator:
    def __init__(self, root: Mapping[str, Any]) -> None:
        self._root = root
        self._nodes = 0

    def node(self, schema: Any, refs: tuple[str, ...]) -> dict[str, Any]:
        self._nodes += 1
        if self._nodes > _MAX_NODES:
            raise UnsupportedSchemaError(f"more than {_MAX_NODES} nodes once $refs are inlined")
        if schema is True or (isinstance(schema, Mapping) and not _constraining(schema)):
            raise UnsupportedSchemaError("a value of any type")
        if not isinstance(schema, Mapping):
            raise UnsupportedSchemaError(f"{schema!r} is not a schema Gemini can express")
        s = dict(schema)
        ref = s.pop("$ref", None)
        if ref is not None:
            if ref in refs:
                raise UnsupportedSchemaError(f"recursive $ref {ref}")
            target = self._resolve(ref)
            merged = {**dict(target), **{k: v for k, v in s.items() if k not in ("$defs", "definitions")}}
            return self.node(merged, (*refs, ref))
        for part in s.pop("allOf", None) or []:
            part, refs = self._deref(part, refs)
            s = _merge(s, part)
        nullable = False
        # oneOf is read as anyOf (Gemini has no exclusivity; the core checks it). With both, anyOf is kept.
        any_of, one_of = s.pop("anyOf", None), s.pop("oneOf", None)
        branches = any_of if any_of is not None else one_of
        if branches is not None:
            kept = [b for b in branches if not _is_null(b)]
            nullable = len(kept) < len(branches)
            if not kept:
                raise UnsupportedSchemaError("a value that can only be null")
            if len(kept) == 1:
                # Optional[X]: the branch is the type; the outer keywords (a field's description) win.
                branch, branch_refs = self._deref(kept[0], refs)
                out = self.node(_merge(s, branch), branch_refs)
            else:
                # The outer keywords hold for every branch (JSON Schema's implicit allOf).
                rest = {k: v for k, v in s.items() if k not in ("description", "title")}
                out = {"anyOf": []}
                for kept_branch in kept:
                    branch, branch_refs = self._deref(kept_branch, refs)
                    out["anyOf"].append(self.node(_merge(rest, branch), branch_refs))
                _describe(out, s.get("description"), [])
            if nullable:
                out["nullable"] = True
            return out
        types = s.get("type")
        type_list = [types] if isinstance(types, str) else list(types) if isinstance(types, list) else []
        if "null" in type_list:
            nullable = True
            type_list = [t for t in type_list if t != "null"]
        values: list[Any] | None = None
        if "const" in s:
            values = [s["const"]]
        elif isinstance(s.get("enum"), list):
            values = list(s["enum"])
        if values is not None and None in values:
            nullable = True
            values = [v for v in values if v is not None]
        if not type_list:
            type_list = _inferred_types(s, values)
            if not type_list:
                if nullable:
                    raise UnsupportedSchemaError("a value that can only be null")
                raise UnsupportedSchemaError("a value of any type")
        if len(type_list) == 1:
            out = self._typed(s, type_list[0], values, refs)
        else:
            out = {"anyOf": [self._typed(s, t, values, refs, annotate=False) for t in type_list]}
            _describe(out, s.get("description"), [])
        if nullable:
            out["nullable"] = True
        return out

    def _typed(
        self,
        s: Mapping[str, Any],
        json_type: Any,
        values: list[Any] | None,
        refs: tuple[str, ...],
        annotate: bool = True,
    ) -> dict[str, Any]:
        wire = _TYPES.get(json_type) if isinstance(json_type, str) else None
        if wire is None:
            raise UnsupportedSchemaError(f"type {json_type!r}")
        out: dict[str, Any] = {"type": wire}
        notes: list[str] = []
        fmt = s.get("format")
        if isinstance(fmt, str):
            if fmt in _FORMATS.get(wire, ()):
                out["format"] = fmt
            else:
                notes.append(f"format: {fmt}")
        if values is not None:
            mine = [v for v in values if _json_type_matches(v, json_type)]
            if wire == "STRING" and mine:
                out["enum"] = mine
            elif mine:
                notes.append("one of: " + ", ".join(json.dumps(v) for v in mine))
        if wire == "STRING":
            _int64(out, s, "minLength", "maxLength")
            if isinstance(s.get("pattern"), str):
                out["pattern"] = s["pattern"]
        elif wire in ("NUMBER", "INTEGER"):
            for bound, exclusive, pick, step in (
                ("minimum", "exclusiveMinimum", max, 1),
                ("maximum", "exclusiveMaximum", min, -1),
            ):
                candidates = [s[bound]] if _is_number(s.get(bound)) else []
                if _is_number(s.get(exclusive)):
                    # Gemini has no exclusive bounds: exact for integers, the inclusive bound for numbers.
                    edge = s[exclusive]
                    candidates.append(edge + step if wire == "INTEGER" and float(edge).is_integer() else edge)
                if candidates:
                    out[bound] = pick(candidates)
        elif wire == "ARRAY":
            items = s.get("items")
            if "prefixItems" in s or isinstance(items, list):
                raise UnsupportedSchemaError("a tuple (prefixItems)")
            if items is None:
                raise UnsupportedSchemaError("an array without `items`")
            out["items"] = self.node(items, refs)
            _int64(out, s, "minItems", "maxItems")
        elif wire == "OBJECT":
            properties = s.get("properties")
            if not isinstance(properties, Mapping) or not properties:
                raise UnsupportedSchemaError("an object without declared properties")
            out["properties"] = {str(k): self.node(v, refs) for k, v in properties.items()}
            required = [r for r in s.get("required") or [] if r in properties]
            if required:
                out["required"] = required
            if len(properties) > 1:
                out["propertyOrdering"] = [str(k) for k in properties]
            _int64(out, s, "minProperties", "maxProperties")
        _describe(out, s.get("description") if annotate else None, notes)
        return out

    def _resolve(self, ref: str) -> Mapping[str, Any]:
        if not ref.startswith("#"):
            raise UnsupportedSchemaError(f"non-local $ref {ref}")
        node: Any = self._root
        for token in [t for t in ref[1:].split("/") if t]:
            token = token.replace("~1", "/").replace("~0", "~")
            if isinstance(node, Mapping) and token in node:
                node = node[token]
            elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
                node = node[int(token)]
            else:
                raise UnsupportedSchemaError(f"$ref {ref} points at nothing")
        if node is True:
            return {}
        if not isinstance(node, Mapping):
            raise UnsupportedSchemaError(f"$ref {ref} is not a schema")
        return node

    def _deref(self, schema: Any, refs: tuple[str, ...]) -> tuple[dict[str, Any], tuple[str, ...]]:
        """``schema`` with a top-level ``$ref`` replaced by its target (siblings win), and the refs seen."""
        if not isinstance(schema, Mapping):
            if schema is True:
                return {}, refs
            raise UnsupportedSchemaError(f"{schema!r} is not a schema Gemini can express")
        s = dict(schema)
        ref = s.pop("$ref", None)
        if ref is None:
            return s, refs
        if ref in refs:
            raise UnsupportedSchemaError(f"recursive $ref {ref}")
        return self._deref({**dict(self._resolve(ref)), **s}, (*refs, ref))


# Keywords that say something about the value (the rest only annotate it).
_CONSTRAINING = frozenset(
    {
        "type",
        "properties",
        "required",
        "items",
        "prefixItems",
        "enum",
        "const",
        "$ref",
        "anyOf",
        "oneOf",
        "allOf",
        "format",
        "pattern",
        "minLength",
        "maxLength",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "minItems",
        "maxItems",
        "minProperties",
        "maxProperties",
        "additionalProperties",
        "patternProperties",
    }
)


def _constraining(schema: Mapping[str, Any]) -> bool:
    return any(key in _CONSTRAINING for key in schema)


def _is_null(schema: Any) -> bool:
    if not isinstance(schema, Mapping):
        return False
    kind = schema.get("type")
    return (
        kind == "null"
        or kind == ["null"]
        or ("const" in schema and schema["const"] is None)
        or schema.get("enum") == [None]
    )


def _inferred_types(s: Mapping[str, Any], values: list[Any] | None) -> list[str]:
    if "properties" in s:
        return ["object"]
    if "items" in s or "prefixItems" in s:
        return ["array"]
    if values:
        kinds = []
        for value in values:
            kind = _json_type_of(value)
            if kind not in kinds:
                kinds.append(kind)
        return kinds
    if any(key in s for key in _STRING_HINTS):
        return ["string"]
    if any(key in s for key in _NUMBER_HINTS):
        return ["number"]
    return []


def _json_type_of(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _json_type_matches(value: Any, json_type: str) -> bool:
    kind = _json_type_of(value)
    return kind == json_type or (json_type == "number" and kind == "integer")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _int64(out: dict[str, Any], s: Mapping[str, Any], *names: str) -> None:
    # int64 fields travel as JSON strings in the proto3 mapping (Vertex's discovery document insists).
    for name in names:
        value = s.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            out[name] = str(value)


def _describe(out: dict[str, Any], description: Any, notes: list[str]) -> None:
    text = description if isinstance(description, str) else ""
    if notes:
        joined = "; ".join(notes)
        text = f"{text} ({joined})" if text else joined[:1].upper() + joined[1:]
    if text:
        out["description"] = text


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """``allOf``: properties and required add up; any other keyword must agree."""
    merged = dict(base)
    for key, value in extra.items():
        if key == "properties" and isinstance(value, Mapping):
            merged["properties"] = {**dict(merged.get("properties") or {}), **dict(value)}
        elif key == "required" and isinstance(value, list):
            merged["required"] = list(dict.fromkeys([*(merged.get("required") or []), *value]))
        elif key in ("description", "title", "$defs", "definitions", "$comment", "examples", "default"):
            merged.setdefault(key, value)
        elif key in merged and merged[key] != value:
            raise UnsupportedSchemaError(f"allOf parts disagree on {key!r}")
        else:
            merged[key] = value
    return merged
