"""Built-in provider presets: usable by name with no config entry (``model="groq/llama-3.1-8b-instant"``).

Facts only: the wire protocol, the documented base URL and the env var each vendor's own SDK reads.
"""

from __future__ import annotations

from typing import Any

__all__ = ["LOCAL_PORT", "PRESETS", "SMOLLM2_PORT", "default_config"]

# llama-server's own default port; `modelswap serve-local` puts Gemma there, and SmolLM2 on the next one.
LOCAL_PORT = 8080
SMOLLM2_PORT = 8081

PRESETS: dict[str, dict[str, Any]] = {
    "openai": {"kind": "openai", "base_url": "https://api.openai.com/v1", "api_key_env": "OPENAI_API_KEY"},
    "groq": {"kind": "openai", "base_url": "https://api.groq.com/openai/v1", "api_key_env": "GROQ_API_KEY"},
    "together": {"kind": "openai", "base_url": "https://api.together.xyz/v1", "api_key_env": "TOGETHER_API_KEY"},
    "openrouter": {
        "kind": "openai",
        "base_url": "https://openrouter.ai/api/v1",
        "api_key_env": "OPENROUTER_API_KEY",
    },
    "vllm": {
        "kind": "openai",
        "base_url": "http://localhost:8000/v1",
        "api_key_env": "VLLM_API_KEY",
        "api_key_required": False,
    },
    "llamacpp": {
        "kind": "openai",
        "base_url": f"http://127.0.0.1:{LOCAL_PORT}/v1",
        "api_key_env": "LLAMACPP_API_KEY",
        "api_key_required": False,
    },
    "ollama": {
        "kind": "openai",
        "base_url": "http://localhost:11434/v1",
        "api_key_env": "OLLAMA_API_KEY",
        "api_key_required": False,
    },
    "tgi": {
        "kind": "openai",
        "base_url": "http://localhost:8080/v1",
        "api_key_env": "HF_TOKEN",
        "api_key_required": False,
    },
    "lmstudio": {
        "kind": "openai",
        "base_url": "http://localhost:1234/v1",
        "api_key_env": "LMSTUDIO_API_KEY",
        "api_key_required": False,
    },
    "anthropic": {"kind": "anthropic", "base_url": "https://api.anthropic.com/v1", "api_key_env": "ANTHROPIC_API_KEY"},
    "gemini": {
        "kind": "gemini",
        "base_url": "https://generativelanguage.googleapis.com/v1beta",
        "api_key_env": "GEMINI_API_KEY",
    },
    "vertex": {
        "kind": "vertex",
        "base_url": (
            "https://${VERTEX_LOCATION}-aiplatform.googleapis.com/v1/projects/${VERTEX_PROJECT}"
            "/locations/${VERTEX_LOCATION}/publishers/google"
        ),
        "api_key_env": "VERTEX_ACCESS_TOKEN",
    },
    # Ollama's own API (kind `ollama`: /api/chat); the `ollama` preset above is its OpenAI-compatible /v1.
    "ollama-native": {
        "kind": "ollama",
        "base_url": "http://localhost:11434",
        "api_key_env": "OLLAMA_API_KEY",
        "api_key_required": False,
    },
    # Ollama's hosted models, same native API with a bearer key.
    "ollama-cloud": {"kind": "ollama", "base_url": "https://ollama.com", "api_key_env": "OLLAMA_API_KEY"},
    # llama.cpp's and TGI's own raw-text endpoints (kind `completion`): the base URL is the server root.
    "llamacpp-completion": {
        "kind": "completion",
        "profile": "llamacpp",
        "base_url": f"http://127.0.0.1:{LOCAL_PORT}",
        "api_key_env": "LLAMACPP_API_KEY",
        "api_key_required": False,
    },
    "tgi-completion": {
        "kind": "completion",
        "profile": "tgi",
        "base_url": "http://localhost:8080",
        "api_key_env": "HF_TOKEN",
        "api_key_required": False,
    },
}


def default_config(
    root_url: str = f"http://127.0.0.1:{LOCAL_PORT}", *, smollm2_url: str = f"http://127.0.0.1:{SMOLLM2_PORT}"
) -> dict[str, Any]:
    """The built-in config used when no file is found: the two local families `modelswap serve-local` runs.

    Gemma 3 270M (a base model) on `root_url`, under two aliases for the same weights: `gemma-raw` sends a raw
    few-shot prompt to llama.cpp's `/completion`; `gemma-chat` uses the chat endpoint, where llama-server applies
    its ChatML fallback (the GGUF has no chat template) and answers badly: the swap hazard in miniature.
    SmolLM2-135M-Instruct on `smollm2_url`: `smollm2-chat` through the chat endpoint and the template inside its
    GGUF; `smollm2-raw` through `/completion` with modelswap's own rendering of that template (`smollm2`).
    Moving a pipeline from a `gemma-*` alias to a `smollm2-*` one is a real swap of model family.
    """
    gemma = {
        "model_id": "gemma-3-270m",
        "license": "Gemma",
        "weights": "open",
        "context_window": 32768,
        "price": {"input_per_mtok": 0, "output_per_mtok": 0, "checked": "2026-11-23"},
    }
    smollm2 = {
        "model_id": "smollm2-135m-instruct",
        "license": "Apache-2.0",
        "weights": "open",
        "context_window": 8192,
        "prompt_format": "smollm2",
        "price": {"input_per_mtok": 0, "output_per_mtok": 0, "checked": "2026-12-04"},
    }
    # Tiny models on two CPU cores: a generous read timeout, so a cold start never looks like a hang.
    local = {"max_concurrency": 4, "timeout": {"connect": 5, "read": 300}}
    short = {"temperature": 0, "max_tokens": 16, "stop": ["\n"]}
    return {
        "version": 1,
        "default": "gemma-raw",
        "providers": {
            "local": {"preset": "llamacpp", "base_url": f"{root_url}/v1", **local},
            "local-raw": {"preset": "llamacpp-completion", "base_url": root_url, **local},
            "local-smollm2": {"preset": "llamacpp", "base_url": f"{smollm2_url}/v1", **local},
            "local-smollm2-raw": {"preset": "llamacpp-completion", "base_url": smollm2_url, **local},
        },
        "models": {
            "gemma-raw": {**gemma, "provider": "local-raw", "prompt_format": "plain", "params": short},
            "gemma-chat": {**gemma, "provider": "local", "prompt_format": "gemma3", "params": short},
            "smollm2-chat": {**smollm2, "provider": "local-smollm2", "params": {"temperature": 0, "max_tokens": 64}},
            "smollm2-raw": {**smollm2, "provider": "local-smollm2-raw", "params": {"temperature": 0, "max_tokens": 64}},
        },
    }
