"""The kit's checkers and template renderer give what the reference gives, with nothing beside the repository.

The reference is the shared contracts folder's own check_request.py / check_response.py: their outputs were
recorded once into tests/data/contracts/golden/ (see PROVENANCE.md and make_goldens.py) for every example file
under tests/data/contracts/examples with the argument combinations the project's tests use, for every invocation
the project's tests made, and for hand-written inputs that reach the remaining code paths. Each case is replayed
here through the kit: same exit code, same --json output (or the same stdout lines), same stderr. The 60 golden
renders of chat_template_vectors.json must come out of the kit's render_reference byte for byte.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import io
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

KIT = Path(__file__).resolve().parent
DATA = KIT.parent / "data" / "contracts"
GOLDEN = DATA / "golden"
GROUPS = ("examples.json", "recorded.json", "synthetic.json")


def _module(name: str) -> ModuleType:
    """A kit script imported by path (it imports its sibling kitlib the way it does when run as a script)."""
    spec = importlib.util.spec_from_file_location(f"contracts_kit_{name}", KIT / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SCRIPTS = {"check_request.py": _module("check_request"), "check_response.py": _module("check_response")}
render_reference = _module("render_reference")
# The scratch folder and the recorded fields, exactly as make_goldens.py made them for the reference.
make_goldens = _module("make_goldens")
_workspace, _outcome = make_goldens.workspace, make_goldens.outcome


def _golden(name: str) -> dict[str, Any]:
    return json.loads((GOLDEN / name).read_text(encoding="utf-8"))


DOCS = {name: _golden(name) for name in GROUPS}
CASES = [(name, case) for name in GROUPS for case in DOCS[name]["cases"]]


def _run_in_process(case: dict[str, Any], cwd: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str, str]:
    monkeypatch.chdir(cwd)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = SCRIPTS[case["script"]].main(list(case["args"]))
    return code, out.getvalue(), err.getvalue()


def _expected(case: dict[str, Any]) -> dict[str, Any]:
    return {k: case[k] for k in ("exit", "json", "stdout", "stderr") if k in case}


def _settle_time(actual: dict[str, Any], expected: dict[str, Any], ran_at: float) -> None:
    """A Retry-After HTTP date counts down: the delay now is the recorded one less the time since recording."""
    elapsed = time.time() - ran_at
    got, want = actual["json"]["normalized"], expected["json"]["normalized"]
    for path in (("rate_limit", "retry_after_s"), ("error", "retry_delay_s")):
        a, w = got, want
        for key in path[:-1]:
            a, w = (a or {}).get(key), (w or {}).get(key)
        if isinstance(w, dict) and isinstance(w.get(path[-1]), (int, float)) and isinstance(a, dict):
            assert a[path[-1]] == pytest.approx(max(0.0, w[path[-1]] - elapsed), abs=5), path
            a[path[-1]] = w[path[-1]]


def _stale(group: str, case: dict[str, Any]) -> list[str]:
    digests = DOCS[group]["example_sha256"]
    return [arg for arg in case["args"] if arg.startswith("examples/")
            and hashlib.sha256((DATA / arg).read_bytes()).hexdigest() != digests[arg]]


SAMPLING = "sampling parameter exists for anthropic-version 2023-06-01"


def _set_aside_sampling_warnings(outcome: dict[str, Any]) -> list[Any]:
    """The reference lists the removed Anthropic sampling keys in string-hash order, the kit in body order: take
    those warnings out (to compare as a multiset) and leave the rest in order."""
    aside = []
    for key, items in outcome["json"].items():
        aside += sorted(json.dumps(i) for i in items if SAMPLING in i["message"])
        outcome["json"][key] = [i for i in items if SAMPLING not in i["message"]]
    return aside


@pytest.mark.parametrize(("group", "case"), CASES, ids=[f"{g[:-5]}:{c['id']}" for g, c in CASES])
def test_the_kit_reproduces_the_reference(group: str, case: dict[str, Any], tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    stale = _stale(group, case)
    assert not stale, f"{stale} changed since the goldens were made: run tests/contracts_kit/make_goldens.py"
    actual = _outcome(case, *_run_in_process(case, _workspace(case, tmp_path), monkeypatch))
    expected = _expected(case)
    if case.get("time_dependent"):
        _settle_time(actual, expected, case["ran_at"])
    if case.get("unordered"):
        assert _set_aside_sampling_warnings(actual) == _set_aside_sampling_warnings(expected)
    assert actual == expected


def test_every_example_file_is_a_case() -> None:
    checked = {arg for _, case in CASES for arg in case["args"] if arg.startswith("examples/")}
    shipped = {p.relative_to(DATA).as_posix() for p in (DATA / "examples").rglob("*")
               if p.is_file() and p.name != "PROVENANCE.json"}
    assert shipped and shipped == checked


def test_the_cases_include_every_invocation_style_of_the_tests() -> None:
    """The argument shapes the project's tests use, each replayed at least once."""
    seen = {(case["script"], tuple(a for a in case["args"] if a.startswith("--"))) for _, case in CASES}
    for script, flags in [
        ("check_request.py", ("--api", "--profile", "--strict")),
        ("check_request.py", ("--api", "--json")),
        ("check_request.py", ("--api", "--anthropic-version")),
        ("check_response.py", ("--api", "--json")),
        ("check_response.py", ("--api", "--profile", "--json")),
        ("check_response.py", ("--json", "--api", "--status", "--headers")),
        ("check_response.py", ("--api", "--anthropic-version", "--status", "--headers", "--json")),
    ]:
        assert (script, flags) in seen, (script, flags)
    assert any(len([a for a in c["args"] if a.startswith("in/body")]) > 1 for _, c in CASES)  # several files


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_the_scripts_run_as_commands(script: str, tmp_path: Path) -> None:
    """Run as a subprocess, the way the tests call them, both from the kit folder and copied beside the data
    (the shared folder's layout): the exit status and output are the recorded ones."""
    case = next(c for _, c in CASES if c["script"] == script and c["exit"] == 1 and "--json" in c["args"])
    beside = tmp_path / "beside"
    beside.mkdir()
    for name in (script, "kitlib.py"):
        shutil.copy(KIT / name, beside / name)
    (beside / "schemas").symlink_to(DATA / "schemas", target_is_directory=True)
    for folder in (KIT, beside):
        cwd = _workspace(case, tmp_path / folder.name / "run")
        done = subprocess.run([sys.executable, str(folder / script), *case["args"]], cwd=cwd,
                              capture_output=True, text=True, timeout=120, check=False)
        assert _outcome(case, done.returncode, done.stdout, done.stderr) == _expected(case), folder


def test_the_kit_reads_only_the_repository() -> None:
    kitlib = sys.modules["kitlib"]
    assert kitlib.DATA == DATA and kitlib.SCHEMAS.is_dir()


# -- the chat templates ---------------------------------------------------------------------------------------------
MANIFEST = json.loads((DATA / "templates" / "MANIFEST.json").read_text(encoding="utf-8"))
_VECTORS_FILE = json.loads((DATA / "chat_template_vectors.json").read_text(encoding="utf-8"))
VECTORS = [(family, row) for family, rows in _VECTORS_FILE.items() if family != "_meta" for row in rows]


def test_sixty_vectors_over_the_ten_templates() -> None:
    assert len(VECTORS) == 60 and {family for family, _ in VECTORS} == set(MANIFEST)
    assert all((DATA / entry["file"]).is_file() for entry in MANIFEST.values())


@pytest.mark.parametrize(("family", "row"), VECTORS, ids=[f"{f}:{r['case']}" for f, r in VECTORS])
def test_render_reference_matches_the_golden_vectors(family: str, row: dict[str, Any]) -> None:
    import jinja2

    template = (DATA / MANIFEST[family]["file"]).read_text(encoding="utf-8")
    args = (template, row["messages"], row["add_generation_prompt"], row["special_tokens"])
    if "expected_error" in row:
        with pytest.raises(jinja2.TemplateError) as caught:
            render_reference.render(*args, **row["template_kwargs"])
        assert str(caught.value) == row["expected_error"]
        return
    assert render_reference.render(*args, **row["template_kwargs"]) == row["expected"]
    compiled = render_reference.make_env().from_string(template)  # how the property tests use it
    context = {**row["special_tokens"], **row["template_kwargs"]}
    assert compiled.render(messages=row["messages"], tools=None, documents=None,
                           add_generation_prompt=row["add_generation_prompt"], **context) == row["expected"]


def test_tojson_keeps_unicode_and_markup_unescaped() -> None:
    env = render_reference.make_env()
    assert env.from_string("{{ x | tojson }}").render(x={"a": "<é>&'"}) == '{"a": "<é>&\'"}'
    assert env.from_string("{{ strftime_now('%Y') }}").render() == time.strftime("%Y")
