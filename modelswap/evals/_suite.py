"""Regression suites: the cases a model swap must keep passing, loaded from JSONL or YAML.

A **JSONL** suite is one case per line::

    {"id": "refund-1", "prompt": "Can I return shoes after 40 days?", "expected": "no"}
    {"id": "chat-1", "messages": [{"role": "user", "content": "Hi"}], "assert": [{"type": "icontains", "value": "hello"}]}
    {"id": "cls-1", "vars": {"text": "Great service"}, "expected": "positive"}

``vars`` fill a prompt template; a JSONL file has none of its own, so pass one with
``load_suite(path, template="Classify: {text}")``.

A **YAML** suite adds settings shared by every case::

    name: ticket-triage
    description: Route support tickets to a queue.
    system: You are a support-ticket router. Answer with the queue name only.
    prompt: "Ticket: {{ ticket }}\\nQueue:"
    params: {temperature: 0, max_tokens: 8}
    thresholds: {max_accuracy_drop: 0.02, latency_sla_ms: 1500, max_error_rate: 0.01, alpha: 0.05}
    judge: gpt-4o-judge
    license_policy: {allow: [Apache-2.0, MIT, gemma]}
    defaults:
      assert: [{type: latency, threshold: 3000}]
    cases:
      - id: t1
        vars: {ticket: "I was charged twice"}
        expected: billing
      - id: t2
        vars: {ticket: "The app crashes on start"}
        assert:
          - {type: choice, value: [billing, bugs, account]}

Rules (each break is a :class:`~modelswap.ConfigError` naming the file, line and field, and the fix):

* Every case needs an ``id``, unique in the suite. Ids are never generated: the regression runner joins the
  baseline's and the candidate's results by id, and a position-based id would silently pair different cases
  once someone inserts a line. (promptfoo configs have no ids; their import names tests ``test-<n>``.)
* A case gives ``prompt`` (text, sent as one user message), ``messages`` (a chat list), or ``vars`` (filled into
  the suite template). With ``vars`` present, a case's own ``prompt``/``messages`` are templates too.
* **Templates** accept both syntaxes. A template containing a ``{{ name }}`` placeholder is read
  promptfoo/nunjucks-style: only ``{{ name }}`` (and ``{{ a.b }}``) are replaced and single braces stay
  literal, handy for JSON examples. Otherwise it is Python ``str.format``: ``{name}``, with ``{{``/``}}`` for
  literal braces. Nunjucks filters and tags (``{{ x | upper }}``, ``{% if %}``) are refused, not half-rendered,
  and a variable the case lacks is an error, never an empty string. ``system`` is a template the same way.
* The suite ``system`` prompt is prepended to every case, except a case whose ``messages`` start with its own
  system message.
* With no ``assert``, a case is checked by trimmed, case-insensitive equality with ``expected``. Latency and
  cost checks say nothing about the answer, so a case whose only assertions are those (its own or from
  ``defaults``) still gets that equality check.
* ``defaults.vars`` are under every case's vars; ``defaults.assert`` are appended to every case's assertions.
* ``choice`` without ``value`` takes its labels from the ``expected`` values across the suite.
* Assertion texts may use ``{{ var }}`` and ``{{ expected }}`` from their case.
* Keys a case does not know are kept in ``Case.metadata`` (datasets carry columns such as ``category``), unless
  they look like a typo of a known key (``expect``), which is an error.

Other suite formats reuse these rules through their rooms: :mod:`._source` (files, and the file, line and field
of each piece for errors), :mod:`._template` (the two template syntaxes) and :mod:`._cases` (:class:`CaseRules`,
what every case of one suite shares, and :func:`build_cases`, which turns rows of case mappings into checked
:class:`~modelswap.evals.Case` objects). This module reads the native files into them.
:mod:`modelswap.evals._promptfoo` translates a promptfoo config through them, and
:func:`~modelswap.evals.load_suite` picks the loader by file.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .._errors import ConfigError
from ._cases import CaseRules, build_cases, parse_messages
from ._source import Location, jsonl_rows, parse_yaml, read_text, resolve_ref
from ._template import compile_template
from ._types import Suite
from ._values import closest, unknown

__all__ = ["GENERIC_PARAMS", "SUITE_KEYS", "THRESHOLD_KEYS", "load_jsonl_suite", "suite_from_data"]

SUITE_KEYS = (
    "name", "description", "prompt", "system", "params", "thresholds", "judge", "license_policy", "cases", "tests",
    "defaults",
)
THRESHOLD_KEYS = (
    "max_accuracy_drop", "latency_sla_ms", "max_error_rate", "max_error_increase", "max_cost_increase", "alpha",
    "min_cases",
)
# The generation params every provider understands (modelswap's Client); near-misses of these are typos.
GENERIC_PARAMS = ("temperature", "top_p", "max_tokens", "stop", "seed")


def load_jsonl_suite(path: Path, template: str | None = None) -> Suite:
    """Load a JSONL suite: one case mapping per line, named after the file.

    Args:
        path: the ``.jsonl`` file.
        template: the prompt template for cases given by ``vars`` (a JSONL file has none of its own).

    Raises:
        ConfigError: the file is unreadable, a line is not JSON, or a case breaks a rule.
    """
    source = str(path)
    rules = CaseRules(source=source, template_hint="pass a template (load_suite(path, template=...) or --template)")
    if template is not None:
        rules.template = compile_template(template, Location(source), "template")
    cases = build_cases(jsonl_rows(path, source), rules)
    if not cases:
        raise ConfigError(f"{source}: the suite has no cases. Add one JSON object per line.", file=source)
    return Suite(name=path.stem, cases=cases, source=source, template=template)


def suite_from_data(
    data: Any, root: Any, source: str, *, base_dir: Path, template: str | None = None
) -> Suite:
    """Build a suite from a parsed YAML document (``root`` is its composed node tree, for line numbers)."""
    loc = Location(source, root)
    if isinstance(data, list):
        # A bare list of cases is a suite with no settings.
        rows: Iterable[tuple[Any, Location]] = [(row, loc.at(i)) for i, row in enumerate(data)]
        return _suite_from_rows({}, rows, loc, source, base_dir, template, Path(source).stem)
    if not isinstance(data, Mapping):
        raise loc.error(
            "a suite is a mapping with `name` and `cases` (or a list of cases), "
            f"not {type(data).__name__ if data is not None else 'an empty file'}."
        )
    for key in data:
        if key not in SUITE_KEYS:
            raise loc.error(unknown("field", key, SUITE_KEYS, "Suite fields"), key)
    if "cases" in data and "tests" in data:
        raise loc.error("give the cases under `cases` or `tests`, not both.", "tests")
    key = "cases" if "cases" in data else "tests"
    cases_in = data.get(key)
    if cases_in is None:
        raise loc.error("the suite has no `cases:`. Add a list of cases, each with an id.")
    if isinstance(cases_in, str):
        rows = _referenced_rows(cases_in, base_dir, loc, key)
    elif isinstance(cases_in, list):
        rows = [(row, loc.at(key, i)) for i, row in enumerate(cases_in)]
    else:
        raise loc.error(f"`{key}` must be a list of cases, or file://cases.jsonl.", key)
    name = data.get("name") or Path(source).stem
    if not isinstance(name, str):
        raise loc.error("`name` must be text.", "name")
    return _suite_from_rows(data, rows, loc, source, base_dir, template, name)


def _suite_from_rows(
    data: Mapping[str, Any],
    rows: Iterable[tuple[Any, Location]],
    loc: Location,
    source: str,
    base_dir: Path,
    template: str | None,
    name: str,
) -> Suite:
    rules = CaseRules(source=source)
    prompt = template if template is not None else data.get("prompt")
    if prompt is not None:
        if not isinstance(prompt, (str, list)) or (isinstance(prompt, list) and not prompt):
            raise loc.error("`prompt` must be text with placeholders, or a list of chat messages.", "prompt")
        if isinstance(prompt, list):
            prompt = parse_messages(prompt, loc, ("prompt",))
        rules.template = compile_template(prompt, loc, "prompt" if template is None else "template")
    system = data.get("system")
    if system is not None:
        if not isinstance(system, str):
            raise loc.error("`system` must be text.", "system")
        rules.system = compile_template(system, loc, "system")
    params = _params(data.get("params"), loc)
    thresholds = _thresholds(data.get("thresholds"), loc)
    judge = data.get("judge")
    if judge is not None and (not isinstance(judge, str) or not judge):
        raise loc.error("`judge` is a model alias (text), such as judge: gpt-4o.", "judge")
    description = data.get("description")
    if description is not None and not isinstance(description, str):
        raise loc.error("`description` must be text.", "description")
    rules.add_defaults(data.get("defaults"), loc.at("defaults"))
    license_policy = _license_policy(data.get("license_policy"), loc)
    cases = build_cases(rows, rules)
    if not cases:
        raise loc.error("the suite has no cases. Add at least one under `cases:`.", "cases")
    return Suite(
        name=name,
        cases=cases,
        params=params,
        thresholds=thresholds,
        judge=judge,
        source=source,
        system=system,
        description=description,
        template=prompt,
        license_policy=license_policy,
    )


def _referenced_rows(ref: str, base_dir: Path, loc: Location, key: str) -> list[tuple[Any, Location]]:
    if not ref.startswith("file://"):
        raise loc.error(f"`{key}` must be a list of cases, or a reference such as file://cases.jsonl.", key)
    target = resolve_ref(ref, base_dir)
    if not target.is_file():
        raise loc.error(f"{ref} not found (looked for {target}). Paths are relative to the suite file.", key)
    if target.suffix.lower() in (".jsonl", ".ndjson"):
        return list(jsonl_rows(target, str(target)))
    if target.suffix.lower() in (".yaml", ".yml", ".json"):
        root, data = parse_yaml(read_text(target), str(target))
        if not isinstance(data, list):
            raise ConfigError(f"{target}:1: must hold a list of cases.", file=str(target), line=1)
        sub = Location(str(target), root)
        return [(row, sub.at(i)) for i, row in enumerate(data)]
    raise loc.error(f"{ref}: cases files are .jsonl or .yaml.", key)


def _params(value: Any, loc: Location) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise loc.error("`params` must be a mapping such as {temperature: 0, max_tokens: 64}.", "params")
    for key, item in value.items():
        if key not in GENERIC_PARAMS:
            # Other names pass through to the provider, but a near-miss of a generic one is a typo.
            suggestion = closest(str(key), GENERIC_PARAMS, cutoff=0.8)
            if suggestion:
                raise loc.error(f"unknown param {key!r}; did you mean {suggestion!r}?", "params", key)
        if key == "max_tokens" and (isinstance(item, bool) or not isinstance(item, int) or item < 1):
            raise loc.error(f"max_tokens must be a whole number >= 1, not {item!r}.", "params", key)
        if key in ("temperature", "top_p") and (isinstance(item, bool) or not isinstance(item, (int, float)) or item < 0):
            raise loc.error(f"{key} must be a number >= 0, not {item!r}.", "params", key)
        if key == "stop" and not (isinstance(item, str) or (isinstance(item, list) and all(isinstance(s, str) for s in item))):
            raise loc.error("stop must be text or a list of texts.", "params", key)
    return dict(value)


def _thresholds(value: Any, loc: Location) -> dict[str, float]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise loc.error("`thresholds` must be a mapping such as {max_accuracy_drop: 0.02, alpha: 0.05}.", "thresholds")
    out: dict[str, float] = {}
    for key, item in value.items():
        if key not in THRESHOLD_KEYS:
            raise loc.error(unknown("threshold", key, THRESHOLD_KEYS, "Thresholds"), "thresholds", key)
        if isinstance(item, bool) or not isinstance(item, (int, float)) or item < 0:
            raise loc.error(f"{key} must be a number >= 0, not {item!r}.", "thresholds", key)
        if key == "alpha" and not 0 < item < 1:
            raise loc.error(f"alpha is a significance level between 0 and 1 (such as 0.05), not {item}.", "thresholds", key)
        if key in ("max_accuracy_drop", "max_error_rate", "max_error_increase") and item >= 1:
            raise loc.error(
                f"{key} is a fraction: 0.02 means two percentage points; {item} is 100% or more.", "thresholds", key
            )
        if key == "alpha" and item >= 0.5:
            raise loc.error(f"alpha is a one-sided error rate below 0.5 (such as 0.05), not {item}.", "thresholds", key)
        out[str(key)] = float(item)
    return out


def _license_policy(value: Any, loc: Location) -> dict[str, list[str]]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise loc.error("`license_policy` must be a mapping such as {allow: [Apache-2.0, MIT]}.", "license_policy")
    out: dict[str, list[str]] = {}
    for key, names in value.items():
        if key not in ("allow", "deny"):
            raise loc.error(
                unknown("field", key, ("allow", "deny")) + " A license policy has `allow` and/or `deny`.",
                "license_policy", key,
            )
        if isinstance(names, str):
            names = [names]
        if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
            raise loc.error(f"`{key}` must list license names, such as [Apache-2.0, MIT].", "license_policy", key)
        out[str(key)] = list(names)
    return out
