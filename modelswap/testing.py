"""A loopback OpenAI-compatible server that misbehaves on purpose, for testing pipelines built on modelswap.

It answers ``POST /v1/chat/completions`` (JSON or SSE) and ``GET /v1/models`` with a deterministic echo, and
injects the faults real endpoints produce, at rates you choose: 429 with ``retry-after``, 500, a dropped
connection, a body cut off mid-way. Standard library only; it runs in a thread of the test process.

Example:
    >>> from modelswap.testing import FaultyServer
    >>> with FaultyServer(faults={"429": 0.1, "500": 0.1, "drop": 0.05, "truncate": 0.05}, seed=7) as server:
    ...     url = server.base_url            # http://127.0.0.1:PORT/v1, for a provider's base_url
"""

from __future__ import annotations

import json
import random
import socket
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Mapping

__all__ = ["FAULTS", "FaultyServer", "echo_answer"]

FAULTS = ("429", "500", "drop", "truncate")


def echo_answer(messages: list[dict[str, Any]]) -> str:
    """The stub's answer: ``echo:`` and the last user message, so a test can tell which record was answered."""
    last = next((m.get("content") for m in reversed(messages) if m.get("role") == "user"), "")
    return f"echo:{last}"


class FaultyServer:
    """An OpenAI-compatible stub with injected faults.

    Args:
        faults: fault name (one of :data:`FAULTS`) to probability per request.
        seed: makes the sequence of faults repeatable.
        delay_s: time each successful answer takes, to keep requests in flight.
        answer: the text for a list of messages (default :func:`echo_answer`).
        port: 0 picks a free port.
        host: the address to listen on; loopback by default (a container reaches the host through its
            Docker bridge address instead).
    """

    def __init__(
        self,
        faults: Mapping[str, float] | None = None,
        *,
        seed: int | None = None,
        delay_s: float = 0.0,
        answer: Callable[[list[dict[str, Any]]], str] = echo_answer,
        port: int = 0,
        host: str = "127.0.0.1",
    ) -> None:
        unknown = set(faults or {}) - set(FAULTS)
        if unknown:
            raise ValueError(f"unknown faults {sorted(unknown)}; known: {', '.join(FAULTS)}")
        self.faults = dict(faults or {})
        self.delay_s = delay_s
        self.answer = answer
        self.counts: Counter[str] = Counter()
        self.connections = 0  # TCP connections accepted: a client that keeps connections alive opens few
        self.models: Counter[str] = Counter()
        self.headers: list[dict[str, str]] = []  # of every POST, lower-case names
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        # A deep listen queue: with the default of 5, a burst of concurrent clients gets connection resets.
        # Clients that vanish mid-request (a killed batch) are expected here: no traceback on stderr for them.
        server_class = type(
            "_Server", (ThreadingHTTPServer,), {"request_queue_size": 128, "handle_error": lambda *args: None}
        )
        self._server = server_class((host, port), self._handler())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://{self._server.server_address[0]}:{self.port}/v1"

    def start(self) -> FaultyServer:
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="modelswap-faulty-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FaultyServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _pick_fault(self) -> str | None:
        with self._lock:
            roll = self._random.random()
        for name, rate in self.faults.items():
            if roll < rate:
                return name
            roll -= rate
        return None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def setup(self) -> None:
                super().setup()
                with server._lock:
                    server.connections += 1

            def do_GET(self) -> None:  # noqa: N802
                self._json(200, {"object": "list", "data": [{"id": "stub", "object": "model"}]})

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)) or b"{}")
                fault = server._pick_fault()
                with server._lock:
                    server.counts[fault or "ok"] += 1
                    server.models[str(body.get("model"))] += 1
                    server.headers.append({k.lower(): v for k, v in self.headers.items()})
                if fault == "429":
                    return self._json(429, {"error": {"message": "slow down", "type": "rate_limit"}}, {"retry-after": "0"})
                if fault == "500":
                    return self._json(500, {"error": {"message": "injected failure", "type": "server_error"}})
                if fault == "drop":
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return None
                if server.delay_s:
                    time.sleep(server.delay_s)
                text = server.answer(body.get("messages") or [])
                completion = {
                    "id": "stub-1", "object": "chat.completion", "created": 0, "model": body.get("model"),
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8},
                }
                if fault == "truncate":
                    raw = json.dumps(completion).encode()
                    self.send_response(200)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(raw)))
                    self.end_headers()
                    self.wfile.write(raw[: len(raw) // 2])
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return None
                if body.get("stream"):
                    return self._sse(completion)
                return self._json(200, completion)

            def _json(self, status: int, payload: Any, headers: Mapping[str, str] | None = None) -> None:
                raw = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(raw)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(raw)

            def _sse(self, completion: dict[str, Any]) -> None:
                text = completion["choices"][0]["message"]["content"]
                chunks = [
                    {"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]},
                    {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
                    {"choices": [], "usage": completion["usage"]},
                ]
                raw = b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks) + b"data: [DONE]\n\n"
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("content-length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        return Handler
