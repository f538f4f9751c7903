"""modelswap: swap the LLM under every pipeline with one parameter.

    >>> import modelswap
    >>> modelswap.complete("Name a colour.").text          # the active model   # doctest: +SKIP
    >>> modelswap.complete("Name a colour.", model="groq/llama-3.1-8b-instant")  # doctest: +SKIP

Importing this package is cheap: the HTTP client, YAML and JSON Schema load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "AuthenticationError",
    "BadResponseError",
    "Client",
    "Completion",
    "Config",
    "ConfigError",
    "EndpointUnreachableError",
    "MissingCredentialsError",
    "ModelSpec",
    "ModelSwapError",
    "PromptFormatError",
    "ProviderError",
    "ProviderSpec",
    "ProviderTimeoutError",
    "RateLimitedError",
    "RequestRejectedError",
    "StructuredOutputError",
    "TransientError",
    "UnknownModelError",
    "acomplete",
    "astream",
    "complete",
    "load_config",
    "stream",
]

_LAZY = {
    "Client": "_client",
    "acomplete": "_client",
    "astream": "_client",
    "complete": "_client",
    "stream": "_client",
    "Completion": "_types",
    "Config": "_config",
    "ModelSpec": "_config",
    "ProviderSpec": "_config",
    "load_config": "_config",
    **{
        name: "_errors"
        for name in (
            "AuthenticationError",
            "BadResponseError",
            "ConfigError",
            "EndpointUnreachableError",
            "MissingCredentialsError",
            "ModelSwapError",
            "PromptFormatError",
            "ProviderError",
            "ProviderTimeoutError",
            "RateLimitedError",
            "RequestRejectedError",
            "StructuredOutputError",
            "TransientError",
            "UnknownModelError",
        )
    },
}

if TYPE_CHECKING:
    from ._client import Client, acomplete, astream, complete, stream
    from ._config import Config, ModelSpec, ProviderSpec, load_config
    from ._errors import (
        AuthenticationError,
        BadResponseError,
        ConfigError,
        EndpointUnreachableError,
        MissingCredentialsError,
        ModelSwapError,
        PromptFormatError,
        ProviderError,
        ProviderTimeoutError,
        RateLimitedError,
        RequestRejectedError,
        StructuredOutputError,
        TransientError,
        UnknownModelError,
    )
    from ._types import Completion


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'modelswap' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f"modelswap.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
