"""The one-parameter swap on a deployed flow, both ways: the Prefect Variable and a run parameter.

A deployment with a module-path entrypoint (as in prefect.yaml) is applied to the session's Prefect test
server; each flow run is created from the deployment and executed the way a worker does
(`prefect flow-run execute`, which loads the entrypoint from the deployment), in a subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("prefect", reason="the prefect extra is not installed (pip install 'modelswap[prefect]')")

from modelswap.testing import FaultyServer  # noqa: E402


def _execute(run_id: object) -> None:
    from prefect.settings import PREFECT_API_URL

    env = {k: v for k, v in os.environ.items() if not k.startswith(("MODELSWAP_", "MODEL_", "INFERENCE_"))}
    env["PREFECT_API_URL"] = str(PREFECT_API_URL.value())
    done = subprocess.run([sys.executable, "-m", "prefect", "flow-run", "execute", str(run_id)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]


def test_the_swap_works_both_ways_on_a_deployed_flow(prefect_harness, tmp_path: Path) -> None:
    from prefect.deployments import run_deployment
    from prefect.variables import Variable

    from modelswap.flows import batch_inference

    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"id": f"r{i}", "prompt": f"p{i}"}) + "\n" for i in range(5)))
    with FaultyServer() as server:
        config = tmp_path / "modelswap.yaml"
        config.write_text(
            f"default: m1\nproviders:\n  p: {{kind: openai, base_url: '{server.base_url}', api_key_required: false}}\n"
            "models:\n  m1: {provider: p, model_id: stub-a}\n  m2: {provider: p, model_id: stub-b}\n"
        )
        deployment = batch_inference.to_deployment(
            name="swap", parameters={"input": str(source), "output": str(tmp_path / "a.jsonl"), "config": str(config)}
        )
        deployment.entrypoint = "modelswap.flows.batch.batch_inference"  # the module path prefect.yaml uses
        deployment_id = deployment.apply()
        try:
            # 1. `prefect variable set modelswap_model m2`: the next run uses m2, nothing redeployed.
            Variable.set("modelswap_model", "m2", overwrite=True)
            _execute(run_deployment(deployment_id, timeout=0).id)
            assert set(server.models) == {"stub-b"}
            server.models.clear()
            # 2. `prefect deployment run ... -p model=m1`: a run parameter wins over the Variable.
            run = run_deployment(deployment_id, parameters={"model": "m1", "output": str(tmp_path / "b.jsonl")}, timeout=0)
            _execute(run.id)
            assert set(server.models) == {"stub-a"}
        finally:
            Variable.unset("modelswap_model")
    assert len((tmp_path / "a.jsonl").read_text().splitlines()) == 5
    assert [json.loads(line)["model"] for line in (tmp_path / "b.jsonl").read_text().splitlines()] == ["m1"] * 5
