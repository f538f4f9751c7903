"""SmolLM2-135M-Instruct on the real server: its chat template, rendered by modelswap, structured output, and a
server that dies in the middle of a batch."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import jsonschema
import pytest
import yaml

import modelswap
from modelswap._presets import default_config
from modelswap.local import LocalServer, free_port

pytestmark = pytest.mark.local_model

QUESTIONS = [
    "What is the capital of France?",
    "Name three colours of the rainbow.",
    "Write one sentence about the sea.",
    "What is the opposite of early?",
    "How many legs does a spider have?",
    "Translate 'good morning' into French.",
]


@pytest.fixture
def smollm2_config(tmp_path, smollm2_server) -> Path:
    path = tmp_path / "modelswap.yaml"
    path.write_text(yaml.safe_dump(default_config(smollm2_url=smollm2_server.root_url)))
    return path


def test_modelswap_renders_the_template_the_server_would(smollm2_config):
    """smollm2-raw (modelswap renders the GGUF's chat template, /completion) answers exactly as smollm2-chat (the
    server renders it): the prompt bytes and so the greedy answers are the same."""
    params = {"max_tokens": 24, "temperature": 0, "seed": 1}
    with modelswap.Client(smollm2_config) as client:
        for question in QUESTIONS:
            chat = client.complete(question, model="smollm2-chat", **params)
            raw = client.complete(question, model="smollm2-raw", **params)
            assert raw.text.strip() == chat.text.strip(), question
            assert raw.input_tokens == chat.input_tokens, question  # same prompt, token for token
            assert chat.model_id == "smollm2-135m-instruct"


def test_the_default_system_prompt_is_what_the_server_tokenises(smollm2_server):
    """The server's own rendering of a conversation (/apply-template) is byte for byte modelswap's `smollm2`."""
    from modelswap import prompts

    for messages in ([{"role": "user", "content": "Hi"}],
                     [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
                      {"role": "assistant", "content": "Hello."}, {"role": "user", "content": "Bye"}]):
        served = httpx.post(f"{smollm2_server.root_url}/apply-template", json={"messages": messages}, timeout=30)
        assert served.status_code == 200
        assert prompts.render("smollm2", messages, add_generation_prompt=True) == served.json()["prompt"]


def test_structured_output_through_llama_cpp_json_schema(smollm2_config):
    """`schema=` on SmolLM2 goes through llama.cpp's native json_schema and comes back valid, parsed."""
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "country": {"type": "string"},
                       "population_millions": {"type": "number"}},
        "required": ["city", "country", "population_millions"],
        "additionalProperties": False,
    }
    with modelswap.Client(smollm2_config) as client:
        for alias in ("smollm2-chat", "smollm2-raw"):
            completion = client.complete("Give the capital of France as JSON with its country and population.",
                                         model=alias, schema=schema, max_tokens=80)
            jsonschema.validate(completion.data, schema)
            assert completion.data == json.loads(completion.text)


def _records(path: Path, n: int) -> Path:
    path.write_text("".join(json.dumps({"id": f"r{i:03d}", "prompt": f"Write one sentence about the number {i}."})
                            + "\n" for i in range(n)))
    return path


def test_a_server_that_dies_mid_batch_stops_it_cleanly_and_the_rerun_ends_exactly_once(tmp_path):
    """SIGKILL the real server mid-batch: the batch stops with the fix in one line, no traceback, every line before
    the stop written; rerun once the server is back: each id exactly once, in order, none failed."""
    port = free_port()
    server = LocalServer(port, model="smollm2", parallel=2, ctx_size=1024)
    config = tmp_path / "c.yaml"
    config.write_text(
        f"default: smol\nproviders:\n  s: {{preset: llamacpp, base_url: '{server.base_url}', "
        "timeout: {connect: 2, read: 60}, retry: {max_retries: 2}}\n"
        "models:\n  smol: {provider: s, model_id: smollm2-135m-instruct, params: {max_tokens: 24, temperature: 0}}\n"
    )
    source, out = _records(tmp_path / "in.jsonl", 40), tmp_path / "out.jsonl"
    command = [sys.executable, "-m", "modelswap", "--config", str(config), "batch", str(source), str(out),
               "--concurrency", "2", "-q"]
    with server:
        batch = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while (not out.exists() or len(out.read_text().splitlines()) < 5) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.process is not None
        server.process.send_signal(signal.SIGKILL)
        stdout, stderr = batch.communicate(timeout=120)
    assert batch.returncode == 1, stdout + stderr
    assert "cannot connect" in stderr and "rerun the same command" in stderr and "Traceback" not in stderr
    written = [json.loads(line) for line in out.read_text().splitlines()]
    assert 5 <= len(written) < 40 and all(row["error"] is None for row in written)

    with LocalServer(port, model="smollm2", parallel=2, ctx_size=1024):
        rerun = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [row["id"] for row in rows] == [f"r{i:03d}" for i in range(40)]
    assert all(row["error"] is None and row["text"] for row in rows)
