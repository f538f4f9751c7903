"""The generated Mage blocks: they compile, follow Mage's conventions, read no key from a runtime variable, use
only template keys Mage knows, and the committed copy in ``mage_blocks/`` matches the generator."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

from modelswap.mage import (
    BLOCKS,
    DRIFT_FIX,
    MAGE_TEMPLATE_KEYS,
    PIPELINE_UUID,
    check_drift,
    render_blocks,
    write_blocks,
)

ROOT = Path(__file__).resolve().parents[3]
DECORATOR = {"data_loader": "data_loader", "transformer": "transformer", "data_exporter": "data_exporter"}
SECRET_LIKE = re.compile(r"(^|_)(api_?key|key|token|secret|password|credentials?|auth|bearer)$", re.IGNORECASE)
# Every pipeline variable a block reads; a new one must be documented (docs/mage.md) and added here.
KNOWN_VARIABLES = {
    "input_path", "output_path", "model", "prompt_column", "template", "system", "concurrency", "temperature",
    "max_tokens", "config_path",
}
# Mage's own CustomBlockTemplate fields (mage_ai/data_preparation/models/custom_templates/custom_block_template.py
# in mage-ai 0.9.80); metadata.yaml with any other key makes Mage drop the template.
MAGE_CUSTOM_BLOCK_TEMPLATE_FIELDS = {
    "block_type", "color", "configuration", "content", "description", "language", "name", "pipeline", "repo_path",
    "tags", "template_uuid", "user",
}


def block_sources() -> dict[str, str]:
    return {path: text for path, text in render_blocks().items() if path.endswith(".py") and text}


def test_render_is_deterministic_and_complete():
    first, second = render_blocks(), render_blocks()
    assert first == second and list(first) == sorted(first)
    expected = {f"pipelines/{PIPELINE_UUID}/metadata.yaml", f"pipelines/{PIPELINE_UUID}/__init__.py"}
    for block in BLOCKS:
        expected |= {
            f"{block.folder}/{block.uuid}.py",
            f"custom_templates/blocks/{block.uuid}/metadata.yaml",
            f"custom_templates/blocks/{block.uuid}/{block.uuid}.py",
        }
    assert set(first) == expected
    assert [b.block_type for b in BLOCKS] == ["data_loader", "transformer", "data_exporter"]
    assert [b.path for b in BLOCKS] == [
        "data_loaders/modelswap_load_prompts.py",
        "transformers/modelswap_complete_rows.py",
        "data_exporters/modelswap_export_completions.py",
    ]


@pytest.mark.parametrize("path", sorted(block_sources()))
def test_blocks_compile(path):
    compile(render_blocks()[path], path, "exec")


@pytest.mark.parametrize("block", BLOCKS, ids=lambda b: b.uuid)
def test_blocks_have_mage_decorator_guard(block):
    tree = ast.parse(block.source)
    decorator = DECORATOR[block.block_type]
    assert f"if '{decorator}' not in globals():\n    from mage_ai.data_preparation.decorators import {decorator}\n" in block.source
    functions = [node for node in tree.body if isinstance(node, ast.FunctionDef)]
    decorated = [f for f in functions if any(isinstance(d, ast.Name) and d.id == decorator for d in f.decorator_list)]
    assert len(decorated) == 1, f"{block.uuid}: exactly one @{decorator} function"
    if block.block_type != "data_exporter":
        assert "if 'test' not in globals():\n    from mage_ai.data_preparation.decorators import test\n" in block.source
        tests = [f for f in functions if any(isinstance(d, ast.Name) and d.id == "test" for d in f.decorator_list)]
        assert [f.name for f in tests] == ["test_output"]


def _variables_read(source: str) -> set[str]:
    """Names read from ``kwargs``: ``kwargs.get('x')``, ``kwargs['x']`` and ``option(kwargs, 'x')``."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "kwargs":
                names |= {a.value for a in node.args[:1] if isinstance(a, ast.Constant) and isinstance(a.value, str)}
            elif node.args and isinstance(node.args[0], ast.Name) and node.args[0].id == "kwargs":
                names |= {a.value for a in node.args[1:2] if isinstance(a, ast.Constant) and isinstance(a.value, str)}
        elif (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id == "kwargs"
              and isinstance(node.slice, ast.Constant)):
            names.add(str(node.slice.value))
    return names


@pytest.mark.parametrize("block", BLOCKS, ids=lambda b: b.uuid)
def test_no_secret_is_read_from_runtime_variables(block):
    read = _variables_read(block.source)
    assert read, "the scan found no kwargs reads: it is broken"
    assert read <= KNOWN_VARIABLES, f"undocumented pipeline variables: {sorted(read - KNOWN_VARIABLES)}"
    assert not [name for name in read if SECRET_LIKE.search(name)], "a key must never come from a runtime variable"
    # No dynamic reads either (a loop over kwargs picking values), except the transformer's warning, which only
    # looks at names.
    for node in ast.walk(ast.parse(block.source)):
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id == "kwargs":
            assert isinstance(node.slice, ast.Constant), "kwargs read with a computed name"


def test_transformer_takes_secrets_only_from_env_or_guarded_mage_secrets():
    (transformer,) = [b for b in BLOCKS if b.block_type == "transformer"]
    source = transformer.source
    assert (
        "try:\n    from mage_ai.data_preparation.shared.secrets import get_secret_value\n"
        "except ImportError:" in source
    )
    tree = ast.parse(source)
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
             and n.func.id == "get_secret_value"]
    assert len(calls) == 1 and isinstance(calls[0].args[0], ast.Name), "the secret's name is the key's env var name"
    # Nothing that holds a key value is printed: the only prints are f-strings over counts, names and aliases.
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print":
            names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
            assert not names & {"value", "key", "secret"}, ast.unparse(node)
    for block in BLOCKS:
        assert "api_key_override" not in block.source, "keys reach modelswap through the environment only"


def test_template_metadata_uses_only_mage_keys():
    assert MAGE_TEMPLATE_KEYS <= MAGE_CUSTOM_BLOCK_TEMPLATE_FIELDS
    files = render_blocks()
    for block in BLOCKS:
        metadata = yaml.safe_load(files[f"custom_templates/blocks/{block.uuid}/metadata.yaml"])
        assert set(metadata) <= MAGE_TEMPLATE_KEYS, sorted(set(metadata) - MAGE_TEMPLATE_KEYS)
        assert metadata["block_type"] == block.block_type and metadata["language"] == "python"
        assert metadata["name"] and metadata["description"]
        # The code sits next to it as <template_uuid>.py, where Mage's load_template_content looks.
        assert files[f"custom_templates/blocks/{block.uuid}/{block.uuid}.py"] == files[block.path]


def test_template_code_is_jinja_safe():
    """Mage renders a custom template's code with Jinja before it creates the block."""
    for block in BLOCKS:
        assert not re.search(r"\{\{|\{%|\{#", block.source), f"{block.uuid}: Jinja would rewrite this"
    jinja2 = pytest.importorskip("jinja2")
    for block in BLOCKS:
        assert jinja2.Template(block.source).render() == block.source.rstrip("\n")


def test_pipeline_wires_loader_transformer_exporter():
    files = render_blocks()
    pipeline = yaml.safe_load(files[f"pipelines/{PIPELINE_UUID}/metadata.yaml"])
    assert pipeline["uuid"] == PIPELINE_UUID and pipeline["type"] == "python"
    blocks = pipeline["blocks"]
    assert [b["uuid"] for b in blocks] == [b.uuid for b in BLOCKS]
    by_uuid = {b["uuid"]: b for b in blocks}
    for spec, entry in zip(BLOCKS, blocks):
        assert entry["type"] == spec.block_type and entry["language"] == "python"
        assert f"{entry['type']}s/{entry['uuid']}.py" in files, "the block's file is generated where Mage looks"
        for up in entry["upstream_blocks"]:
            assert entry["uuid"] in by_uuid[up]["downstream_blocks"]
        for down in entry["downstream_blocks"]:
            assert entry["uuid"] in by_uuid[down]["upstream_blocks"]
    assert blocks[0]["upstream_blocks"] == [] and blocks[-1]["downstream_blocks"] == []
    variables = pipeline["variables"]
    # Empty: the environment, then the config's default; a default alias here would hide MODELSWAP_MODEL.
    assert variables["model"] == ""
    assert set(variables) <= KNOWN_VARIABLES
    assert not [name for name in variables if SECRET_LIKE.search(name)]


def test_committed_blocks_match_the_generator():
    problems = check_drift(ROOT / "mage_blocks")
    assert not problems, "mage_blocks/ is out of date; run `" + DRIFT_FIX + "`:\n" + "\n".join(problems)
    assert (ROOT / "mage_blocks" / "__init__.py").is_file(), "mage_blocks/ is the package modelswap.mage_blocks"


def test_check_drift_reports_changed_missing_and_stale_files(tmp_path):
    written = write_blocks(tmp_path)
    assert written == sorted(written) and {p.relative_to(tmp_path).as_posix() for p in written} == set(render_blocks())
    (tmp_path / "__init__.py").write_text('"""package"""\n')
    (tmp_path / "transformers" / "__pycache__").mkdir()
    (tmp_path / "transformers" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\0")
    assert check_drift(tmp_path) == []

    (tmp_path / BLOCKS[1].path).write_text("# edited by hand\n")
    (tmp_path / BLOCKS[0].path).unlink()
    (tmp_path / "data_loaders" / "modelswap_old_block.py").write_text("")
    assert check_drift(tmp_path) == [
        f"{BLOCKS[0].path}: missing",
        f"{BLOCKS[1].path}: differs from the generated text",
        "data_loaders/modelswap_old_block.py: not generated (stale)",
    ]


def test_write_blocks_into_a_project_touches_nothing_else(tmp_path):
    own = tmp_path / "data_loaders" / "my_loader.py"
    own.parent.mkdir()
    own.write_text("mine\n")
    write_blocks(tmp_path)
    assert own.read_text() == "mine\n"
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.is_file()}
    write_blocks(tmp_path)  # unchanged text: not rewritten
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.is_file()} == before
