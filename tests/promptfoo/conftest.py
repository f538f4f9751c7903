"""promptfoo itself, for the parity tests: modelswap's promptfoo import must mean what promptfoo means.

promptfoo 0.123.1 (with Node 24 from PyPI) is installed outside the clone by ``tests/promptfoo/setup_promptfoo.sh``
(``make promptfoo-env``; ``make test`` runs it) into ``$MODELSWAP_PROMPTFOO_HOME`` (default
``${XDG_CACHE_HOME:-~/.cache}/modelswap-promptfoo``). Without it these tests skip, saying so; with
``MODELSWAP_REQUIRE_PROMPTFOO=1`` (``make test``, CI) they fail instead.

Fixtures:
    promptfoo: the install (:class:`pfkit.Promptfoo`), checked once by running ``--version``.
    run_promptfoo: ``run_promptfoo(config_path, out_json, extra_env=None)`` runs
        ``node main.js eval -c CONFIG --no-cache --no-write -j 1 -o OUT --no-table`` in a private promptfoo
        home (no telemetry, no update check) and returns the results sorted by (testIdx, promptIdx).
The code lives in ``pfkit.py`` (plain Python, also loaded by ``bench/bench_promptfoo.py``).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from tests._tooling import unavailable
from tests.promptfoo import pfkit


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "promptfoo: runs promptfoo 0.123.1 itself (installed by `make promptfoo-env`)")


_unavailable = functools.partial(unavailable, "MODELSWAP_REQUIRE_PROMPTFOO")


@pytest.fixture(scope="session")
def promptfoo() -> Any:
    """promptfoo 0.123.1; skips with the reason (fails under ``MODELSWAP_REQUIRE_PROMPTFOO=1``) when absent."""
    kit = pfkit
    found, reason = kit.find_promptfoo()
    if found is None:
        _unavailable(reason)
    try:
        version, proc = found.version()
    except OSError as exc:
        _unavailable(f"promptfoo {kit.PROMPTFOO_VERSION} is not installed: run `make promptfoo-env` "
                     f"({found.node} cannot start: {exc})")
    if version != kit.PROMPTFOO_VERSION:
        _unavailable(f"promptfoo {kit.PROMPTFOO_VERSION} is not installed: run `make promptfoo-env` ({found.main} "
                     f"--version printed {version!r}, exit {proc.returncode}; {proc.stderr[-800:]})")
    return found


@pytest.fixture(scope="session")
def run_promptfoo(promptfoo: Any) -> Callable[..., list[dict[str, Any]]]:
    """``run_promptfoo(config_path, out_json, extra_env=None)``: promptfoo's results sorted by (testIdx, promptIdx)."""

    def run(config_path: str | os.PathLike[str], out_json: str | os.PathLike[str],
            extra_env: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
        return promptfoo.run(config_path, out_json, extra_env)

    return run
