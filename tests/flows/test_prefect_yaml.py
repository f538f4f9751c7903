"""prefect.yaml: module-path entrypoints that load, and parameters every flow accepts."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

pytest.importorskip("prefect", reason="the prefect extra is not installed (pip install 'modelswap[prefect]')")

ROOT = Path(__file__).resolve().parents[2]
DEPLOYMENTS = yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]


@pytest.mark.parametrize("deployment", DEPLOYMENTS, ids=[d["name"] for d in DEPLOYMENTS])
def test_entrypoint_is_a_module_path_to_a_flow_that_accepts_the_parameters(deployment):
    from prefect.flows import Flow, load_flow_from_entrypoint

    entrypoint = deployment["entrypoint"]
    assert ":" not in entrypoint and not entrypoint.endswith(".py"), "a module path, not a file path"
    assert entrypoint.startswith("modelswap.flows.")
    flow = load_flow_from_entrypoint(entrypoint)
    assert isinstance(flow, Flow)
    flow.validate_parameters(deployment.get("parameters") or {})
    # The one parameter: `model` for flows that call one model; the comparison flows name the roles instead.
    assert {"model", "baseline", "candidate", "fallback"} & set(flow.parameters.properties)
