"""modelswap's promptfoo import against promptfoo 0.123.1 itself, on the same configs and the same real model.

Each folder under ``configs/`` is a promptfoo config with one provider, ``openai:chat:<model>``, filled in at
test time to point at the session's llama.cpp server with SmolLM2-135M-Instruct (temperature 0, seed 42,
16 tokens). For each config promptfoo runs once (``eval -j 1 --no-cache --no-write``) and modelswap loads it once
(``load_promptfoo``) and runs it once (``modelswap regress`` with the same model as baseline and candidate).
Three checks per config:

* ``test_cases_match``: one modelswap case per promptfoo result, joined on ``case.metadata["promptfoo"]``'s
  ``testIdx``/``promptIdx``; the messages modelswap sends are the prompt promptfoo rendered; no import note.
* ``test_grading_parity`` (model-independent): modelswap's ``grade`` on promptfoo's own output gives promptfoo's
  verdict per case and per assertion. Rows promptfoo ran with ``options.transform`` are left to the live check:
  their ``response.output`` is already transformed and the raw answer is not in promptfoo's output file.
* ``test_live_parity``: where modelswap's answer equals promptfoo's (same model, greedy, one request at a time:
  nearly always), the verdicts agree per case and per assertion; at least 80 % of the answers must be equal.

A failure prints the per-case table. Needs promptfoo (``make promptfoo-env``) and the real local server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.promptfoo import pfkit

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]



pytestmark = pytest.mark.promptfoo
live = pytest.mark.local_model  # needs the real llama.cpp server (smollm2_server)

CONFIG_NAMES = sorted(p.name for p in (HERE / "configs").iterdir() if (p / "promptfooconfig.yaml").is_file())
# Rows promptfoo makes of each config (tests after var expansion x prompts): pins promptfoo's own expansion, so a
# change there shows up here and not as a puzzling mismatch.
EXPECTED_ROWS = {
    "csv_asserts": 10, "default_test": 3, "getting_started": 4, "list_vars": 7, "metrics": 2, "prompt_files": 6,
    "prompt_objects": 6, "threshold_weight": 4, "transform": 8, "filters": 4,
}
MODEL_ALIAS = "pf-smollm2"
MIN_IDENTICAL = 0.8
REGRESS_TIMEOUT_S = 900
# Variables of the caller's environment that would choose the model or the config behind the test's back.
SCRUBBED = ("MODELSWAP_MODEL", "MODELSWAP_CONFIG", "MODELSWAP_RECORD", "MODEL_PROVIDER", "MODEL_ID",
            "INFERENCE_ENDPOINT", "API_KEY", "LLAMACPP_API_KEY")


def test_every_config_has_an_expected_row_count() -> None:
    assert sorted(EXPECTED_ROWS) == CONFIG_NAMES


# -- running both tools, once per config ------------------------------------------------------------------------


@dataclass
class Parity:
    """One config: promptfoo's results, modelswap's suite and its regress results (each computed once)."""

    name: str
    config: Path
    work: Path
    promptfoo: Any
    server: Any
    _cache: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:  # pytest shows the fixture in tracebacks: keep it to one line
        return f"Parity({self.name!r}, {str(self.config)!r})"

    def _once(self, key: str, make: Any) -> Any:
        if key not in self._cache:
            try:
                self._cache[key] = ("ok", make())
            except BaseException as exc:  # noqa: BLE001 - replayed to every test that asks
                self._cache[key] = ("error", exc)
        status, value = self._cache[key]
        if status == "error":
            raise value
        return value

    def pf_results(self) -> list[dict[str, Any]]:
        return self._once("pf", lambda: self.promptfoo.run(self.config, self.work / "promptfoo" / "out.json"))

    def suite(self) -> tuple[Any, list[str]]:
        from modelswap.evals import load_promptfoo

        return self._once("suite", lambda: load_promptfoo(self.config))

    def regress(self) -> list[dict[str, Any]]:
        return self._once("regress", self._run_regress)

    def _run_regress(self) -> list[dict[str, Any]]:
        cfg = self.work / "modelswap.yaml"
        cfg.write_text(yaml.safe_dump(modelswap_config(self.server.base_url), sort_keys=False), encoding="utf-8")
        out = self.work / "regress"
        cmd = [sys.executable, "-m", "modelswap", "--config", str(cfg), "regress", str(self.config),
               "--baseline", MODEL_ALIAS, "--candidate", MODEL_ALIAS, "--out", str(out), "--json",
               "--concurrency", "1", "--skip-preflight"]
        env = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
        proc = subprocess.run(cmd, cwd=self.work, env=env, capture_output=True, text=True,
                              timeout=REGRESS_TIMEOUT_S, check=False)
        results = out / "results.jsonl"
        # Exit 0 is the verdict "promote", 1 any other verdict (or an error); a verdict on stdout means it ran.
        try:
            verdict = json.loads(proc.stdout).get("verdict")
        except ValueError:
            verdict = None
        if proc.returncode not in (0, 1) or verdict is None or not results.is_file():
            raise AssertionError(f"modelswap regress failed (exit {proc.returncode}): {' '.join(cmd)}\n"
                                 f"--- stdout ---\n{proc.stdout[-3000:]}\n--- stderr ---\n{proc.stderr[-3000:]}")
        return [json.loads(line) for line in results.read_text(encoding="utf-8").splitlines() if line.strip()]


def modelswap_config(base_url: str) -> dict[str, Any]:
    """A modelswap config whose one alias is what promptfoo's provider is: the chat endpoint of the same server,
    the same model id and the same sampling (temperature 0, seed 42, 16 tokens, no stop)."""
    return {
        "version": 1,
        "default": MODEL_ALIAS,
        "providers": {
            "pf-local": {"preset": "llamacpp", "base_url": base_url, "max_concurrency": 1,
                         "timeout": {"connect": 5, "read": 300}},
        },
        "models": {
            MODEL_ALIAS: {
                "provider": "pf-local", "model_id": "smollm2-135m-instruct", "license": "Apache-2.0",
                "weights": "open", "context_window": 8192,
                "price": {"input_per_mtok": 0, "output_per_mtok": 0, "checked": "2026-12-04"},
                "params": {"temperature": 0, "seed": 42, "max_tokens": 16},
            },
        },
    }


@pytest.fixture(scope="session")
def parity_runs(promptfoo: Any, smollm2_server: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Parity]:
    """Every config materialised for the session's server; each tool runs a config the first time a test asks."""
    runs = {}
    for name in CONFIG_NAMES:
        work = tmp_path_factory.mktemp(f"pf-{name}")
        config = pfkit.materialise(name, work / "config", base_url=smollm2_server.base_url,
                                   model_id="smollm2-135m-instruct")
        runs[name] = Parity(name, config, work, promptfoo, smollm2_server)
    return runs


# -- joining and showing -----------------------------------------------------------------------------------------


def _key(result: dict[str, Any]) -> tuple[int, int]:
    return (int(result["testIdx"]), int(result["promptIdx"]))


def _pf_meta(case: Any) -> dict[str, Any]:
    meta = (case.metadata or {}).get("promptfoo")
    assert isinstance(meta, dict) and isinstance(meta.get("testIdx"), int) and isinstance(meta.get("promptIdx"), int), (
        f"contract: case {case.id!r} must carry metadata['promptfoo'] = {{'testIdx': int, 'promptIdx': int, ...}}; "
        f"it has metadata={case.metadata!r}"
    )
    return meta


def _cases_by_key(suite: Any) -> dict[tuple[int, int], Any]:
    by_key: dict[tuple[int, int], Any] = {}
    for case in suite.cases:
        meta = _pf_meta(case)
        key = (meta["testIdx"], meta["promptIdx"])
        assert key not in by_key, f"cases {by_key[key].id!r} and {case.id!r} both claim (testIdx, promptIdx) = {key}"
        by_key[key] = case
    return by_key


def _pf_transform(result: dict[str, Any]) -> str | None:
    """The ``options.transform`` promptfoo applied to this row (defaultTest's merged in), from its own output file."""
    options = (result.get("testCase") or {}).get("options") or {}
    return options.get("transform") or options.get("postprocess") or None


def _pf_asserts(result: dict[str, Any]) -> list[bool]:
    return [bool(c["pass"]) for c in ((result.get("gradingResult") or {}).get("componentResults") or [])]


def _as_promptfoo_lists(passed: list[Any], case: Any) -> list[bool]:
    """modelswap's per-assertion results as promptfoo lists them. promptfoo shows a failing ``weight: 0``
    assertion as passed (it cannot fail the test); modelswap shows the check's own result and gives it no
    weight. The case verdicts are the same; only the listing differs, so compare it the way promptfoo lists."""
    weights = [a.weight for a in case.asserts]
    return [bool(p) or (i < len(weights) and weights[i] == 0) for i, p in enumerate(passed)]


def _pf_assert_types(result: dict[str, Any]) -> list[str]:
    shown = []
    for c in (result.get("gradingResult") or {}).get("componentResults") or []:
        assertion = c.get("assertion") or {}
        weight = assertion.get("weight", 1)
        shown.append(str(assertion.get("type")) + ("" if weight == 1 else f"(w{weight})"))
    return shown


def _flags(values: list[bool] | None) -> str:
    return "-" if values is None else ("".join("P" if v else "F" for v in values) or "(none)")


def _short(text: Any, width: int = 48) -> str:
    shown = json.dumps(text, ensure_ascii=False) if text is not None else "None"
    return shown if len(shown) <= width else shown[: width - 3] + "..."


def _table(header: list[str], rows: list[list[Any]]) -> str:
    cells = [header, *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    line = lambda row: "  ".join(c.ljust(w) for c, w in zip(row, widths))  # noqa: E731
    return "\n".join([line(cells[0]), line(["-" * w for w in widths]), *(line(r) for r in cells[1:])])


def _expected_messages(result: dict[str, Any]) -> list[dict[str, Any]]:
    """What promptfoo's openai:chat provider sent for this result: a rendered prompt that parses as a JSON list
    of messages is the message list (its ``prompt.raw`` in out.json is re-serialised compactly, so compare
    parsed), anything else is one user message."""
    raw = result["prompt"]["raw"]
    try:
        parsed = json.loads(raw)
    except ValueError:
        parsed = None
    if isinstance(parsed, list) and all(isinstance(m, dict) and "role" in m for m in parsed):
        return parsed
    return [{"role": "user", "content": raw}]


def _messages(case: Any) -> list[dict[str, Any]]:
    return [{k: v for k, v in m.items() if k in ("role", "content")} for m in case.messages]


# -- the checks --------------------------------------------------------------------------------------------------


@live
@pytest.mark.parametrize("name", CONFIG_NAMES)
def test_cases_match(name: str, parity_runs: dict[str, Parity]) -> None:
    run = parity_runs[name]
    results = run.pf_results()
    assert len(results) == EXPECTED_ROWS[name], (
        f"promptfoo made {len(results)} rows of {name}, expected {EXPECTED_ROWS[name]} (did promptfoo change?)")
    assert all(r["provider"]["id"] == "openai:chat:smollm2-135m-instruct" for r in results)

    suite, notes = run.suite()
    assert notes == [], f"{name}: everything in this config is supported, yet the import noted: {notes}"
    assert list(suite.notes) == list(notes)
    assert len(suite.cases) == len(results), (
        f"{name}: modelswap made {len(suite.cases)} cases, promptfoo {len(results)} rows "
        f"(one provider, repeat 1: one case per row)\n"
        f"modelswap: {[(c.id, (c.metadata or {}).get('promptfoo')) for c in suite.cases]}\n"
        f"promptfoo: {[_key(r) for r in results]}")
    by_key = _cases_by_key(suite)
    assert sorted(by_key) == [_key(r) for r in results], "the (testIdx, promptIdx) pairs differ"

    rows, bad = [], []
    for r in results:
        case = by_key[_key(r)]
        want, got = _expected_messages(r), _messages(case)
        same = want == got
        n_pf, n_ms = len(_pf_asserts(r)), len(case.asserts)
        if not same or (r.get("gradingResult") and n_pf != n_ms):
            bad.append(_key(r))
        rows.append([*_key(r), case.id, "same" if same else "DIFF", f"{n_pf}/{n_ms}",
                     _short(want if not same else r["prompt"]["raw"], 70), "" if same else _short(got, 70)])
    assert not bad, (
        f"{name}: rendered prompts or assertion counts differ for (testIdx, promptIdx) {bad}\n"
        + _table(["t", "p", "case", "messages", "asserts pf/ms", "promptfoo sent", "modelswap sends"], rows))


@live
@pytest.mark.parametrize("name", CONFIG_NAMES)
def test_grading_parity(name: str, parity_runs: dict[str, Parity]) -> None:
    """modelswap's grade() on promptfoo's own outputs: the same verdict per case and per assertion."""
    from modelswap.evals import grade

    run = parity_runs[name]
    results = run.pf_results()
    suite, _ = run.suite()
    by_key = _cases_by_key(suite)
    rows, bad, graded, left = [], [], 0, []
    for r in results:
        case = by_key[_key(r)]
        if r.get("failureReason") == 2 or r.get("response") is None:
            left.append((_key(r), "promptfoo error"))
            continue
        if _pf_transform(r):
            left.append((_key(r), "options.transform: raw output not in promptfoo's file"))
            continue
        output = r["response"]["output"]
        result = grade(case, output)
        pf_case, ms_case = bool(r["success"]), bool(result.passed)
        pf_list, ms_list = _pf_asserts(r), _as_promptfoo_lists([a.passed for a in result.results], case)
        ok = pf_case == ms_case and pf_list == ms_list
        graded += 1
        if not ok:
            bad.append(_key(r))
        rows.append([*_key(r), case.id, "ok" if ok else "MISMATCH", _flags([pf_case]), _flags([ms_case]),
                     _flags(pf_list), _flags(ms_list), ",".join(_pf_assert_types(r)), _short(output)])
    table = _table(["t", "p", "case", "verdict", "pf", "ms", "pf asserts", "ms asserts", "types (weight)",
                    "promptfoo's output"], rows)
    print(f"\n{name}: graded {graded}, left to the live check {len(left)} {left}\n{table}")
    assert not bad, f"{name}: modelswap grades promptfoo's outputs differently at {bad}\n{table}"


@live
@pytest.mark.parametrize("name", CONFIG_NAMES)
def test_live_parity(name: str, parity_runs: dict[str, Parity]) -> None:
    """Both tools ask the same model the same questions; where the answers are equal, so are the verdicts.

    modelswap records the model's raw answer; promptfoo records it after ``options.transform``. For those cases
    the answers count as equal when the transform, evaluated by Node exactly as promptfoo does, turns modelswap's
    answer into promptfoo's; and modelswap's own ``apply_transform`` must then give Node's result too.
    """
    import modelswap.evals as evals

    run = parity_runs[name]
    results = {_key(r): r for r in run.pf_results()}
    suite, _ = run.suite()
    by_id = {str(c.id): c for c in suite.cases}
    ms_runs = sorted((r for r in run.regress() if r["role"] == "baseline"),
                     key=lambda m: _key_of(by_id[str(m["case_id"])]))
    assert len(ms_runs) == len(results), f"{name}: modelswap ran {len(ms_runs)} baseline cases, promptfoo {len(results)}"

    # What promptfoo's transform makes of modelswap's raw answers, computed by Node.
    pending = [(_pf_transform(results[_key_of(by_id[str(m["case_id"])])]), m.get("output")) for m in ms_runs]
    node_items = [(t, o) for t, o in pending if t and isinstance(o, str)]
    node_out = iter(pfkit.js_transform(run.promptfoo.node, node_items))
    apply_transform = getattr(evals, "apply_transform", None)

    rows, bad, identical, compared, transform_bad = [], [], 0, 0, []
    for ms, (transform, _) in zip(ms_runs, pending):
        case = by_id[str(ms["case_id"])]
        key = _key_of(case)
        pf = results[key]
        ms_out = ms.get("output")
        via_node = next(node_out) if transform and isinstance(ms_out, str) else None
        if via_node is not None:
            ms_shown = via_node["value"] if via_node["ok"] else f"<transform error: {via_node['error']}>"
            if apply_transform is not None:
                transform_bad += _check_transform(apply_transform, transform, ms_out, via_node, key)
        else:
            ms_shown = ms_out
        compared += 1
        ms_case, ms_list = bool(ms["passed"]), _as_promptfoo_lists([a["passed"] for a in ms["assertions"]], case)
        if pf.get("failureReason") == 2 or pf.get("response") is None:
            # promptfoo errored: a transform that returned nothing or threw, or the provider failed. Same answer
            # when Node's transform of modelswap's answer errors too; then modelswap must not pass the case.
            same = via_node is not None and not via_node["ok"]
            identical += same
            ok = not same or not ms_case
            if not ok:
                bad.append(key)
            rows.append([*key, case.id, ("ok" if ok else "MISMATCH") if same else "-", "E", _flags([ms_case]), "-",
                         _flags(ms_list), "same" if same else "DIFF", _short(f"<error: {pf.get('error')}>"),
                         _short(ms_shown) if not same else ""])
            continue
        pf_out = pf["response"]["output"]
        same = (via_node["ok"] and via_node["value"] == pf_out) if via_node is not None else ms_out == pf_out
        pf_case, pf_list = bool(pf["success"]), _pf_asserts(pf)
        verdict = "-"
        if same:
            identical += 1
            verdict = "ok" if (pf_case == ms_case and pf_list == ms_list and not ms.get("error")) else "MISMATCH"
            if verdict != "ok":
                bad.append(key)
        rows.append([*key, case.id, verdict, _flags([pf_case]), _flags([ms_case]), _flags(pf_list), _flags(ms_list),
                     "same" if same else "DIFF", _short(pf_out), _short(ms_shown) if not same else ""])
    table = _table(["t", "p", "case", "verdict", "pf", "ms", "pf asserts", "ms asserts", "answer", "promptfoo",
                    "modelswap (when different; transformed by Node)"], rows)
    share = identical / compared if compared else 1.0
    print(f"\n{name}: {identical}/{compared} answers identical ({share:.0%})\n{table}")
    problems = []
    if bad:
        problems.append(f"same answer, different verdict at {bad}")
    if node_items and apply_transform is None:
        problems.append("modelswap.evals.apply_transform is missing (the contract: apply_transform(expression, output))")
    if transform_bad:
        problems.append("modelswap's apply_transform differs from promptfoo's (Node) on:\n  " + "\n  ".join(transform_bad))
    # One differing answer is allowed even in a small config: with the same request, llama.cpp's reuse of a cached
    # prompt prefix (which depends on the order the tools send in) can tip a near-tie of this 135M model.
    if share < MIN_IDENTICAL and compared - identical > 1:
        problems.append(f"only {identical}/{compared} answers identical (< {MIN_IDENTICAL:.0%}): did the two tools "
                        "send different requests (messages, sampling, endpoint)?")
    assert not problems, f"{name}: " + "\n".join(problems) + f"\n{table}"


def _check_transform(apply_transform: Any, expression: str, raw: str, via_node: dict[str, Any],
                     key: tuple[int, int]) -> list[str]:
    """modelswap's ``apply_transform(expression, raw)`` against Node's result; a line per disagreement."""
    try:
        got: Any = apply_transform(expression, raw)
        error = None
    except Exception as exc:  # noqa: BLE001 - any error is modelswap's "the transform failed"
        got, error = None, exc
    if via_node["ok"] and error is None and got in (via_node["value"], via_node["text"]):
        return []
    if not via_node["ok"] and error is not None:
        return []
    want = via_node["value"] if via_node["ok"] else f"<error: {via_node['error']}>"
    return [f"{key}: {expression} on {_short(raw, 60)}: Node {_short(want, 60)}, modelswap "
            f"{_short(got, 60) if error is None else f'<{type(error).__name__}: {error}>'}"]


def _key_of(case: Any) -> tuple[int, int]:
    meta = _pf_meta(case)
    return (meta["testIdx"], meta["promptIdx"])


def test_modelswap_config_is_valid(tmp_path: Path) -> None:
    """The config the live check hands `modelswap regress` is one modelswap accepts (no server needed)."""
    cfg = tmp_path / "modelswap.yaml"
    cfg.write_text(yaml.safe_dump(modelswap_config("http://127.0.0.1:9/v1"), sort_keys=False), encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "modelswap", "--config", str(cfg), "validate"], capture_output=True,
                          text=True, timeout=120, check=False,
                          env={k: v for k, v in os.environ.items() if k not in SCRUBBED})
    assert proc.returncode == 0, textwrap.shorten(proc.stdout + proc.stderr, 2000)
