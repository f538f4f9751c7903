"""The main job: move one pipeline between two real model families and back, and let the data decide.

Run it with `make run`, or in an environment with `modelswap[local]`:

    python examples/demo_regression.py [--out demo-report]

It starts llama.cpp's server twice on free loopback ports, one per family, and runs three acts:

1. **The family swap.** The shipped short-answer suite (examples/swap/suite.yaml, 40 questions) on Gemma 3 270M
   (`gemma-raw`: a base model, the few-shot prompt sent verbatim to /completion) and on SmolLM2-135M-Instruct
   (`smollm2-chat`: an instruction-tuned model through its own chat template). The pipeline changes one
   parameter, the model alias; each family gets questions right that the other gets wrong. Every answer of
   both is printed, then the verdict both ways with its statistics.
2. **The rendering check.** The same SmolLM2 questions through `smollm2-raw`, where modelswap renders the chat
   template itself and sends raw text: the answers match the server-rendered ones, because the bytes do.
3. **The hazard.** The same Gemma weights through the chat endpoint (`gemma-chat`), where llama-server wraps
   the prompt in a template this base model never learned: a swap that looks like one changed string, and the
   regression that refuses it (examples/sentiment/suite.yaml, 48 cases).

The reports (JSON, Markdown, self-contained HTML) land in --out. The same runs from the command line, against
`modelswap serve-local`:

    modelswap regress examples/swap/suite.yaml --baseline gemma-raw --candidate smollm2-chat --out report
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path
from typing import Any

from modelswap import Client
from modelswap.evals import load_suite
from modelswap.local import LocalServers, local_config
from modelswap.regress import compare

HERE = Path(__file__).resolve().parent
_WIDTH = 34


def _answer(side: dict[str, Any]) -> str:
    mark = "ok" if side["passed"] else "--"
    text = " ".join((side.get("output") or side.get("error") or "").split())
    return f"{mark} {text[:_WIDTH - 4] + '...' if len(text) > _WIDTH - 1 else text}"


def print_cases(report: dict[str, Any]) -> None:
    """Every case with both models' answers: ok passed, -- failed."""
    base, cand = report["baseline"], report["candidate"]
    print(f"  {'case':<18} {'expected':<15} {base:<{_WIDTH}} {cand}")
    for case in report["cases"]:
        print(f"  {case['case_id']:<18} {str(case['expected']):<15} {_answer(case['baseline']):<{_WIDTH}} "
              f"{_answer(case['candidate'])}")


def print_verdict(report: dict[str, Any]) -> None:
    models, comparison = report["models"], report["comparison"]
    print(f"{report['baseline']} -> {report['candidate']}: {report['verdict'].upper()}")
    for role in ("baseline", "candidate"):
        m = models[role]
        print(f"  {role:<9} {m['alias']:<13} accuracy {m['accuracy']:6.1%}  p50 {m['latency_p50_ms']:5.0f} ms  "
              f"p95 {m['latency_p95_ms']:5.0f} ms")
    mcnemar = comparison["mcnemar"]
    print(f"  paired cases: {mcnemar['c']} fixed, {mcnemar['b']} regressed; McNemar p = {mcnemar['p_value']:.2g}")
    for reason in report["reasons"]:
        print(f"  - {reason}")
    print(f"  report: {report['files']['html']}\n")


def print_repeatability(forward: dict[str, Any], backward: dict[str, Any]) -> None:
    """Each alias ran twice (once per direction): say how many answers changed between its two runs."""
    first = {c["case_id"]: c for c in forward["cases"]}
    for alias, a, b in ((forward["baseline"], "baseline", "candidate"), (forward["candidate"], "candidate", "baseline")):
        changed = sum(first[c["case_id"]][a]["output"] != c[b]["output"] for c in backward["cases"])
        print(f"{alias}: {changed} of {len(backward['cases'])} answers differ between its two runs at temperature 0"
              + (" (llama.cpp's batched CPU arithmetic depends on which requests share a batch; --repeat N"
                 " measures it)" if changed else ""))
    print()


def run(suite: Any, baseline: str, candidate: str, out: Path, client: Client) -> dict[str, Any]:
    target = out / f"{baseline}-to-{candidate}"
    shutil.rmtree(target, ignore_errors=True)  # a fresh run, not a resumed one
    return compare(suite, baseline, candidate, out_dir=target, client=client, concurrency=2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="demo-report", help="folder for the reports (default demo-report)")
    parser.add_argument("--swap-suite", default=str(HERE / "swap" / "suite.yaml"))
    parser.add_argument("--hazard-suite", default=str(HERE / "sentiment" / "suite.yaml"))
    args = parser.parse_args()
    out = Path(args.out)
    swap, hazard = load_suite(args.swap_suite), load_suite(args.hazard_suite)
    started = time.monotonic()
    with LocalServers(["gemma", "smollm2"], ports="free", parallel=2, ctx_size=2048) as servers, \
            Client(local_config(servers)) as client:
        for server in servers.values():
            print(f"llama-server: {server.model.title} ({server.model.license}) at {server.root_url}")

        print(f"\n== Act 1: one pipeline, two model families: {swap.name}, {len(swap.cases)} cases ==\n")
        forward = run(swap, "gemma-raw", "smollm2-chat", out, client)
        print_cases(forward)
        print()
        print_verdict(forward)
        backward = run(swap, "smollm2-chat", "gemma-raw", out, client)
        print_verdict(backward)
        print_repeatability(forward, backward)

        print("== Act 2: modelswap renders SmolLM2's chat template itself (smollm2-raw) ==\n")
        rendered = run(swap, "smollm2-chat", "smollm2-raw", out, client)
        same = sum(c["baseline"]["output"] == c["candidate"]["output"] for c in rendered["cases"])
        print(f"smollm2-raw (prompt rendered by modelswap.prompts, sent to /completion) gave the same answer as "
              f"smollm2-chat\n(the server's own template) on {same} of {len(rendered['cases'])} cases: "
              f"{rendered['verdict'].upper()}\n")

        print(f"== Act 3: the hazard: same weights, other endpoint: {hazard.name}, {len(hazard.cases)} cases ==\n")
        print_verdict(run(hazard, "gemma-raw", "gemma-chat", out, client))
    print(f"Done in {time.monotonic() - started:.0f} s. One parameter moved the pipeline; the data said which way.")


if __name__ == "__main__":
    main()
