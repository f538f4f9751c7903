"""A promptfoo test and its assertions in modelswap's terms, and the notes on what cannot be carried over.

promptfoo's comparisons are kept: ``equals``, ``starts-with`` and ``levenshtein`` as written (``options.exact``),
``contains-json`` as promptfoo reads JSON in text (``options.style: promptfoo``), regexes with JavaScript's
meaning (:func:`js_regex_to_python`), ``metric`` names, and transforms that are a plain expression on ``output``.
What cannot be carried over becomes a note (:class:`Notes`) naming the file, line and place; the assertion is
left out, the test kept. Part of :mod:`modelswap.evals._promptfoo`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .._errors import ConfigError
from ._assertions import ASSERTION_TYPES, parse_assertion
from ._check import AssertionSpecError
from ._source import Location, parse_yaml, read_text, resolve_ref
from ._transform import TransformError, compile_transform, js_regex_to_python
from ._types import Assertion
from ._values import split_commas

__all__ = ["Notes", "assertion_from_string", "js_regex_to_python", "map_test", "place"]

# promptfoo assertion types modelswap cannot evaluate, with the reason shown in the report.
_UNMAPPABLE_HINT = {
    "javascript": "runs code; rewrite it as regex, json-path, numeric or llm-rubric",
    "python": "runs code; rewrite it as regex, json-path, numeric or llm-rubric",
    "webhook": "calls a web service; modelswap suites make no calls besides the models",
    "ruby": "runs code; rewrite it as regex, json-path, numeric or llm-rubric",
    "assert-set": "nested assertion sets are not supported; list the assertions directly",
}
# Names promptfoo's CSV `__expected` column recognizes as `type[(threshold)]: value` (others are plain text).
_PROMPTFOO_TYPES = tuple(ASSERTION_TYPES) + (
    "answer-relevance", "bleu", "classifier", "context-faithfulness", "context-recall", "context-relevance",
    "factuality", "finish-reason", "g-eval", "gleu", "guardrails", "is-html", "contains-html", "is-refusal",
    "is-sql", "contains-sql", "is-xml", "contains-xml", "is-valid-function-call", "is-valid-openai-function-call",
    "is-valid-openai-tools-call", "meteor", "model-graded-closedqa", "model-graded-factuality", "moderation",
    "perplexity", "perplexity-score", "pi", "rouge-n", "select-best", "max-score", "trace-span-count",
    "trace-span-duration", "trace-error-spans", "webhook", "word-count",
)
_CSV_ASSERTION = re.compile(
    r"^(not-)?(" + "|".join(sorted(map(re.escape, _PROMPTFOO_TYPES), key=len, reverse=True))
    + r")(?:\((\d+(?:\.\d+)?)\))?(?::([\s\S]*))?$"
)
# promptfoo gives these scored types a threshold when a CSV cell names none (0.8 for similar, else 0.75).
_CSV_SCORED = frozenset({
    "answer-relevance", "classifier", "context-faithfulness", "context-recall", "context-relevance", "cost",
    "latency", "levenshtein", "perplexity", "perplexity-score", "rouge-n", "similar", "starts-with",
})


def place(loc: Location, path: tuple[Any, ...]) -> str:
    """``file.yaml:12``: the file's name and the line of the piece at ``path`` below ``loc``, as notes show it."""
    line = loc.line_of(*path)
    return Path(loc.source).name + (f":{line}" if line else "")


class Notes:
    """What an import cannot carry over, each with its file, line and place in the config."""

    def __init__(self) -> None:
        self._seen: dict[str, None] = {}

    def add(self, loc: Location, path: tuple[Any, ...], text: str) -> None:
        self._seen.setdefault(f"{place(loc, path)}: {text}", None)

    def texts(self) -> list[str]:
        return list(self._seen)


def assertion_from_string(text: str) -> dict[str, Any]:
    """promptfoo's CSV shorthand: ``contains: Paris``, ``not-icontains: sorry``, ``similar(0.7): text``,
    ``icontains-any: a, b``, ``grade: <rubric>``, ``javascript: ...``; anything else is an ``equals`` value.

    The text after the colon is trimmed (``contains: Paris`` looks for ``Paris``), except an ``is-json`` or
    ``contains-json`` schema. As in promptfoo, ``similar`` gets threshold 0.8 and ``levenshtein``,
    ``starts-with`` and the other scored types 0.75 unless ``(n)`` gives one (so a CSV ``levenshtein`` passes
    only on an exact match).

    Example:
        >>> assertion_from_string("similar(0.7): The store opens at 9")
        {'type': 'similar', 'value': 'The store opens at 9', 'threshold': 0.7}
        >>> assertion_from_string("Paris")
        {'type': 'equals', 'value': 'Paris'}
    """
    for prefix, kind in (("javascript:", "javascript"), ("fn:", "javascript"), ("eval:", "javascript"),
                         ("python:", "python"), ("grade:", "llm-rubric"), ("llm-rubric:", "llm-rubric")):
        if text.startswith(prefix):
            return {"type": kind, "value": text[len(prefix):].strip()}
    if text.startswith("file://") and text.endswith((".js", ".py")):
        return {"type": "javascript" if text.endswith(".js") else "python", "value": text}
    match = _CSV_ASSERTION.match(text.strip())
    if match is None:
        return {"type": "equals", "value": text.strip()}
    negate, kind, threshold, value = match.groups()
    out: dict[str, Any] = {"type": (negate or "") + kind}
    if value is not None and value.strip():
        if kind.endswith(("-any", "-all")):
            out["value"] = split_commas(value)
        else:
            out["value"] = value if kind in ("is-json", "contains-json") else value.strip()
    if threshold is not None:
        out["threshold"] = float(threshold)
    elif kind in _CSV_SCORED:
        out["threshold"] = 0.8 if kind == "similar" else 0.75
    return out


def map_test(test: dict[str, Any], label: str, base: Path, loc: Location, notes: Notes) -> dict[str, Any]:
    """A promptfoo test (or ``defaultTest``) as a case mapping; what cannot be mapped goes to ``notes``.

    Keys for the importer only start with ``_``: ``_prefix``/``_suffix`` (added to the prompt), ``_no_expansion``
    and ``_disable_default_asserts``."""
    out: dict[str, Any] = {}
    for key, value in test.items():
        if key == "_ignored":
            notes.add(loc, (), f"{label}: columns {', '.join(value)} ignored")
        elif key == "vars":
            if not isinstance(value, Mapping):
                raise loc.error("`vars` must be a mapping.", "vars")
            out["vars"] = {k: _var_value(v, base, loc, k) for k, v in value.items()}
        elif key == "assert":
            if not isinstance(value, list):
                raise loc.error("`assert` must be a list.", "assert")
            out["_had_asserts"] = bool(value)
            out["assert"] = [
                mapped for i, item in enumerate(value)
                if (mapped := _map_assertion(item, f"{label}.assert[{i}]", base, loc, ("assert", i), notes)) is not None
            ]
        elif key in ("description", "threshold", "metadata"):
            out[key] = value
        elif key == "options" and isinstance(value, Mapping):
            for option, item in value.items():
                if option in ("transform", "postprocess"):
                    try:
                        compile_transform(str(item))
                        out["transform"] = str(item)
                    except TransformError as exc:
                        notes.add(loc, ("options", option), f"{label}: options.{option} not mapped ({exc}); "
                                                             "its assertions see the raw output")
                elif option in ("prefix", "suffix"):
                    out["_" + option] = "" if item is None else str(item)
                elif option == "disableDefaultAsserts":
                    out["_disable_default_asserts"] = bool(item)
                elif option == "disableVarExpansion":
                    out["_no_expansion"] = bool(item)
                elif option in ("provider", "rubricPrompt"):
                    notes.add(loc, ("options", option), f"{label}: options.{option} ignored; set the judge with "
                                                        "`judge:` or --judge")
                elif option not in ("runSerially",):
                    notes.add(loc, ("options", option), f"{label}: options.{option} ignored")
        elif key == "provider":
            notes.add(loc, (key,), f"{label}: provider ignored; the regression run picks the models")
        elif key == "providerOutput":
            notes.add(loc, (key,), f"{label}: providerOutput ignored; modelswap grades live model answers")
        else:
            notes.add(loc, (key,), f"{label}: {key} ignored")
    return out


def _map_assertion(
    item: Any, label: str, base: Path, test_loc: Location, where: tuple[Any, ...], notes: Notes
) -> Assertion | None:
    loc = test_loc.at(*where)
    if isinstance(item, str):
        item = assertion_from_string(item)
    if not isinstance(item, Mapping):
        raise loc.error(f"an assertion must be a mapping with `type`, not {type(item).__name__}.")
    kind = item.get("type")
    if not isinstance(kind, str):
        raise loc.error("the assertion has no `type`.", "type")
    base_kind = kind[4:] if kind.startswith("not-") else kind
    if base_kind not in ASSERTION_TYPES or base_kind in ("json-schema", "json-path", "numeric", "choice"):
        # json-schema, json-path, numeric and choice are modelswap's own names; promptfoo has no such types.
        hint = _UNMAPPABLE_HINT.get(base_kind, "no modelswap equivalent")
        notes.add(test_loc, where, f"{label}: {kind} not mapped ({hint})")
        return None
    out: dict[str, Any] = {"type": kind}
    transform = item.get("transform")
    if transform:
        try:
            compile_transform(str(transform))
            out["transform"] = str(transform)
        except TransformError as exc:
            notes.add(test_loc, where, f"{label}: {kind} not mapped (its transform: {exc})")
            return None
    if item.get("contextTransform"):
        notes.add(test_loc, where, f"{label}: {kind} not mapped (contextTransform runs code)")
        return None
    value = item.get("value")
    if isinstance(value, str) and value.startswith("file://"):
        value = _file_value(value, base, loc, label, kind, notes, test_loc, where)
        if value is _UNMAPPED:
            return None
    if base_kind in ("is-json", "contains-json") and isinstance(value, str):
        # promptfoo accepts the schema as YAML or JSON text.
        try:
            _, value = parse_yaml(value, "value")
        except ConfigError as exc:
            raise loc.error(f"{kind} `value` is not a JSON Schema: {exc}", "value") from None
    if base_kind == "regex" and isinstance(value, str):
        value = js_regex_to_python(value)
    if value is not None:
        out["value"] = value
    for key in ("threshold", "weight", "metric"):
        if item.get(key) is not None:
            out[key] = item[key]
    # promptfoo's own comparisons: as written (no trimming), and its lenient reading of JSON objects in text.
    if base_kind in ("equals", "starts-with", "levenshtein"):
        out["options"] = {"exact": True}
    elif base_kind == "contains-json":
        out["options"] = {"style": "promptfoo"}
    try:
        parsed = parse_assertion(out)
    except AssertionSpecError as exc:
        raise loc.error(exc.message, *exc.path) from None
    if base_kind == "similar":
        notes.add(test_loc, where, f"{label}: similar is lexical in modelswap (promptfoo uses embeddings); check "
                                   "its threshold")
    for key in item:
        if key in ("provider", "rubricPrompt"):
            notes.add(test_loc, (*where, key), f"{label}: {key} ignored; modelswap uses the suite judge and its own "
                                               "rubric prompt")
        elif key not in ("type", "value", "threshold", "weight", "metric", "transform", "contextTransform"):
            notes.add(test_loc, (*where, key), f"{label}: {key} ignored")
    return parsed


_UNMAPPED = object()


def _file_value(ref: str, base: Path, loc: Location, label: str, kind: str, notes: Notes, test_loc: Location,
                where: tuple[Any, ...]) -> Any:
    target = resolve_ref(re.sub(r":[A-Za-z_]\w*$", "", ref), base)
    if target.suffix.lower() in (".js", ".ts", ".mjs", ".cjs", ".py"):
        notes.add(test_loc, where, f"{label}: {kind} not mapped (its value is code in {target.name})")
        return _UNMAPPED
    if not target.is_file():
        raise loc.error(f"{ref} not found (looked for {target}). Paths are relative to the config file.", "value")
    text = read_text(target)
    if target.suffix.lower() in (".json", ".yaml", ".yml"):
        return parse_yaml(text, str(target))[1]
    return text.strip()


def _var_value(value: Any, base: Path, loc: Location, name: str) -> Any:
    # promptfoo loads `file://` var values (documents, transcripts) as their trimmed text, and drops one final
    # newline from every text var.
    if isinstance(value, str) and value.startswith("file://"):
        target = resolve_ref(value, base)
        if target.suffix.lower() in (".js", ".ts", ".py"):
            raise loc.error(f"var {name!r} is computed by code ({value}); modelswap runs none. Inline the value.",
                            "vars", name)
        if not target.is_file():
            raise loc.error(f"{value} not found (looked for {target}).", "vars", name)
        return read_text(target).strip()
    if isinstance(value, str):
        return value[:-1] if value.endswith("\n") else value
    if isinstance(value, list):
        return [_var_value(v, base, loc, name) for v in value]
    return value
