"""`modelswap call` for every provider kind, over real HTTP, against the official contracts.

A loopback stub answers with an official (or documented) example response of the kind's API. The test runs the
CLI as a user would, then checks what the stub received with ``check_request.py`` and what the CLI printed
against what ``check_response.py`` normalises from the same example. One config, one alias per kind: the swap
is the alias on the command line.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import pytest

from modelswap import cli

CONTRACTS = Path(__file__).resolve().parents[1] / "data" / "contracts"  # the facts (see its PROVENANCE.md)
KIT = Path(__file__).resolve().parents[1] / "contracts_kit"  # our check_request.py / check_response.py
EXAMPLES = CONTRACTS / "examples"
KEY = "sk-cli-test-" + "0123456789abcdefghijklmn"


@dataclass
class Kind:
    """One provider kind as the CLI reaches it: its provider config, its API and its example answers."""

    alias: str
    provider: str  # the YAML mapping of the provider, with {url} for the stub's root
    api: str
    response: str
    stream: str | None
    profile: str | None = None
    received: list[tuple[str, dict[str, str], Any]] = field(default_factory=list)


KINDS = [
    Kind("gpt", "{kind: openai, base_url: '{url}/v1', api_key_env: CLI_KEY}", "openai-chat",
         "openai-chat/official-default.response.json", "openai-chat/official-streaming.response.sse", "openai"),
    Kind("claude", "{kind: anthropic, base_url: '{url}/v1', api_key_env: CLI_KEY}", "anthropic-messages",
         "anthropic-messages/docs-message.response.json", "anthropic-messages/sdkfixture-basic_response.response.sse"),
    Kind("gemini", "{kind: gemini, base_url: '{url}/v1beta', api_key_env: CLI_KEY}", "gemini-generate",
         "gemini-generate/constructed-text.response.json", "gemini-generate/constructed-stream.response.sse"),
    Kind("vertex", "{kind: vertex, base_url: '{url}/v1/projects/p/locations/us-central1/publishers/google',"
         " api_key_env: CLI_KEY}", "vertex-generate",
         "vertex-generate/constructed-text.response.json", "gemini-generate/constructed-stream.response.sse"),
    Kind("llama-ollama", "{kind: ollama, base_url: '{url}', api_key_env: CLI_KEY, api_key_required: false}", "ollama-chat",
         "ollama-chat/docs-chat-request-no-streaming.response.json", "ollama-chat/docs-chat-request-streaming.response.ndjson"),
    Kind("gemma-raw", "{kind: completion, profile: llamacpp, base_url: '{url}', api_key_env: CLI_KEY, api_key_required: false}",
         "llamacpp-completion", "llamacpp-completion/constructed.response.json", "llamacpp-completion/constructed-stream.response.sse"),
    Kind("tgi-raw", "{kind: completion, profile: tgi, base_url: '{url}', api_key_env: CLI_KEY, api_key_required: false}",
         "tgi-generate", "tgi-generate/constructed.response.json", "tgi-generate/constructed-stream.response.sse"),
    Kind("instruct", "{kind: completion, base_url: '{url}/v1', api_key_env: CLI_KEY}", "openai-completions",
         "openai-completions/official-no-streaming.response.json", None, "openai"),
]
IDS = [kind.api + ("-" + kind.profile if kind.api == "openai-completions" else "") for kind in KINDS]


class _Stub(BaseHTTPRequestHandler):
    """Records each POST and answers with the current example file."""

    kind: Kind
    answer: Path

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        self.kind.received.append((self.path, {k.lower(): v for k, v in self.headers.items()}, json.loads(body)))
        content = self.answer.read_bytes()
        suffix = self.answer.suffix
        self.send_response(200)
        self.send_header("content-type", {".sse": "text/event-stream", ".ndjson": "application/x-ndjson"}.get(suffix, "application/json"))
        self.send_header("content-length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def stub() -> Iterator[tuple[str, type[_Stub]]]:
    handler = type("Handler", (_Stub,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()


@pytest.fixture
def config(stub: tuple[str, type[_Stub]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for var in ("MODELSWAP_CONFIG", "MODELSWAP_MODEL", "MODEL_PROVIDER", "MODEL_ID", "INFERENCE_ENDPOINT", "API_KEY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CLI_KEY", KEY)
    url = stub[0]
    providers = "\n".join(f"  p-{kind.alias}: {kind.provider.replace('{url}', url)}" for kind in KINDS)
    models = "\n".join(f"  {kind.alias}: {{provider: p-{kind.alias}, model_id: {kind.alias}-model}}" for kind in KINDS)
    path = tmp_path / "modelswap.yaml"
    path.write_text(f"default: gpt\nproviders:\n{providers}\nmodels:\n{models}\n")
    return path


def _reference(api: str, example: Path, profile: str | None) -> dict[str, Any]:
    argv = [sys.executable, str(KIT / "check_response.py"), "--api", api, "--json", str(example)]
    if profile:
        argv[4:4] = ["--profile", profile]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)["normalized"]


def _check_request(kind: Kind, body: Any, tmp_path: Path) -> None:
    path = tmp_path / "request.json"
    path.write_text(json.dumps(body))
    argv = [sys.executable, str(KIT / "check_request.py"), "--api", kind.api, str(path)]
    if kind.profile:
        argv[4:4] = ["--profile", kind.profile]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"{kind.api} request {body} failed the checker:\n{done.stdout}{done.stderr}"


def _run_cli(config: Path, kind: Kind, *flags: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main(["--config", str(config), "call", kind.alias, "Explain AI briefly.", "--system", "Be brief.",
                     "-p", "max_tokens=64", "-p", "temperature=0", *flags])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("kind", KINDS, ids=IDS)
def test_call_sends_a_valid_request_and_prints_the_reference_text(kind, stub, config, tmp_path, capsys):
    kind.received.clear()
    stub[1].kind, stub[1].answer = kind, EXAMPLES / kind.response
    code, out, err = _run_cli(config, kind, "--json", capsys=capsys)
    assert code == 0, err
    printed = json.loads(out)
    reference = _reference(kind.api, EXAMPLES / kind.response, kind.profile)
    assert printed["text"] == reference["text"]
    assert printed["alias"] == kind.alias and printed["model_id"] == kind.alias + "-model"
    assert printed["input_tokens"] == reference["usage"]["input_tokens"]
    assert printed["output_tokens"] == reference["usage"]["output_tokens"]
    (path, headers, body), = kind.received
    _check_request(kind, body, tmp_path)
    assert KEY not in path  # Gemini's key goes in a header, never in the URL
    assert KEY not in out + err


@pytest.mark.parametrize("kind", [k for k in KINDS if k.stream], ids=[i for k, i in zip(KINDS, IDS) if k.stream])
def test_call_stream_prints_the_deltas_of_the_reference_stream(kind, stub, config, tmp_path, capsys):
    kind.received.clear()
    stub[1].kind, stub[1].answer = kind, EXAMPLES / kind.stream
    code, out, err = _run_cli(config, kind, "--stream", capsys=capsys)
    assert code == 0, err
    assert out == _reference(kind.api, EXAMPLES / kind.stream, kind.profile)["text"] + "\n"
    (path, headers, body), = kind.received
    _check_request(kind, body, tmp_path)
    assert KEY not in path
