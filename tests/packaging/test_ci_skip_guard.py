""".ci/check_skips.py: CI fails on a skip whose reason is not in tests/skip_allowlist.txt."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GUARD = ROOT / ".ci" / "check_skips.py"
ALLOWLIST = ROOT / "tests" / "skip_allowlist.txt"


def _guard(tmp_path: Path, output: str) -> subprocess.CompletedProcess[str]:
    log = tmp_path / "pytest.log"
    log.write_text(output)
    return subprocess.run([sys.executable, str(GUARD), str(log), str(ALLOWLIST)], capture_output=True, text=True)


def test_missing_tooling_is_allowed(tmp_path):
    done = _guard(tmp_path, "collected 3 items\n"
                  "SKIPPED [2] tests/docker/test_kestra_container.py:43: Kestra container tests: no Docker engine is "
                  "reachable (`docker info` failed: Cannot connect to the Docker daemon)\n"
                  "SKIPPED [1] tests/unit/tasks/test_blocks.py:33: downloads the logo over the network to measure it; "
                  "the test sandbox has no network\n= 10 passed, 3 skipped in 1.0s =\n")
    assert done.returncode == 0, done.stderr
    assert "3 skip(s) allowed" in done.stdout


def test_a_skip_for_missing_data_fails_ci_and_names_the_test(tmp_path):
    done = _guard(tmp_path, "SKIPPED [450] tests/contract/test_gemini.py:24: shared contracts not found\n")
    assert done.returncode == 1
    assert "tests/contract/test_gemini.py:24" in done.stderr and "shared contracts not found" in done.stderr


def test_the_allowlist_is_regular_expressions_with_comments():
    import re

    lines = [line for line in ALLOWLIST.read_text().splitlines() if line.strip() and not line.startswith("#")]
    assert lines and all(re.compile(line) for line in lines)
