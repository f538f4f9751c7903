"""Where modelswap's per-call time goes, beyond the raw httpx request: a layer-by-layer breakdown and a profile.

    python bench/profile_call.py [--rounds 10] [--calls 300] [--profile-calls 3000]

Against the same stub as bench_call.py, these steps are timed side by side (interleaved rounds, median per call);
each adds one layer of what ``Client.complete`` does, so the difference between two neighbours is that layer's
price:

1. raw httpx, ``post(url, json=body).json()`` (bench_call's baseline);
2. raw httpx with the body encoded by hand: ``post(url, content=bytes, headers=...)`` then ``json.loads``;
3. the httpx.Client that modelswap builds (base URL + relative path, default headers, its timeouts and
   limits), called the way modelswap calls it, with a pre-encoded body; 3b: the same client given the absolute
   URL instead of the relative path (what step 3 would cost without httpx's base-URL merge); 3c: the same
   client given one ``httpx.URL`` built once (no URL parsing per call at all);
4. ``Provider.send(path, body)``: adds modelswap's encoding, retry loop and response decoding;
5. ``Client.complete("hi", model="stub")``: adds model resolution, the adapter's request building and
   response parsing, and the ``Completion``.

The same layers again over ``httpx.MockTransport`` (no socket, no server: only the client-side CPU, with far less
noise). Then the pure-Python steps of ``complete`` without any I/O (``timeit``), and a cProfile of ``complete`` with the
functions of modelswap and of httpx's URL and header handling by own time.
"""

from __future__ import annotations

import argparse
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
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_call import CONFIG_TEMPLATE, MESSAGES, MODEL_ID, PROMPT
from stub_server import running_stub


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--profile-calls", type=int, default=3000)
    args = parser.parse_args(argv)

    import httpx

    import modelswap
    from modelswap import _client as client_module
    from modelswap import _provider as provider_module

    with tempfile.TemporaryDirectory(prefix="modelswap-profile-") as tmp, running_stub() as base_url:
        config_path = os.path.join(tmp, "modelswap.yaml")
        Path(config_path).write_text(CONFIG_TEMPLATE.format(base_url=base_url, model_id=MODEL_ID))
        url = base_url + "/chat/completions"
        body = {"model": MODEL_ID, "messages": MESSAGES}
        content = json.dumps(body, separators=(",", ":")).encode()
        json_header = {"content-type": "application/json"}

        client = modelswap.Client(config_path)
        client.complete(PROMPT, model="stub")
        spec = client.resolve("stub")
        provider = client.provider(spec.provider)
        ms_http = provider.client
        raw = httpx.Client()
        raw2 = httpx.Client()
        url_object = httpx.URL(url)

        steps = [
            ("1 raw httpx post(json=).json()", lambda: raw.post(url, json=body).json()),
            ("2 raw httpx post(content=), json.loads", lambda: json.loads(raw2.post(url, content=content,
                                                                                     headers=json_header).content)),
            ("3 modelswap's httpx.Client, relative path", lambda: json.loads(
                ms_http.post("chat/completions", content=content, headers=provider_module._JSON).content)),
            ("3b same client, absolute URL instead", lambda: json.loads(
                ms_http.post(url, content=content, headers=provider_module._JSON).content)),
            ("3c same client, a cached httpx.URL", lambda: json.loads(
                ms_http.post(url_object, content=content, headers=provider_module._JSON).content)),
            ("4 Provider.send(path, body)", lambda: provider.send("chat/completions", body)),
            ("5 Client.complete()", lambda: client.complete(PROMPT, model="stub")),
        ]
        times: dict[str, list[int]] = {name: [] for name, _ in steps}
        perf = time.perf_counter_ns
        for _, fn in steps:
            for _ in range(args.warmup):
                fn()
        for r in range(args.rounds):
            for name, fn in steps[r % len(steps):] + steps[: r % len(steps)]:
                gc.collect()
                bucket = times[name]
                for _ in range(args.calls):
                    t0 = perf()
                    fn()
                    bucket.append(perf() - t0)

        print(f"**Layers of one call, {args.rounds} rounds x {args.calls} calls, median µs**")
        print()
        print("| step | median µs | vs step 1 | vs previous step |")
        print("| --- | ---: | ---: | ---: |")
        previous = first = None
        for name, _ in steps:
            median = statistics.median(times[name]) / 1e3
            first = first if first is not None else median
            delta = "" if previous is None else f"{median - previous:+.1f}"
            print(f"| {name} | {median:.1f} | {median - first:+.1f} | {delta} |")
            if not name.startswith(("3b", "3c")):  # what-ifs beside step 3, not layers
                previous = median

        # -- the same layers with no socket at all: httpx.MockTransport, so only client-side CPU is left ----
        def answer(request: httpx.Request) -> httpx.Response:
            return httpx.Response(200, content=stub_body, headers={"content-type": "application/json"})

        stub_body = ms_http.post("chat/completions", content=content, headers=provider_module._JSON).content
        mock = httpx.MockTransport(answer)
        mclient = modelswap.Client(config_path, transport=mock)
        mclient.complete(PROMPT, model="stub")
        mprovider = mclient.provider(spec.provider)
        mhttp = mprovider.client
        mraw = httpx.Client(transport=mock)
        mock_steps = {
            "1 raw httpx post(json=).json()": lambda: mraw.post(url, json=body).json(),
            "3 modelswap's httpx.Client, relative path": lambda: json.loads(
                mhttp.post("chat/completions", content=content, headers=provider_module._JSON).content),
            "3b same client, absolute URL instead": lambda: json.loads(
                mhttp.post(url, content=content, headers=provider_module._JSON).content),
            "3c same client, a cached httpx.URL": lambda: json.loads(
                mhttp.post(url_object, content=content, headers=provider_module._JSON).content),
            "4 Provider.send(path, body)": lambda: mprovider.send("chat/completions", body),
            "5 Client.complete()": lambda: mclient.complete(PROMPT, model="stub"),
        }
        mock_times: dict[str, list[float]] = {name: [] for name in mock_steps}
        for _ in range(args.rounds):
            for name, fn in mock_steps.items():
                mock_times[name].append(min(timeit.repeat(fn, number=1000, repeat=3)) / 1000 * 1e6)
        print()
        print(f"**The same with httpx.MockTransport (no socket, client-side CPU only), {args.rounds} rounds, "
              "median of best-of-3 µs**")
        print()
        print("| step | µs | vs step 1 |")
        print("| --- | ---: | ---: |")
        mock_first = statistics.median(mock_times["1 raw httpx post(json=).json()"])
        for name, values in mock_times.items():
            median = statistics.median(values)
            print(f"| {name} | {median:.1f} | {median - mock_first:+.1f} |")

        # -- the pure-Python steps of complete(), no I/O -----------------------------------------------------
        response_body = json.loads(ms_http.post("chat/completions", content=content, headers=provider_module._JSON).content)
        response = ms_http.post("chat/completions", content=content, headers=provider_module._JSON)
        messages = client_module._messages(PROMPT, None)
        params = {"temperature": None, "top_p": None, "max_tokens": None, "stop": None, "seed": None}
        started = time.perf_counter()
        pieces = {
            "_messages(prompt)": lambda: client_module._messages(PROMPT, None),
            "config.resolve(model)": lambda: client.config.resolve("stub"),
            "client.provider(spec.provider) (hashes ProviderSpec)": lambda: client.provider(spec.provider),
            "hash(ProviderSpec)": lambda: hash(spec.provider),
            "_prepare(...) in all": lambda: client._prepare(messages, "stub", params),
            "_encode(body)": lambda: provider_module._encode(body),
            "_decode(response) (json.loads)": lambda: provider._decode(response),
            "_finish(...) (parse + Completion)": lambda: client._finish(spec, provider, response_body, 1, started),
            "httpx: client._merge_url(path)": lambda: ms_http._merge_url("chat/completions"),
            "httpx: client._merge_headers(_JSON)": lambda: ms_http._merge_headers(provider_module._JSON),
            "httpx: build_request(relative, content)": lambda: ms_http.build_request(
                "POST", "chat/completions", content=content, headers=provider_module._JSON),
            "httpx: raw build_request(url, json=body)": lambda: raw.build_request("POST", url, json=body),
            "httpx: build_request(cached httpx.URL, content)": lambda: ms_http.build_request(
                "POST", url_object, content=content, headers=provider_module._JSON),
        }
        print()
        print("**Pure-Python pieces, no I/O (timeit, best of 5), µs per call**")
        print()
        print("| piece | µs |")
        print("| --- | ---: |")
        for name, fn in pieces.items():
            number = 20000
            best = min(timeit.repeat(fn, number=number, repeat=5)) / number * 1e6
            print(f"| {name} | {best:.2f} |")

        # -- cProfile ---------------------------------------------------------------------------------------
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(args.profile_calls):
            client.complete(PROMPT, model="stub")
        profiler.disable()
        stream = io.StringIO()
        stats = pstats.Stats(profiler, stream=stream)
        stats.sort_stats("tottime")
        total = stats.total_tt  # type: ignore[attr-defined]
        print()
        print(f"**cProfile of {args.profile_calls} complete() calls: {total / args.profile_calls * 1e6:.0f} µs per call "
              "under the profiler; own time per call of the modelswap functions**")
        print()
        print("| function | µs per call (own) | µs per call (cumulative) |")
        print("| --- | ---: | ---: |")
        repo = str(HERE.parent) + os.sep
        rows = []
        for (filename, line, func), (_cc, _nc, tt, ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
            if os.path.isabs(filename) and os.path.realpath(filename).startswith(repo):  # modelswap's own code
                rows.append((tt, ct, f"{Path(filename).parent.name}/{Path(filename).name}:{line} {func}"))
            elif filename == "<string>":  # methods generated by dataclasses (modelswap's specs, Completion)
                rows.append((tt, ct, f"<string> {func} (generated by dataclasses)"))
        for tt, ct, where in sorted(rows, reverse=True)[:15]:
            print(f"| {where} | {tt / args.profile_calls * 1e6:.1f} | {ct / args.profile_calls * 1e6:.1f} |")
        modelswap_own = sum(tt for tt, _, _ in rows)
        print()
        print(f"All modelswap functions' own time: {modelswap_own / args.profile_calls * 1e6:.1f} µs per call "
              f"(of {total / args.profile_calls * 1e6:.0f} µs under the profiler).")
        print()
        print("Top 15 functions by own time, everything included:")
        print()
        print("```")
        stats.print_stats(15)
        text = stream.getvalue()
        print(text[text.find("   ncalls"):].rstrip())
        print("```")
    return 0


if __name__ == "__main__":
    sys.exit(main())
