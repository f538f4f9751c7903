"""The floor for `modelswap batch`: a minimal asyncio + httpx loop doing the same job, as its own process.

    python bench/raw_batch_loop.py INPUT OUTPUT URL [--concurrency 32] [--kind openai|llamacpp] [--model M]

It reads the JSONL input line by line, keeps ``--concurrency`` requests in flight, and writes one JSON line per
answer (id, text, token counts). No retries, no ordering, no resumption, no validation: what a careful engineer
would write in ten minutes, and the yardstick in BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json

import httpx


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("input")
    parser.add_argument("output")
    parser.add_argument("url", help="the endpoint to POST to (…/v1/chat/completions or …/completion)")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--kind", choices=("openai", "llamacpp"), default="openai")
    parser.add_argument("--model", default="stub-model")
    parser.add_argument("--max-tokens", type=int, default=None)
    parser.add_argument("--temperature", type=float, default=None)
    args = parser.parse_args()

    queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=args.concurrency * 4)
    limits = httpx.Limits(max_connections=args.concurrency, max_keepalive_connections=args.concurrency)
    with open(args.output, "w", encoding="utf-8") as out:
        async with httpx.AsyncClient(limits=limits, timeout=120) as client:

            async def worker() -> None:
                while (line := await queue.get()) is not None:
                    record = json.loads(line)
                    if args.kind == "openai":
                        body = {"model": args.model, "messages": [{"role": "user", "content": record["prompt"]}]}
                        if args.max_tokens:
                            body["max_tokens"] = args.max_tokens
                        if args.temperature is not None:
                            body["temperature"] = args.temperature
                    else:
                        body = {"prompt": record["prompt"], "n_predict": args.max_tokens or 16}
                        if args.temperature is not None:
                            body["temperature"] = args.temperature
                    answer = (await client.post(args.url, json=body)).json()
                    if args.kind == "openai":
                        text, usage = answer["choices"][0]["message"]["content"], answer.get("usage") or {}
                        counts = (usage.get("prompt_tokens"), usage.get("completion_tokens"))
                    else:
                        text, counts = answer["content"], (answer.get("tokens_evaluated"), answer.get("tokens_predicted"))
                    out.write(json.dumps({"id": record["id"], "text": text, "tokens": counts}) + "\n")

            workers = [asyncio.create_task(worker()) for _ in range(args.concurrency)]
            with open(args.input, "rb") as source:
                for line in source:
                    await queue.put(line)
            for _ in workers:
                await queue.put(None)
            await asyncio.gather(*workers)


if __name__ == "__main__":
    asyncio.run(main())
