"""tests/data/contracts is a byte-for-byte copy of the shared contracts' facts, listed in SHA256SUMS, and
tests/data/refresh_contracts.py reports (and with no --check, applies) what changed upstream."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "data" / "contracts"
REFRESH = DATA.parent / "refresh_contracts.py"
OURS = {"SHA256SUMS", "PROVENANCE.md"}  # written here, not copied; golden/ too


def _sums(folder: Path) -> dict[str, str]:
    lines = (folder / "SHA256SUMS").read_text(encoding="utf-8").splitlines()
    return {name: digest for digest, name in (line.split("  ", 1) for line in lines)}


def _facts(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*")
            if p.is_file() and p.name not in OURS and "golden" not in p.relative_to(folder).parts}


def test_sha256sums_lists_every_fact_file_with_its_digest() -> None:
    sums = _sums(DATA)
    assert set(sums) == _facts(DATA)
    groups = {name.split("/")[0] for name in sums}
    assert groups == {"schemas", "examples", "templates", "chat_template_vectors.json"}
    for name, digest in sums.items():
        assert hashlib.sha256((DATA / name).read_bytes()).hexdigest() == digest, name


def test_provenance_names_every_schema_and_template() -> None:
    text = (DATA / "PROVENANCE.md").read_text(encoding="utf-8")
    for path in sorted((DATA / "schemas").glob("*.json")):
        assert f"`{path.name.removesuffix('.schema.json')}`" in text, path.name
    for family in json.loads((DATA / "templates" / "MANIFEST.json").read_text(encoding="utf-8")):
        assert f"`{family}`" in text, family


def _refresh(source: Path, dest: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(REFRESH), str(source), "--dest", str(dest), *flags],
                          capture_output=True, text=True, timeout=120, check=False)


def test_refresh_reports_upstream_changes_then_applies_them(tmp_path: Path) -> None:
    source, dest = tmp_path / "shared", tmp_path / "copy"
    for name in _sums(DATA):
        for root in (source, dest):
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(DATA / name, root / name)
    shutil.copyfile(DATA / "SHA256SUMS", dest / "SHA256SUMS")
    (source / "check_request.py").write_text("code is never copied\n")
    done = _refresh(source, dest, "--check")
    assert done.returncode == 0 and "up to date" in done.stdout, done.stdout + done.stderr

    schema = source / "schemas" / "ollama_chat.request.schema.json"
    doc = json.loads(schema.read_text(encoding="utf-8"))
    doc["x-provenance"]["commit"] = "0" * 40
    schema.write_text(json.dumps(doc), encoding="utf-8")
    (source / "examples" / "ollama-chat" / "docs-new.request.json").write_text("{}\n")
    (source / "templates" / "glm4.jinja").unlink()
    (dest / "examples" / "openai-chat" / "official-default.request.json").write_text("{}\n")  # edited by hand
    before = (dest / "SHA256SUMS").read_bytes()

    done = _refresh(source, dest, "--check")
    report = done.stdout
    assert done.returncode == 1 and "differences found" in report, report + done.stderr
    assert "added  examples/ollama-chat/docs-new.request.json" in report
    assert "removed  templates/glm4.jinja" in report
    assert "changed  schemas/ollama_chat.request.schema.json" in report and "x-provenance.commit:" in report
    assert "local drift  examples/openai-chat/official-default.request.json" in report
    assert (dest / "SHA256SUMS").read_bytes() == before and (dest / "templates" / "glm4.jinja").is_file()

    done = _refresh(source, dest)
    assert done.returncode == 0, done.stdout + done.stderr
    assert _facts(dest) == _facts(source) - {"check_request.py"} == set(_sums(dest))
    assert all(hashlib.sha256((dest / n).read_bytes()).hexdigest() == d for n, d in _sums(dest).items())
    assert (dest / "examples" / "openai-chat" / "official-default.request.json").read_bytes() == (
        DATA / "examples" / "openai-chat" / "official-default.request.json").read_bytes()
    assert _refresh(source, dest, "--check").returncode == 0


def test_refresh_refuses_a_folder_that_is_not_the_contracts(tmp_path: Path) -> None:
    done = _refresh(tmp_path, tmp_path / "copy", "--check")
    assert done.returncode == 2 and "not a contracts folder" in done.stderr
