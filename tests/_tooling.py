"""What the tests need from outside the repository (a local model, Mage's venv, promptfoo), and what happens when it
is missing: the test skips, saying how to get it, unless ``make test``/CI require it (then it fails)."""

from __future__ import annotations

import os

import pytest

__all__ = ["unavailable"]


def unavailable(require_var: str, reason: str) -> None:
    """Skip with ``reason``; fail instead when ``$require_var`` is 1 (``make test`` sets it: CI must run them).

    Raises:
        pytest.fail.Exception / pytest.skip.Exception: always.
    """
    if os.environ.get(require_var) == "1":
        pytest.fail(f"{require_var}=1 but {reason}")
    pytest.skip(reason)
