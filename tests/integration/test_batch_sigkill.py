"""`modelswap batch` killed with SIGKILL again and again, against a server that fails in every way it can.

The process runs for real (a subprocess); the server injects 429s, 500s, dropped connections and truncated
bodies. Whatever moment the kill lands on, the reruns end with every id exactly once, in input order, and no
torn line.
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

from modelswap.testing import FaultyServer

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX SIGKILL")

RECORDS = 600


def test_batch_survives_repeated_sigkill_with_exactly_once_output(tmp_path: Path) -> None:
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text("".join(json.dumps({"id": f"id-{i}", "prompt": f"record {i}"}) + "\n" for i in range(RECORDS)))
    faults = {"429": 0.05, "500": 0.05, "drop": 0.03, "truncate": 0.03}
    chooser = random.Random(11)
    with FaultyServer(faults, seed=5, delay_s=0.003) as server:
        config = tmp_path / "modelswap.yaml"
        config.write_text(
            f"default: m\nproviders:\n  p: {{kind: openai, base_url: '{server.base_url}', api_key_required: false,"
            " retry: {max_retries: 20, initial_backoff_s: 0.001, max_backoff_s: 0.02}}\n"
            "models:\n  m: {provider: p, model_id: stub-model}\n"
        )
        env = {k: v for k, v in os.environ.items() if k not in ("MODELSWAP_MODEL", "MODEL_PROVIDER", "MODEL_ID", "INFERENCE_ENDPOINT")}
        argv = [sys.executable, "-m", "modelswap", "--config", str(config), "batch", str(source), str(out),
                "--concurrency", "8", "-q"]
        kills = 0
        for _ in range(40):
            process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            try:
                code = process.wait(timeout=chooser.uniform(0.4, 1.2) if kills < 6 else 120)
            except subprocess.TimeoutExpired:
                process.send_signal(signal.SIGKILL)
                process.wait()
                kills += 1
                continue
            finally:
                process.stdout.close()
                process.stderr.close()
            assert code == 0, f"batch exited {code}"
            break
        else:
            pytest.fail("the batch never finished")
    assert kills >= 3, "the kills all landed after the batch had finished; slow the server down"
    raw = out.read_bytes()
    assert raw.endswith(b"\n")
    rows = [json.loads(line) for line in raw.splitlines()]
    assert [row["id"] for row in rows] == [f"id-{i}" for i in range(RECORDS)]
    assert all(row["error"] is None and row["text"] == f"echo:record {row['id'][3:]}" for row in rows)
    assert server.counts["drop"] and server.counts["truncate"] and server.counts["429"] and server.counts["500"]
