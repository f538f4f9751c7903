"""CPU time of the regression report: ``build_report`` + ``write_reports`` on synthetic results.

    python bench/bench_regress_report.py [--cases 10000] [--repeat 1] [--rounds 5] [--seed 0]

The results are synthetic and seeded: two models answer every case (``--repeat`` runs each), the candidate
a little worse on hard cases and a little slower, with about 1% errors, lognormal latencies, token counts
and costs. Each round times, with ``time.process_time`` (CPU, not wall), ``build_report`` (all statistics,
2,000 bootstrap resamples each) and ``write_reports`` (report.json, .md and .html into a temporary
directory). Target: under 1 s CPU for 10,000 cases x 2 models. Prints a markdown table; the median is the
number to quote.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _env import environment

from modelswap.regress import build_report, write_reports


def synthetic_results(n_cases: int, *, repeat: int = 1, seed: int = 0) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    for i in range(n_cases):
        difficulty = rng.random()
        case_id = f"case-{i:05d}"
        prompt = f"Classify the sentiment of review #{i}: {'great product' if i % 2 else 'arrived broken'}"
        expected = "positive" if i % 2 else "negative"
        size = rng.lognormvariate(0.0, 0.4)
        for role, skill, speed, price in (("baseline", 0.10, 0.45, 0.15), ("candidate", 0.13, 0.55, 0.60)):
            for rep in range(repeat):
                errored = rng.random() < 0.01
                passed = not errored and difficulty > skill + 0.05 * rng.random()
                latency = size * speed * rng.lognormvariate(0.0, 0.25)
                in_tok = 40 + int(20 * size)
                out_tok = None if errored else 3 + rng.randrange(4)
                answer = (
                    None
                    if errored
                    else (expected if passed else ("negative" if expected == "positive" else "positive"))
                )
                out.append(
                    {
                        "role": role,
                        "alias": "gpt-4o-mini" if role == "baseline" else "llama-3.1-8b",
                        "case_id": case_id,
                        "repeat": rep,
                        "passed": passed,
                        "score": 1.0 if passed else 0.0,
                        "latency_s": latency if not errored or rng.random() < 0.5 else None,
                        "input_tokens": in_tok,
                        "output_tokens": out_tok,
                        "cost": None if errored else (in_tok + 4 * (out_tok or 0)) * price / 1e6,
                        "error": "ProviderTimeoutError: no answer within 30 s" if errored else None,
                        "output": answer,
                        "expected": expected,
                        "prompt": prompt,
                        "assertions": [
                            {
                                "type": "equals",
                                "passed": passed,
                                "score": 1.0 if passed else 0.0,
                                "reason": None if passed else f"expected {expected!r}",
                            }
                        ],
                    }
                )
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, help="also write the numbers here")
    args = ap.parse_args(argv)

    results = synthetic_results(args.cases, repeat=args.repeat, seed=args.seed)
    thresholds = {
        "max_accuracy_drop": 0.02,
        "latency_sla_ms": 1500,
        "max_error_rate": 0.05,
        "max_cost_increase": 0.5,
    }
    suite = {"name": "synthetic-sentiment", "source": "bench/bench_regress_report.py", "n_cases": args.cases}
    build_s, write_s, total_s = [], [], []
    sizes: dict[str, int] = {}
    verdict = ""
    for _ in range(args.rounds):
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.process_time()
            report = build_report(
                results,
                suite=suite,
                baseline="gpt-4o-mini",
                candidate="llama-3.1-8b",
                thresholds=thresholds,
                repeat=args.repeat,
                seed=args.seed,
            )
            t1 = time.process_time()
            paths = write_reports(report, tmp)
            t2 = time.process_time()
            sizes = {kind: path.stat().st_size for kind, path in paths.items()}
        verdict = report["verdict"]
        build_s.append(t1 - t0)
        write_s.append(t2 - t1)
        total_s.append(t2 - t0)

    def row(label: str, xs: list[float]) -> str:
        return f"| {label} | {statistics.median(xs) * 1000:,.0f} | {min(xs) * 1000:,.0f} | {max(xs) * 1000:,.0f} |"

    print(
        f"{args.cases:,} cases x 2 models x {args.repeat} run(s) = {len(results):,} results; {args.rounds} rounds; "
        f"verdict {verdict}"
    )
    print()
    print("| step | median CPU ms | min | max |")
    print("| --- | ---: | ---: | ---: |")
    print(row("build_report", build_s))
    print(row("write_reports (json + md + html)", write_s))
    print(row("**total**", total_s))
    print()
    print("report sizes: " + ", ".join(f"{k} {v / 1024:,.0f} KiB" for k, v in sizes.items()))
    target_met = statistics.median(total_s) < 1.0
    print(f"target < 1 s CPU: {'met' if target_met else 'NOT met'}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "cases": args.cases,
                    "repeat": args.repeat,
                    "rounds": args.rounds,
                    "build_s": build_s,
                    "write_s": write_s,
                    "total_s": total_s,
                    "sizes": sizes,
                    "environment": environment(),
                },
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
