"""The errors modelswap raises.

Every error says what to do next. Configuration errors are the caller's to fix and are never retried;
provider errors come from the model endpoint, and only the ``TransientError`` family is worth retrying::

    ModelSwapError
    ├── ConfigError                 bad or missing configuration (CLI exit code 2)
    │   ├── UnknownModelError       an alias that is not configured (suggests the closest one)
    │   └── MissingCredentialsError the env var that should hold the key is unset
    ├── PromptFormatError           messages a model's chat format cannot render (unknown format, a special
    │                               token inside user text, roles the official template refuses)
    └── ProviderError               the endpoint failed (CLI exit code 1)
        ├── TransientError          worth retrying: 5xx, dropped connections
        │   ├── RateLimitedError    429 (carries ``retry_after`` in seconds when the server said)
        │   ├── ProviderTimeoutError
        │   └── EndpointUnreachableError  nothing listens at the base URL (a batch stops on it, resumable)
        ├── RequestRejectedError    any other 4xx: the request itself is wrong
        │   └── AuthenticationError 401 or 403
        └── BadResponseError        the body is not what the protocol promises
            └── StructuredOutputError   the answer does not match the requested JSON Schema

All of them pickle (Prefect and Dask ship exceptions between processes) and none ever holds an API key:
messages pass through :func:`modelswap._redact.redact` before they are stored.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AuthenticationError",
    "BadResponseError",
    "ConfigError",
    "EndpointUnreachableError",
    "MissingCredentialsError",
    "ModelSwapError",
    "ProviderError",
    "PromptFormatError",
    "ProviderTimeoutError",
    "RateLimitedError",
    "RequestRejectedError",
    "StructuredOutputError",
    "TransientError",
    "UnknownModelError",
]


class ModelSwapError(Exception):
    """Base class of every error modelswap raises on purpose."""

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        for name, value in details.items():
            setattr(self, name, value)
        self._details = details

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only details would be lost by Exception's default pickling.
        return (_rebuild, (type(self), self.message, self._details))

    def __str__(self) -> str:
        return self.message


def _rebuild(cls: type[ModelSwapError], message: str, details: dict[str, Any]) -> ModelSwapError:
    return cls(message, **details)


class ConfigError(ModelSwapError):
    """The configuration (file, environment or arguments) is wrong; ``str(error)`` says where and how to fix it.

    Attributes:
        file: the config file, when one is involved.
        line: 1-based line in that file, when known.
        field: dotted path of the offending field, when known.
    """

    file: str | None = None
    line: int | None = None
    field: str | None = None


class UnknownModelError(ConfigError):
    """A model alias that the configuration does not define."""

    alias: str = ""
    suggestion: str | None = None


class MissingCredentialsError(ConfigError):
    """The environment variable that should hold a provider's API key is not set."""

    env_var: str = ""
    provider: str = ""


class PromptFormatError(ModelSwapError, ValueError):
    """The messages cannot be rendered in the requested prompt format; never retried.

    Raised where the family's official chat template would refuse the input (for example a system message in a
    family that has no system role, or roles that do not alternate), for an unknown format name, and when user
    text contains one of the family's special tokens, which would otherwise let that text forge a turn.

    Attributes:
        format: the prompt format name as given.
        index: position of the offending message, when one message is at fault.
        token: the special token found in user text, for that refusal.
        template_error: the official template's own error text, where it refuses the input.
    """

    format: str = ""
    index: int | None = None
    token: str | None = None
    template_error: str | None = None


class ProviderError(ModelSwapError):
    """The model endpoint failed.

    Attributes:
        provider: configured provider name.
        status: HTTP status code, or None for connection-level failures.
        error_type: the provider's own error type or code, when it sent one.
        request_id: the provider's request id, for its support desk.
    """

    provider: str = ""
    status: int | None = None
    error_type: str | None = None
    request_id: str | None = None


class TransientError(ProviderError):
    """A failure that may go away on its own: a retry is reasonable."""


class RateLimitedError(TransientError):
    """HTTP 429: the provider asked us to slow down. ``retry_after`` is in seconds, or None if unknown."""

    retry_after: float | None = None


class ProviderTimeoutError(TransientError):
    """The endpoint did not answer in time."""


class EndpointUnreachableError(TransientError):
    """Nothing accepted the connection at the endpoint: the server is down, not busy. Retried like any transient
    failure; a batch that still meets it after the retries stops there instead of failing every later record."""


class RequestRejectedError(ProviderError):
    """The endpoint refused the request itself (4xx other than 429): retrying will not help."""


class AuthenticationError(RequestRejectedError):
    """HTTP 401 or 403: the key is missing, wrong, or lacks access to this model."""


class BadResponseError(ProviderError):
    """The endpoint answered, but not in the shape its protocol promises."""


class StructuredOutputError(BadResponseError):
    """The model's answer is not JSON matching the requested schema, even after one repair attempt.

    Attributes:
        json_path: where validation failed (``$.items[2].price``), or ``$`` when the text is not JSON at all.
        text: the model's last answer.
    """

    json_path: str = "$"
    text: str = ""
