"""Where a promptfoo config's pieces come from: its prompts (inline, files, objects), its test files (YAML, JSON,
JSONL, CSV, globs) and its providers. Each prompt keeps the label promptfoo gives it. Part of
:mod:`modelswap.evals._promptfoo`.
"""

from __future__ import annotations

import csv
import glob
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._errors import ConfigError
from ._cases import parse_messages
from ._promptfoo_map import Notes, assertion_from_string, place
from ._source import Location, field_name, jsonl_rows, parse_yaml, read_text, resolve_ref
from ._values import split_commas

__all__ = ["Prompt", "prompts_of", "provider_model_id", "providers_of", "tests_of"]

# A provider's config keys that are generation params, and their modelswap names.
_PROVIDER_PARAMS = {"temperature": "temperature", "max_tokens": "max_tokens", "top_p": "top_p", "seed": "seed",
                    "stop": "stop", "maxOutputTokens": "max_tokens"}
# The second part of a provider id that names an API mode, not the model (`openai:chat:<model>`).
_PROVIDER_MODES = frozenset({"chat", "completion", "completions", "messages", "responses", "embedding", "embeddings"})


@dataclass(frozen=True)
class Prompt:
    template: str | list[dict[str, Any]]
    label: str        # as promptfoo shows it
    key: str | None   # the label the config gave (map value, `label`, `id`), for case ids


def providers_of(value: Any, loc: Location, notes: Notes) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The providers as ``{id, label, model_id, params}`` (the regression run maps them to aliases by model id),
    and the generation params they agree on (promptfoo sends each provider's own)."""
    if value is None:
        return [], {}
    items = value if isinstance(value, list) else [value]
    out: list[dict[str, Any]] = []
    for i, item in enumerate(items):
        where = ("providers", i) if isinstance(value, list) else ("providers",)
        if isinstance(item, str):
            spec: dict[str, Any] = {"id": item}
        elif isinstance(item, Mapping) and isinstance(item.get("id"), str):
            spec = dict(item)
        elif isinstance(item, Mapping) and len(item) == 1 and isinstance(next(iter(item)), str):
            spec = {"id": next(iter(item)), **(next(iter(item.values())) or {})}  # {id: {config: ...}}
        else:
            notes.add(loc, where, f"{field_name(where)}: not a provider id modelswap can read; ignored")
            continue
        ident = spec["id"]
        if ident.startswith(("file://", "exec:", "python:", "http:", "https:", "webhook:")):
            notes.add(loc, where, f"{field_name(where)}: {ident} runs code or calls a custom endpoint; map it to a "
                                  "configured alias with --baseline/--candidate")
            continue
        config = spec.get("config") if isinstance(spec.get("config"), Mapping) else {}
        params = {name: config[key] for key, name in _PROVIDER_PARAMS.items() if config.get(key) is not None}
        out.append({"id": ident, "label": spec.get("label"), "model_id": provider_model_id(ident), "params": params,
                    "where": place(loc, where)})
    shared: dict[str, Any] = {}
    if out:
        first = out[0]["params"]
        for name, item in first.items():
            if all(p["params"].get(name) == item for p in out[1:]):
                shared[name] = item
        differing = sorted({n for p in out for n in p["params"]} - set(shared))
        if differing:
            notes.add(loc, ("providers",), f"providers: they set different {', '.join(differing)}; modelswap sends one set "
                                            "of params to both models, so those are left to each model's defaults")
    return out, shared


def provider_model_id(ident: str) -> str:
    """The model id in a promptfoo provider id: ``openai:chat:gpt-4o-mini`` -> ``gpt-4o-mini``,
    ``ollama:chat:llama3.1:8b`` -> ``llama3.1:8b``, ``anthropic:messages:claude-x`` -> ``claude-x``.

    Example:
        >>> provider_model_id("openrouter:meta-llama/llama-3.1-8b-instruct")
        'meta-llama/llama-3.1-8b-instruct'
    """
    parts = ident.split(":")
    if len(parts) == 1:
        return ident
    rest = parts[1:]
    if len(rest) > 1 and rest[0] in _PROVIDER_MODES:
        rest = rest[1:]
    return ":".join(rest)


def prompts_of(value: Any, loc: Location, base: Path) -> list[Prompt]:
    if value is None:
        raise loc.error("the config has no `prompts`. Add the prompt template, such as prompts: ['Answer: {{question}}'].")
    if isinstance(value, Mapping):
        # The map form: {raw text or file://path: label}.
        entries: list[tuple[Any, tuple[Any, ...], str | None]] = [
            (k, ("prompts", k), v if isinstance(v, str) else None) for k, v in value.items()]
    elif isinstance(value, list):
        entries = [(item, ("prompts", i), None) for i, item in enumerate(value)]
    else:
        entries = [(value, ("prompts",), None)]
    prompts: list[Prompt] = []
    seen: set[str] = set()
    for item, where, label in entries:
        if isinstance(item, Mapping):
            label = item.get("label") if isinstance(item.get("label"), str) else None
            key = label or (item.get("id") if isinstance(item.get("id"), str) and not item["id"].startswith("file://")
                            else None)
            raw = item.get("raw")
            if isinstance(raw, str):
                if key is None:
                    raise loc.error("a prompt given as {raw: ...} needs a `label` (promptfoo refuses it too).", *where)
                prompts.append(Prompt(_parse_prompt_text(raw, loc, where), label or key, key))
                continue
            ref = item.get("id") or item.get("file")
            if not isinstance(ref, str):
                raise loc.error("a prompt is text, a file:// reference, or {raw: ..., label: ...} / {id: file://...}.",
                                *where)
            for template, shown in _prompt_source(ref, loc, where, base):
                prompts.append(Prompt(template, f"{label}: {shown}" if label else shown, label))
            continue
        if not isinstance(item, str):
            raise loc.error("a prompt is text, a file:// reference, or {raw: ..., label: ...} / {id: file://...}.",
                            *where)
        if not item.startswith("file://"):
            if item in seen:
                continue  # promptfoo keeps identical prompts once
            seen.add(item)
        for template, shown in _prompt_source(item, loc, where, base):
            prompts.append(Prompt(template, label or shown, label))
    if not prompts:
        raise loc.error("`prompts` is empty. Add the prompt template.", "prompts")
    return prompts


def _prompt_source(item: str, loc: Location, where: tuple[Any, ...], base: Path
                   ) -> list[tuple[str | list[dict[str, Any]], str]]:
    """The prompts one entry holds, each with the label promptfoo gives it."""
    if not item.startswith("file://"):
        return [(_parse_prompt_text(item, loc, where), item)]
    shown = item[len("file://"):]
    return [(template, f"{shown}: {text}") for template, text in _prompt_file(item, loc, where, base)]


def _prompt_file(ref: str, loc: Location, where: tuple[Any, ...], base: Path
                 ) -> list[tuple[str | list[dict[str, Any]], str]]:
    """The prompts in a file, each with its text as promptfoo labels it."""
    spec = ref[len("file://"):]
    # `file://prompts.py:make_prompt` names a function inside the file.
    file_part = re.sub(r":[A-Za-z_][\w]*$", "", spec)
    suffix = Path(file_part).suffix.lower()
    if suffix in (".py", ".js", ".ts", ".mjs", ".cjs"):
        raise loc.error(
            f"{ref} is a prompt function; modelswap runs no code from suites. Export the prompt it builds as a "
            ".txt or .json file and reference that.",
            *where,
        )
    target = resolve_ref("file://" + file_part, base)
    paths = sorted(Path(p) for p in glob.glob(str(target))) if any(c in file_part for c in "*?[") else [target]
    if not paths or not all(p.is_file() for p in paths):
        raise loc.error(f"{ref} not found (looked for {target}). Paths are relative to the config file.", *where)
    prompts: list[tuple[str | list[dict[str, Any]], str]] = []
    for file in paths:
        text = read_text(file)
        kind = file.suffix.lower()
        if kind in (".json", ".yaml", ".yml"):
            _, data = parse_yaml(text, str(file))
            if not isinstance(data, list):
                raise loc.error(f"{ref}: a .json or .yaml prompt file must hold a chat list of {{role, content}}.", *where)
            prompts.append((parse_messages(data, Location(str(file), line=1), ()),
                            json.dumps(data, ensure_ascii=False, separators=(",", ":"))))
        elif kind == ".jsonl":
            for line in text.splitlines():
                if line.strip():
                    line = line if not line.lstrip().startswith('"') else json.loads(line)
                    prompts.append((_parse_prompt_text(line, loc, where), line))
        else:
            # promptfoo separates several prompts in one text file by a line of three dashes, and trims each.
            for part in re.split(r"^[ \t]*---[ \t]*$", text, flags=re.MULTILINE):
                if part.strip():
                    prompts.append((_parse_prompt_text(part.strip(), loc, where), part.strip()))
    return prompts


def _parse_prompt_text(text: str, loc: Location, where: tuple[Any, ...]) -> str | list[dict[str, Any]]:
    # promptfoo reads a prompt that is a JSON chat list as messages.
    stripped = text.strip()
    if stripped.startswith("[") and stripped.endswith("]"):
        try:
            data = json.loads(stripped)
        except ValueError:
            return text
        if isinstance(data, list) and data and all(isinstance(m, Mapping) and "role" in m for m in data):
            return parse_messages(data, loc, where)
    return text


def tests_of(value: Any, loc: Location, base: Path) -> Iterator[tuple[Any, Location, str | None]]:
    if value is None:
        return
    items = value if isinstance(value, list) else [value]
    for i, item in enumerate(items):
        where_loc = loc.at("tests", i) if isinstance(value, list) else loc.at("tests")
        if isinstance(item, str):
            yield from _test_file(item, where_loc, base)
        else:
            yield item, where_loc, None


def _test_file(ref: str, loc: Location, base: Path) -> Iterator[tuple[Any, Location, str | None]]:
    if not ref.startswith("file://"):
        raise loc.error(f"a test reference must start with file://, not {ref!r}.")
    target = resolve_ref(ref, base)
    paths = sorted(Path(p) for p in glob.glob(str(target))) if any(c in ref for c in "*?[") else [target]
    if not paths or not all(p.is_file() for p in paths):
        raise loc.error(f"{ref} not found (looked for {target}). Paths are relative to the config file.")
    for file in paths:
        kind = file.suffix.lower()
        if kind == ".csv":
            yield from _csv_tests(file)
        elif kind == ".jsonl":
            for item, item_loc in jsonl_rows(file, str(file)):
                yield item, item_loc, f"{file.name}:{item_loc.line}"
        elif kind in (".yaml", ".yml", ".json"):
            root, data = parse_yaml(read_text(file), str(file))
            if not isinstance(data, list):
                raise ConfigError(f"{file}:1: a tests file must hold a list of tests.", file=str(file), line=1)
            for j, item in enumerate(data):
                item_loc = Location(str(file), root, prefix=(j,))
                yield item, item_loc, f"{file.name}:{item_loc.line_of()}"
        else:
            raise loc.error(f"{ref}: tests files are .yaml, .json, .jsonl or .csv; {kind or 'no extension'} is not "
                            "supported.")


def _csv_tests(file: Path) -> Iterator[tuple[Any, Location, str | None]]:
    """The rows of a promptfoo CSV: columns are vars (text, never lists); ``__expected*`` cells are assertions in
    column order; ``__description``, ``__metric`` (on every assertion of the row), ``__threshold``, ``__prefix``,
    ``__suffix``, ``__metadata:key`` and ``__config:__expectedN:threshold`` as promptfoo reads them."""
    with file.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = [h.strip() for h in next(reader, [])]
        for row in reader:
            # The line the row ends on: exact unless a quoted cell spans lines.
            line = reader.line_num
            loc = Location(str(file), line=line)
            if len(row) > len(header):
                raise loc.error("the row has more cells than the header has columns. Quote cells that hold commas.")
            test: dict[str, Any] = {"vars": {}, "assert": []}
            metric: str | None = None
            thresholds: dict[int, float] = {}
            for column, cell in zip(header, row + [""] * (len(header) - len(row))):
                if column.startswith("__expected"):
                    if cell.strip():
                        test["assert"].append(assertion_from_string(cell.strip()))
                elif column == "__description":
                    test["description"] = cell
                elif column == "__metric":
                    metric = cell or None
                elif column == "__threshold":
                    if cell.strip():
                        try:
                            test["threshold"] = float(cell)
                        except ValueError:
                            raise loc.error(f"__threshold must be a number, not {cell!r}.", "__threshold") from None
                elif column in ("__prefix", "__suffix"):
                    test.setdefault("options", {})[column[2:]] = cell
                elif column.startswith("__metadata:"):
                    name = column[len("__metadata:"):]
                    test.setdefault("metadata", {})[name.removesuffix("[]")] = (
                        split_commas(cell) if name.endswith("[]") else cell)
                elif (match := re.fullmatch(r"__config:__expected(\d*):threshold", column)) is not None:
                    try:
                        thresholds[int(match.group(1) or 1) - 1] = float(cell)
                    except ValueError:
                        raise loc.error(f"{column} must be a number in every row (promptfoo stops on it too), "
                                        f"not {cell!r}.", column) from None
                elif column.startswith("__"):
                    test.setdefault("_ignored", []).append(column)
                elif column.startswith("_") and column.lstrip("_").startswith(("expected", "description", "threshold")):
                    raise loc.error(
                        f"column {column!r} has one underscore; promptfoo's special columns take two: "
                        f"{'_' + column!r}.",
                        column,
                    )
                else:
                    test["vars"][column] = cell
            for i, assertion in enumerate(test["assert"]):
                if metric:
                    assertion["metric"] = metric
                if i in thresholds:
                    assertion["threshold"] = thresholds[i]
            yield test, loc, f"{file.name}:{line}"
