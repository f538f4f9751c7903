"""Fixtures for the Prefect tasks and blocks: a local model stub, configs pointing at it, and one Prefect server.

Most tests call ``task.fn(...)`` and need no Prefect backend. The few that do (the Variable, the cache, real
retries, block save/load) request ``prefect_harness``: one temporary Prefect server for the whole session,
since starting it costs 10 s or more.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

pytest.importorskip("prefect", reason="the prefect extra is not installed (pip install 'modelswap[prefect]')")

from modelswap.testing import FaultyServer  # noqa: E402

MODEL_ENV = ("MODELSWAP_CONFIG", "MODELSWAP_MODEL", "MODEL_PROVIDER", "MODEL_ID", "INFERENCE_ENDPOINT", "API_KEY")


@pytest.fixture(autouse=True)
def _clean_model_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No model or config from the developer's environment leaks into a test."""
    for var in MODEL_ENV:
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    """Each test starts without pooled clients, and leaves no open connection to a stopped stub."""
    from modelswap.tasks._model import close_clients

    yield
    close_clients()


@pytest.fixture
def stub() -> Iterator[FaultyServer]:
    """The in-process OpenAI-compatible stub: answers ``echo:<last user message>``."""
    with FaultyServer() as server:
        yield server


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[..., Path]:
    """Write a config with aliases m1 (model id stub-a, the default) and m2 (stub-b) at ``base_url``."""

    def write(base_url: str, *, max_retries: int = 0, name: str = "modelswap.yaml", extra: str = "") -> Path:
        path = tmp_path / name
        path.write_text(
            "default: m1\n"
            "providers:\n"
            f"  p: {{kind: openai, base_url: '{base_url}', api_key_required: false,"
            f" retry: {{max_retries: {max_retries}, initial_backoff_s: 0.001, max_backoff_s: 0.01}}}}\n"
            "models:\n"
            "  m1: {provider: p, model_id: stub-a}\n"
            "  m2: {provider: p, model_id: stub-b}\n" + extra
        )
        return path

    return write


@pytest.fixture
def config_file(stub: FaultyServer, write_config: Callable[..., Path]) -> Path:
    """A config for ``stub``. The stub's listen backlog is small: a connection it resets under concurrency never
    reached it, so the core's retry keeps the request counts exact (tests keep batch concurrency at 4 too)."""
    return write_config(stub.base_url, max_retries=3)


@pytest.fixture
def offline_config(write_config: Callable[..., Path]) -> Path:
    """A config for tests that send no request (no stub to stop: stopping one takes half a second)."""
    return write_config("http://127.0.0.1:1/v1", name="offline.yaml")


class StatusServer:
    """Answers every POST with one fixed HTTP status and an OpenAI-style error body; counts the requests."""

    def __init__(self, status: int) -> None:
        self.status = status
        self.counts: Counter[int] = Counter()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers.get("content-length") or 0))
                server.counts[server.status] += 1
                raw = json.dumps({"error": {"message": "injected", "type": "invalid_request_error"}}).encode()
                self.send_response(server.status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> StatusServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def status_server() -> Iterator[Callable[[int], StatusServer]]:
    """A factory: ``status_server(400)`` starts a server answering 400 to everything (stopped after the test)."""
    started: list[StatusServer] = []

    def start(status: int) -> StatusServer:
        server = StatusServer(status).__enter__()
        started.append(server)
        return server

    yield start
    for server in started:
        server.__exit__()
