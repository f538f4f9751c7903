"""Per-call overhead: modelswap vs raw httpx vs the openai SDK vs LiteLLM, against one loopback stub.

    python bench/bench_call.py [--rounds 10] [--calls 300] [--warmup 100] [--no-async]

Every contender makes the same non-streaming chat completion against the same stub server (a separate process,
``bench/stub_server.py``), one call at a time. After a warm-up, the contenders take turns in rounds (``--rounds``
rounds of ``--calls`` calls each; the order rotates every round) so that machine noise hits all of them alike.
Each call is timed on its own; the table reports the median over all timed calls of a contender, its ratio to
raw httpx (the floor: one ``httpx.Client.post(url, json=body).json()``), and the median of the per-round means
(which, unlike the median call, includes the garbage collector's share).

A contender whose package is not importable is reported as "not installed". JSON goes to bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _env import busy_builds, environment
from stub_server import ANSWER_TEXT, running_stub

# LiteLLM fetches its model price map from the network at import unless told not to; this machine is offline
# and a benchmark must not depend on the network. Its telemetry is switched off too.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_TELEMETRY", "False")
# Nothing from the environment may redirect modelswap's model resolution (model= is explicit anyway).
for _var in ("MODELSWAP_CONFIG", "MODELSWAP_MODEL", "MODEL_PROVIDER", "MODEL_ID", "INFERENCE_ENDPOINT", "API_KEY"):
    os.environ.pop(_var, None)

PROMPT = "hi"
MESSAGES = [{"role": "user", "content": PROMPT}]
MODEL_ID = "stub-model"

CONFIG_TEMPLATE = """\
providers:
  stub: {{kind: openai, base_url: "{base_url}", api_key_required: false}}
models:
  stub: {{provider: stub, model_id: {model_id}}}
default: stub
"""


@dataclass
class Contender:
    name: str
    call: Callable[[], Any] | Callable[[], Awaitable[Any]] | None
    text: Callable[[Any], str] | None = None  # pulls the answer text out of a result, to check the wiring
    note: str = ""
    version: str = ""
    times_ns: list[int] = field(default_factory=list)
    round_means_ns: list[float] = field(default_factory=list)


def _version(module: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(module)
    except PackageNotFoundError:
        return "?"


# -- sync contenders -------------------------------------------------------------------------------------
def sync_contenders(base_url: str, config_path: str) -> list[Contender]:
    url = base_url + "/chat/completions"
    body = {"model": MODEL_ID, "messages": MESSAGES}
    out: list[Contender] = []

    import httpx

    raw = httpx.Client()
    out.append(Contender("raw httpx", lambda: raw.post(url, json=body).json(),
                         lambda r: r["choices"][0]["message"]["content"], version=httpx.__version__))

    import modelswap

    client = modelswap.Client(config_path)
    out.append(Contender("modelswap", lambda: client.complete(PROMPT, model="stub"), lambda c: c.text,
                         version=_version("modelswap")))

    try:
        from openai import OpenAI
    except ImportError as exc:
        out.append(Contender("openai SDK", None, note=f"not installed ({exc.name or exc})"))
    else:
        oa = OpenAI(base_url=base_url, api_key="x")
        out.append(Contender(
            "openai SDK", lambda: oa.chat.completions.create(model=MODEL_ID, messages=MESSAGES),
            lambda r: r.choices[0].message.content, version=_version("openai"),
        ))

    try:
        import litellm
    except ImportError as exc:
        out.append(Contender("LiteLLM", None, note=f"not installed ({exc.name or exc})"))
    else:
        litellm.telemetry = False
        litellm.suppress_debug_info = True
        out.append(Contender(
            "LiteLLM",
            lambda: litellm.completion(model=f"openai/{MODEL_ID}", api_base=base_url, api_key="x", messages=MESSAGES),
            lambda r: r.choices[0].message.content, version=_version("litellm"),
        ))
    return out


def async_contenders(base_url: str, config_path: str) -> list[Contender]:
    url = base_url + "/chat/completions"
    body = {"model": MODEL_ID, "messages": MESSAGES}
    out: list[Contender] = []

    import httpx

    holder: dict[str, Any] = {}

    async def raw_call() -> Any:
        client = holder.get("raw")
        if client is None:
            client = holder["raw"] = httpx.AsyncClient()
        return (await client.post(url, json=body)).json()

    out.append(Contender("raw httpx (async)", raw_call, lambda r: r["choices"][0]["message"]["content"],
                         version=httpx.__version__))

    import modelswap

    client = modelswap.Client(config_path)
    out.append(Contender("modelswap acomplete", lambda: client.acomplete(PROMPT, model="stub"), lambda c: c.text,
                         version=_version("modelswap")))

    try:
        from openai import AsyncOpenAI
    except ImportError as exc:
        out.append(Contender("openai SDK (async)", None, note=f"not installed ({exc.name or exc})"))
    else:
        def oa_call() -> Awaitable[Any]:
            oa = holder.get("openai")
            if oa is None:
                oa = holder["openai"] = AsyncOpenAI(base_url=base_url, api_key="x")
            return oa.chat.completions.create(model=MODEL_ID, messages=MESSAGES)

        out.append(Contender("openai SDK (async)", oa_call, lambda r: r.choices[0].message.content,
                             version=_version("openai")))

    try:
        import litellm
    except ImportError as exc:
        out.append(Contender("LiteLLM acompletion", None, note=f"not installed ({exc.name or exc})"))
    else:
        litellm.telemetry = False
        litellm.suppress_debug_info = True
        out.append(Contender(
            "LiteLLM acompletion",
            lambda: litellm.acompletion(model=f"openai/{MODEL_ID}", api_base=base_url, api_key="x", messages=MESSAGES),
            lambda r: r.choices[0].message.content, version=_version("litellm"),
        ))
    return out


# -- measuring ---------------------------------------------------------------------------------------------
def _check(contender: Contender, result: Any) -> None:
    got = contender.text(result) if contender.text else None
    if got != ANSWER_TEXT:
        raise RuntimeError(f"{contender.name}: expected {ANSWER_TEXT!r} from the stub, got {got!r}")


def run_sync(contenders: list[Contender], rounds: int, calls: int, warmup: int) -> None:
    active = [c for c in contenders if c.call is not None]
    perf = time.perf_counter_ns
    for c in active:
        _check(c, c.call())
        for _ in range(warmup):
            c.call()
    for r in range(rounds):
        for c in active[r % len(active):] + active[: r % len(active)]:
            call, times = c.call, c.times_ns
            gc.collect()
            start_round = perf()
            for _ in range(calls):
                t0 = perf()
                call()
                times.append(perf() - t0)
            c.round_means_ns.append((perf() - start_round) / calls)


async def run_async(contenders: list[Contender], rounds: int, calls: int, warmup: int) -> None:
    active = [c for c in contenders if c.call is not None]
    perf = time.perf_counter_ns
    for c in active:
        _check(c, await c.call())
        for _ in range(warmup):
            await c.call()
    for r in range(rounds):
        for c in active[r % len(active):] + active[: r % len(active)]:
            call, times = c.call, c.times_ns
            gc.collect()
            start_round = perf()
            for _ in range(calls):
                t0 = perf()
                await call()
                times.append(perf() - t0)
            c.round_means_ns.append((perf() - start_round) / calls)


def summarize(contenders: list[Contender]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    base = next((c for c in contenders if c.times_ns), None)
    base_median = statistics.median(base.times_ns) if base else None
    for c in contenders:
        if not c.times_ns:
            rows.append({"contender": c.name, "installed": False, "note": c.note})
            continue
        times = sorted(c.times_ns)
        median = statistics.median(times)
        rows.append({
            "contender": c.name,
            "installed": True,
            "version": c.version,
            "calls": len(times),
            "median_us": median / 1e3,
            "p10_us": times[len(times) // 10] / 1e3,
            "p90_us": times[len(times) * 9 // 10] / 1e3,
            "round_mean_median_us": statistics.median(c.round_means_ns) / 1e3,
            "round_means_us": [m / 1e3 for m in c.round_means_ns],
            "ratio": median / base_median if base_median else None,
            "ratio_round_means": (statistics.median(c.round_means_ns) / statistics.median(base.round_means_ns))
            if base else None,
        })
    return rows


def table(title: str, rows: list[dict[str, Any]]) -> str:
    lines = [
        f"**{title}**",
        "",
        "| contender | version | median µs/call | ratio to raw httpx | p10–p90 µs | median of round means µs (ratio) |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        if not row["installed"]:
            lines.append(f"| {row['contender']} | {row['note']} | – | – | – | – |")
            continue
        lines.append(
            f"| {row['contender']} | {row['version']} | {row['median_us']:.0f} | {row['ratio']:.2f}x | "
            f"{row['p10_us']:.0f}–{row['p90_us']:.0f} | {row['round_mean_median_us']:.0f} "
            f"({row['ratio_round_means']:.2f}x) |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--calls", type=int, default=300, help="timed calls per contender per round")
    parser.add_argument("--warmup", type=int, default=100, help="untimed calls per contender first")
    parser.add_argument("--no-async", action="store_true", help="skip the async variant")
    parser.add_argument("--out", default=str(HERE / "results"), help="folder for the JSON result")
    args = parser.parse_args(argv)
    if busy_builds():
        print(f"warning: build processes are running ({', '.join(busy_builds())}); the numbers will be noisy",
              file=sys.stderr)

    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    result: dict[str, Any] = {
        "benchmark": "per-call",
        "started": started,
        "argv": [sys.executable, *sys.argv],
        **environment(),
        "rounds": args.rounds,
        "calls_per_round": args.calls,
        "warmup": args.warmup,
    }
    with tempfile.TemporaryDirectory(prefix="modelswap-bench-") as tmp, running_stub() as base_url:
        config_path = os.path.join(tmp, "modelswap.yaml")
        Path(config_path).write_text(CONFIG_TEMPLATE.format(base_url=base_url, model_id=MODEL_ID))

        contenders = sync_contenders(base_url, config_path)
        run_sync(contenders, args.rounds, args.calls, args.warmup)
        result["sync"] = summarize(contenders)
        print(table(f"Sync, {args.rounds} rounds x {args.calls} calls, after {args.warmup} warm-up calls", result["sync"]))

        if not args.no_async:
            async def go() -> list[Contender]:
                acontenders = async_contenders(base_url, config_path)
                await run_async(acontenders, args.rounds, args.calls, args.warmup)
                return acontenders

            acontenders = asyncio.run(go())
            result["async"] = summarize(acontenders)
            print()
            print(table(f"Async (one call at a time), {args.rounds} rounds x {args.calls} calls", result["async"]))

    result["loadavg_at_end"] = os.getloadavg()
    result["builds_running_at_end"] = busy_builds()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"call-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(result, indent=2))
    print(f"\nJSON: {path}")
    row = next(r for r in result["sync"] if r["contender"] == "modelswap")
    verdict = "meets" if row["ratio"] <= 1.15 else "MISSES"
    print(f"modelswap per call: {row['ratio']:.2f}x raw httpx ({verdict} the 1.15x target)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
