"""batch_inference as a real flow-run process, SIGKILLed mid-run and rerun, against a faulty server.

The subprocess talks to the session's Prefect test server (its API URL is passed in the environment), so each
run is a real flow run with its chunk tasks; the kill lands at a random moment: reading, answering, joining.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("prefect", reason="the prefect extra is not installed (pip install 'modelswap[prefect]')")

from modelswap.testing import FaultyServer  # noqa: E402

RECORDS = 1500
SCRIPT = """
import sys
from modelswap.flows import batch_inference
batch_inference(sys.argv[1], sys.argv[2], prompt_template="{text}", chunk_size=40, concurrency=8, config=sys.argv[3])
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX SIGKILL")
def test_flow_run_survives_sigkill_with_exactly_once_output(prefect_harness, tmp_path: Path) -> None:
    from prefect.settings import PREFECT_API_URL

    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text("".join(json.dumps({"id": f"id-{i}", "text": f"record {i}"}) + "\n" for i in range(RECORDS)))
    chooser = random.Random(3)
    with FaultyServer({"429": 0.05, "500": 0.05, "drop": 0.02, "truncate": 0.02}, seed=9, delay_s=0.02) as server:
        config = tmp_path / "modelswap.yaml"
        config.write_text(
            f"default: m\nproviders:\n  p: {{kind: openai, base_url: '{server.base_url}', api_key_required: false,"
            " retry: {max_retries: 20, initial_backoff_s: 0.001, max_backoff_s: 0.02}}\n"
            "models:\n  m: {provider: p, model_id: stub-model}\n"
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MODELSWAP_", "MODEL_", "INFERENCE_"))}
        env["PREFECT_API_URL"] = str(PREFECT_API_URL.value())
        argv = [sys.executable, "-c", SCRIPT, str(source), str(out), str(config)]
        kills = 0
        for attempt in range(12):
            process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            try:
                _, err = process.communicate(timeout=chooser.uniform(3.0, 7.0) if kills < 3 else 300)
            except subprocess.TimeoutExpired:
                process.send_signal(signal.SIGKILL)
                process.communicate()
                kills += 1
                continue
            assert process.returncode == 0, err[-2000:]
            break
        else:
            pytest.fail("the flow never finished")
    rows = [json.loads(line) for line in out.read_bytes().splitlines()]
    assert [row["id"] for row in rows] == [f"id-{i}" for i in range(RECORDS)]
    assert all(row["error"] is None for row in rows)
    assert not Path(f"{out}.parts").exists()
    assert kills >= 1
