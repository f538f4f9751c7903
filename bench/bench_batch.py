"""`modelswap batch` against a minimal asyncio + httpx loop, whole processes, in one run.

    python bench/bench_batch.py [--records 10000] [--concurrency 32] [--rounds 3]
                                [--memory 10000,100000,1000000] [--local] [--local-records 300 --parallel 4]

1. Throughput on the loopback stub (bench/stub_server.py, its own process): ``modelswap batch IN OUT
   --concurrency 32`` and ``bench/raw_batch_loop.py`` at the same concurrency take turns (the order alternates
   every round); each run is a fresh process, timed from spawn to exit, so startup and imports count.
   Target: modelswap's throughput at least 0.85x the raw loop's.
2. Peak memory (``bench/maxrss.py``: the kernel's high-water mark of the child) of ``modelswap batch`` over
   inputs of growing size. Target: flat within 10% from 10,000 to 1,000,000 records.
3. With ``--local``: the same pair against each real local model (``--local-models gemma,smollm2``) on its own
   llama.cpp server with ``--parallel`` slots: Gemma through ``/completion`` as the ``completion`` kind posts,
   SmolLM2 through ``/v1/chat/completions`` as the ``openai`` kind does. Target: at least 0.95x on each.

Results: a markdown table on stdout, JSON in bench/results/.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _env import environment  # noqa: E402
from stub_server import running_stub  # noqa: E402

for _var in ("MODELSWAP_CONFIG", "MODELSWAP_MODEL", "MODEL_PROVIDER", "MODEL_ID", "INFERENCE_ENDPOINT", "API_KEY"):
    os.environ.pop(_var, None)

REVIEWS = ["A delight from start to finish.", "Dull, slow and far too long.", "The cast carries a thin plot.",
           "I want those two hours back.", "Sharp writing and a great score."]
FEW_SHOT = ("Review: I loved every minute.\nSentiment: positive\n\nReview: A total waste of time.\nSentiment: negative\n\n"
            "Review: {text}\nSentiment:")


def write_input(path: Path, records: int, few_shot: bool = False) -> None:
    with path.open("w", encoding="utf-8") as out:
        for i in range(records):
            text = REVIEWS[i % len(REVIEWS)]
            prompt = FEW_SHOT.format(text=text) if few_shot else f"Classify record {i}: {text}"
            out.write(json.dumps({"id": f"r{i}", "prompt": prompt}) + "\n")


def timed(argv: list[str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{argv[:4]}... exited {done.returncode}: {done.stderr[-800:]}")
    return wall


def pair(records: int, rounds: int, modelswap_argv: list[str], raw_argv: list[str], out: Path) -> dict[str, Any]:
    walls: dict[str, list[float]] = {"modelswap batch": [], "raw asyncio+httpx": []}
    for round_ in range(rounds):
        order = list(walls) if round_ % 2 == 0 else list(reversed(walls))
        for name in order:
            out.unlink(missing_ok=True)
            walls[name].append(timed(modelswap_argv if name == "modelswap batch" else raw_argv))
            lines = sum(1 for _ in out.open("rb"))
            if lines != records:
                raise SystemExit(f"{name} wrote {lines} lines for {records} records")
    result = {name: {"wall_s": [round(w, 3) for w in ws], "median_wall_s": statistics.median(ws),
                     "records_per_s": records / statistics.median(ws)} for name, ws in walls.items()}
    result["ratio"] = result["modelswap batch"]["records_per_s"] / result["raw asyncio+httpx"]["records_per_s"]
    return result


def stub_throughput(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    source, out, config = tmp / "in.jsonl", tmp / "out.jsonl", tmp / "modelswap.yaml"
    write_input(source, args.records)
    with running_stub(latency_ms=args.stub_latency_ms) as base_url, busy(args.load):
        config.write_text(
            f"default: stub\nproviders:\n  stub: {{kind: openai, base_url: '{base_url}', api_key_required: false,"
            f" max_concurrency: {args.concurrency}}}\nmodels:\n  stub: {{provider: stub, model_id: stub-model}}\n"
        )
        modelswap_argv = [sys.executable, "-m", "modelswap", "--config", str(config), "batch", str(source), str(out),
                          "--concurrency", str(args.concurrency), "-q"]
        raw_argv = [sys.executable, str(HERE / "raw_batch_loop.py"), str(source), str(out),
                    f"{base_url}/chat/completions", "--concurrency", str(args.concurrency)]
        return pair(args.records, args.rounds, modelswap_argv, raw_argv, out)


@contextlib.contextmanager
def busy(workers: int) -> Iterator[None]:
    """``workers`` processes spinning on the CPU for the duration: the machine busy with another job."""
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(workers)]
    try:
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()


def memory(args: argparse.Namespace, tmp: Path) -> list[dict[str, Any]]:
    rows = []
    with running_stub(max_seconds=7200) as base_url:
        config = tmp / "memory.yaml"
        config.write_text(
            f"default: stub\nproviders:\n  stub: {{kind: openai, base_url: '{base_url}', api_key_required: false,"
            f" max_concurrency: {args.concurrency}}}\nmodels:\n  stub: {{provider: stub, model_id: stub-model}}\n"
        )
        for records in args.memory:
            source, out = tmp / f"mem-{records}.jsonl", tmp / f"mem-{records}.out.jsonl"
            write_input(source, records)
            started = time.perf_counter()
            done = subprocess.run(
                [sys.executable, str(HERE / "maxrss.py"), "--", sys.executable, "-m", "modelswap", "--config", str(config),
                 "batch", str(source), str(out), "--concurrency", str(args.concurrency), "-q"],
                capture_output=True, text=True,
            )
            wall = time.perf_counter() - started
            if done.returncode != 0:
                raise SystemExit(f"memory run over {records} records failed: {done.stdout[-500:]} {done.stderr[-500:]}")
            peak = int(done.stdout.split("MAXRSS_KB")[1].split()[0])
            rows.append({"records": records, "peak_rss_mb": round(peak / 1024, 1), "wall_s": round(wall, 1),
                         "input_mb": round(source.stat().st_size / 1e6, 1)})
            source.unlink()
            out.unlink()
    return rows


# Per family: how modelswap reaches it (kind and alias) and what the raw loop posts to.
_LOCAL = {
    "gemma": ("completion", "profile: llamacpp", "gemma-3-270m", "prompt_format: plain", "/completion", "llamacpp"),
    "smollm2": ("openai", "", "smollm2-135m-instruct", "", "/v1/chat/completions", "openai"),
}


def local(args: argparse.Namespace, tmp: Path, model: str) -> dict[str, Any]:
    """One real model: `modelswap batch` and the raw loop against the same llama.cpp server, in turns."""
    from modelswap.local import LocalServer, free_port

    kind, profile, model_id, fmt, path, raw_kind = _LOCAL[model]
    source, out, config = tmp / "local.jsonl", tmp / "local.out.jsonl", tmp / "local.yaml"
    write_input(source, args.local_records, few_shot=True)
    with LocalServer(port=free_port(), model=model, parallel=args.parallel, ctx_size=512) as server:
        base = server.root_url if kind == "completion" else server.base_url
        config.write_text(
            f"default: g\nproviders:\n  l: {{kind: {kind}, {profile + ', ' if profile else ''}base_url: '{base}',"
            f" api_key_required: false, max_concurrency: {args.parallel}}}\n"
            f"models:\n  g: {{provider: l, model_id: {model_id}, {fmt + ', ' if fmt else ''}"
            f"params: {{max_tokens: {args.max_tokens}, temperature: 0}}}}\n"
        )
        modelswap_argv = [sys.executable, "-m", "modelswap", "--config", str(config), "batch", str(source), str(out),
                          "--concurrency", str(args.parallel), "-q"]
        raw_argv = [sys.executable, str(HERE / "raw_batch_loop.py"), str(source), str(out), f"{server.root_url}{path}",
                    "--concurrency", str(args.parallel), "--kind", raw_kind, "--model", model_id,
                    "--max-tokens", str(args.max_tokens), "--temperature", "0"]
        timed(raw_argv)  # warm the server's caches for both
        return pair(args.local_records, args.rounds, modelswap_argv, raw_argv, out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--stub-latency-ms", type=float, default=0.0, help="the stub delays each answer (default 0)")
    parser.add_argument("--load", type=int, default=0, help="CPU-spinning processes during the stub runs (default 0)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--memory", type=lambda s: [int(x) for x in s.split(",") if x], default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--local", action="store_true", help="also compare against the real llama.cpp server")
    parser.add_argument("--local-models", default="gemma,smollm2", help="which local models (default both)")
    parser.add_argument("--max-tokens", type=int, default=2, help="tokens generated per record on a local model")
    parser.add_argument("--local-records", type=int, default=300)
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--skip-stub", action="store_true", help="only the --local comparison and --memory")
    args = parser.parse_args()

    results: dict[str, Any] = {"environment": environment(), "args": vars(args)}
    with tempfile.TemporaryDirectory(prefix="modelswap-bench-batch-") as tmp_name:
        tmp = Path(tmp_name)
        if not args.skip_stub:
            results["stub"] = stub = stub_throughput(args, tmp)
            print(f"\n### Batch throughput, {args.records:,} records, concurrency {args.concurrency}, loopback stub"
                  f" answering after {args.stub_latency_ms:g} ms, {args.load} CPU-spinning processes beside\n")
            print("| contender | median wall (s) | records/s | runs (s) |\n|---|---:|---:|---|")
            for name in ("raw asyncio+httpx", "modelswap batch"):
                row = stub[name]
                print(f"| {name} | {row['median_wall_s']:.2f} | {row['records_per_s']:,.0f} | {', '.join(map(str, row['wall_s']))} |")
            print(f"\nmodelswap / raw throughput: **{stub['ratio']:.2f}x** (target >= 0.85x)")
        for model in args.local_models.split(",") if args.local else ():
            results[f"local-{model}"] = loc = local(args, tmp, model)
            print(f"\n### llama.cpp server, {model}, {args.local_records} records, {args.parallel} slots, "
                  f"{args.max_tokens} tokens out\n")
            print("| contender | median wall (s) | records/s | runs (s) |\n|---|---:|---:|---|")
            for name in ("raw asyncio+httpx", "modelswap batch"):
                row = loc[name]
                print(f"| {name} | {row['median_wall_s']:.2f} | {row['records_per_s']:.1f} | {', '.join(map(str, row['wall_s']))} |")
            print(f"\nmodelswap / raw throughput: **{loc['ratio']:.2f}x** (target >= 0.95x)")
        if args.memory:
            results["memory"] = rows = memory(args, tmp)
            print("\n### Peak memory of `modelswap batch` by input size\n")
            print("| records | input (MB) | peak RSS (MB) | wall (s) |\n|---:|---:|---:|---:|")
            for row in rows:
                print(f"| {row['records']:,} | {row['input_mb']} | {row['peak_rss_mb']} | {row['wall_s']} |")
            print(f"\nlargest / smallest peak: **{rows[-1]['peak_rss_mb'] / rows[0]['peak_rss_mb']:.3f}x** (target <= 1.10x)")
    target = HERE / "results"
    target.mkdir(exist_ok=True)
    path = target / f"batch-{time.strftime('%Y%m%dT%H%M%S')}.json"
    path.write_text(json.dumps(results, indent=2))
    print(f"\n(JSON: {path.relative_to(HERE.parent)})")


if __name__ == "__main__":
    main()
