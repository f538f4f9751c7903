"""modelswap's SSE parser: the same events as httpx-sse on tricky input cut anywhere, and connection reuse."""

from __future__ import annotations

import asyncio
import random

import httpx
import pytest

from modelswap import Client
from modelswap._config import loads_config
from modelswap._sse import SSEParser
from modelswap.testing import FaultyServer

SAMPLES = [
    b'data: a\n\ndata: b\r\n\r\nevent: ping\ndata: {"x": 1}\n\n: comment\n\ndata:nospace\ndata: two\n\n',
    b"data: [DONE]\r\rdata: x" + "\u2028".encode() + b"y\r\n\r\n",
    'event: message_start\ndata: {"t": "h\u00e9llo \u2028 \u20ac"}\n\nid: 5\nretry: 10\ndata: z\n\n'.encode(),
    b"data\n\ndata:\n\nevent: e\n\n",
    b"data: unterminated at the end",
]


def _reference(body: bytes) -> list[tuple[str, str]]:
    decoders = pytest.importorskip("httpx_sse._decoders", reason="httpx-sse (the reference) is not installed")
    lines, events, out = decoders.SSELineDecoder(), decoders.SSEDecoder(), []
    for line in lines.decode(body.decode()) + lines.flush():
        event = events.decode(line.rstrip("\n"))
        if event is not None:
            out.append((event.data, event.event))
    return out


def _parse(body: bytes, cuts: list[int]) -> list[tuple[str, str]]:
    parser, out, previous = SSEParser(), [], 0
    for cut in [*cuts, len(body)]:
        if body[previous:cut]:
            out += parser.feed(body[previous:cut])
        previous = cut
    return out + parser.end()


@pytest.mark.parametrize("body", SAMPLES)
def test_same_events_as_httpx_sse_wherever_the_chunks_break(body):
    expected = _reference(body)
    chooser = random.Random(1)
    for _ in range(300):
        cuts = sorted(chooser.sample(range(1, len(body)), chooser.randint(0, min(6, len(body) - 1))))
        assert _parse(body, cuts) == expected, cuts


def _client(server: FaultyServer) -> Client:
    return Client(loads_config(
        f"default: m\nproviders:\n  p: {{kind: openai, base_url: '{server.base_url}', api_key_required: false}}\n"
        "models:\n  m: {provider: p, model_id: x}\n"
    ))


def test_streams_reuse_one_connection():
    with FaultyServer() as server, _client(server) as client:
        for _ in range(3):
            *deltas, final = client.stream("hello")
            assert "".join(deltas) == "echo:hello" == final.text
        assert server.connections == 1


def test_async_streams_reuse_one_connection():
    with FaultyServer() as server:
        client = _client(server)

        async def main() -> list[str]:
            texts = []
            for _ in range(3):
                texts.append("".join([p async for p in client.astream("hi") if isinstance(p, str)]))
            await client.aclose()
            return texts

        assert asyncio.run(main()) == ["echo:hi"] * 3
        assert server.connections == 1


def test_a_stream_answered_with_json_is_a_clear_error():
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"choices": []})

    client = Client(loads_config(
        "default: m\nproviders:\n  p: {kind: openai, base_url: 'http://stub/v1', api_key_required: false}\n"
        "models:\n  m: {provider: p, model_id: x}\n"
    ), transport=httpx.MockTransport(handler))
    from modelswap import BadResponseError

    with pytest.raises(BadResponseError, match="asked for a stream but got something else"):
        list(client.stream("x"))
