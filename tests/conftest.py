"""Fixtures shared across the test tree."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests._tooling import unavailable


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One temporary Prefect server and database for the whole pytest run; request it only where a backend is
    needed (Variables, caching, real retries, flow runs), since starting it costs 10 s or more."""
    pytest.importorskip("prefect", reason="the prefect extra is not installed (pip install 'modelswap[prefect]')")
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


# -- the real local models ----------------------------------------------------------------------------------------
# One llama-server per family, started once per run the first time a test asks for it. With
# MODELSWAP_REQUIRE_LOCAL=1 (make test, CI) a missing server or model fails the run instead of skipping.


def _start_local(model: str) -> Iterator[object]:
    from modelswap import ConfigError
    from modelswap.local import LocalServer, free_port

    server = LocalServer(port=free_port(), model=model, parallel=2, ctx_size=2048)
    try:
        server.command()
    except ConfigError as exc:
        unavailable("MODELSWAP_REQUIRE_LOCAL", f"local model {model} not installed ({exc})")
    with server:
        yield server


@pytest.fixture(scope="session")
def local_server() -> Iterator[object]:
    """llama-server with Gemma 3 270M (a base model) on a free loopback port."""
    yield from _start_local("gemma")


@pytest.fixture(scope="session")
def smollm2_server() -> Iterator[object]:
    """llama-server with SmolLM2-135M-Instruct on a free loopback port."""
    yield from _start_local("smollm2")


@pytest.fixture
def swap_config(tmp_path, local_server, smollm2_server):
    """The built-in config file (gemma-raw, gemma-chat, smollm2-chat, smollm2-raw; default gemma-raw) pointed at
    both real servers: the pair a family swap moves between."""
    import yaml

    from modelswap._presets import default_config

    path = tmp_path / "modelswap.yaml"
    path.write_text(yaml.safe_dump(default_config(local_server.root_url, smollm2_url=smollm2_server.root_url),
                                   sort_keys=False))
    return path
