"""The audit on a repository whose every model dependency is known (``fixture_repo/`` and ``expected.json``).

The files that ``.gitignore``, a nested ``.gitignore`` and ``.git/info/exclude`` hide are written by the test
into a copy of the fixture (git honours the same rules, so they cannot be committed), with skipped directories,
a binary and an oversized file; none of them may show up.
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest

from modelswap import audit

HERE = Path(__file__).parent
FIXTURE = HERE / "fixture_repo"
EXPECTED = json.loads((HERE / "expected.json").read_text())["findings"]

# Findings in every one of these would be reported if the walk did not skip them.
HIDDEN = {
    "scratch/experiment.py": 'MODEL = "gpt-4o"\n',                        # .gitignore: scratch/
    "notes.local.py": 'MODEL = "claude-sonnet-4-5"\n',                    # .gitignore: *.local.py
    "build-cache/cached.py": 'MODEL = "gemini-2.5-pro"\n',                # .gitignore: /build-cache
    "app/generated_client.py": 'URL = "https://api.groq.com/openai/v1"\n',  # app/.gitignore: generated_*.py
    "data/private.yaml": "model: mistral-large-latest\n",                 # .git/info/exclude: /data/
    "node_modules/sdk/models.json": '{"model": "gpt-4o"}\n',              # never entered
    ".venv/lib/app.py": 'MODEL = "gpt-4o"\n',
    "tools/venv/lib/app.py": 'MODEL = "gpt-4o"\n',                        # a virtualenv: has pyvenv.cfg
    "app/__pycache__/pipeline.json": '{"model": "gpt-4o"}\n',
}


def _key(finding: dict) -> tuple:
    return finding["file"], finding["line"], finding["kind"], finding["match"]


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("audit") / "repo"
    shutil.copytree(FIXTURE, root)
    (root / ".git" / "info").mkdir(parents=True)
    (root / ".git" / "info" / "exclude").write_text("# local excludes\n/data/\n")
    (root / ".git" / "config.json").write_text('{"model": "gpt-4o"}\n')  # inside .git: never read
    for rel, text in HIDDEN.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (root / "tools" / "venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (root / "assets").mkdir()
    (root / "assets" / "blob.json").write_bytes(b'\x00\x01{"model": "gpt-4o"}')
    (root / "assets" / "huge.json").write_bytes(b'{"model": "gpt-4o"}' + b" " * (5 * 1024 * 1024))
    return root


@pytest.fixture(scope="module")
def report(repo: Path) -> audit.AuditReport:
    return audit.scan(repo)


def test_every_expected_finding_is_found_and_nothing_else(report: audit.AuditReport) -> None:
    found = {_key(f.to_dict()): f for f in report.findings}
    expected = {_key(e): e for e in EXPECTED}
    true_positives = found.keys() & expected.keys()
    recall = len(true_positives) / len(expected)
    precision = len(true_positives) / len(found)
    missing = sorted(expected.keys() - found.keys())
    extra = sorted(found.keys() - expected.keys())
    assert (recall, precision) == (1.0, 1.0), f"missing: {missing}\nunexpected: {extra}"
    assert len(report.findings) == len(found), "a finding was reported twice"


def test_hard_coded_findings_have_full_recall_and_precision(report: audit.AuditReport) -> None:
    found = {_key(f.to_dict()) for f in report.hard_coded}
    expected = {_key(e) for e in EXPECTED if e["status"] == "hard_coded"}
    assert found == expected


def test_status_provider_and_family_match_expected(report: audit.AuditReport) -> None:
    found = {_key(f.to_dict()): f for f in report.findings}
    for entry in EXPECTED:
        finding = found[_key(entry)]
        assert finding.status == entry["status"], (entry, finding.note)
        assert finding.provider == entry.get("provider"), entry
        assert finding.family == entry.get("family"), entry
        assert finding.fix and finding.column >= 1


def test_hidden_and_skipped_files_are_not_reported(report: audit.AuditReport, repo: Path) -> None:
    reported = {f.file for f in report.findings}
    for rel in HIDDEN:
        assert rel not in reported
    assert "assets/blob.json" not in reported and "assets/huge.json" not in reported
    assert report.files_skipped == {"binary": 1, "too_large": 1}
    # The committed fixture files of a scanned type (keep.local.py re-included by `!`), and nothing else.
    assert report.files_scanned == 16


def test_without_gitignore_the_hidden_files_are_reported(repo: Path) -> None:
    report = audit.scan(repo, respect_gitignore=False)
    reported = {f.file for f in report.findings}
    for rel in ("scratch/experiment.py", "notes.local.py", "build-cache/cached.py", "app/generated_client.py",
                "data/private.yaml"):
        assert rel in reported
    # Skipped directories stay skipped either way.
    assert not any(f.startswith(("node_modules/", ".venv/", "tools/venv/", ".git/")) for f in reported)


def test_keys_are_masked_everywhere(report: audit.AuditReport) -> None:
    keys = [f for f in report.findings if f.kind == "api_key"]
    assert keys and all(f.match.endswith("***") and len(f.match) == 7 for f in keys)
    text = audit.format_table(report) + audit.to_json(report) + audit.to_sarif(report)
    assert "THIS-IS-A-FAKE-KEY" not in text and "FAKE-token" not in text and "FAKEfake" not in text


def test_key_in_dotenv_is_hard_coded_with_the_dotenv_fix(report: audit.AuditReport) -> None:
    (key,) = [f for f in report.findings if f.file == ".env" and f.kind == "api_key"]
    assert key.status == "hard_coded" and "do not commit .env" in key.fix
    (model,) = [f for f in report.findings if f.file == ".env" and f.kind == "model_id"]
    assert model.status == "configurable"


def test_fixes_are_specific_to_where_the_value_lives(report: audit.AuditReport) -> None:
    def fix(file: str, line: int) -> str:
        return next(f.fix for f in report.findings if f.file == file and f.line == line)

    assert "MODELSWAP_MODEL" in fix("app/pipeline.py", 6)
    assert "image" in fix("docker/Dockerfile", 2)
    assert "configMapKeyRef" in fix("k8s/deployment.yaml", 13)
    assert "flow input" in fix("kestra/flow.yaml", 10)
    assert "kwargs" in fix("mage/data_loaders/load_reviews.py", 8)
    assert "modelswap.prompts.render" in fix("app/templates.py", 3)
    assert "INFERENCE_ENDPOINT" in fix("app/pipeline.py", 12)
    assert "secretKeyRef" in fix("k8s/deployment.yaml", 27)
    assert fix("modelswap.yaml", 9).startswith("none needed")


def test_notebook_findings_point_at_the_json_line_and_the_cell(report: audit.AuditReport, repo: Path) -> None:
    lines = (repo / "notebooks" / "explore.ipynb").read_text().splitlines()
    notebook = [f for f in report.findings if f.file == "notebooks/explore.ipynb"]
    assert [(f.cell, f.cell_line) for f in notebook] == [(2, 3), (3, 2), (4, 1), (4, 1)]
    for finding in notebook:
        assert finding.file_type == "notebook"
        assert lines[finding.line - 1][finding.column - 1:].startswith(finding.match)
    # Markdown cells and outputs mention gpt-4o; neither is code.
    assert not any(f.match == "gpt-4o" for f in notebook)


def test_a_notebook_on_one_line_falls_back_to_cell_lines(tmp_path: Path) -> None:
    notebook = json.loads((FIXTURE / "notebooks" / "explore.ipynb").read_text())
    (tmp_path / "flat.ipynb").write_text(json.dumps(notebook))
    findings = sorted(audit.scan(tmp_path).findings, key=lambda f: (f.cell, f.column))
    assert [(f.cell, f.cell_line, f.line, f.match) for f in findings] == [
        (2, 3, 3, "claude-sonnet-4-5"), (3, 2, 2, "qwen2.5:7b"), (4, 1, 1, "<start_of_turn>"), (4, 1, 1, "<end_of_turn>")]


def test_columns_point_at_the_match(report: audit.AuditReport, repo: Path) -> None:
    for finding in report.findings:
        if finding.kind == "api_key" or finding.cell is not None:
            continue
        line = (repo / finding.file).read_text().splitlines()[finding.line - 1]
        assert line[finding.column - 1:].startswith(finding.match), finding


def test_parallel_scan_finds_the_same(repo: Path, report: audit.AuditReport) -> None:
    parallel = audit.scan(repo, jobs=2)
    assert parallel.findings == report.findings
    assert (parallel.files_scanned, parallel.bytes_scanned) == (report.files_scanned, report.bytes_scanned)


def test_one_file_can_be_scanned_alone() -> None:
    report = audit.scan(FIXTURE / "docker" / "Dockerfile")
    assert [f.file for f in report.findings] == ["Dockerfile"] * 5
    assert report.files_scanned == 1


def test_table_json_and_summary(report: audit.AuditReport) -> None:
    table = audit.format_table(report)
    assert table.splitlines()[0].startswith(f"modelswap audit: {len(EXPECTED)} findings (")
    assert "app/pipeline.py:6:10" in table and "Fixes:" in table
    data = json.loads(audit.to_json(report))
    assert set(data) == {"findings", "summary"}
    assert all({"file", "line", "kind", "status", "column", "match", "fix"} <= set(f) for f in data["findings"])
    summary = data["summary"]
    assert summary["findings"] == len(EXPECTED)
    assert summary["hard_coded"] == sum(e["status"] == "hard_coded" for e in EXPECTED)
    assert summary["by_kind"]["api_key"] == {"hard_coded": 4, "configurable": 0}
    assert summary["patterns_updated"].startswith("2026-")


def test_run_audit_exit_codes(repo: Path, tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    assert audit.run_audit(str(repo), "json", out, err=err) == 1
    assert json.loads(out.getvalue())["summary"]["hard_coded"] > 0
    clean = tmp_path / "clean"
    clean.mkdir()
    (clean / "app.py").write_text("import modelswap\nprint(modelswap.complete('hi').text)\n")
    (clean / ".env").write_text("MODEL_ID=gpt-4o-mini\n")  # configurable only
    out = io.StringIO()
    assert audit.run_audit(str(clean), "table", out) == 0
    assert "1 findings (0 hard-coded, 1 configurable)" in out.getvalue()
    err = io.StringIO()
    assert audit.run_audit(str(tmp_path / "nope"), "table", io.StringIO(), err=err) == 2
    assert err.getvalue().startswith("error: audit: no such file or directory:")
    err = io.StringIO()
    assert audit.run_audit(str(clean), "xml", io.StringIO(), err=err) == 2
    assert "unknown format 'xml'" in err.getvalue()
    out = io.StringIO()
    assert audit.run_audit(str(clean), "sarif", out) == 0
    assert json.loads(out.getvalue())["version"] == "2.1.0"


def test_scan_of_a_missing_path_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        audit.scan(tmp_path / "nope")
