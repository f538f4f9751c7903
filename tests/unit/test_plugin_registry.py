"""Provider kinds come from the `modelswap.providers` entry points: built-ins and third-party plugins alike."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import httpx
import pytest

import modelswap
from modelswap import _provider
from modelswap._config import loads_config

ROOT = Path(__file__).resolve().parents[2]
BUILT_IN = {"openai", "anthropic", "gemini", "vertex", "ollama", "completion"}


@pytest.fixture
def cohere_plugin_installed(tmp_path, monkeypatch):
    """The example plugin, made importable and registered with a dist-info, as `pip install` would."""
    dist_info = tmp_path / "modelswap_cohere-0.1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: modelswap-cohere\nVersion: 0.1.0\n")
    (dist_info / "entry_points.txt").write_text("[modelswap.providers]\ncohere = modelswap_cohere:CohereChat\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.syspath_prepend(str(ROOT / "examples" / "plugin-cohere" / "src"))
    monkeypatch.setattr(_provider, "_adapter_classes", {})
    yield
    sys.modules.pop("modelswap_cohere", None)


def test_built_in_kinds_are_registered_as_entry_points():
    from importlib.metadata import entry_points

    registered = {ep.name: ep.value for ep in entry_points(group="modelswap.providers")}
    assert BUILT_IN <= set(registered)
    assert all(registered[kind].startswith("modelswap.plugins.") for kind in BUILT_IN)


def test_kinds_load_lazily():
    """`import modelswap` loads no adapter; a kind's module is imported on its first use only."""
    import subprocess

    code = (
        "import sys, modelswap; before = [m for m in sys.modules if m.startswith('modelswap.plugins.')]; "
        "from modelswap._provider import load_adapter; load_adapter('openai'); "
        "after = sorted(m for m in sys.modules if m.startswith('modelswap.plugins.')); print(before, after)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[] ['modelswap.plugins.openai']"


def test_unknown_kind_names_the_installed_ones():
    with pytest.raises(modelswap.ConfigError, match="Provider kind 'nope' is not installed.*openai"):
        _provider.load_adapter("nope")


def test_third_party_plugin_is_found_by_name(cohere_plugin_installed, monkeypatch):
    monkeypatch.setenv("CO_API_KEY", "co-test-key-0123456789")
    seen = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen["url"], seen["body"] = str(request.url), json.loads(request.content)
        return httpx.Response(200, json={
            "finish_reason": "COMPLETE",
            "message": {"role": "assistant", "content": [{"type": "text", "text": "Bonjour"}]},
            "usage": {"tokens": {"input_tokens": 5, "output_tokens": 2}},
        })

    config = loads_config(
        "providers:\n  co: {kind: cohere, base_url: 'https://api.cohere.com/v2', api_key_env: CO_API_KEY}\n"
        "models:\n  command: {provider: co, model_id: command-r}\n"
    )
    with modelswap.Client(config, transport=httpx.MockTransport(handler)) as client:
        completion = client.complete("Say hello in French", model="command", max_tokens=5, stop="\n")
    assert completion.text == "Bonjour" and completion.output_tokens == 2
    assert seen["url"] == "https://api.cohere.com/v2/chat"
    assert seen["body"]["max_tokens"] == 5 and seen["body"]["stop_sequences"] == ["\n"]
