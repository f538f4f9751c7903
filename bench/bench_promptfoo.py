"""modelswap's promptfoo import against promptfoo 0.123.1 itself: loading a big config, and evaluating one.

    .venv/bin/python bench/bench_promptfoo.py [--out FILE] [--rows 10000] [--load-repeats 5]
                                              [--eval-cases 20] [--concurrency 2] [--rounds 3] [--workdir DIR]

(a) Loading. A generated promptfoo config: 2 prompts x ``--rows`` CSV tests (``__expected``, ``__expected1``,
    ``__expected2``, ``__description``), so 2 x rows cases. ``modelswap.evals.load_promptfoo`` is timed in this
    process, best and median of ``--load-repeats`` (target: under 1 s for 10,000 rows). promptfoo's own loading
    is timed as ``promptfoo eval -n 1`` on the same config with the ``echo`` provider (it reads and expands every
    test, then runs only the first), a whole process, beside ``promptfoo --version`` (Node start-up and module
    loading alone): the difference is roughly promptfoo's loading. ``--promptfoo-full-echo`` also runs all
    cases through the echo provider and reports promptfoo's own ``durationMs``.
(b) Evaluating. A generated config of ``--eval-cases`` cases (countries x 2 prompts, icontains/not-icontains)
    against SmolLM2-135M-Instruct on a llama.cpp server started here (``modelswap.local.LocalServer``, one slot
    per concurrent call), greedy, 16 tokens. ``promptfoo eval -j N`` and ``modelswap regress --concurrency N``
    take turns for ``--rounds`` rounds, each a fresh process timed from spawn to exit. Both compare two models,
    here the same one twice: the promptfoo config lists the provider twice (labels baseline and candidate) and
    ``modelswap regress`` runs it as baseline and candidate, so both make the same calls. The table says how
    many answers the two tools got identical (the same request makes the same answer).

Prints Markdown tables and the exact commands; writes everything, with the machine and the git state, as JSON to
``--out`` (default ``bench/results/promptfoo-<time>.json``). promptfoo comes from ``make promptfoo-env``
(``tests/promptfoo/setup_promptfoo.sh``); without it only the modelswap side runs. The default run takes about
a minute on a quiet 2-core machine (measure on a quiet one: a busy one changes these numbers several-fold).
"""

from __future__ import annotations

import argparse
import csv
import gc
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))  # tests.promptfoo.pfkit: the promptfoo the parity tests use

from _env import environment  # noqa: E402

from tests.promptfoo import pfkit  # noqa: E402

for _var in ("MODELSWAP_CONFIG", "MODELSWAP_MODEL", "MODEL_PROVIDER", "MODEL_ID", "INFERENCE_ENDPOINT", "API_KEY"):
    os.environ.pop(_var, None)

MODEL_ID = "smollm2-135m-instruct"
ALIAS = "pf-smollm2"
COUNTRIES = [("France", "Paris"), ("Japan", "Tokyo"), ("Germany", "Berlin"), ("Italy", "Rome"), ("Spain", "Madrid"),
             ("Canada", "Ottawa"), ("Egypt", "Cairo"), ("Australia", "Canberra"), ("Kenya", "Nairobi"),
             ("Peru", "Lima"), ("Norway", "Oslo"), ("Chile", "Santiago"), ("Greece", "Athens"), ("India", "New Delhi"),
             ("China", "Beijing"), ("Russia", "Moscow"), ("Mexico", "Mexico City"), ("Cuba", "Havana"),
             ("Poland", "Warsaw"), ("Austria", "Vienna")]


def timed(argv: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None,
          ok: tuple[int, ...] = (0,)) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode not in ok:
        raise SystemExit(f"{shlex.join(argv)} exited {done.returncode}:\n{done.stdout[-1500:]}\n{done.stderr[-1500:]}")
    return wall, done


def summary(samples: list[float]) -> dict[str, float]:
    return {"best": min(samples), "median": statistics.median(samples), "max": max(samples)}


# -- (a) loading -----------------------------------------------------------------------------------------------


def write_big_config(folder: Path, rows: int, provider_block: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "tests.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["question", "topic", "__expected", "__expected1", "__expected2", "__description"])
        for i in range(rows):
            country, capital = COUNTRIES[i % len(COUNTRIES)]
            kind = i % 4
            first = (f"contains: {capital}" if kind == 0 else f"icontains:{capital.lower()}" if kind == 1
                     else capital if kind == 2 else f"regex:^{capital.split()[0]}")
            writer.writerow([f"What is the capital of {country}? (#{i})", "geography", first,
                             "not-icontains:sorry", f"contains-any:{capital},{country}" if i % 3 else "",
                             f"row {i}: {country}"])
    config = folder / "promptfooconfig.yaml"
    config.write_text(
        "description: generated load benchmark\n"
        "prompts:\n"
        "  - \"{{question}} Answer in one word.\"\n"
        "  - \"You are a geography teacher ({{topic}}). {{question}}\"\n"
        f"{provider_block}"
        "tests: file://tests.csv\n",
        encoding="utf-8",
    )
    return config


def bench_load(args: argparse.Namespace, tmp: Path, pf: Any) -> dict[str, Any]:
    from modelswap.evals import load_promptfoo

    config = write_big_config(tmp / "load", args.rows, "providers:\n  - echo\n")
    samples: list[float] = []
    cases = notes = None
    for _ in range(args.load_repeats):
        gc.collect()
        started = time.perf_counter()
        suite, notes = load_promptfoo(config)
        samples.append(time.perf_counter() - started)
        cases = len(suite.cases)
        del suite
    out: dict[str, Any] = {
        "rows": args.rows, "prompts": 2, "cases": cases, "notes": notes,
        "modelswap_load_promptfoo_s": summary(samples), "modelswap_samples_s": samples,
        "command_modelswap": f"load_promptfoo({str(config)!r})  # in-process",
    }
    print(f"\n### (a) Loading a promptfoo config: {args.rows:,} CSV tests x 2 prompts = {cases:,} cases\n")
    rows = [("modelswap `load_promptfoo` (in-process)", summary(samples), f"{len(samples)} runs")]
    if pf is not None:
        workdir = tmp / "load-pf"
        workdir.mkdir()
        env = pf.env(workdir)
        version_cmd = pf.command("--version")
        first_cmd = pf.command("eval", "-c", str(config), "-n", "1", "--no-cache", "--no-write", "-o",
                               str(workdir / "out.json"), "--no-table", "--no-progress-bar")
        startup, first = [], []
        for _ in range(args.promptfoo_load_repeats):
            startup.append(timed(version_cmd, env=env)[0])
            first.append(timed(first_cmd, cwd=config.parent, env=env, ok=(0, 100))[0])
        out.update({
            "promptfoo_version_s": summary(startup), "promptfoo_eval_first1_s": summary(first),
            "promptfoo_load_estimate_s": statistics.median(first) - statistics.median(startup),
            "command_promptfoo_startup": shlex.join(version_cmd), "command_promptfoo_load": shlex.join(first_cmd),
        })
        rows.append(("promptfoo `--version` (Node start-up only)", summary(startup), "whole process"))
        rows.append(("promptfoo `eval -n 1` (load all, run 1, echo)", summary(first), "whole process"))
        if args.promptfoo_full_echo:
            full_cmd = pf.command("eval", "-c", str(config), "--no-cache", "--no-write", "-o", str(workdir / "full.json"),
                                  "--no-table", "--no-progress-bar")
            wall, _ = timed(full_cmd, cwd=config.parent, env=env, ok=(0, 100))
            data = json.loads((workdir / "full.json").read_text(encoding="utf-8"))
            out.update({"promptfoo_full_echo_wall_s": wall,
                        "promptfoo_full_echo_duration_ms": data["results"]["stats"].get("durationMs"),
                        "command_promptfoo_full_echo": shlex.join(full_cmd)})
            rows.append(("promptfoo `eval` all cases, echo provider", summary([wall]),
                         f"its durationMs {data['results']['stats'].get('durationMs')}"))
    print("| what | best (s) | median (s) | max (s) | note |\n|---|---:|---:|---:|---|")
    for name, s, note in rows:
        print(f"| {name} | {s['best']:.3f} | {s['median']:.3f} | {s['max']:.3f} | {note} |")
    best = summary(samples)["best"]
    print(f"\nmodelswap best {best:.3f} s ({'under' if best < 1 else 'OVER'} the 1 s target)"
          + (f"; promptfoo's loading is roughly eval -n 1 minus --version: {out['promptfoo_load_estimate_s']:.2f} s"
             if "promptfoo_load_estimate_s" in out else ""))
    print(f"\nCommands: `{out['command_modelswap']}`" + (
        f"\n`{out['command_promptfoo_startup']}`\n`{out['command_promptfoo_load']}`" if pf is not None else ""))
    return out


# -- (b) evaluating --------------------------------------------------------------------------------------------


def write_eval_config(folder: Path, n_cases: int, base_url: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    n_tests = max(1, (n_cases + 1) // 2)
    tests = []
    for i in range(n_tests):
        country, capital = COUNTRIES[i % len(COUNTRIES)]
        tests.append({"vars": {"country": country}, "assert": [
            {"type": "icontains", "value": capital.lower()}, {"type": "not-icontains", "value": "sorry"}]})
    config = {
        "description": f"generated eval benchmark ({n_tests} tests x 2 prompts)",
        "prompts": ["What is the capital of {{country}}?", "Capital of {{country}}? Answer in one word."],
        # The same model twice, as baseline and candidate: both tools then make the same calls, one comparison.
        "providers": [{"id": f"openai:chat:{MODEL_ID}", "label": role, "config": {
            "apiBaseUrl": base_url, "apiKey": "not-needed", "temperature": 0, "seed": 42, "max_tokens": 16}}
            for role in ("baseline", "candidate")],
        "tests": tests,
    }
    import yaml

    path = folder / "promptfooconfig.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def write_modelswap_config(path: Path, base_url: str, concurrency: int) -> Path:
    import yaml

    path.write_text(yaml.safe_dump({
        "version": 1, "default": ALIAS,
        "providers": {"pf-local": {"preset": "llamacpp", "base_url": base_url, "max_concurrency": concurrency,
                                   "timeout": {"connect": 5, "read": 300}}},
        "models": {ALIAS: {"provider": "pf-local", "model_id": MODEL_ID, "license": "Apache-2.0", "weights": "open",
                           "context_window": 8192,
                           "price": {"input_per_mtok": 0, "output_per_mtok": 0, "checked": "2026-12-04"},
                           "params": {"temperature": 0, "seed": 42, "max_tokens": 16}}},
    }, sort_keys=False), encoding="utf-8")
    return path


def bench_eval(args: argparse.Namespace, tmp: Path, pf: Any) -> dict[str, Any]:
    import httpx

    from modelswap.evals import load_promptfoo
    from modelswap.local import LocalServer, free_port

    server = LocalServer(port=free_port(), model="smollm2", parallel=max(1, args.concurrency), ctx_size=2048,
                         log_path=tmp / "llama-server.log")
    with server:
        config = write_eval_config(tmp / "eval", args.eval_cases, server.base_url)
        suite, _ = load_promptfoo(config)
        n_cases = len(suite.cases)
        ms_config = write_modelswap_config(tmp / "modelswap.yaml", server.base_url, args.concurrency)
        # One request first: the first one after start-up is slower for whoever comes first.
        httpx.post(f"{server.base_url}/chat/completions", timeout=120, json={
            "model": MODEL_ID, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4, "temperature": 0})

        def ms_cmd(out_dir: Path) -> list[str]:
            return [sys.executable, "-m", "modelswap", "--config", str(ms_config), "regress", str(config),
                    "--baseline", ALIAS, "--candidate", ALIAS, "--out", str(out_dir), "--json",
                    "--concurrency", str(args.concurrency), "--skip-preflight"]

        walls: dict[str, list[float]] = {"modelswap": []}
        pf_duration_ms: list[float] = []
        if pf is not None:
            walls["promptfoo"] = []
        last: dict[str, Any] = {}
        for round_ in range(args.rounds):
            order = list(walls) if round_ % 2 == 0 else list(reversed(walls))
            for tool in order:
                run_dir = tmp / f"round{round_}-{tool}"
                run_dir.mkdir()
                if tool == "promptfoo":
                    cmd = pf.eval_command(config, run_dir / "out.json", concurrency=args.concurrency)
                    wall, _ = timed(cmd, cwd=config.parent, env=pf.env(run_dir), ok=(0, 100))
                    data = json.loads((run_dir / "out.json").read_text(encoding="utf-8"))
                    pf_duration_ms.append(float(data["results"]["stats"]["durationMs"]))
                    last["promptfoo"] = data
                    last["promptfoo_cmd"] = cmd
                else:
                    cmd = ms_cmd(run_dir / "regress")
                    wall, _ = timed(cmd, ok=(0, 1))
                    last["modelswap"] = [json.loads(line) for line in
                                         (run_dir / "regress" / "results.jsonl").read_text(encoding="utf-8").splitlines()
                                         if line.strip()]
                    last["modelswap_cmd"] = cmd
                walls[tool].append(wall)
                print(f"  round {round_ + 1}/{args.rounds}: {tool} {wall:.2f} s", file=sys.stderr, flush=True)

    ms_runs = last["modelswap"]
    ms_calls = len(ms_runs)
    baseline = [r for r in ms_runs if r["role"] == "baseline"]
    out: dict[str, Any] = {
        "cases": n_cases, "concurrency": args.concurrency, "rounds": args.rounds, "server_slots": server.parallel,
        "walls_s": walls, "modelswap_calls_per_run": ms_calls,
        "modelswap_baseline_passed": sum(bool(r["passed"]) for r in baseline),
        "command_modelswap": shlex.join(last["modelswap_cmd"]),
    }
    med = {tool: statistics.median(ws) for tool, ws in walls.items()}
    print(f"\n### (b) Evaluating {n_cases} cases against SmolLM2-135M-Instruct (llama.cpp, {server.parallel} slot(s)), "
          f"concurrency {args.concurrency}, {args.rounds} rounds taking turns\n")
    print("| contender | model calls | median wall (s) | runs (s) | per call (s) | note |\n|---|---:|---:|---|---:|---|")
    if pf is not None:
        results = sorted(last["promptfoo"]["results"]["results"], key=lambda r: (r["testIdx"], r["promptIdx"]))
        by_key = {}
        for case in suite.cases:
            meta = (case.metadata or {}).get("promptfoo") or {}
            if "testIdx" in meta and "promptIdx" in meta:
                by_key[str(case.id)] = (meta["testIdx"], meta["promptIdx"])
        # promptIdx counts provider x prompt columns: the baseline provider's are the first len(prompts).
        pf_out = {(r["testIdx"], r["promptIdx"]): (r.get("response") or {}).get("output") for r in results
                  if r["promptIdx"] < 2}
        same = sum(1 for r in baseline if str(r["case_id"]) in by_key and pf_out.get(by_key[str(r["case_id"])]) == r["output"])
        out.update({
            "promptfoo_duration_ms": pf_duration_ms, "promptfoo_calls_per_run": len(results),
            "promptfoo_passed": sum(bool(r["success"]) for r in results if r["promptIdx"] < 2),
            "identical_answers": same,
            "identical_answers_joinable": len(by_key), "command_promptfoo": shlex.join(last["promptfoo_cmd"]),
        })
        print(f"| promptfoo eval -j {args.concurrency} | {len(results)} | {med['promptfoo']:.2f} | "
              f"{', '.join(f'{w:.2f}' for w in walls['promptfoo'])} | {med['promptfoo'] / len(results):.3f} | "
              f"its durationMs median {statistics.median(pf_duration_ms) / 1000:.2f} s; Node start-up included |")
    print(f"| modelswap regress (baseline + candidate) | {ms_calls} | {med['modelswap']:.2f} | "
          f"{', '.join(f'{w:.2f}' for w in walls['modelswap'])} | {med['modelswap'] / max(1, ms_calls):.3f} | "
          "pre-flight checks, grading, results.jsonl and 3 reports included |")
    if pf is not None:
        ratio = med["modelswap"] / med["promptfoo"]
        out["ratio_modelswap_over_promptfoo"] = ratio
        print(f"\nmodelswap / promptfoo wall, same calls: **{ratio:.2f}x**. Passed (baseline): promptfoo "
              f"{out['promptfoo_passed']}"
              f"/{len(results) // 2}, modelswap baseline {out['modelswap_baseline_passed']}/{len(baseline)}; identical answers "
              f"{out['identical_answers']}/{len(baseline)}.")
        print(f"\nCommands:\n`{out['command_promptfoo']}`\n`{out['command_modelswap']}`")
    else:
        print(f"\nCommand:\n`{out['command_modelswap']}`")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 2)[2] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=None,
                        help="JSON result file (default: bench/results/promptfoo-<time>.json)")
    parser.add_argument("--rows", type=int, default=10_000, help="CSV tests in the loading benchmark (default 10000)")
    parser.add_argument("--load-repeats", type=int, default=5, help="load_promptfoo runs (default 5)")
    parser.add_argument("--promptfoo-load-repeats", type=int, default=3, help="promptfoo eval -n 1 runs (default 3)")
    parser.add_argument("--promptfoo-full-echo", action="store_true",
                        help="also evaluate every loading-benchmark case with promptfoo's echo provider")
    parser.add_argument("--eval-cases", type=int, default=20, help="cases in the evaluation benchmark (default 20)")
    parser.add_argument("--concurrency", type=int, default=2, help="calls in flight for both tools (default 2)")
    parser.add_argument("--rounds", type=int, default=3, help="evaluation rounds, the tools taking turns (default 3)")
    parser.add_argument("--skip-load", action="store_true", help="skip (a), the loading benchmark")
    parser.add_argument("--skip-eval", action="store_true", help="skip (b), the evaluation benchmark")
    parser.add_argument("--no-promptfoo", action="store_true", help="time modelswap only")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="keep the generated configs and outputs here (default: a temporary folder, deleted)")
    args = parser.parse_args()
    invocation = shlex.join([sys.executable, *sys.argv])
    print(f"Command: `{invocation}`")

    pf = None
    pf_status = "skipped (--no-promptfoo)"
    if not args.no_promptfoo:
        pf, why = pfkit.find_promptfoo()
        pf_status = f"promptfoo {pfkit.PROMPTFOO_VERSION} at {pf.main}" if pf is not None else why
    print(f"promptfoo: {pf_status}", file=sys.stderr)

    result: dict[str, Any] = {"environment": environment(), "args": {k: str(v) for k, v in vars(args).items()},
                              "command": invocation, "promptfoo": pf_status}
    with tempfile.TemporaryDirectory(prefix="modelswap-bench-promptfoo-") as tmp_name:
        tmp = Path(tmp_name)
        if args.workdir is not None:
            tmp = args.workdir.resolve()
            if tmp.exists() and any(tmp.iterdir()):
                raise SystemExit(f"--workdir {tmp} is not empty")
            tmp.mkdir(parents=True, exist_ok=True)
        if not args.skip_load:
            result["load"] = bench_load(args, tmp, pf)
        if not args.skip_eval:
            result["eval"] = bench_eval(args, tmp, pf)
    result["loadavg_at_end"] = os.getloadavg()
    target = args.out or HERE / "results" / f"promptfoo-{time.strftime('%Y%m%dT%H%M%S')}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(result, indent=2, default=str), encoding="utf-8")
    print(f"\n(JSON: {target})")


if __name__ == "__main__":
    main()
