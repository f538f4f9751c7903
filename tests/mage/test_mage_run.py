"""The real Mage test: the committed blocks (``mage_blocks/``) run under ``mage run`` in a fresh Mage project.

mage-ai 0.9.80 cannot share an environment with Prefect 3, so Mage lives in its own virtualenv, built by
``tests/mage/setup_mage_venv.sh`` at ``$MODELSWAP_MAGE_VENV`` (default
``${XDG_CACHE_HOME:-~/.cache}/modelswap-mage/venv``). Without it these tests skip, saying so; with
``MODELSWAP_REQUIRE_MAGE=1`` they fail instead.

The model endpoint is a :class:`~modelswap.testing.FaultyServer` in this process; Mage runs as a subprocess
and reaches it on loopback through a modelswap config named by ``$MODELSWAP_CONFIG``.
"""

from __future__ import annotations

import csv
import functools
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from modelswap.testing import FaultyServer
from tests._tooling import unavailable

ROOT = Path(__file__).resolve().parents[2]
MAGE_VERSION = "0.9.80"
PIPELINE = "modelswap_batch"
PROMPTS = ["hello", "héllo wörld ✓", "the battery died after two days", "4", "last one"]
RUN_TIMEOUT_S = 300
# Variables of the caller's environment that would choose the model or the config behind the test's back.
SCRUBBED = ("MODELSWAP_MODEL", "MODEL_PROVIDER", "MODEL_ID", "INFERENCE_ENDPOINT", "API_KEY", "MODELSWAP_CONFIG",
            "MODELSWAP_RECORD", "STUB_API_KEY", "CUSTOM_TEMPLATES_DIRECTORY", "MAGE_DATA_DIR")


def mage_venv() -> Path:
    """Where the Mage virtualenv is: ``$MODELSWAP_MAGE_VENV``, else the default cache path."""
    explicit = os.environ.get("MODELSWAP_MAGE_VENV")
    if explicit:
        return Path(explicit)
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "modelswap-mage" / "venv"


_unavailable = functools.partial(unavailable, "MODELSWAP_REQUIRE_MAGE")


@pytest.fixture(scope="module")
def mage_python() -> Path:
    """The Mage venv's interpreter, with mage-ai 0.9.80 and this checkout's modelswap importable."""
    venv = mage_venv()
    python = venv / "bin" / "python"
    how = "build it with `bash tests/mage/setup_mage_venv.sh` (or point MODELSWAP_MAGE_VENV at one)"
    if not python.is_file():
        _unavailable(f"no Mage virtualenv at {venv}: {how}")
    probe = (
        "import importlib.metadata as m, mage_ai, modelswap, modelswap.batch; "
        "print(m.version('mage-ai')); print(modelswap.__file__)"
    )
    found = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, timeout=120, check=False)
    if found.returncode != 0:
        _unavailable(f"the Mage virtualenv at {venv} cannot import mage_ai and modelswap: {how}\n{found.stderr[-1500:]}")
    version, modelswap_file = found.stdout.split()
    if version != MAGE_VERSION:
        _unavailable(f"the Mage virtualenv at {venv} has mage-ai {version}, not {MAGE_VERSION}: {how}")
    if Path(modelswap_file).resolve() != (ROOT / "modelswap" / "__init__.py").resolve():
        # The venv is shared between checkouts (a CI clone, a work tree): point its editable modelswap here,
        # exactly as the setup script does, so the code under test is this checkout's.
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--disable-pip-version-check", "-e", str(ROOT)],
            check=True, capture_output=True, timeout=300,
        )
    return python


@pytest.fixture(scope="module")
def stub() -> Iterator[FaultyServer]:
    with FaultyServer() as server:
        yield server


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mage")


@pytest.fixture(scope="module")
def base_env(workdir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
    env["MAGE_DATA_DIR"] = str(workdir / "mage_data")
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.fixture(scope="module")
def project(mage_python: Path, workdir: Path, base_env: dict[str, str]) -> Path:
    """A fresh Mage project (``mage init``) with the committed blocks, templates and pipeline copied in."""
    init = subprocess.run(
        [str(mage_python), "-m", "mage_ai.cli.main", "init", "project"],
        cwd=workdir, env=base_env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False,
    )
    assert init.returncode == 0, init.stdout[-3000:] + init.stderr[-3000:]
    root = workdir / "project"
    assert (root / "metadata.yaml").is_file(), "mage init made no project"
    install_blocks(root)
    return root


def install_blocks(project_root: Path) -> None:
    """Copy ``mage_blocks/`` into a Mage project, as docs/mage.md tells users to."""
    source = ROOT / "mage_blocks"
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        if not path.is_file() or relative.as_posix() == "__init__.py" or "__pycache__" in relative.parts:
            continue
        target = project_root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)


@pytest.fixture(scope="module")
def input_path(workdir: Path) -> Path:
    path = workdir / "prompts.jsonl"
    with path.open("w", encoding="utf-8") as handle:
        for index, prompt in enumerate(PROMPTS, 1):
            handle.write(json.dumps({"id": f"r{index}", "prompt": prompt}, ensure_ascii=False) + "\n")
    return path


def write_config(path: Path, stub: FaultyServer, *, key_env: str | None = None, retries: int | None = None) -> Path:
    """A modelswap config: one provider (the stub) and two aliases, m1 (the default) and m2."""
    provider = f"kind: openai, base_url: '{stub.base_url}', " + (
        f"api_key_env: {key_env}" if key_env else "api_key_required: false"
    )
    if retries is not None:
        provider += f", retry: {{max_retries: {retries}}}"
    path.write_text(
        "version: 1\n"
        "default: m1\n"
        "providers:\n"
        f"  stub: {{{provider}}}\n"
        "models:\n"
        "  m1: {provider: stub, model_id: stub-a}\n"
        "  m2: {provider: stub, model_id: stub-b}\n",
        encoding="utf-8",
    )
    return path


@pytest.fixture(scope="module")
def config(workdir: Path, stub: FaultyServer) -> Path:
    return write_config(workdir / "modelswap.yaml", stub)


def mage_run(
    python: Path, project: Path, variables: dict[str, Any], env: dict[str, str], *extra: str
) -> subprocess.CompletedProcess[str]:
    """``mage run PROJECT modelswap_batch --runtime-vars JSON``, from a directory holding no modelswap.yaml."""
    return subprocess.run(
        [str(python), "-m", "mage_ai.cli.main", "run", str(project), PIPELINE, "--runtime-vars", json.dumps(variables),
         *extra],
        cwd=project.parent, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False,
    )


def assert_ran(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0 and "Pipeline run completed." in result.stdout, (
        f"mage run failed ({result.returncode}):\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    )


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def assert_answered(rows: list[dict[str, Any]], alias: str) -> None:
    assert [row["id"] for row in rows] == [f"r{i}" for i in range(1, len(PROMPTS) + 1)], "one row per input, in order"
    assert [row["text"] for row in rows] == [f"echo:{prompt}" for prompt in PROMPTS]
    assert {row["model"] for row in rows} == {alias}
    assert len({row["model_id"] for row in rows}) == 1 and rows[0]["model_id"]  # which model the alias meant
    assert all(row["error"] in (None, "") for row in rows)
    assert all(int(row["input_tokens"]) == 5 and int(row["output_tokens"]) == 3 for row in rows)
    assert all(float(row["latency_s"]) >= 0 for row in rows)


def test_model_variable_swaps_the_model(mage_python, project, stub, config, input_path, base_env, workdir):
    """The same pipeline, twice; only the runtime variable `model` changes, and so does the model called."""
    env = {**base_env, "MODELSWAP_CONFIG": str(config)}
    output = workdir / "swap.jsonl"
    variables = {"model": "m2", "input_path": str(input_path), "output_path": str(output)}

    stub.models.clear()
    result = mage_run(mage_python, project, variables, env)
    assert_ran(result)
    assert_answered(read_jsonl(output), "m2")
    assert dict(stub.models) == {"stub-b": len(PROMPTS)}
    assert "with m2 (stub/stub-b)" in result.stdout

    stub.models.clear()
    result = mage_run(mage_python, project, {**variables, "model": "m1"}, env)
    assert_ran(result)
    assert_answered(read_jsonl(output), "m1")
    assert dict(stub.models) == {"stub-a": len(PROMPTS)}


def test_no_model_variable_falls_back_to_the_environment(mage_python, project, stub, config, input_path, base_env, workdir):
    """No `model` variable: MODELSWAP_MODEL picks it. Also runs the blocks' @test functions and writes CSV."""
    env = {**base_env, "MODELSWAP_CONFIG": str(config), "MODELSWAP_MODEL": "m2"}
    output = workdir / "fallback.csv"
    stub.models.clear()
    result = mage_run(mage_python, project, {"input_path": str(input_path), "output_path": str(output)}, env, "--test")
    assert_ran(result)
    assert dict(stub.models) == {"stub-b": len(PROMPTS)}
    assert result.stdout.count("1/1 tests passed.") == 2, result.stdout[-3000:]
    with output.open(newline="", encoding="utf-8") as handle:
        assert_answered(list(csv.DictReader(handle)), "m2")


def test_no_model_anywhere_uses_the_config_default(mage_python, project, stub, config, input_path, base_env, workdir):
    env = {**base_env, "MODELSWAP_CONFIG": str(config)}
    output = workdir / "default.jsonl"
    stub.models.clear()
    assert_ran(mage_run(mage_python, project, {"input_path": str(input_path), "output_path": str(output)}, env))
    assert_answered(read_jsonl(output), "m1")
    assert dict(stub.models) == {"stub-a": len(PROMPTS)}


def test_api_key_comes_from_a_mage_secret_never_a_runtime_variable(
    mage_python, project, stub, input_path, base_env, workdir
):
    """A key passed as a runtime variable is ignored (and never printed); a Mage secret of the key's name works."""
    env = {**base_env, "MODELSWAP_CONFIG": str(write_config(workdir / "keyed.yaml", stub, key_env="STUB_API_KEY"))}
    output = workdir / "keyed.jsonl"
    variables = {"input_path": str(input_path), "output_path": str(output)}
    runtime_key = "sk-runtime-variable-0123456789abcdef"
    secret_key = "sk-mage-secret-0123456789abcdef"

    stub.models.clear()
    refused = mage_run(mage_python, project, {**variables, "api_key": runtime_key}, env)
    logs = refused.stdout + refused.stderr
    assert refused.returncode != 0, "the key must not have come from the runtime variable"
    assert "MissingCredentialsError" in logs and "STUB_API_KEY" in logs
    assert "ignoring pipeline variables ['api_key']" in logs
    assert runtime_key not in logs
    assert not stub.models

    store = (
        "import sys\n"
        "from mage_ai.settings.repo import set_repo_path\n"
        "set_repo_path(sys.argv[1])\n"
        "from mage_ai.orchestration.db.database_manager import database_manager\n"
        "database_manager.run_migrations()\n"
        "from mage_ai.orchestration.db import db_connection\n"
        "db_connection.start_session()\n"
        "from mage_ai.data_preparation.shared.secrets import create_secret\n"
        "create_secret('STUB_API_KEY', sys.argv[2])\n"
    )
    stored = subprocess.run([str(mage_python), "-c", store, str(project), secret_key], env=env, cwd=workdir,
                            capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False)
    assert stored.returncode == 0, stored.stderr[-3000:]

    result = mage_run(mage_python, project, variables, env)
    assert_ran(result)
    assert_answered(read_jsonl(output), "m1")
    assert dict(stub.models) == {"stub-a": len(PROMPTS)}
    assert secret_key not in result.stdout + result.stderr


def test_chat_messages_and_template_prompts(mage_python, project, stub, config, base_env, workdir):
    """A prompt column of chat messages is sent as messages; `template` builds the prompt from other columns."""
    env = {**base_env, "MODELSWAP_CONFIG": str(config)}
    source = workdir / "chat.jsonl"
    source.write_text(
        json.dumps({"id": "c1", "prompt": [{"role": "system", "content": "be brief"},
                                           {"role": "user", "content": "chat one"}], "review": "great"}) + "\n"
        + json.dumps({"id": "c2", "prompt": [{"role": "user", "content": "chat two"}], "review": "awful"}) + "\n",
        encoding="utf-8",
    )
    output = workdir / "chat_out.jsonl"
    assert_ran(mage_run(mage_python, project, {"input_path": str(source), "output_path": str(output)}, env))
    assert [row["text"] for row in read_jsonl(output)] == ["echo:chat one", "echo:chat two"]

    variables = {"input_path": str(source), "output_path": str(output), "template": "Sentiment of: {review}"}
    assert_ran(mage_run(mage_python, project, variables, env))
    assert [row["text"] for row in read_jsonl(output)] == ["echo:Sentiment of: great", "echo:Sentiment of: awful"]


def test_a_failing_provider_fills_the_error_column(mage_python, project, stub, input_path, base_env, workdir):
    """Rows the provider fails (after its retries) get `error` and no text; the pipeline still completes."""
    env = {**base_env, "MODELSWAP_CONFIG": str(write_config(workdir / "no_retry.yaml", stub, retries=0))}
    output = workdir / "failed.jsonl"
    stub.faults = {"500": 1.0}
    try:
        result = mage_run(mage_python, project, {"input_path": str(input_path), "output_path": str(output)}, env)
    finally:
        stub.faults = {}
    assert_ran(result)
    rows = read_jsonl(output)
    assert len(rows) == len(PROMPTS)
    assert all(row["text"] is None and row["model"] == "m1" for row in rows)
    assert all(row["error"].startswith("TransientError: ") and "HTTP 500" in row["error"] for row in rows), rows[0]
    assert f"0 rows completed, {len(PROMPTS)} failed" in result.stdout


def test_mage_loads_the_custom_templates(mage_python, project, base_env):
    """Mage's own template discovery finds the three templates, with their types and code."""
    probe = (
        "import dataclasses, json, sys\n"
        "from mage_ai.settings.repo import set_repo_path\n"
        "set_repo_path(sys.argv[1])\n"
        "from mage_ai.data_preparation.models.custom_templates.custom_block_template import CustomBlockTemplate\n"
        "from mage_ai.data_preparation.models.custom_templates.utils import (\n"
        "    flatten_files, get_templates, group_and_hydrate_files)\n"
        "found = group_and_hydrate_files(flatten_files(get_templates('blocks')), CustomBlockTemplate)\n"
        "print(json.dumps({\n"
        "    'fields': sorted(f.name for f in dataclasses.fields(CustomBlockTemplate)),\n"
        "    'templates': {t.template_uuid: {'block_type': t.block_type, 'language': t.language,\n"
        "                                    'content': t.render_template()} for t in found},\n"
        "}))\n"
    )
    result = subprocess.run([str(mage_python), "-c", probe, str(project)], env=base_env, cwd=project.parent,
                            capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])

    from modelswap.mage import BLOCKS, MAGE_TEMPLATE_KEYS

    assert MAGE_TEMPLATE_KEYS <= set(report["fields"]), "a key modelswap writes is not a CustomBlockTemplate field"
    templates = report["templates"]
    for block in BLOCKS:
        assert block.uuid in templates, f"Mage did not load the template {block.uuid}: {sorted(templates)}"
        loaded = templates[block.uuid]
        assert loaded["block_type"] == block.block_type
        assert loaded["language"] == "python"
        # Mage renders the template's code with Jinja, which drops the final newline and nothing else.
        assert loaded["content"] == block.source.rstrip("\n")
