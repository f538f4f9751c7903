"""The family swap under a real Mage pipeline: ``mage run`` of the example pipeline that ``modelswap mage render``
writes, against the two real local models (llama.cpp servers, ``swap_config``), first with the runtime variable
``model=smollm2-chat``, then with only that variable changed to ``gemma-raw``.

The Mage virtualenv, its skip (or failure with ``MODELSWAP_REQUIRE_MAGE=1``) and the ``mage run`` helpers are
test_mage_run.py's; the servers skip (or fail with ``MODELSWAP_REQUIRE_LOCAL=1``) as tests/conftest.py says.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.mage.test_mage_run import (  # noqa: F401 (base_env, mage_python and workdir are fixtures)
    PIPELINE,
    RUN_TIMEOUT_S,
    assert_ran,
    base_env,
    mage_python,
    mage_run,
    read_jsonl,
    workdir,
)

pytestmark = pytest.mark.local_model

# examples/swap/suite.yaml's prompt: one text both families answer (Gemma raw few-shot, SmolLM2 as a chat message).
TEMPLATE = ("Answer each question with one word or one number.\n\nQuestion: What is the capital of Japan?\n"
            "Answer: Tokyo\n\nQuestion: {question}\nAnswer:")
QUESTIONS = ["What is the capital of France?", "What is the capital of Italy?", "What is the opposite of hot?"]
# alias -> (model id, provider name in the built-in config, the session fixture of its server)
FAMILIES = {
    "smollm2-chat": ("smollm2-135m-instruct", "local-smollm2", "smollm2_server"),
    "gemma-raw": ("gemma-3-270m", "local-raw", "local_server"),
}


@pytest.fixture(scope="module")
def project(mage_python: Path, workdir: Path, base_env: dict[str, str]) -> Path:
    """A fresh Mage project (``mage init``) with the blocks and pipeline ``modelswap mage render`` writes."""
    init = subprocess.run([str(mage_python), "-m", "mage_ai.cli.main", "init", "project"], cwd=workdir, env=base_env,
                          capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False)
    assert init.returncode == 0, init.stdout[-3000:] + init.stderr[-3000:]
    root = workdir / "project"
    render = subprocess.run([sys.executable, "-m", "modelswap", "mage", "render", "--out", str(root)],
                            capture_output=True, text=True, timeout=120, check=False)
    assert render.returncode == 0, render.stderr[-3000:]
    assert str(root / "pipelines" / PIPELINE / "metadata.yaml") in render.stdout.splitlines()
    return root


def _tasks_served(server) -> int:  # noqa: ANN001 (a modelswap.local.LocalServer)
    """How many requests a llama-server has taken: its log has one `processing task` line for each."""
    return server.log_path.read_text(errors="replace").count("processing task")


def test_the_model_variable_swaps_the_model_family(mage_python, project, base_env, workdir, request):
    # The servers start only now that the Mage venv is known to be there (a skip costs no model load).
    config = request.getfixturevalue("swap_config")
    servers = {alias: request.getfixturevalue(fixture) for alias, (_, _, fixture) in FAMILIES.items()}
    source, output = workdir / "questions.jsonl", workdir / "answers.jsonl"
    source.write_text("".join(json.dumps({"id": f"q{i}", "question": q}) + "\n" for i, q in enumerate(QUESTIONS, 1)))
    env = {**base_env, "MODELSWAP_CONFIG": str(config)}
    variables = {"input_path": str(source), "output_path": str(output), "template": TEMPLATE, "concurrency": 2}

    answers = {}
    for alias, (model_id, provider, _) in FAMILIES.items():  # smollm2-chat, then gemma-raw: only `model` changes
        before = {name: _tasks_served(server) for name, server in servers.items()}
        result = mage_run(mage_python, project, {**variables, "model": alias}, env)
        assert_ran(result)
        assert f"completing {len(QUESTIONS)} rows with {alias} ({provider}/{model_id})" in result.stdout
        rows = read_jsonl(output)
        assert [row["id"] for row in rows] == [f"q{i}" for i in range(1, len(QUESTIONS) + 1)]
        assert all(row["model"] == alias and row["error"] in (None, "") for row in rows), rows
        assert all(isinstance(row["text"], str) and row["text"].strip() for row in rows), rows
        assert all(int(row["output_tokens"]) > 0 and row["cost"] == 0 for row in rows), rows
        served = {name: _tasks_served(server) - before[name] for name, server in servers.items()}
        assert served == {name: len(QUESTIONS) if name == alias else 0 for name in servers}, "the wrong server answered"
        answers[alias] = [row["text"] for row in rows]
    assert "Paris" in answers["smollm2-chat"][0] and answers["gemma-raw"][0].strip() == "Paris", answers
