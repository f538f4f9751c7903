"""The floor for `modelswap regress`: a minimal asyncio + httpx loop making the same calls, as its own process.

    python bench/raw_regress_loop.py SUITE.jsonl URL [--concurrency 8]

Both models answer every case (two model ids, the same endpoint), each answer is compared with `expected`
(trimmed, case-insensitive), and the accuracy of each model is printed. No retries, statistics or reports.
"""

from __future__ import annotations

import argparse
import asyncio
import json

import httpx


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("suite")
    parser.add_argument("url")
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    cases = [json.loads(line) for line in open(args.suite, encoding="utf-8") if line.strip()]
    jobs = [(model, case) for case in cases for model in ("base-model", "cand-model")]
    passed = {"base-model": 0, "cand-model": 0}
    gate = asyncio.Semaphore(args.concurrency)
    limits = httpx.Limits(max_connections=args.concurrency, max_keepalive_connections=args.concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:

        async def one(model: str, case: dict) -> None:
            async with gate:
                body = {"model": model, "messages": [{"role": "user", "content": case["prompt"]}]}
                answer = (await client.post(args.url, json=body)).json()
            text = answer["choices"][0]["message"]["content"]
            passed[model] += text.strip().lower() == str(case["expected"]).strip().lower()

        await asyncio.gather(*(one(model, case) for model, case in jobs))
    print(json.dumps({model: count / len(cases) for model, count in passed.items()}))


if __name__ == "__main__":
    asyncio.run(main())
