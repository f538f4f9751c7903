"""Stands in for ``gcloud auth print-access-token`` in the Vertex tests: prints a new token, counts its runs.

usage: python fake_token_command.py COUNTER_FILE [--fail | --empty | --warn]

Every run appends one line to COUNTER_FILE, then prints ``vertex-test-token-<n>-qwertyuiop`` where ``n`` is
the run's number (1, 2, ...), so a test can tell which token a request carried and how often the command ran.
``--fail`` exits 1 with a message on stderr that quotes an OAuth token (which must be redacted),
``--empty`` prints nothing, ``--warn`` prints a warning line before the token, as gcloud sometimes does.
"""

from __future__ import annotations

import sys
from pathlib import Path


def token(run: int) -> str:
    return f"vertex-test-token-{run}-qwertyuiop"


def main(argv: list[str]) -> int:
    counter = Path(argv[0])
    runs = len(counter.read_text().splitlines()) + 1 if counter.exists() else 1
    with counter.open("a") as out:
        out.write("run\n")
    mode = argv[1] if len(argv) > 1 else ""
    if mode == "--fail":
        print(
            "ERROR: (gcloud.auth.print-access-token) cannot refresh ya29.a0Expired-0123456789abcdefghijkl",
            file=sys.stderr,
        )
        return 1
    if mode == "--empty":
        return 0
    if mode == "--warn":
        print("WARNING: this token is for tests only")
    print(token(runs))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
