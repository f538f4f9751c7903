"""Import a promptfoo config (``promptfooconfig.yaml``) as a modelswap suite, with the cases promptfoo runs.

Teams that already test prompts with promptfoo keep their tests. The import gives the same cases and, for every
deterministic assertion, the same verdicts as ``promptfoo eval`` (0.123.1, checked by tests/promptfoo against
promptfoo itself):

* **cases**: every prompt x every test, test by test (within a test, every prompt), and a test whose vars hold
  lists once per combination (a list of texts expands, the first var varies slowest). Ids are ``test-<n>`` (the
  1-based position in ``tests``; ``test-<n>.<k>`` for the k-th combination), led by the prompt's label (or
  ``prompt-<p>``) when there are several prompts: ``concise/test-3``. ``case.metadata["promptfoo"]`` holds
  promptfoo's own ``testIdx``, ``promptIdx`` and prompt label, to find a case in both tools;
* **prompts**: text with ``{{ var }}``, a JSON chat list, ``file://`` text files (``---`` lines separate several),
  ``.json``/``.yaml`` chat lists, ``.jsonl``, globs, ``{raw, label}``/``{id: file://..., label}`` and the
  ``{text: label}`` map form. Prompt functions (``.py``, ``.js``) run code: refused with the fix;
* **tests**: inline, ``file://`` YAML/JSON/JSONL lists, globs, and CSV (columns are vars; ``__expected``,
  ``__expectedN``, ``__description``, ``__metric``, ``__threshold``, ``__prefix``, ``__suffix``,
  ``__metadata:key``, ``__config:__expectedN:threshold``);
* **defaultTest** merged as promptfoo merges it: vars and options under the test's, its assertions first;
* **assertions** with promptfoo's semantics: ``equals``, ``starts-with`` and ``levenshtein`` compare as written
  (``options.exact``), ``contains-json`` reads objects as promptfoo does (``options.style: promptfoo``), regexes
  are JavaScript's, ``metric`` names are kept for the report, ``weight`` and a test ``threshold`` score as in
  promptfoo;
* ``options.transform`` and an assertion's ``transform`` where they are a plain expression on ``output``
  (:mod:`modelswap.evals._transform`);
* **providers**: kept on the suite (``Suite.providers``, each with the model id in its promptfoo id) so that
  ``modelswap regress`` without ``--baseline/--candidate`` compares them, mapped to configured aliases by model
  id; generation params they agree on (``temperature``, ``max_tokens``, ``seed``, ...) become the suite's.

**Nothing is dropped silently.** What cannot be carried over exactly (``javascript``/``python`` assertions, model
graders other than ``llm-rubric``, a transform that is code, ``scenarios``, ``redteam``, ...) is a note naming the
file, line, test index and reason; ``strict=True`` (``--strict``) turns any note into an error. A test left with
no assertion is kept (its latency and errors still count) and noted.

The importer is a translator only: it turns each promptfoo test into modelswap case mappings and builds the cases
with the suite loader's public pieces (:class:`~modelswap.evals._cases.CaseRules`,
:func:`~modelswap.evals._cases.build_cases`), so every rule of a native suite applies to an imported one.

Example:
    >>> suite, notes = load_promptfoo("tests/unit/evals/data/promptfoo/promptfooconfig.yaml")  # doctest: +SKIP
    >>> notes[0]                                                                               # doctest: +SKIP
    'promptfooconfig.yaml:52: tests[2].assert[2]: python not mapped (runs code; ...)'
"""

from __future__ import annotations

import csv
import functools
import glob
import itertools
import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._errors import ConfigError
from ._assertions import ASSERTION_TYPES, parse_assertion
from ._cases import CaseRules, build_cases, parse_messages
from ._check import AssertionSpecError
from ._source import Location, gc_paused, jsonl_rows, parse_yaml, read_text, resolve_ref
from ._transform import TransformError, compile_transform
from ._types import Assertion, Suite
from ._values import split_commas

__all__ = ["assertion_from_string", "js_regex_to_python", "load_promptfoo", "provider_model_id"]

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
# promptfoo gives these scored types a threshold when a CSV cell names none (0.8 for similar, else 0.75).
_CSV_SCORED = frozenset({
    "answer-relevance", "classifier", "context-faithfulness", "context-recall", "context-relevance", "cost",
    "latency", "levenshtein", "perplexity", "perplexity-score", "rouge-n", "similar", "starts-with",
})
# A provider's config keys that are generation params, and their modelswap names.
_PROVIDER_PARAMS = {"temperature": "temperature", "max_tokens": "max_tokens", "top_p": "top_p", "seed": "seed",
                    "stop": "stop", "maxOutputTokens": "max_tokens"}
# The second part of a provider id that names an API mode, not the model (`openai:chat:<model>`).
_PROVIDER_MODES = frozenset({"chat", "completion", "completions", "messages", "responses", "embedding", "embeddings"})
_QUIETLY_IGNORED = (
    "outputPath", "sharing", "writeLatestResults", "evaluateOptions", "commandLineOptions", "tags", "metadata",
    "env", "$schema", "tracing",
)
_TEST_KEYS = ("description", "vars", "assert", "threshold", "metadata", "options", "provider", "providerOutput")
_PROMPT_SUFFIXES_TEXT = (".txt", ".md", ".j2", ".njk", ".nunjucks", ".prompt", ".tmpl", "")


def load_promptfoo(path: str | os.PathLike[str], *, strict: bool = False) -> tuple[Suite, list[str]]:
    """Read a promptfoo config into a :class:`~modelswap.evals.Suite`: every prompt x every test, as promptfoo runs.

    Args:
        path: ``promptfooconfig.yaml`` (or any promptfoo YAML), or the folder holding it.
        strict: refuse the config when anything in it cannot be carried over exactly (see Returns).

    Returns:
        ``(suite, notes)``. Each note names the file and line, the place in the config and what could not be
        carried over, such as ``"promptfooconfig.yaml:31: tests[3].assert[1]: javascript not mapped (runs code;
        ...)"``; the same list is ``suite.notes``. The CLI prints them before any request.

    Raises:
        ConfigError: the config is unreadable or malformed (a missing prompt file, a bad regex, a prompt
            function), naming the file, line and field; with ``strict``, also when there is any note.
    """
    with gc_paused():
        return _load_promptfoo(Path(path), strict)


def _load_promptfoo(path: Path, strict: bool) -> tuple[Suite, list[str]]:

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
    notes = _Notes()
    base = path.parent

    for key in data:
        if key in _HANDLED_KEYS or key in _QUIETLY_IGNORED:
            continue
        if key == "scenarios":
            notes.add(loc, (key,), "scenarios: not imported; move their tests under `tests`")
        elif key == "redteam":
            notes.add(loc, (key,), "redteam: red-team plugins and strategies are not run (they generate attacks "
                                   "with a model); run them with promptfoo")
        else:
            notes.add(loc, (key,), f"{key}: ignored (no modelswap equivalent)")

    prompts = _prompts(data.get("prompts"), loc, base)
    providers, params = _providers(data.get("providers"), loc, notes)
    default_test: Mapping[str, Any] = {}
    default_loc = loc.at("defaultTest")
    raw_default = data.get("defaultTest")
    if raw_default is not None:
        if isinstance(raw_default, str) and raw_default.startswith("file://"):
            target = resolve_ref(raw_default, base)
            if not target.is_file():
                raise loc.error(f"{raw_default} not found (looked for {target}).", "defaultTest")
            sub_root, raw_default = parse_yaml(read_text(target), str(target))
            default_loc = Location(str(target), sub_root)
        if not isinstance(raw_default, Mapping):
            raise loc.error("`defaultTest` must be a mapping with vars and assert.", "defaultTest")
        default_test = raw_default
    defaults = _map_test(dict(default_test), "defaultTest", base, default_loc, notes)

    tests = list(_tests(data.get("tests"), loc, base))
    if not tests:
        raise loc.error("the config has no tests. Add a `tests:` list.", "tests")
    rules = CaseRules(source=source, allow_no_asserts=True, template_style="nunjucks", always_render=True)
    cases = build_cases(_case_rows(tests, defaults, prompts, base, notes), rules)

    name = data.get("description") if isinstance(data.get("description"), str) else None
    texts = notes.texts()
    if strict and texts:
        raise ConfigError(
            f"{source}: --strict: {len(texts)} thing{'s' if len(texts) != 1 else ''} in the config cannot be "
            "carried over exactly:\n" + "\n".join(f"  - {t}" for t in texts)
            + "\nChange them, or run without --strict to go on without them.",
            file=source,
        )
    suite = Suite(
        name=name or path.parent.resolve().name or path.stem,
        cases=cases,
        params=params,
        source=source,
        description=name,
        template=prompts[0].template if len(prompts) == 1 else None,
        notes=texts,
        providers=providers,
    )
    return suite, texts


class _Notes:
    """What an import cannot carry over, each with its file, line and place in the config."""

    def __init__(self) -> None:
        self._seen: dict[str, None] = {}

    def add(self, loc: Location, path: tuple[Any, ...], text: str) -> None:
        line = loc.line_of(*path)
        where = Path(loc.source).name + (f":{line}" if line else "")
        self._seen.setdefault(f"{where}: {text}", None)

    def texts(self) -> list[str]:
        return list(self._seen)


@dataclass(frozen=True)
class _Prompt:
    template: str | list[dict[str, Any]]
    label: str        # as promptfoo shows it
    key: str | None   # the label the config gave (map value, `label`, `id`), for case ids


def _case_rows(
    tests: list[tuple[Any, Location, str | None]],
    defaults: Mapping[str, Any],
    prompts: list[_Prompt],
    base: Path,
    notes: _Notes,
) -> Iterator[tuple[dict[str, Any], Location]]:
    """Every prompt x every test (x every combination of list vars), in promptfoo's order: test by test, and within a
    test every prompt. Ids are ``test-<n>`` (1-based position in ``tests``; ``.<k>`` for a var combination), led
    by the prompt's label or ``prompt-<p>`` when there are several prompts."""
    keys = _prompt_keys(prompts)
    test_idx = 0
    for index, (raw, test_loc, _) in enumerate(tests):
        label = f"tests[{index}]"
        if not isinstance(raw, Mapping):
            raise test_loc.error(f"a test must be a mapping with vars and assert, not {type(raw).__name__}.")
        test = _merge_default(defaults, _map_test(dict(raw), label, base, test_loc, notes))
        if not test.get("assert"):
            what = "no assertion left after mapping" if raw.get("assert") or defaults.get("_had_asserts") else "no assertions"
            notes.add(test_loc, (), f"{label}: {what}; the case is kept and counts for latency and errors only")
        combos = [dict(test.get("vars") or {})] if test.get("_no_expansion") else _expand(test.get("vars") or {})
        prefix, suffix = test.get("_prefix") or "", test.get("_suffix") or ""
        case = {k: v for k, v in test.items() if not k.startswith("_")}
        for k, vars in enumerate(combos, 1):
            ident = f"test-{index + 1}" + (f".{k}" if len(combos) > 1 else "")
            vars = _resolve_var_references(vars)
            for p_idx, prompt in enumerate(prompts):
                template = prompt.template
                missing = _undefined_vars(template, vars)
                if missing:
                    # promptfoo renders a var the test lacks as empty text; say so, then do the same.
                    notes.add(test_loc, (), f"{label}: the prompt {keys[p_idx]} uses "
                                            f"{', '.join(missing)}, which the test's vars lack; rendered empty as "
                                            "promptfoo does")
                    vars = {**vars, **{name: "" for name in missing}}
                if prefix or suffix:
                    if isinstance(template, str):
                        template = prefix + template + suffix
                    else:
                        notes.add(test_loc, (), f"{label}: options.prefix/suffix not applied to the chat prompt "
                                                f"{keys[p_idx]} (promptfoo adds them to its JSON text)")
                text_key = "prompt" if isinstance(template, str) else "messages"
                metadata = {**(case.get("metadata") or {}),
                            "promptfoo": {"testIdx": test_idx, "promptIdx": p_idx, "prompt": prompt.label}}
                yield {**case, text_key: template, "vars": vars, "metadata": metadata,
                       "id": ident if len(prompts) == 1 else f"{keys[p_idx]}/{ident}"}, test_loc
            test_idx += 1


_VAR_REFERENCE = re.compile(r"\{\{\s*(\w+)\s*\}\}")
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)(?:\.[A-Za-z0-9_]+)*\s*\}\}")


def _resolve_var_references(vars: dict[str, Any]) -> dict[str, Any]:
    """Vars whose text names another var (``{{ name }}``) get its value, up to five rounds, as promptfoo's
    resolveVariables does before rendering."""
    out = dict(vars)
    for _ in range(5):
        changed = False
        for key, value in out.items():
            if isinstance(value, str) and "{{" in value:
                new = _VAR_REFERENCE.sub(
                    lambda m: out[m.group(1)] if m.group(1) in out and isinstance(out[m.group(1)], str)
                    and m.group(1) != key else m.group(0), value)
                if new != value:
                    out[key], changed = new, True
        if not changed:
            break
    return out


def _undefined_vars(template: str | list[dict[str, Any]], vars: Mapping[str, Any]) -> list[str]:
    texts = (template,) if isinstance(template, str) else tuple(str(m.get("content", "")) for m in template)
    return [name for name in _placeholders(texts) if name not in vars]


@functools.lru_cache(maxsize=256)
def _placeholders(texts: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(m.group(1) for t in texts for m in _PLACEHOLDER.finditer(t)))


def _merge_default(defaults: Mapping[str, Any], test: Mapping[str, Any]) -> dict[str, Any]:
    """promptfoo's merge: vars and options shallow (the test wins, the default's keys first), the default's
    assertions before the test's (none with ``disableDefaultAsserts``), the test's threshold else the default's."""
    merged = {**{k: v for k, v in defaults.items() if k not in ("vars", "assert", "metadata")}, **test}
    merged["vars"] = {**(defaults.get("vars") or {}), **(test.get("vars") or {})}
    own = list(test.get("assert") or [])
    merged["assert"] = own if test.get("_disable_default_asserts") else [*(defaults.get("assert") or []), *own]
    if defaults.get("metadata") or test.get("metadata"):
        merged["metadata"] = {**(defaults.get("metadata") or {}), **(test.get("metadata") or {})}
    return merged


def _prompt_keys(prompts: list[_Prompt]) -> list[str]:
    keys = [p.key or f"prompt-{i}" for i, p in enumerate(prompts, 1)]
    if len(set(keys)) != len(keys):
        keys = [f"prompt-{i}" for i in range(1, len(prompts) + 1)]
    return keys


# -- providers ----------------------------------------------------------------------------------------------------


def _providers(value: Any, loc: Location, notes: _Notes) -> tuple[list[dict[str, Any]], dict[str, Any]]:
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
            notes.add(loc, where, f"{_field(where)}: not a provider id modelswap can read; ignored")
            continue
        ident = spec["id"]
        if ident.startswith(("file://", "exec:", "python:", "http:", "https:", "webhook:")):
            notes.add(loc, where, f"{_field(where)}: {ident} runs code or calls a custom endpoint; map it to a "
                                  "configured alias with --baseline/--candidate")
            continue
        config = spec.get("config") if isinstance(spec.get("config"), Mapping) else {}
        params = {name: config[key] for key, name in _PROVIDER_PARAMS.items() if config.get(key) is not None}
        out.append({"id": ident, "label": spec.get("label"), "model_id": provider_model_id(ident), "params": params,
                    "where": f"{Path(loc.source).name}:{loc.line_of(*where) or ''}".rstrip(":")})
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


# -- prompts ------------------------------------------------------------------------------------------------------


def _prompts(value: Any, loc: Location, base: Path) -> list[_Prompt]:
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
    prompts: list[_Prompt] = []
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
                prompts.append(_Prompt(_parse_prompt_text(raw, loc, where), label or key, key))
                continue
            ref = item.get("id") or item.get("file")
            if not isinstance(ref, str):
                raise loc.error("a prompt is text, a file:// reference, or {raw: ..., label: ...} / {id: file://...}.",
                                *where)
            for template, shown in _prompt_source(ref, loc, where, base):
                prompts.append(_Prompt(template, f"{label}: {shown}" if label else shown, label))
            continue
        if not isinstance(item, str):
            raise loc.error("a prompt is text, a file:// reference, or {raw: ..., label: ...} / {id: file://...}.",
                            *where)
        if not item.startswith("file://"):
            if item in seen:
                continue  # promptfoo keeps identical prompts once
            seen.add(item)
        for template, shown in _prompt_source(item, loc, where, base):
            prompts.append(_Prompt(template, label or shown, label))
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


def _map_test(test: dict[str, Any], label: str, base: Path, loc: Location, notes: _Notes) -> dict[str, Any]:
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
    item: Any, label: str, base: Path, test_loc: Location, where: tuple[Any, ...], notes: _Notes
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


def js_regex_to_python(pattern: str) -> str:
    r"""A JavaScript regex (no flags, as promptfoo compiles ``regex`` values) in Python's syntax, same matches.

    Named groups ``(?<n>...)`` become ``(?P<n>...)``; ``\d``/``\w`` keep JavaScript's ASCII meaning; ``$`` outside a
    class means the very end (Python's ``$`` also matches before a final newline).

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
        elif char == "$":
            out.append(r"\Z")
        elif pattern.startswith("(?<", i) and pattern[i + 3:i + 4] not in ("=", "!"):
            out.append("(?P<")
            i += 3
            continue
        else:
            out.append(char)
        i += 1
    return "".join(out)


_UNMAPPED = object()


def _file_value(ref: str, base: Path, loc: Location, label: str, kind: str, notes: _Notes, test_loc: Location,
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


def _expand(vars: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One vars mapping per combination of list-valued vars, as promptfoo: a list whose first item is text
    expands, one of numbers or objects is one value; the first var varies slowest."""
    names = [k for k, v in vars.items() if isinstance(v, list) and v and isinstance(v[0], str)]
    if not names:
        return [dict(vars)]
    return [{**vars, **dict(zip(names, values))} for values in itertools.product(*(vars[k] for k in names))]


def _field(path: tuple[Any, ...]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else (("." if i else "") + str(p)) for i, p in enumerate(path))
