"""Get completions from the embedded local model, then swap the endpoint the way a ConfigMap would.

Run it with `make run` (which installs what it needs), or, in an environment with `modelswap[local]`:

    python examples/quickstart.py
"""

from __future__ import annotations

import os

import modelswap
from modelswap.local import LocalServer, free_port

PROMPT = "Is this review positive or negative? 'The battery died after two days.' Answer in one word."

with LocalServer(port=free_port()) as server:
    # The built-in config's default model is the local Gemma on 127.0.0.1:8080; this server has a free port
    # instead, so point the default model at it the Kubernetes way: one environment variable.
    os.environ["INFERENCE_ENDPOINT"] = server.base_url
    completion = modelswap.complete(PROMPT, max_tokens=16)
    print(f"model      {completion.alias} ({completion.provider}/{completion.model_id})")
    print(f"prompt     {PROMPT}")
    print(f"answer     {completion.text.strip()!r}")
    print(f"tokens     {completion.input_tokens} in, {completion.output_tokens} out; "
          f"{completion.latency_s * 1000:.0f} ms; cost {completion.cost:.6f} USD")
    print(
        "\nGemma 3 270M is a base model whose GGUF has no chat template: llama-server's chat endpoint falls back"
        "\nto ChatML, so chat answers are unreliable. That is the hazard of a model swap modelswap is built to catch."
    )
