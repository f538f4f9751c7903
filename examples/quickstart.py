"""The embedded local model, and the hazard of a swap that looks like one changed string.

Run it with `make run` (which installs what it needs), or, in an environment with `modelswap[local]`:

    python examples/quickstart.py

It starts llama.cpp's server with Gemma 3 270M on a free loopback port, then asks the same few-shot question
through the two built-in aliases for those same weights: `gemma-raw` (raw completion, the prompt as written) and
`gemma-chat` (the chat endpoint, where llama-server wraps the prompt in a ChatML template this base model never
learned). The only difference between the two calls is the `model` parameter.
"""

from __future__ import annotations

import modelswap
from modelswap.local import LocalServer, free_port, local_config

FEW_SHOT = """Review: I loved every minute of it.
Sentiment: positive

Review: A total waste of money.
Sentiment: negative

Review: {review}
Sentiment:"""

REVIEWS = [
    ("The battery died after two days.", "negative"),
    ("Best purchase I made this year.", "positive"),
    ("Broken on arrival and support never answered.", "negative"),
]

with LocalServer(port=free_port()) as server, modelswap.Client(local_config(server)) as client:
    print(f"llama-server with Gemma 3 270M at {server.root_url}\n")
    for alias in ("gemma-raw", "gemma-chat"):
        right = 0
        for review, expected in REVIEWS:
            completion = client.complete(FEW_SHOT.format(review=review), model=alias)
            answer = completion.text.strip()
            right += answer.lower() == expected
            print(f"{alias:<11} {review:<48} -> {answer!r:<12} ({completion.latency_s * 1000:.0f} ms, "
                  f"{completion.input_tokens} in / {completion.output_tokens} out)")
        print(f"{alias:<11} {right}/{len(REVIEWS)} right\n")
    print(
        "Same weights, same prompt, one parameter changed. Gemma 3 270M is a base model whose GGUF has no chat\n"
        "template, so the chat endpoint falls back to ChatML and the answers break. modelswap exists to catch\n"
        "exactly this before a swap reaches production."
    )
