"""The wheel installs exactly one import package, `modelswap`, with the design card's folders inside it."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
        check=True, timeout=300,
    )
    (built,) = out.glob("modelswap-*.whl")
    return zipfile.ZipFile(built)


def test_only_top_level_name_is_modelswap(wheel):
    top_level = {name.split("/")[0] for name in wheel.namelist() if not name.split("/")[0].endswith(".dist-info")}
    assert top_level == {"modelswap"}
    (record,) = [n for n in wheel.namelist() if n.endswith(".dist-info/top_level.txt")] or [None]
    if record:
        assert wheel.read(record).decode().split() == ["modelswap"]


@pytest.mark.parametrize("folder", ["flows", "tasks", "plugins", "kestra_templates", "mage_blocks"])
def test_design_card_folders_are_subpackages(wheel, folder):
    assert f"modelswap/{folder}/__init__.py" in wheel.namelist()


def test_schema_and_entry_points_ship(wheel):
    names = wheel.namelist()
    assert "modelswap/schema/config.schema.json" in names
    assert "modelswap/plugins/openai.py" in names
    (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
    text = wheel.read(entry_points).decode()
    assert "modelswap = modelswap.cli:main" in text
    assert "[modelswap.providers]" in text and "openai = modelswap.plugins.openai:OpenAIChat" in text


def test_import_is_lazy():
    """`import modelswap` pulls in none of its heavy dependencies (and never Prefect)."""
    code = "import sys, modelswap; print(sorted(m for m in ('httpx', 'yaml', 'jsonschema', 'prefect') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_core_installs_beside_mage_pins(tmp_path):
    """mage-ai pins typing_extensions==4.11.0, typer==0.9.0 and pydantic<2.10; the core must resolve beside them."""
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "-q", "--report", str(tmp_path / "r.json"),
         str(ROOT), "typing_extensions==4.11.0", "typer==0.9.0", "pydantic<2.10"],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    import json

    names = {item["metadata"]["name"].lower() for item in json.loads((tmp_path / "r.json").read_text())["install"]}
    assert "prefect" not in names and {"httpx", "pyyaml", "jsonschema"} <= names


def test_mage_blocks_ship(wheel):
    from modelswap.mage import render_blocks

    names = set(wheel.namelist())
    assert not [p for p in render_blocks() if f"modelswap/mage_blocks/{p}" not in names]


def test_data_files_ship(wheel):
    names = set(wheel.namelist())
    for data in ("modelswap/migrate/catalog.json", "modelswap/audit/patterns.json", "modelswap/schema/config.schema.json"):
        assert data in names, data
