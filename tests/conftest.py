"""Fixtures shared across the test tree."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One temporary Prefect server and database for the whole pytest run; request it only where a backend is
    needed (Variables, caching, real retries, flow runs), since starting it costs 10 s or more."""
    pytest.importorskip("prefect", reason="the prefect extra is not installed (pip install 'modelswap[prefect]')")
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield
