"""Configs for the real local models; the servers themselves are session fixtures in tests/conftest.py."""

from __future__ import annotations

import pytest

from modelswap.local import LocalServer


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
