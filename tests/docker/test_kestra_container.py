"""The generated flows in a real Kestra (docker-compose.yml beside this file, started by pytest-docker).

Every flow is validated and imported through Kestra's REST API (``/api/v1/main/...``: the OSS tenant is
``main``), then ``llm_call`` runs against a local OpenAI-compatible stub (:class:`modelswap.testing.FaultyServer`)
that the container reaches as ``host.docker.internal``. The whole module is skipped when no Docker engine answers.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from modelswap.kestra import DEFAULT_NAMESPACE, FLOW_IDS, render_flows
from modelswap.testing import FaultyServer


def _why_no_docker() -> str | None:
    if shutil.which("docker") is None:
        return "the docker CLI is not installed"
    try:
        info = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"`docker info` did not answer ({exc.__class__.__name__})"
    if info.returncode != 0:
        last = (info.stderr.strip().splitlines() or ["no output"])[-1]
        return f"no Docker engine is reachable (`docker info` failed: {last})"
    compose = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True, timeout=30,
                             check=False)
    if compose.returncode != 0:
        return "`docker compose` (Compose v2) is not available"
    return None


_NO_DOCKER = _why_no_docker()
pytestmark = pytest.mark.skipif(_NO_DOCKER is not None, reason=f"Kestra container tests: {_NO_DOCKER}")

HERE = Path(__file__).resolve().parent
USER = os.environ.get("KESTRA_TEST_USER", "modelswap@example.com")
PASSWORD = os.environ.get("KESTRA_TEST_PASSWORD", "Modelswap-test-1")
API_KEY = "modelswap-test-key"  # what SECRET_MODELSWAP_API_KEY in docker-compose.yml decodes to
TERMINAL = {"SUCCESS", "WARNING", "FAILED", "KILLED", "CANCELLED"}


@pytest.fixture(scope="session")
def docker_compose_file() -> str:
    return str(HERE / "docker-compose.yml")


@pytest.fixture(scope="session")
def docker_compose_project_name() -> str:
    return "modelswap-kestra-test"


@pytest.fixture(scope="session")
def kestra(docker_ip: str, docker_services: Any) -> Iterator[Any]:
    """An httpx client on the container's API, once Kestra answers an authenticated request."""
    import httpx

    base = f"http://{docker_ip}:{docker_services.port_for('kestra', 8080)}"
    client = httpx.Client(base_url=base, auth=(USER, PASSWORD), timeout=60)

    def ready() -> bool:
        try:
            return client.get("/api/v1/main/flows/search").status_code == 200
        except httpx.HTTPError:
            return False

    docker_services.wait_until_responsive(check=ready, timeout=300.0, pause=2.0)
    yield client
    client.close()


def _docker_bridge_gateway() -> str:
    """The host's address on Docker's default bridge, which host.docker.internal (host-gateway) resolves to."""
    out = subprocess.run(
        ["docker", "network", "inspect", "bridge", "-f", "{{(index .IPAM.Config 0).Gateway}}"],
        capture_output=True, text=True, timeout=30, check=False,
    )
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else "0.0.0.0"


@dataclass
class Stub:
    server: FaultyServer
    url: str  # the stub's base URL as the container sees it
    headers: list[dict[str, str]]  # of every request, lower-case names


@pytest.fixture()
def stub() -> Iterator[Stub]:
    """A FaultyServer the container can reach: on the host's Docker bridge address, not loopback."""
    try:
        server = FaultyServer(seed=0, host=_docker_bridge_gateway())
    except OSError:  # Docker Desktop: the bridge is inside its VM, and host.docker.internal is the host
        server = FaultyServer(seed=0, host="0.0.0.0")
    with server:
        yield Stub(server, f"http://host.docker.internal:{server.port}/v1", server.headers)


def _import(kestra: Any, text: str, namespace: str, flow_id: str) -> None:
    headers = {"Content-Type": "application/x-yaml"}
    created = kestra.post("/api/v1/main/flows", content=text.encode(), headers=headers)
    if created.status_code in (409, 422) and "exists" in created.text.lower():
        created = kestra.put(f"/api/v1/main/flows/{namespace}/{flow_id}", content=text.encode(), headers=headers)
    assert created.status_code == 200, created.text
    assert created.json()["id"] == flow_id


def test_every_flow_validates_and_imports(kestra: Any) -> None:
    flows = render_flows()
    validated = kestra.post(
        "/api/v1/main/flows/validate", content="\n---\n".join(flows.values()).encode(),
        headers={"Content-Type": "application/x-yaml"},
    )
    assert validated.status_code == 200, validated.text
    results = validated.json()
    assert len(results) == len(FLOW_IDS)
    for result in results:
        assert not result.get("constraints"), result
        assert not result.get("warnings"), result
        assert not result.get("deprecationPaths"), result
    for name, text in flows.items():
        _import(kestra, text, DEFAULT_NAMESPACE, name[: -len(".yaml")])
    listed = kestra.get(f"/api/v1/main/flows/{DEFAULT_NAMESPACE}/llm_call")
    assert listed.status_code == 200, listed.text


def test_llm_call_runs_against_the_stub_with_the_model_from_the_input(kestra: Any, stub: Stub) -> None:
    _import(kestra, render_flows()["llm_call.yaml"], DEFAULT_NAMESPACE, "llm_call")
    model = "stub-model-from-input"
    inputs = {"model": model, "endpoint": stub.url, "prompt": "Name a colour.", "system": "Be terse."}
    started = kestra.post(
        f"/api/v1/main/executions/{DEFAULT_NAMESPACE}/llm_call",
        params={"wait": "true"},
        files={name: (None, value) for name, value in inputs.items()},  # multipart/form-data fields
        timeout=300,
    )
    assert started.status_code == 200, started.text
    execution = started.json()
    deadline = time.monotonic() + 300
    while execution["state"]["current"] not in TERMINAL and time.monotonic() < deadline:
        time.sleep(1)
        execution = kestra.get(f"/api/v1/main/executions/{execution['id']}").json()
    assert execution["state"]["current"] == "SUCCESS", execution
    assert stub.server.models[model] == 1  # the stub saw the model the input named
    assert stub.headers[-1]["authorization"] == f"Bearer {API_KEY}"  # the key came from secret()
    assert execution.get("outputs", {}).get("answer") == "echo:Name a colour."
