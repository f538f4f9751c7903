"""The real llama.cpp server with the local Gemma model, started once per test session."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from modelswap import ConfigError
from modelswap.local import LocalServer, free_port


@pytest.fixture(scope="session")
def local_server() -> Iterator[LocalServer]:
    server = LocalServer(port=free_port(), parallel=2, ctx_size=2048)
    try:
        server.command()
    except ConfigError as exc:
        if os.environ.get("MODELSWAP_REQUIRE_LOCAL") == "1":
            pytest.fail(f"MODELSWAP_REQUIRE_LOCAL=1 but the local model is unavailable: {exc}")
        pytest.skip(f"local model not installed ({exc})")
    with server:
        yield server


@pytest.fixture
def local_config(tmp_path, local_server: LocalServer):
    """A config file whose default model is the local Gemma on the session's server."""
    path = tmp_path / "modelswap.yaml"
    path.write_text(
        f"""
default: gemma-chat
providers:
  local:
    preset: llamacpp
    base_url: {local_server.base_url}
    max_concurrency: 2
models:
  gemma-chat:
    provider: local
    model_id: gemma-3-270m
    license: Gemma
    weights: open
    price: {{input_per_mtok: 0.1, output_per_mtok: 0.2, checked: 2026-11-23}}
    params: {{temperature: 0}}
"""
    )
    return path
