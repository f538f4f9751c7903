"""Streaming overhead: modelswap's ``Client.stream``/``astream`` vs a raw httpx SSE loop, per chunk, one stub.

    python bench/bench_stream.py [--rounds 30] [--long 2000] [--short 50] [--no-async] [--profile]

Target: streaming adds at most 5% to the per-chunk cost of a raw httpx SSE loop (the long-stream ratio below).

Every contender asks the same loopback stub (``bench/stub_server.py``, a separate process) for the same
OpenAI-style stream: ``"stream": true``, ``stream_options.include_usage``, and ``max_tokens`` = the number of
content chunks the stub sends (``chat.completion.chunk`` events, one HTTP chunk each, then a ``finish_reason``
chunk, a usage chunk with empty ``choices`` and ``data: [DONE]``; pre-rendered, written at once). Contenders:

* **raw httpx, iter_lines** (the baseline, the floor): ``httpx.Client.stream(...)``, ``iter_lines()``, the
  ``data: `` lines ``json.loads``-ed, each delta's content collected, the usage kept, the text joined at the
  end; it reads the response to its end, so the connection goes back to the pool;
* **raw httpx + httpx-sse**: the same loop over ``httpx_sse.EventSource(response).iter_sse()``, the SSE
  parser that modelswap uses, to show what the parser costs by itself;
* **modelswap stream**: ``for item in modelswap.Client(config).stream("hi", model="stub", max_tokens=n)``,
  every delta, then the final ``Completion`` (text and usage checked once before timing).

And the same in async (``httpx.AsyncClient``, ``aiter_lines``/``aiter_sse``, ``Client.astream``), one stream
at a time in one event loop. Two stream lengths: a long one (``--long`` chunks per request, per-request costs
amortised: the per-chunk number) and a short one (``--short`` chunks: per-request costs included).

After a check and ``--warmup`` untimed requests each (then 5 more, over which the stub counts the new TCP
connections: 0 when the keep-alive connection is reused), ``--rounds`` rounds: in each, every contender makes
its requests in a row (enough for about ``--chunks-per-turn`` chunks), timed together; the order rotates
every round and the garbage collector runs before each turn. Per contender: the median over rounds of the µs
per chunk, the min–max over rounds, the ratio of medians to raw iter_lines, and the median (min–max) of the
per-round ratios (each contender's turn against the baseline's turn of the same round). JSON goes to
bench/results/.

``--profile``: after the measurement, the same layers over ``httpx.MockTransport`` (no socket: client CPU
only) and a cProfile of ``Client.stream``, to show where modelswap's per-chunk time goes.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import io
import json
import os
import pstats
import statistics
import sys
import tempfile
import time
import timeit
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _env import busy_builds, environment
from stub_server import running_stub, stream_events, stream_text

# Nothing from the environment may redirect modelswap's model resolution (model= is explicit anyway).
for _var in ("MODELSWAP_CONFIG", "MODELSWAP_MODEL", "MODEL_PROVIDER", "MODEL_ID", "INFERENCE_ENDPOINT",
             "API_KEY"):
    os.environ.pop(_var, None)

PROMPT = "hi"
MESSAGES = [{"role": "user", "content": PROMPT}]
MODEL_ID = "stub-model"
TARGET = 1.05

CONFIG_TEMPLATE = """\
providers:
  stub: {{kind: openai, base_url: "{base_url}", api_key_required: false}}
models:
  stub: {{provider: stub, model_id: {model_id}}}
default: stub
"""

Result = tuple[str, Any]  # (the whole text, output tokens)


def _body(n: int) -> dict[str, Any]:
    """What every raw contender sends (modelswap's OpenAI adapter builds the same, ``max_tokens`` = n)."""
    return {"model": MODEL_ID, "messages": MESSAGES, "max_tokens": n, "stream": True,
            "stream_options": {"include_usage": True}}


def _version(module: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(module)
    except PackageNotFoundError:
        return "?"


@dataclass
class Contender:
    name: str
    run: Callable[[int], Result] | Callable[[int], Awaitable[Result]]  # n chunks -> (text, output tokens)
    version: str = ""
    round_ns_per_chunk: list[float] = field(default_factory=list)
    connections_per_request: float | None = None  # new TCP connections the stub saw per request


class ConnectionCounter:
    """How many connections the stub has accepted (``GET /_stats``), asked over a client of its own."""

    def __init__(self, base_url: str) -> None:
        import httpx

        self.url = base_url.rsplit("/v1", 1)[0] + "/_stats"
        self.client = httpx.Client()
        self()  # opens this counter's own connection before anything is counted

    def __call__(self) -> int:
        return int(self.client.get(self.url).json()["connections"])


PROBE_REQUESTS = 5  # requests per contender over which new connections are counted


# -- the loops being compared ----------------------------------------------------------------------------
def _raw_chunk(data: str, parts: list[str], state: dict[str, Any]) -> None:
    """What every raw loop does with one ``data:`` payload: parse it, keep the content and the usage."""
    chunk = json.loads(data)
    usage = chunk.get("usage")
    if usage:
        state["usage"] = usage
    choices = chunk["choices"]
    if choices:
        choice = choices[0]
        if choice.get("finish_reason"):
            state["finish_reason"] = choice["finish_reason"]
        content = choice["delta"].get("content")
        if content:
            parts.append(content)


def _raw_result(parts: list[str], state: dict[str, Any]) -> Result:
    usage = state.get("usage") or {}
    return "".join(parts), usage.get("completion_tokens")


def sync_contenders(base_url: str, config_path: str) -> list[Contender]:
    import httpx
    import httpx_sse
    import modelswap

    url = base_url + "/chat/completions"
    raw = httpx.Client()

    def raw_lines(n: int) -> Result:
        parts: list[str] = []
        state: dict[str, Any] = {}
        with raw.stream("POST", url, json=_body(n)) as response:
            response.raise_for_status()
            for line in response.iter_lines():
                if line.startswith("data: "):
                    data = line[6:]
                    if data != "[DONE]":
                        _raw_chunk(data, parts, state)
        return _raw_result(parts, state)

    sse_client = httpx.Client()

    def raw_sse(n: int) -> Result:
        parts: list[str] = []
        state: dict[str, Any] = {}
        with sse_client.stream("POST", url, json=_body(n)) as response:
            response.raise_for_status()
            for sse in httpx_sse.EventSource(response).iter_sse():
                if sse.data != "[DONE]":
                    _raw_chunk(sse.data, parts, state)
        return _raw_result(parts, state)

    client = modelswap.Client(config_path)

    def ms_stream(n: int) -> Result:
        item: Any = None
        for item in client.stream(PROMPT, model="stub", max_tokens=n):
            pass
        return item.text, item.output_tokens

    return [
        Contender("raw httpx, iter_lines", raw_lines, f"httpx {httpx.__version__}"),
        Contender("raw httpx + httpx-sse", raw_sse, f"httpx-sse {_version('httpx-sse')}"),
        Contender("modelswap stream", ms_stream, f"modelswap {_version('modelswap')}"),
    ]


def async_contenders(base_url: str, config_path: str) -> list[Contender]:
    import httpx
    import httpx_sse
    import modelswap

    url = base_url + "/chat/completions"
    holder: dict[str, httpx.AsyncClient] = {}

    def aclient(key: str) -> httpx.AsyncClient:  # made inside the running loop that uses it
        client = holder.get(key)
        if client is None:
            client = holder[key] = httpx.AsyncClient()
        return client

    async def raw_lines(n: int) -> Result:
        parts: list[str] = []
        state: dict[str, Any] = {}
        async with aclient("lines").stream("POST", url, json=_body(n)) as response:
            response.raise_for_status()
            async for line in response.aiter_lines():
                if line.startswith("data: "):
                    data = line[6:]
                    if data != "[DONE]":
                        _raw_chunk(data, parts, state)
        return _raw_result(parts, state)

    async def raw_sse(n: int) -> Result:
        parts: list[str] = []
        state: dict[str, Any] = {}
        async with aclient("sse").stream("POST", url, json=_body(n)) as response:
            response.raise_for_status()
            async for sse in httpx_sse.EventSource(response).aiter_sse():
                if sse.data != "[DONE]":
                    _raw_chunk(sse.data, parts, state)
        return _raw_result(parts, state)

    client = modelswap.Client(config_path)

    async def ms_astream(n: int) -> Result:
        item: Any = None
        async for item in client.astream(PROMPT, model="stub", max_tokens=n):
            pass
        return item.text, item.output_tokens

    return [
        Contender("raw httpx, aiter_lines", raw_lines, f"httpx {httpx.__version__}"),
        Contender("raw httpx + httpx-sse (async)", raw_sse, f"httpx-sse {_version('httpx-sse')}"),
        Contender("modelswap astream", ms_astream, f"modelswap {_version('modelswap')}"),
    ]


# -- measuring ---------------------------------------------------------------------------------------------
def _check(name: str, n: int, result: Result) -> None:
    text, tokens = result
    if text != stream_text(n) or tokens != n:
        raise RuntimeError(f"{name}: expected {n} chunks ({stream_text(n)[:40]!r}...) and usage {n}, "
                           f"got {text[:40]!r}... ({len(text)} chars) and usage {tokens!r}")


def _requests_per_turn(n: int, chunks_per_turn: int) -> int:
    return max(1, round(chunks_per_turn / n))


def run_sync(contenders: list[Contender], n: int, rounds: int, requests: int, warmup: int,
             connections: ConnectionCounter) -> None:
    perf = time.perf_counter_ns
    for c in contenders:
        _check(c.name, n, c.run(n))  # type: ignore[arg-type]
        for _ in range(warmup):
            c.run(n)
        before = connections()
        for _ in range(PROBE_REQUESTS):
            c.run(n)
        c.connections_per_request = (connections() - before) / PROBE_REQUESTS
    for r in range(rounds):
        for c in contenders[r % len(contenders):] + contenders[: r % len(contenders)]:
            run = c.run
            gc.collect()
            t0 = perf()
            for _ in range(requests):
                run(n)
            c.round_ns_per_chunk.append((perf() - t0) / (requests * n))


async def run_async(contenders: list[Contender], n: int, rounds: int, requests: int, warmup: int,
                    connections: ConnectionCounter) -> None:
    perf = time.perf_counter_ns
    for c in contenders:
        _check(c.name, n, await c.run(n))  # type: ignore[misc]
        for _ in range(warmup):
            await c.run(n)  # type: ignore[misc]
        before = connections()  # a blocking call, outside the timed part
        for _ in range(PROBE_REQUESTS):
            await c.run(n)  # type: ignore[misc]
        c.connections_per_request = (connections() - before) / PROBE_REQUESTS
    for r in range(rounds):
        for c in contenders[r % len(contenders):] + contenders[: r % len(contenders)]:
            run = c.run
            gc.collect()
            t0 = perf()
            for _ in range(requests):
                await run(n)  # type: ignore[misc]
            c.round_ns_per_chunk.append((perf() - t0) / (requests * n))


def summarize(case: str, n: int, requests: int, contenders: list[Contender]) -> list[dict[str, Any]]:
    base = contenders[0].round_ns_per_chunk
    base_median = statistics.median(base)
    rows = []
    for c in contenders:
        values = c.round_ns_per_chunk
        median = statistics.median(values)
        paired = [v / b for v, b in zip(values, base)]
        rows.append({
            "case": case,
            "contender": c.name,
            "version": c.version,
            "chunks_per_request": n,
            "requests_per_turn": requests,
            "rounds": len(values),
            "us_per_chunk_median": median / 1e3,
            "us_per_chunk_min": min(values) / 1e3,
            "us_per_chunk_max": max(values) / 1e3,
            "ms_per_request_median": median * n / 1e6,
            "ratio": median / base_median,
            "paired_ratio_median": statistics.median(paired),
            "paired_ratio_min": min(paired),
            "paired_ratio_max": max(paired),
            "new_connections_per_request": c.connections_per_request,
            "round_us_per_chunk": [v / 1e3 for v in values],
        })
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| case | contender | µs/chunk (median of rounds) | rounds min–max | ms/request "
        "| ratio to raw iter_lines | per-round ratio, median (min–max) | new connections per request |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        lines.append(
            f"| {row['case']} | {row['contender']} | {row['us_per_chunk_median']:.2f} | "
            f"{row['us_per_chunk_min']:.2f}–{row['us_per_chunk_max']:.2f} | "
            f"{row['ms_per_request_median']:.2f} | "
            f"{row['ratio']:.3f}x | {row['paired_ratio_median']:.3f}x "
            f"({row['paired_ratio_min']:.2f}–{row['paired_ratio_max']:.2f}) | "
            f"{row['new_connections_per_request']:.1f} |"
        )
    return "\n".join(lines)


# -- --profile: where the per-chunk time goes -------------------------------------------------------------
def profile(config_path: str, base_url: str, n: int, rounds: int) -> None:
    import httpx
    import httpx_sse
    import modelswap

    events = stream_events(n, True)
    _EventStream = _event_stream_class()

    def answer(request: httpx.Request) -> httpx.Response:  # one piece per SSE event, as a chunked body gives
        return httpx.Response(200, headers={"content-type": "text/event-stream; charset=utf-8"},
                              stream=_EventStream(events))

    mock = httpx.MockTransport(answer)
    url = base_url + "/chat/completions"
    raw = httpx.Client(transport=mock)
    client = modelswap.Client(config_path, transport=mock)
    spec = client.resolve("stub")
    provider = client.provider(spec.provider)
    path, body = provider.adapter.build_request(spec, MESSAGES, {"max_tokens": n}, stream=True)

    def raw_lines() -> None:
        parts: list[str] = []
        state: dict[str, Any] = {}
        with raw.stream("POST", url, json=_body(n)) as response:
            for line in response.iter_lines():
                if line.startswith("data: "):
                    data = line[6:]
                    if data != "[DONE]":
                        _raw_chunk(data, parts, state)

    def raw_sse() -> None:
        parts: list[str] = []
        state: dict[str, Any] = {}
        with raw.stream("POST", url, json=_body(n)) as response:
            for sse in httpx_sse.EventSource(response).iter_sse():
                if sse.data != "[DONE]":
                    _raw_chunk(sse.data, parts, state)

    def sse_decoder() -> None:
        decoder = provider.adapter.stream_decoder()
        with raw.stream("POST", url, json=_body(n)) as response:
            for sse in httpx_sse.EventSource(response).iter_sse():
                decoder.feed(sse.data, sse.event)
        decoder.finish()

    def provider_stream() -> None:
        for _ in provider.stream(path, body):
            pass

    def client_stream() -> None:
        for _ in client.stream(PROMPT, model="stub", max_tokens=n):
            pass

    steps = {
        "1 raw httpx, iter_lines + json.loads": raw_lines,
        "2 raw httpx + httpx-sse iter_sse + json.loads": raw_sse,
        "3 httpx-sse + the openai adapter's stream decoder": sse_decoder,
        "4 Provider.stream(path, body)": provider_stream,
        "5 Client.stream()": client_stream,
    }
    times: dict[str, list[float]] = {name: [] for name in steps}
    for fn in steps.values():
        fn()
    for _ in range(rounds):
        for name, fn in steps.items():
            gc.collect()
            times[name].append(min(timeit.repeat(fn, number=3, repeat=3)) / 3 / n * 1e6)
    print()
    print(f"**Layers over httpx.MockTransport (no socket, client CPU only), {n} chunks per stream, "
          f"{rounds} rounds, median of best-of-3 µs per chunk**")
    print()
    print("| step | µs/chunk | vs step 1 | vs previous |")
    print("| --- | ---: | ---: | ---: |")
    first = previous = None
    for name, values in times.items():
        median = statistics.median(values)
        first = median if first is None else first
        delta = "" if previous is None else f"{median - previous:+.2f}"
        print(f"| {name} | {median:.2f} | {median / first:.3f}x | {delta} |")
        previous = median

    # cProfile of Client.stream against the real stub
    real = modelswap.Client(config_path)
    for _ in real.stream(PROMPT, model="stub", max_tokens=n):
        pass
    streams = 20
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(streams):
        for _ in real.stream(PROMPT, model="stub", max_tokens=n):
            pass
    profiler.disable()
    stream = io.StringIO()
    stats = pstats.Stats(profiler, stream=stream)
    stats.sort_stats("tottime")
    chunks = streams * n
    print()
    total = stats.total_tt  # type: ignore[attr-defined]
    print(f"**cProfile of {streams} Client.stream() calls x {n} chunks, against the stub: "
          f"{total / chunks * 1e6:.1f} µs per chunk under the profiler. Top 25 by own time, µs per chunk**")
    print()
    print("| function | calls per chunk | own µs/chunk | cumulative µs/chunk |")
    print("| --- | ---: | ---: | ---: |")
    entries = stats.stats.items()  # type: ignore[attr-defined]
    for (filename, line, func), (_cc, nc, tt, ct, _callers) in sorted(entries, key=lambda kv: -kv[1][2])[:25]:
        where = filename
        if filename.startswith("/"):
            where = f"{Path(filename).parent.name}/{Path(filename).name}:{line}"
        print(f"| {where} {func} | {nc / chunks:.2f} | {tt / chunks * 1e6:.2f} | {ct / chunks * 1e6:.2f} |")


def _event_stream_class() -> type:
    import httpx

    class EventStream(httpx.SyncByteStream):
        """Yields one SSE event per piece, as httpcore does for a chunked body with one event per chunk."""

        def __init__(self, events: list[bytes]) -> None:
            self.events = events

        def __iter__(self) -> Any:
            return iter(self.events)

    return EventStream


# -- main ----------------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--long", type=int, default=2000, help="chunks per request, long stream (2000)")
    parser.add_argument("--short", type=int, default=50, help="chunks per request, short stream (default 50)")
    parser.add_argument("--chunks-per-turn", type=int, default=4000,
                        help="about this many chunks per contender per round (default 4000)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed requests per contender and case first")
    parser.add_argument("--no-async", action="store_true", help="skip the async variant")
    parser.add_argument("--profile", action="store_true", help="then break modelswap's per-chunk time down")
    parser.add_argument("--out", default=str(HERE / "results"), help="folder for the JSON result")
    args = parser.parse_args(argv)
    if busy_builds():
        print(f"warning: build processes are running ({', '.join(busy_builds())}); the numbers will be noisy",
              file=sys.stderr)

    result: dict[str, Any] = {
        "benchmark": "stream",
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "argv": [sys.executable, *sys.argv],
        **environment(),
        "rounds": args.rounds,
        "warmup": args.warmup,
        "chunks_per_turn": args.chunks_per_turn,
        "target": TARGET,
    }
    rows: list[dict[str, Any]] = []
    cases = [("long", args.long), ("short", args.short)]
    with tempfile.TemporaryDirectory(prefix="modelswap-bench-") as tmp, running_stub() as base_url:
        config_path = os.path.join(tmp, "modelswap.yaml")
        Path(config_path).write_text(CONFIG_TEMPLATE.format(base_url=base_url, model_id=MODEL_ID))
        connections = ConnectionCounter(base_url)

        for label, n in cases:
            contenders = sync_contenders(base_url, config_path)
            requests = _requests_per_turn(n, args.chunks_per_turn)
            run_sync(contenders, n, args.rounds, requests, args.warmup, connections)
            rows += summarize(f"sync, {label} ({n} chunks)", n, requests, contenders)

        if not args.no_async:
            async def go(n: int, requests: int) -> list[Contender]:
                acontenders = async_contenders(base_url, config_path)
                await run_async(acontenders, n, args.rounds, requests, args.warmup, connections)
                return acontenders

            for label, n in cases:
                requests = _requests_per_turn(n, args.chunks_per_turn)
                rows += summarize(f"async, {label} ({n} chunks)", n, requests, asyncio.run(go(n, requests)))

        per_turn = ", ".join(f"{n}-chunk requests x {_requests_per_turn(n, args.chunks_per_turn)}"
                             for _, n in cases)
        print(f"**Streaming, {args.rounds} rounds; per round each contender streams about "
              f"{args.chunks_per_turn} chunks ({per_turn}), after {args.warmup} warm-up requests**")
        print()
        print(table(rows))

        if args.profile:
            profile(config_path, base_url, args.long, min(args.rounds, 10))

    result["rows"] = rows
    result["loadavg_at_end"] = os.getloadavg()
    result["builds_running_at_end"] = busy_builds()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"stream-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(result, indent=2))
    print(f"\nJSON: {path}")
    for row in rows:
        if row["contender"].startswith("modelswap") and row["chunks_per_request"] == args.long:
            verdict = "meets" if row["ratio"] <= TARGET else "MISSES"
            print(f"{row['case']}: {row['contender']} {row['ratio']:.3f}x raw httpx per chunk "
                  f"({verdict} the {TARGET:.2f}x target)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
