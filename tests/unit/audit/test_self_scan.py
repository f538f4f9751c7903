"""The audit of this repository itself: it finishes, quickly, and finds the fixture's findings from above too."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from modelswap import audit

REPO = Path(__file__).resolve().parents[3]
HERE = Path(__file__).parent
FIXTURE_PREFIX = "tests/unit/audit/fixture_repo/"


def test_the_audit_of_this_repository(capsys) -> None:
    report = audit.scan(REPO)
    assert report.files_scanned > 100 and report.seconds < 60
    summary = report.summary()
    with capsys.disabled():
        print(f"\naudit of {REPO}: {summary['findings']} findings, {summary['hard_coded']} hard-coded "
              f"({summary['by_kind']}), {report.files_scanned} files, {report.bytes_scanned / 1e6:.1f} MB "
              f"in {report.seconds:.2f} s")
    assert report.hard_coded  # the tests and the presets name real models and endpoints, by design
    # Scanned from the top, the fixture gives exactly what it gives scanned alone.
    expected = json.loads((HERE / "expected.json").read_text())["findings"]
    inside = sorted((f.file[len(FIXTURE_PREFIX):], f.line, f.kind, f.match, f.status)
                    for f in report.findings if f.file.startswith(FIXTURE_PREFIX))
    assert inside == sorted((e["file"], e["line"], e["kind"], e["match"], e["status"]) for e in expected)
    # Nothing under the directories the repository ignores.
    assert not any(f.file.startswith((".venv/", "build/", "dist/")) or "__pycache__" in f.file for f in report.findings)


def test_the_benchmark_runs(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "bench_audit.py"), "--quick", "--no-save", "--no-rg",
         "--corpus", str(tmp_path / "corpus")],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "| modelswap audit scan() | 1 |" in done.stdout
    assert "Injected findings found:" in done.stdout and "MISSED" not in done.stdout
