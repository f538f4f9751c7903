"""Fail when a test skipped for a reason outside tests/skip_allowlist.txt; print the skip counts either way.

    python .ci/check_skips.py PYTEST_OUTPUT_LOG [ALLOWLIST]

Reads pytest's short summary (``-ra``, set in pyproject.toml): ``SKIPPED [n] path:line: reason``.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

SKIPPED = re.compile(r"^SKIPPED \[(\d+)\] ([^:]+:\d+): (.*)$")


def main(argv: list[str]) -> int:
    log = Path(argv[1]).read_text(encoding="utf-8", errors="replace")
    allowlist = Path(argv[2] if len(argv) > 2 else Path(__file__).resolve().parents[1] / "tests" / "skip_allowlist.txt")
    patterns = [re.compile(line) for line in allowlist.read_text(encoding="utf-8").splitlines()
                if line.strip() and not line.lstrip().startswith("#")]
    allowed = refused = 0
    for line in log.splitlines():
        match = SKIPPED.match(line.strip())
        if not match:
            continue
        count, where, reason = int(match.group(1)), match.group(2), match.group(3)
        if any(p.search(reason) for p in patterns):
            allowed += count
        else:
            refused += count
            print(f"CI: {count} test(s) at {where} skipped for a reason not in {allowlist.name}: {reason}",
                  file=sys.stderr)
    print(f"CI: {allowed} skip(s) allowed by {allowlist.name}, {refused} not allowed.")
    return 1 if refused else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
