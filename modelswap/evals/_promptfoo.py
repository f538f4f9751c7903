"""Import a promptfoo config (``promptfooconfig.yaml``) as a modelswap suite, with the cases promptfoo runs.

Teams that already test prompts with promptfoo keep their tests. The import gives the same cases and, for every
deterministic assertion, the same verdicts as ``promptfoo eval`` (0.123.1, checked by tests/promptfoo against
promptfoo itself):

* **cases**: every prompt x every test, test by test (within a test, every prompt), and a test whose vars hold
  lists once per combination (a list of texts expands, the first var varies slowest). Ids are ``test-<n>`` (the
  1-based position in ``tests``; ``test-<n>.<k>`` for the k-th combination), led by the prompt's label (or
  ``prompt-<p>``) when there are several prompts: ``concise/test-3``. ``case.metadata["promptfoo"]`` holds
  promptfoo's own ``testIdx``, ``promptIdx`` and prompt label, to find a case in both tools;
* **prompts**: text with ``{{ var }}`` (rendered as promptfoo's nunjucks: filters and tags through Jinja2, values
  printed as JavaScript prints them; :mod:`modelswap.evals._template`), a JSON chat list, ``file://`` text files (``---`` lines separate several),
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

The importer is a translator only, in three rooms: :mod:`._promptfoo_files` reads the prompts, test files and
providers; :mod:`._promptfoo_map` turns a test and its assertions into modelswap's terms and keeps the notes; this
module makes the cases, every prompt x every test, and builds them with the suite loader's public pieces
(:class:`~modelswap.evals._cases.CaseRules`, :func:`~modelswap.evals._cases.build_cases`), so every rule of a
native suite applies to an imported one.

Example:
    >>> suite, notes = load_promptfoo("tests/unit/evals/data/promptfoo/promptfooconfig.yaml")  # doctest: +SKIP
    >>> notes[0]                                                                               # doctest: +SKIP
    'promptfooconfig.yaml:52: tests[2].assert[2]: python not mapped (runs code; ...)'
"""

from __future__ import annotations

import functools
import itertools
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from .._errors import ConfigError
from ._cases import CaseRules, build_cases
from ._promptfoo_files import Prompt, prompts_of, provider_model_id, providers_of, tests_of
from ._promptfoo_map import Notes, assertion_from_string, js_regex_to_python, map_test
from ._source import Location, gc_paused, parse_yaml, read_text, resolve_ref
from ._types import Suite

__all__ = ["assertion_from_string", "js_regex_to_python", "load_promptfoo", "provider_model_id"]

_HANDLED_KEYS = ("description", "prompts", "providers", "defaultTest", "tests")
_QUIETLY_IGNORED = (
    "outputPath", "sharing", "writeLatestResults", "evaluateOptions", "commandLineOptions", "tags", "metadata",
    "env", "$schema", "tracing",
)


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
    notes = Notes()
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

    prompts = prompts_of(data.get("prompts"), loc, base)
    providers, params = providers_of(data.get("providers"), loc, notes)
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
    defaults = map_test(dict(default_test), "defaultTest", base, default_loc, notes)

    tests = list(tests_of(data.get("tests"), loc, base))
    if not tests:
        raise loc.error("the config has no tests. Add a `tests:` list.", "tests")
    rules = CaseRules(source=source, allow_no_asserts=True, template_style="nunjucks", always_render=True,
                      promptfoo=True)
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


def _case_rows(
    tests: list[tuple[Any, Location, str | None]],
    defaults: Mapping[str, Any],
    prompts: list[Prompt],
    base: Path,
    notes: Notes,
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
        test = _merge_default(defaults, map_test(dict(raw), label, base, test_loc, notes))
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
                    # promptfoo renders a var the test lacks as nothing (or a filter's default); say so.
                    notes.add(test_loc, (), f"{label}: the prompt {keys[p_idx]} uses "
                                            f"{', '.join(missing)}, which the test's vars lack; rendered empty as "
                                            "promptfoo does")
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
# A var printed by {{ name }}, {{ name.key }} or {{ name | filter }}: the filter's name is the second group (a
# missing var under `default` is expected; a missing one in a tag is a condition, not a print).
_PLACEHOLDER = re.compile(r"\{\{-?\s*([A-Za-z_][A-Za-z0-9_]*)(?:\.[A-Za-z0-9_]+)*\s*(?:\|\s*([A-Za-z_]\w*)|-?\}\})")
# Names a template binds itself: {% for a, b in ... %}, {% set x = ... %}, {% macro m(...) %}.
_BOUND = re.compile(r"\{%-?\s*(?:for\s+([\w\s,]+?)\s+in\b|set\s+(\w+)|macro\s+(\w+))")


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
    """The vars a template prints and does not bind itself, leaving out those given a ``default``."""
    bound = {"loop", "range", "cycler", "joiner"} | {  # nunjucks' own names, and what the template binds
        name.strip() for t in texts for m in _BOUND.finditer(t) for group in m.groups() if group
        for name in group.split(",")}
    return tuple(dict.fromkeys(
        m.group(1) for t in texts for m in _PLACEHOLDER.finditer(t)
        if m.group(1) not in bound and m.group(2) not in ("default", "d")
    ))


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


def _prompt_keys(prompts: list[Prompt]) -> list[str]:
    keys = [p.key or f"prompt-{i}" for i, p in enumerate(prompts, 1)]
    if len(set(keys)) != len(keys):
        keys = [f"prompt-{i}" for i in range(1, len(prompts) + 1)]
    return keys


def _expand(vars: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One vars mapping per combination of list-valued vars, as promptfoo: a list whose first item is text
    expands, one of numbers or objects is one value; the first var varies slowest."""
    names = [k for k, v in vars.items() if isinstance(v, list) and v and isinstance(v[0], str)]
    if not names:
        return [dict(vars)]
    return [{**vars, **dict(zip(names, values))} for values in itertools.product(*(vars[k] for k in names))]
