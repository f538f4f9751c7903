"""The client, the CLI and serve-local against the real llama-server serving Gemma 3 270M."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

import modelswap
from modelswap.local import free_port

pytestmark = pytest.mark.local_model

FEW_SHOT = (
    "Review: I loved every minute.\nSentiment: positive\n\n"
    "Review: A total waste of money.\nSentiment: negative\n\n"
    "Review: Best purchase this year.\nSentiment:"
)


def test_complete_returns_text_usage_and_cost(local_config):
    with modelswap.Client(local_config) as client:
        completion = client.complete(FEW_SHOT, max_tokens=8)
    assert completion.text.strip()
    assert completion.finish_reason in ("stop", "length")
    assert completion.input_tokens and completion.input_tokens > 10
    assert 0 < completion.output_tokens <= 8
    assert completion.cost == pytest.approx((completion.input_tokens * 0.1 + completion.output_tokens * 0.2) / 1e6)
    assert (completion.alias, completion.provider, completion.model_id) == ("gemma-chat", "local", "gemma-3-270m")
    assert completion.raw["usage"]["completion_tokens"] == completion.output_tokens


def test_max_tokens_one_stops_for_length(local_config):
    with modelswap.Client(local_config) as client:
        completion = client.complete("Count from one to twenty:", max_tokens=1)
    assert completion.finish_reason == "length"
    assert completion.output_tokens == 1


def test_seeded_zero_temperature_is_repeatable(local_config):
    with modelswap.Client(local_config) as client:
        first = client.complete("Name three colours:", max_tokens=12, seed=7)
        second = client.complete("Name three colours:", max_tokens=12, seed=7)
    assert first.text == second.text


def test_async_calls_share_the_concurrency_limit(local_config):
    async def run() -> list[modelswap.Completion]:
        async with modelswap.Client(local_config) as client:
            return await asyncio.gather(*(client.acomplete(f"Say the number {i}.", max_tokens=4) for i in range(6)))

    completions = asyncio.run(run())
    assert len(completions) == 6
    assert all(c.output_tokens for c in completions)


def test_environment_points_the_default_model_at_the_server(local_server, tmp_path, monkeypatch):
    """No config file at all: the built-in default plus INFERENCE_ENDPOINT, as a ConfigMap would set it."""
    monkeypatch.chdir(tmp_path)
    for var in ("MODELSWAP_CONFIG", "MODELSWAP_MODEL", "MODEL_PROVIDER", "MODEL_ID", "API_KEY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("INFERENCE_ENDPOINT", local_server.root_url)
    with modelswap.Client() as client:
        completion = client.complete(FEW_SHOT)
    assert completion.alias == "gemma-raw"
    assert completion.text.strip() == "positive"


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "modelswap", *args], capture_output=True, text=True, timeout=300,
        env={**os.environ, **(env or {})},
    )


def test_cli_call_prints_the_completion(local_config):
    result = _cli("--config", str(local_config), "call", "gemma-chat", FEW_SHOT, "-p", "max_tokens=4", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["text"].strip() and data["output_tokens"] <= 4
    assert "raw" not in data


def test_cli_call_with_provider_slash_model_id_uses_the_environment_endpoint(local_server, tmp_path):
    result = _cli(
        "call", "llamacpp/gemma-3-270m", FEW_SHOT, "-p", "max_tokens=3",
        env={"MODEL_PROVIDER": "", "INFERENCE_ENDPOINT": "", "MODELSWAP_CONFIG": "", "LLAMACPP_API_KEY": ""},
    )
    # An explicit model ignores INFERENCE_ENDPOINT, so the preset's own port (8080) is used: this asserts the
    # precedence, whether or not something listens there.
    assert result.returncode in (0, 1)
    env_result = _cli(
        "call", "-", FEW_SHOT, "-p", "max_tokens=3",
        env={"MODEL_PROVIDER": "llamacpp", "MODEL_ID": "gemma-3-270m", "INFERENCE_ENDPOINT": local_server.base_url},
    )
    assert env_result.returncode == 0, env_result.stderr
    assert env_result.stdout.strip()


def test_cli_reports_an_unreachable_server_with_exit_code_1(tmp_path):
    port = free_port()
    result = _cli("call", "-", "hi", env={"INFERENCE_ENDPOINT": f"http://127.0.0.1:{port}", "MODELSWAP_CONFIG": ""})
    assert result.returncode == 1
    assert "cannot connect" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_serve_local_starts_answers_and_stops_cleanly(local_server, stop_signal):
    """`modelswap serve-local` waits for /health, then exits 0 on SIGTERM or Ctrl-C, leaving no server behind."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "modelswap", "serve-local", "--model", "gemma", "--port", str(port), "--parallel", "1", "--ctx-size", "1024"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            line = process.stdout.readline()
            if line.startswith("Ready:") or not line or time.monotonic() > deadline:
                break
        assert line.startswith("Ready:"), process.stderr.read()
        assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200
        process.send_signal(stop_signal)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
