"""Import a promptfoo config (``promptfooconfig.yaml``) as a modelswap suite.

Teams that already test prompts with promptfoo keep their tests; the import reads:

* ``description`` -> the suite name (else the config's folder name);
* ``prompts``: text with ``{{ var }}`` placeholders, a chat list as JSON, or ``file://`` references relative
  to the config (text files; ``.json``/``.yaml`` chat lists; ``---`` lines separate several prompts in one text
  file; globs). modelswap compares two *models* on one prompt, so the first prompt is used and the others are
  reported. Prompt functions (``.py``, ``.js``) cannot be imported;
* ``providers``: ignored and reported: the models under test are the ones the regression run is given;
* ``defaultTest``: its ``vars``, ``assert`` and ``threshold`` apply to every test;
* ``tests``: inline, ``file://tests.yaml`` (a list), ``file://tests.csv`` (columns are vars; ``__expected``,
  ``__expected1``... hold assertions as ``type: value`` or plain text for ``equals``; ``__description``,
  ``__threshold``), or a list mixing tests and such references. A var whose value is a list expands to one
  case per combination, as promptfoo does; a ``file://`` var value is replaced by that text file's contents.

Cases are named ``test-<n>`` (1-based position in ``tests``; ``test-<n>.<k>`` for expanded var lists), since
promptfoo tests have no ids; ``description`` is kept on the case.

Assertions map one to one where modelswap has the type (including ``not-`` forms and ``levenshtein``).
Approximations are reported, not hidden: ``similar`` becomes lexical similarity (promptfoo uses embeddings, so
thresholds may need retuning), and ``equals`` trims whitespace. Types modelswap cannot run (``javascript``,
``python``, ``webhook``, model-graded types other than ``llm-rubric``, ...) are dropped and reported with the
test index, as are assertions with a ``transform``. A test left with no assertion is kept (its latency and
errors still count) and reported.

The importer is a translator only: it turns each promptfoo test into a modelswap case mapping and builds the
cases with the suite loader's public pieces (:class:`~modelswap.evals._cases.CaseRules`,
:func:`~modelswap.evals._cases.build_cases`), so every rule of a native suite applies to an imported one.

Example:
    >>> suite, notes = load_promptfoo("tests/unit/evals/data/promptfoo/promptfooconfig.yaml")  # doctest: +SKIP
    >>> notes[0]                                                                               # doctest: +SKIP
    'providers: ignored (2 listed); the regression run compares the models it is given'
"""

from __future__ import annotations

import csv
import glob
import itertools
import json
import os
import re
from pathlib import Path
from typing import Any, Iterator, Mapping

from .._errors import ConfigError
from ._assertions import ASSERTION_TYPES, parse_assertion
from ._cases import CaseRules, build_cases, parse_messages
from ._check import AssertionSpecError
from ._source import Location, parse_yaml, read_text, resolve_ref
from ._template import compile_template
from ._types import Suite
from ._values import split_commas

__all__ = ["load_promptfoo"]

# promptfoo assertion types modelswap cannot evaluate, with the reason shown in the report.
_RUNS_CODE = {"javascript", "python", "webhook", "ruby"}
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
_HANDLED_KEYS = ("description", "prompts", "providers", "defaultTest", "tests")
_QUIETLY_IGNORED = (
    "outputPath", "sharing", "writeLatestResults", "evaluateOptions", "commandLineOptions", "tags", "metadata",
    "env", "$schema",
)
_TEST_KEYS = ("description", "vars", "assert", "threshold", "metadata", "options", "provider", "providerOutput")
_PROMPT_SUFFIXES_TEXT = (".txt", ".md", ".j2", ".njk", ".nunjucks", ".prompt", ".tmpl", "")


def load_promptfoo(path: str | os.PathLike[str]) -> tuple[Suite, list[str]]:
    """Read a promptfoo config into a :class:`~modelswap.evals.Suite`.

    Args:
        path: ``promptfooconfig.yaml`` (or any promptfoo YAML), or the folder holding it.

    Returns:
        ``(suite, notes)``. Each note says what could not be carried over and where, such as
        ``"tests[3].assert[1]: javascript not mapped (runs code; ...)"``; the same list is ``suite.notes``.

    Raises:
        ConfigError: the config is unreadable or malformed (a missing prompt file, a bad regex, a prompt
            function), naming the file, line and field.
    """
    path = Path(path)
    if path.is_dir():
        found = next((path / n for n in ("promptfooconfig.yaml", "promptfooconfig.yml") if (path / n).is_file()), None)
        if found is None:
            raise ConfigError(f"{path}: no promptfooconfig.yaml in this folder.", file=str(path))
        path = found
    if not path.is_file():
        raise ConfigError(f"{path}: promptfoo config not found. Check the path.", file=str(path))
    source = str(path)
    root, data = parse_yaml(read_text(path), source)
    loc = Location(source, root)
    if not isinstance(data, Mapping):
        raise loc.error("a promptfoo config is a mapping with `prompts` and `tests`.")
    notes: list[str] = []
    base = path.parent

    for key in data:
        if key in _HANDLED_KEYS or key in _QUIETLY_IGNORED:
            continue
        if key == "scenarios":
            notes.append("scenarios: not imported; move their tests under `tests`")
        else:
            notes.append(f"{key}: ignored (no modelswap equivalent)")
    providers = data.get("providers")
    if providers:
        count = len(providers) if isinstance(providers, (list, Mapping)) else 1
        notes.append(f"providers: ignored ({count} listed); the regression run compares the models it is given")

    template = _first_prompt(data.get("prompts"), loc, base, notes)
    rules = CaseRules(
        source=source,
        template=compile_template(template, loc, "prompts", style="nunjucks"),
        allow_no_asserts=True,
        template_style="nunjucks",
    )
    default_test = data.get("defaultTest")
    if default_test is not None:
        if isinstance(default_test, str) and default_test.startswith("file://"):
            target = resolve_ref(default_test, base)
            if not target.is_file():
                raise loc.error(f"{default_test} not found (looked for {target}).", "defaultTest")
            sub_root, default_test = parse_yaml(read_text(target), str(target))
            default_loc = Location(str(target), sub_root)
        else:
            default_loc = loc.at("defaultTest")
        if not isinstance(default_test, Mapping):
            raise loc.error("`defaultTest` must be a mapping with vars and assert.", "defaultTest")
        mapped = _map_test(dict(default_test), "defaultTest", base, default_loc, notes)
        rules.add_defaults({k: mapped[k] for k in ("vars", "assert", "threshold") if k in mapped}, default_loc, "defaultTest")

    tests = list(_tests(data.get("tests"), loc, base))
    if not tests:
        raise loc.error("the config has no tests. Add a `tests:` list.", "tests")
    cases = build_cases(_case_rows(tests, rules, base, notes), rules)

    name = data.get("description") if isinstance(data.get("description"), str) else None
    suite = Suite(
        name=name or path.parent.resolve().name or path.stem,
        cases=cases,
        source=source,
        description=name,
        template=template,
        notes=notes,
    )
    return suite, notes


def _case_rows(
    tests: list[tuple[Any, Location, str | None]], rules: CaseRules, base: Path, notes: list[str]
) -> Iterator[tuple[dict[str, Any], Location]]:
    """Each promptfoo test as modelswap case mappings, one per combination of list-valued vars, with the ids
    ``test-<n>`` (``test-<n>.<k>`` when expanded); what cannot be carried over goes to ``notes``."""
    for index, (raw, test_loc, where) in enumerate(tests):
        label = f"tests[{index}]"
        if not isinstance(raw, Mapping):
            raise test_loc.error(f"a test must be a mapping with vars and assert, not {type(raw).__name__}.")
        test_notes: list[str] = []
        test = _map_test(dict(raw), label, base, test_loc, test_notes)
        if not test.get("assert") and not rules.default_asserts:
            what = "no assertion left after mapping" if raw.get("assert") else "no assertions"
            test_notes.append(f"{label}: {what}; the case is kept and counts for latency and errors only")
        # Tests read from files also say where they are.
        notes.extend(f"{note} [{where}]" if where else note for note in test_notes)
        combos = _expand(test.get("vars") or {})
        for k, vars in enumerate(combos, 1):
            ident = f"test-{index + 1}" + (f".{k}" if len(combos) > 1 else "")
            yield {**test, "vars": vars, "id": ident}, test_loc


# -- prompts ------------------------------------------------------------------------------------------------------


def _first_prompt(value: Any, loc: Location, base: Path, notes: list[str]) -> str | list[dict[str, Any]]:
    if value is None:
        raise loc.error("the config has no `prompts`. Add the prompt template, such as prompts: ['Answer: {{question}}'].")
    if isinstance(value, Mapping):
        # Old form: {file://path: label}.
        entries: list[tuple[Any, tuple[Any, ...]]] = [(k, ("prompts", k)) for k in value]
    elif isinstance(value, list):
        entries = [(item, ("prompts", i)) for i, item in enumerate(value)]
    else:
        entries = [(value, ("prompts",))]
    prompts: list[str | list[dict[str, Any]]] = []
    for item, where in entries:
        if isinstance(item, Mapping):
            if isinstance(item.get("raw"), str):
                prompts.append(_parse_prompt_text(item["raw"], loc, where))
                continue
            item = item.get("id") or item.get("file")
        if not isinstance(item, str):
            raise loc.error("a prompt is text, a file:// reference, or {raw: ...} / {id: file://...}.", *where)
        if item.startswith("file://"):
            prompts.extend(_prompt_file(item, loc, where, base))
        else:
            prompts.append(_parse_prompt_text(item, loc, where))
    if not prompts:
        raise loc.error("`prompts` is empty. Add the prompt template.", "prompts")
    if len(prompts) > 1:
        notes.append(f"prompts: {len(prompts)} prompts found; the first is used (a swap test compares models on one prompt)")
    return prompts[0]


def _prompt_file(ref: str, loc: Location, where: tuple[Any, ...], base: Path) -> list[str | list[dict[str, Any]]]:
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
    prompts: list[str | list[dict[str, Any]]] = []
    for file in paths:
        text = read_text(file)
        kind = file.suffix.lower()
        if kind in (".json", ".yaml", ".yml"):
            _, data = parse_yaml(text, str(file))
            if not isinstance(data, list):
                raise loc.error(f"{ref}: a .json or .yaml prompt file must hold a chat list of {{role, content}}.", *where)
            prompts.append(parse_messages(data, Location(str(file), line=1), ()))
        elif kind == ".jsonl":
            for line in text.splitlines():
                if line.strip():
                    prompts.append(_parse_prompt_text(line if not line.lstrip().startswith('"') else json.loads(line), loc, where))
        else:
            # promptfoo separates several prompts in one text file by a line of three dashes.
            for part in re.split(r"^---$", text, flags=re.MULTILINE):
                if part.strip():
                    prompts.append(_parse_prompt_text(part.strip("\n"), loc, where))
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


# -- tests --------------------------------------------------------------------------------------------------------


def _tests(value: Any, loc: Location, base: Path) -> Iterator[tuple[Any, Location, str | None]]:
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
        elif kind in (".yaml", ".yml", ".json"):
            root, data = parse_yaml(read_text(file), str(file))
            if not isinstance(data, list):
                raise ConfigError(f"{file}:1: a tests file must hold a list of tests.", file=str(file), line=1)
            for j, item in enumerate(data):
                item_loc = Location(str(file), root, prefix=(j,))
                yield item, item_loc, f"{file.name}:{item_loc.line_of()}"
        else:
            raise loc.error(f"{ref}: tests files are .yaml, .json or .csv; {kind or 'no extension'} is not supported.")


def _csv_tests(file: Path) -> Iterator[tuple[Any, Location, str | None]]:
    with file.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        for row in reader:
            # The line the row ends on: exact unless a quoted cell spans lines.
            line = reader.line_num
            loc = Location(str(file), line=line)
            test: dict[str, Any] = {"vars": {}, "assert": []}
            for column, cell in row.items():
                if column is None:
                    raise loc.error("the row has more cells than the header has columns. Quote cells that hold commas.")
                cell = cell or ""
                if column.startswith("__expected"):
                    if cell.strip():
                        test["assert"].append(assertion_from_string(cell))
                elif column == "__description":
                    test["description"] = cell
                elif column == "__threshold":
                    if cell.strip():
                        try:
                            test["threshold"] = float(cell)
                        except ValueError:
                            raise loc.error(f"__threshold must be a number, not {cell!r}.", "__threshold") from None
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
            yield test, loc, f"{file.name}:{line}"


def assertion_from_string(text: str) -> dict[str, Any]:
    """promptfoo's CSV shorthand: ``contains: Paris``, ``not-icontains: sorry``, ``similar(0.7): text``,
    ``icontains-any: a, b``, ``grade: <rubric>``, ``javascript: ...``; anything else is an ``equals`` value.

    The text after the colon is trimmed (``contains: Paris`` looks for ``Paris``).

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
    match = _CSV_ASSERTION.match(text.strip())
    if match is None:
        return {"type": "equals", "value": text}
    negate, kind, threshold, value = match.groups()
    out: dict[str, Any] = {"type": (negate or "") + kind}
    if value is not None and value.strip():
        out["value"] = split_commas(value) if kind.endswith(("-any", "-all")) else value.strip()
    if threshold is not None:
        out["threshold"] = float(threshold)
    return out


def _map_test(test: dict[str, Any], label: str, base: Path, loc: Location, notes: list[str]) -> dict[str, Any]:
    """A promptfoo test turned into a modelswap case mapping; what cannot be mapped goes to ``notes``."""
    out: dict[str, Any] = {}
    for key, value in test.items():
        if key == "_ignored":
            notes.append(f"{label}: columns {', '.join(value)} ignored")
        elif key == "vars":
            if not isinstance(value, Mapping):
                raise loc.error("`vars` must be a mapping.", "vars")
            out["vars"] = {k: _var_value(v, base, loc, k) for k, v in value.items()}
        elif key == "assert":
            if not isinstance(value, list):
                raise loc.error("`assert` must be a list.", "assert")
            out["assert"] = [
                mapped for i, item in enumerate(value)
                if (mapped := _map_assertion(item, f"{label}.assert[{i}]", base, loc.at("assert", i), notes)) is not None
            ]
        elif key in ("description", "threshold", "metadata"):
            out[key] = value
        elif key == "options" and isinstance(value, Mapping):
            for option in value:
                if option in ("transform", "postprocess"):
                    notes.append(f"{label}: options.{option} not mapped (modelswap grades the raw output); "
                                 "its assertions may fail where promptfoo's pass")
                elif option == "provider":
                    notes.append(f"{label}: options.provider ignored; set the judge with `judge:` or --judge")
                else:
                    notes.append(f"{label}: options.{option} ignored")
        elif key == "provider":
            notes.append(f"{label}: provider ignored; the regression run picks the models")
        elif key == "providerOutput":
            notes.append(f"{label}: providerOutput ignored; modelswap grades live model answers")
        else:
            notes.append(f"{label}: {key} ignored")
    return out


def _map_assertion(item: Any, label: str, base: Path, loc: Location, notes: list[str]) -> dict[str, Any] | None:
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
        notes.append(f"{label}: {kind} not mapped ({hint})")
        return None
    for key in ("transform", "contextTransform"):
        if item.get(key):
            notes.append(f"{label}: {kind} not mapped (its `{key}` changes the output before checking)")
            return None
    out: dict[str, Any] = {"type": kind}
    value = item.get("value")
    if isinstance(value, str) and value.startswith("file://"):
        value = _file_value(value, base, loc, label, kind, notes)
        if value is _UNMAPPED:
            return None
    if base_kind in ("is-json", "contains-json") and isinstance(value, str):
        # promptfoo accepts the schema as YAML or JSON text.
        try:
            _, value = parse_yaml(value, "value")
        except ConfigError as exc:
            raise loc.error(f"{kind} `value` is not a JSON Schema: {exc}", "value") from None
    if base_kind == "regex" and isinstance(value, str):
        # JavaScript's named groups (?<name>...) are (?P<name>...) in Python.
        value = re.sub(r"\(\?<(?![=!])", "(?P<", value)
    if value is not None:
        out["value"] = value
    for key in ("threshold", "weight"):
        if item.get(key) is not None:
            out[key] = item[key]
    try:
        parse_assertion(out)
    except AssertionSpecError as exc:
        raise loc.error(exc.message, *exc.path) from None
    if base_kind == "similar":
        notes.append(f"{label}: similar is lexical in modelswap (promptfoo uses embeddings); check its threshold")
    for key in item:
        if key in ("provider", "rubricPrompt"):
            notes.append(f"{label}: {key} ignored; modelswap uses the suite judge and its own rubric prompt")
        elif key not in ("type", "value", "threshold", "weight", "metric", "transform", "contextTransform"):
            notes.append(f"{label}: {key} ignored")
    return out


_UNMAPPED = object()


def _file_value(ref: str, base: Path, loc: Location, label: str, kind: str, notes: list[str]) -> Any:
    target = resolve_ref(re.sub(r":[A-Za-z_]\w*$", "", ref), base)
    if target.suffix.lower() in (".js", ".ts", ".mjs", ".cjs", ".py"):
        notes.append(f"{label}: {kind} not mapped (its value is code in {target.name})")
        return _UNMAPPED
    if not target.is_file():
        raise loc.error(f"{ref} not found (looked for {target}). Paths are relative to the config file.", "value")
    text = read_text(target)
    if target.suffix.lower() in (".json", ".yaml", ".yml"):
        return parse_yaml(text, str(target))[1]
    return text.strip()


def _var_value(value: Any, base: Path, loc: Location, name: str) -> Any:
    # promptfoo loads `file://` var values (documents, transcripts) as text.
    if isinstance(value, str) and value.startswith("file://"):
        target = resolve_ref(value, base)
        if target.suffix.lower() in (".js", ".ts", ".py"):
            raise loc.error(f"var {name!r} is computed by code ({value}); modelswap runs none. Inline the value.", "vars", name)
        if not target.is_file():
            raise loc.error(f"{value} not found (looked for {target}).", "vars", name)
        return read_text(target)
    if isinstance(value, list):
        return [_var_value(v, base, loc, name) for v in value]
    return value


def _expand(vars: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One vars mapping per combination of list-valued vars (promptfoo's expansion)."""
    names = [k for k, v in vars.items() if isinstance(v, list) and v]
    if not names:
        return [dict(vars)]
    combos = []
    for values in itertools.product(*(vars[k] for k in names)):
        combos.append({**vars, **dict(zip(names, values))})
    return combos
