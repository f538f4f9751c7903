"""The main job: prove (or refuse) a model swap on the embedded local model, in both directions.

Run it with `make run`, or in an environment with `modelswap[local]`:

    python examples/demo_regression.py [--out demo-report]

It starts llama.cpp's server with Gemma 3 270M on a free loopback port and runs the shipped few-shot sentiment
suite (examples/sentiment/suite.yaml, 48 cases) on two aliases of the same weights:

* `gemma-raw`: the `completion` kind, the few-shot prompt sent verbatim to /completion;
* `gemma-chat`: the chat endpoint, where llama-server wraps the prompt in a ChatML template this base model
  never learned (its GGUF carries no chat template).

Swapping gemma-raw for gemma-chat looks like one changed string. The regression says ROLLBACK, with the
significance behind it; the other way round it says PROMOTE. The reports (JSON, Markdown, self-contained HTML)
land in --out. The same runs from the command line, against `modelswap serve-local`:

    modelswap regress examples/sentiment/suite.yaml --baseline gemma-raw --candidate gemma-chat --out report
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from modelswap import Client
from modelswap.evals import load_suite
from modelswap.local import LocalServer, free_port, local_config
from modelswap.regress import compare

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="demo-report", help="folder for the reports (default demo-report)")
    parser.add_argument("--suite", default=str(HERE / "sentiment" / "suite.yaml"))
    args = parser.parse_args()
    suite = load_suite(args.suite)
    print(f"suite {suite.name}: {len(suite.cases)} cases\n")
    with LocalServer(port=free_port(), parallel=2, ctx_size=2048) as server, Client(local_config(server)) as client:
        print(f"llama-server with Gemma 3 270M at {server.root_url}\n")
        for baseline, candidate in (("gemma-raw", "gemma-chat"), ("gemma-chat", "gemma-raw")):
            out = Path(args.out) / f"{baseline}-to-{candidate}"
            shutil.rmtree(out, ignore_errors=True)  # a fresh run, not a resumed one
            report = compare(suite, baseline, candidate, out_dir=out, client=client, concurrency=2)
            models = report["models"]
            print(f"{baseline} -> {candidate}: {report['verdict'].upper()}")
            for role in ("baseline", "candidate"):
                m = models[role]
                print(f"  {role:<9} {m['alias']:<10} accuracy {m['accuracy']:.1%}  p95 {m['latency_p95_ms']:.0f} ms")
            for reason in report["reasons"]:
                print(f"  - {reason}")
            print(f"  report: {report['files']['html']}\n")
    print("Same weights, same prompt, one parameter changed: the regression catches what the swap would break.")


if __name__ == "__main__":
    main()
