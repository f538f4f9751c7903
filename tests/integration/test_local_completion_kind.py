"""The `completion` kind, streaming and structured output against the real llama-server with Gemma 3 270M.

The same weights answer a few-shot sentiment prompt well through raw completion and badly through the chat
endpoint (llama-server's ChatML fallback): the swap hazard the product exists for, asserted here for real.
"""

from __future__ import annotations

import asyncio

import pytest

import modelswap
from modelswap.local import local_config

pytestmark = pytest.mark.local_model

FEW_SHOT = """Review: I loved every minute of it.
Sentiment: positive

Review: A total waste of money.
Sentiment: negative

Review: {review}
Sentiment:"""

CASES = [
    ("The battery died after two days.", "negative"),
    ("Best purchase I made this year.", "positive"),
    ("Broken on arrival and support never answered.", "negative"),
    ("Wonderful service, I will come back.", "positive"),
]


@pytest.fixture(scope="module")
def client(local_server):
    with modelswap.Client(local_config(local_server)) as client:
        yield client


def test_raw_completion_classifies_few_shot_and_chat_does_not(client):
    raw = [client.complete(FEW_SHOT.format(review=r), model="gemma-raw").text.strip() for r, _ in CASES]
    chat = [client.complete(FEW_SHOT.format(review=r), model="gemma-chat").text.strip() for r, _ in CASES]
    expected = [label for _, label in CASES]
    assert raw == expected
    assert sum(a == b for a, b in zip(chat, expected)) < len(CASES) / 2


def test_raw_completion_reports_usage_and_stop(client):
    completion = client.complete(FEW_SHOT.format(review=CASES[0][0]), model="gemma-raw")
    assert completion.finish_reason in ("word", "eos", "limit")
    assert completion.input_tokens > 20 and 0 < completion.output_tokens <= 16
    assert completion.cost == 0


@pytest.mark.parametrize("alias", ["gemma-raw", "gemma-chat"])
def test_stream_yields_deltas_then_the_completion(client, alias):
    items = list(client.stream(FEW_SHOT.format(review=CASES[1][0]), model=alias, max_tokens=6))
    *deltas, final = items
    assert isinstance(final, modelswap.Completion)
    assert deltas and all(isinstance(d, str) for d in deltas)
    assert "".join(deltas) == final.text
    assert final.output_tokens and final.input_tokens


def test_async_stream_matches_sync_stream(client):
    prompt = FEW_SHOT.format(review=CASES[2][0])

    async def collect() -> list[str | modelswap.Completion]:
        return [item async for item in client.astream(prompt, model="gemma-raw")]

    async_items = asyncio.run(collect())
    sync_items = list(client.stream(prompt, model="gemma-raw"))
    assert async_items[-1].text == sync_items[-1].text


def test_structured_output_uses_llama_cpp_json_schema(client):
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string", "maxLength": 20}, "age": {"type": "integer", "minimum": 0, "maximum": 30}},
        "required": ["name", "age"],
        "additionalProperties": False,
    }
    completion = client.complete("A JSON object describing a cat:", model="gemma-raw", schema=schema, max_tokens=40, stop=[])
    assert set(completion.data) == {"name", "age"}
    assert 0 <= completion.data["age"] <= 30
