"""What a modelswap config contributes to the Kestra flows: the literal fallbacks of their ``model`` and
``endpoint`` inputs, and the names of the secrets its providers read.

A config file is loaded on a machine that need not hold those secrets: only their names are used.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from .._config import BUILTIN_SOURCE, Config, load_config, parse_config
from .._presets import default_config

__all__ = ["Facts", "facts_of", "provider_secret_notes"]

_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ENV_REF_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class Facts:
    """What a config contributes to the flows: literal fallbacks and the secrets the Python tasks need."""

    source: str
    default_model: str | None
    wire_model_id: str | None
    wire_endpoint: str | None
    provider_secrets: tuple[str, ...]


def _load(path: str | os.PathLike[str]) -> Config:
    """Load a config file to render from, on a machine that need not hold its secrets.

    Header values such as ``${INHOUSE_TOKEN}`` are expanded when a config loads, and an unset variable is an
    error; the flows only need the variable's *name*, so unset ones get a placeholder for the duration.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        text = ""  # load_config reports it, with the path
    missing = sorted({name for name in _ENV_REF_RE.findall(text) if name not in os.environ})
    for name in missing:
        os.environ[name] = f"<{name}>"
    try:
        return load_config(path)
    finally:
        for name in missing:
            os.environ.pop(name, None)


def facts_of(config: Config | str | os.PathLike[str] | None) -> Facts:
    """The facts of ``config``: a loaded config, a path to one, or None for the built-in default."""
    if config is None:
        config = parse_config(default_config(), BUILTIN_SOURCE)
    elif isinstance(config, (str, os.PathLike)):
        config = _load(config)
    raw_providers = config.raw.get("providers") or {}
    source = config.source if config.source.startswith("<") else Path(config.source).name
    default = config.default
    # llm_call speaks OpenAI's protocol only: the default model if it is an OpenAI-compatible one, else an alias
    # of the same model (its chat endpoint: gemma-raw -> gemma-chat), else the first such alias (sorted, so the
    # output is stable); always with a base URL that needs no environment. Falling back to another model
    # would quietly swap the family the flow runs on.
    same_model = sorted(a for a in config.models
                        if default in config.models and config.models[a].model_id == config.models[default].model_id)
    candidates = ([default] if default in config.models else []) + same_model + sorted(config.models)
    wire_model_id = wire_endpoint = None
    for alias in candidates:
        spec = config.models[alias]
        raw_url = str((raw_providers.get(spec.provider.name) or {}).get("base_url", ""))
        if spec.provider.kind == "openai" and "${" not in spec.provider.base_url + raw_url:
            wire_model_id, wire_endpoint = spec.model_id, spec.provider.base_url.rstrip("/")
            break
    secrets: set[str] = set()
    providers = {spec.provider for spec in config.models.values()} | set(config.providers.values())
    for provider in providers:
        if provider.api_key_env and provider.api_key_required and _ENV_NAME_RE.match(provider.api_key_env):
            secrets.add(provider.api_key_env)
    for entry in raw_providers.values():
        for value in ((entry or {}).get("headers") or {}).values():
            secrets.update(_ENV_REF_RE.findall(str(value)))
    return Facts(source, default, wire_model_id, wire_endpoint, tuple(sorted(secrets)))


def provider_secret_notes(facts: Facts) -> list[tuple[str, str]]:
    """The header's lines for the secrets the config's providers read."""
    return [(name, "read by the config's providers (api_key_env or a ${VAR} in headers)")
            for name in facts.provider_secrets]
