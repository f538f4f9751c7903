"""The batch flow on the real llama.cpp server: few-shot raw completion labels reviews."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("prefect", reason="the prefect extra is not installed (pip install 'modelswap[prefect]')")

FEW_SHOT = ("Review: I loved every minute of it.\nSentiment: positive\n\n"
            "Review: A total waste of two hours.\nSentiment: negative\n\n"
            "Review: {text}\nSentiment:")
REVIEWS = {"a": ("An absolute delight, wonderful acting.", "positive"),
           "b": ("Boring, painful and far too long.", "negative"),
           "c": ("I loved it, a wonderful film.", "positive"),
           "d": ("Terrible. I hated every minute.", "negative")}


def test_batch_flow_labels_reviews_with_the_local_model(prefect_harness, local_server, tmp_path, monkeypatch):
    from modelswap.flows import batch_inference

    for var in ("MODELSWAP_CONFIG", "MODELSWAP_MODEL", "MODEL_PROVIDER", "MODEL_ID", "INFERENCE_ENDPOINT", "API_KEY"):
        monkeypatch.delenv(var, raising=False)
    config = tmp_path / "modelswap.yaml"
    config.write_text(
        f"default: gemma-raw\nproviders:\n  local: {{preset: llamacpp-completion, base_url: '{local_server.root_url}'}}\n"
        "models:\n  gemma-raw: {provider: local, model_id: gemma-3-270m, prompt_format: plain}\n"
    )
    source, out = tmp_path / "reviews.jsonl", tmp_path / "labels.jsonl"
    source.write_text("".join(json.dumps({"id": k, "text": t}) + "\n" for k, (t, _) in REVIEWS.items()))
    summary = batch_inference(str(source), str(out), prompt_template=FEW_SHOT, chunk_size=2, concurrency=2,
                              params={"max_tokens": 2, "temperature": 0, "stop": ["\n"]}, config=str(config))
    rows = {r["id"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert summary["succeeded"] == 4 and list(rows) == list(REVIEWS)
    correct = sum(rows[k]["text"].strip().lower().startswith(label) for k, (_, label) in REVIEWS.items())
    assert correct >= 3, rows
    assert all(r["input_tokens"] and r["model"] == "gemma-raw" for r in rows.values())
