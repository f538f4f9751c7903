"""A fast loopback OpenAI-compatible stub for the benchmarks: ``POST /v1/chat/completions`` -> a fixed answer.

A request whose JSON body has ``"stream": true`` gets a Server-Sent Events stream instead, as OpenAI sends
it: a first chunk with the role, then one ``chat.completion.chunk`` per content delta (``max_tokens`` or
``max_completion_tokens`` of them, default 100), a chunk with ``finish_reason: "stop"``, a usage chunk with
empty ``choices`` when ``stream_options.include_usage`` is set, and ``data: [DONE]``. The body is sent with
``transfer-encoding: chunked``, one HTTP chunk per SSE event like real servers, all pre-rendered once per
shape and written in one go, so the client's parsing, not the server, sets the pace (bench/bench_stream.py).
``GET /_stats`` answers ``{"connections": n}``, the number of connections accepted so far (a client that
reuses its keep-alive connection opens one in all).

Run as its own process (the benchmarks do this through :func:`running_stub`)::

    python bench/stub_server.py [--port 0] [--max-seconds 900] [--parent-pid PID] [--latency-ms 0]

It binds 127.0.0.1 only (port 0: a free port chosen by the kernel), prints ``PORT <n>`` on its first stdout
line, and stops by itself after ``--max-seconds``, when the ``--parent-pid`` process is gone, or when its stdin
reaches EOF (the parent closed the pipe or died).

The server is an ``asyncio.Protocol`` (no per-request coroutine or stream objects): HTTP/1.1 with keep-alive,
``Content-Length`` bodies only, the response bytes built once. On a loopback socket it answers in a few tens of
microseconds, so the clients being measured, not the server, dominate a call. Only the standard library.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator

ANSWER_TEXT = "Hello! How can I help you today?"

COMPLETION = {
    "id": "chatcmpl-bench0001",
    "object": "chat.completion",
    "created": 1700000000,
    "model": "stub-model",
    "system_fingerprint": "fp_bench",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": ANSWER_TEXT, "refusal": None},
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 9, "completion_tokens": 9, "total_tokens": 18},
}


def _response(status: str, body: bytes, keep_alive: bool) -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\n"
        "content-type: application/json\r\n"
        f"content-length: {len(body)}\r\n"
        "x-request-id: req_bench\r\n"
        f"connection: {'keep-alive' if keep_alive else 'close'}\r\n"
        "\r\n"
    )
    return head.encode("ascii") + body


_OK_BODY = json.dumps(COMPLETION, separators=(",", ":")).encode()
_NOT_FOUND_BODY = json.dumps({"error": {"message": "not found", "type": "invalid_request_error"}}).encode()
_RESPONSES = {
    (True, True): _response("200 OK", _OK_BODY, True),
    (True, False): _response("200 OK", _OK_BODY, False),
    (False, True): _response("404 Not Found", _NOT_FOUND_BODY, True),
    (False, False): _response("404 Not Found", _NOT_FOUND_BODY, False),
}
_MAX_HEAD = 64 * 1024

# -- streaming ---------------------------------------------------------------------------------------------
DEFAULT_STREAM_CHUNKS = 100
MAX_STREAM_CHUNKS = 100_000
_STREAM_WORDS = ("Hello", "!", " How", " can", " I", " help", " you", " today", "?", " Here", " is", " a",
                 " longer", " answer", ",", " one", " token", " at", " a", " time", ".")


def stream_tokens(n: int) -> list[str]:
    """The content deltas of an ``n``-chunk stream (their concatenation is the whole answer)."""
    return [_STREAM_WORDS[i % len(_STREAM_WORDS)] for i in range(n)]


def stream_text(n: int) -> str:
    return "".join(stream_tokens(n))


def _chunk(choices: list[dict], usage: object = None, include_usage: bool = False) -> bytes:
    chunk = {
        "id": "chatcmpl-bench0001",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "stub-model",
        "system_fingerprint": "fp_bench",
        "choices": choices,
    }
    if include_usage:  # OpenAI then sends "usage": null in every chunk but the last
        chunk["usage"] = usage
    return b"data: " + json.dumps(chunk, separators=(",", ":")).encode() + b"\n\n"


def stream_events(n: int, include_usage: bool) -> list[bytes]:
    """The SSE events of an ``n``-chunk answer, each ``data: ...\\n\\n``."""
    def choice(delta: dict, finish_reason: str | None = None) -> list[dict]:
        return [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}]

    events = [_chunk(choice({"role": "assistant", "content": "", "refusal": None}), None, include_usage)]
    events += [_chunk(choice({"content": token}), None, include_usage) for token in stream_tokens(n)]
    events.append(_chunk(choice({}, "stop"), None, include_usage))
    if include_usage:
        usage = {"prompt_tokens": 9, "completion_tokens": n, "total_tokens": 9 + n}
        events.append(_chunk([], usage, True))
    events.append(b"data: [DONE]\n\n")
    return events


def _stream_response(n: int, include_usage: bool, keep_alive: bool) -> bytes:
    head = (
        "HTTP/1.1 200 OK\r\n"
        "content-type: text/event-stream; charset=utf-8\r\n"
        "transfer-encoding: chunked\r\n"
        "cache-control: no-cache\r\n"
        "x-request-id: req_bench\r\n"
        f"connection: {'keep-alive' if keep_alive else 'close'}\r\n"
        "\r\n"
    ).encode("ascii")
    parts = [head]
    for event in stream_events(n, include_usage):
        parts.append(b"%x\r\n%s\r\n" % (len(event), event))
    parts.append(b"0\r\n\r\n")
    return b"".join(parts)


_stream_cache: dict[tuple[int, bool, bool], bytes] = {}


def _streamed(body: bytes, keep_alive: bool) -> bytes | None:
    """The SSE response for a request body asking for ``"stream": true``, else None."""
    try:
        request = json.loads(body)
    except ValueError:
        return None
    if not isinstance(request, dict) or request.get("stream") is not True:
        return None
    n = request.get("max_tokens") or request.get("max_completion_tokens") or DEFAULT_STREAM_CHUNKS
    n = max(1, min(int(n), MAX_STREAM_CHUNKS))
    include_usage = bool((request.get("stream_options") or {}).get("include_usage"))
    key = (n, include_usage, keep_alive)
    response = _stream_cache.get(key)
    if response is None:
        if len(_stream_cache) > 64:
            _stream_cache.clear()
        response = _stream_cache[key] = _stream_response(n, include_usage, keep_alive)
    return response


_stats = {"connections": 0}
# Seconds every answer waits before it is written (--latency-ms), as a real server's work would; 0: none.
_latency = 0.0


class StubProtocol(asyncio.Protocol):
    """One connection; requests are answered in order (pipelining works too)."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        _stats["connections"] += 1

    def data_received(self, data: bytes) -> None:
        buf = self.buffer
        buf += data
        while True:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > _MAX_HEAD:
                    self._close()
                return
            head = bytes(buf[:end]).decode("latin-1")
            request_line, _, header_text = head.partition("\r\n")
            length = 0
            keep_alive = not request_line.endswith("HTTP/1.0")
            for line in header_text.split("\r\n"):
                name, _, value = line.partition(":")
                name = name.strip().lower()
                if name == "content-length":
                    length = int(value.strip() or 0)
                elif name == "connection":
                    token = value.strip().lower()
                    keep_alive = token == "keep-alive" or (keep_alive and token != "close")
                elif name == "transfer-encoding":  # never sent by the clients measured; refuse plainly
                    self._close()
                    return
            total = end + 4 + length
            if len(buf) < total:
                return
            # Only a body that mentions "stream" is parsed: the non-streaming answer stays a dict lookup.
            body = bytes(buf[end + 4:total]) if buf.find(b'"stream"', end + 4, total) >= 0 else None
            del buf[:total]
            parts = request_line.split(" ")
            ok = len(parts) >= 2 and parts[0] == "POST" and parts[1].split("?", 1)[0].endswith("/chat/completions")
            assert self.transport is not None
            streamed = _streamed(body, keep_alive) if ok and body is not None else None
            if streamed is None and parts[:2] == ["GET", "/_stats"]:
                streamed = _response("200 OK", json.dumps(_stats).encode(), keep_alive)
            answer = streamed if streamed is not None else _RESPONSES[(ok, keep_alive)]
            if _latency > 0:
                # One request at a time per connection (no pipelining), so delayed answers keep their order.
                asyncio.get_running_loop().call_later(_latency, self._answer, answer, keep_alive)
                if not keep_alive:
                    return
                continue
            self.transport.write(answer)
            if not keep_alive:
                self._close()
                return

    def _answer(self, answer: bytes, keep_alive: bool) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        self.transport.write(answer)
        if not keep_alive:
            self._close()

    def _close(self) -> None:
        if self.transport is not None:
            self.transport.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


async def serve(port: int, max_seconds: float, parent_pid: int | None) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(StubProtocol, host="127.0.0.1", port=port, backlog=128)
    bound = server.sockets[0].getsockname()[1]
    print(f"PORT {bound}", flush=True)
    stop = asyncio.Event()

    def on_stdin() -> None:  # EOF on stdin: the parent closed the pipe or died
        try:
            data = os.read(stdin_fd, 4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            loop.remove_reader(stdin_fd)
            stop.set()

    stdin_fd = sys.stdin.fileno() if sys.stdin is not None else -1
    if stdin_fd >= 0 and not os.isatty(stdin_fd):
        try:
            loop.add_reader(stdin_fd, on_stdin)  # a pipe; /dev/null or a file cannot be watched, and need not be
        except (OSError, ValueError):
            pass

    async def parent_watch() -> None:
        original_ppid = os.getppid()
        while not stop.is_set():
            await asyncio.sleep(0.5)
            if os.getppid() != original_ppid or (parent_pid is not None and not _alive(parent_pid)):
                stop.set()

    watcher = asyncio.ensure_future(parent_watch())
    try:
        await asyncio.wait_for(stop.wait(), timeout=max_seconds)
    except asyncio.TimeoutError:
        pass
    watcher.cancel()
    server.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0, help="0 (default): a free port")
    parser.add_argument("--max-seconds", type=float, default=900.0, help="stop after this long (default 900)")
    parser.add_argument("--parent-pid", type=int, default=None, help="stop when this process is gone")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay every answer by this much (default 0)")
    args = parser.parse_args(argv)
    global _latency
    _latency = args.latency_ms / 1000.0
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.port, args.max_seconds, args.parent_pid))


@contextlib.contextmanager
def running_stub(max_seconds: float = 1800.0, python: str | None = None, latency_ms: float = 0.0) -> Iterator[str]:
    """Start the stub in a child process; yield its base URL (``http://127.0.0.1:PORT/v1``); stop it after."""
    proc = subprocess.Popen(
        [python or sys.executable, os.path.abspath(__file__), "--max-seconds", str(max_seconds),
         "--parent-pid", str(os.getpid()), "--latency-ms", str(latency_ms)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        if not line.startswith("PORT "):
            raise RuntimeError(f"stub server did not start (said {line!r}, exit code {proc.poll()})")
        yield f"http://127.0.0.1:{int(line.split()[1])}/v1"
    finally:
        if proc.stdin is not None:
            proc.stdin.close()  # the stub sees EOF and stops
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


if __name__ == "__main__":
    main()
