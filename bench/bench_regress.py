"""`modelswap regress` against a minimal asyncio loop making the same calls, whole processes, in one run.

    python bench/bench_regress.py [--cases 1000] [--concurrency 8] [--rounds 3]

The loopback stub (bench/stub_server.py, its own process) answers every call; the suite's cases expect that
answer. Both contenders run as fresh processes, timed from spawn to exit, taking turns. modelswap's run
includes the pre-flight, grading, results.jsonl, the statistics and all three reports. Target: at most 1.3x
the loop's wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _env import environment  # noqa: E402
from stub_server import ANSWER_TEXT, running_stub  # noqa: E402

for _var in ("MODELSWAP_CONFIG", "MODELSWAP_MODEL", "MODEL_PROVIDER", "MODEL_ID", "INFERENCE_ENDPOINT", "API_KEY"):
    os.environ.pop(_var, None)


def timed(argv: list[str], ok: tuple[int, ...] = (0,)) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - started
    if done.returncode not in ok:
        raise SystemExit(f"{argv[:5]} exited {done.returncode}: {done.stderr[-800:]}")
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="modelswap-bench-regress-") as tmp_name, running_stub() as base_url:
        tmp = Path(tmp_name)
        suite = tmp / "suite.jsonl"
        suite.write_text("".join(json.dumps({"id": f"c{i}", "prompt": f"case {i}", "expected": ANSWER_TEXT}) + "\n"
                                 for i in range(args.cases)))
        config = tmp / "modelswap.yaml"
        config.write_text(
            f"default: base\nproviders:\n  stub: {{kind: openai, base_url: '{base_url}', api_key_required: false,"
            f" max_concurrency: {args.concurrency}}}\n"
            "models:\n  base: {provider: stub, model_id: base-model}\n  cand: {provider: stub, model_id: cand-model}\n"
        )
        out = tmp / "out"
        contenders = {
            "raw asyncio+httpx": [sys.executable, str(HERE / "raw_regress_loop.py"), str(suite),
                                  f"{base_url}/chat/completions", "--concurrency", str(args.concurrency)],
            "modelswap regress": [sys.executable, "-m", "modelswap", "--config", str(config), "regress", str(suite),
                                  "--baseline", "base", "--candidate", "cand", "--out", str(out), "--json",
                                  "--concurrency", str(args.concurrency)],
        }
        walls: dict[str, list[float]] = {name: [] for name in contenders}
        for round_ in range(args.rounds):
            for name in (list(contenders) if round_ % 2 == 0 else list(reversed(contenders))):
                shutil.rmtree(out, ignore_errors=True)
                walls[name].append(timed(contenders[name]))
    medians = {name: statistics.median(ws) for name, ws in walls.items()}
    ratio = medians["modelswap regress"] / medians["raw asyncio+httpx"]
    print(f"\n### Regression, {args.cases:,} cases x 2 models, concurrency {args.concurrency}, loopback stub\n")
    print("| contender | median wall (s) | runs (s) |\n|---|---:|---|")
    for name, ws in walls.items():
        print(f"| {name} | {medians[name]:.2f} | {', '.join(f'{w:.2f}' for w in ws)} |")
    print(f"\nmodelswap / raw wall time: **{ratio:.2f}x** (target <= 1.3x)")
    target = HERE / "results"
    target.mkdir(exist_ok=True)
    path = target / f"regress-{time.strftime('%Y%m%dT%H%M%S')}.json"
    path.write_text(json.dumps({"environment": environment(), "args": vars(args), "walls": walls, "ratio": ratio}, indent=2))
    print(f"\n(JSON: {path.relative_to(HERE.parent)})")


if __name__ == "__main__":
    main()
