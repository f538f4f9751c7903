"""Prefect blocks: provider keys kept as Prefect secrets, and the modelswap config kept on the Prefect server.

Neither block changes how the core finds things: credentials become the environment variables the config's
``api_key_env`` names, and the config block yields the same :class:`modelswap.Config` a YAML file would.
"""

from __future__ import annotations

import os
import re
import threading
from contextlib import contextmanager
from typing import Any, ClassVar, Iterator, Optional

from prefect.blocks.core import Block
from pydantic import ConfigDict, Field, SecretStr, field_validator, model_validator

from modelswap._config import Config, loads_config
from modelswap._errors import ConfigError
from modelswap._redact import remember_secret

__all__ = ["ModelSwapConfig", "ModelSwapCredentials"]

_DOCS = "https://github.com/modelswap/modelswap#readme"
_LOGO = "https://raw.githubusercontent.com/modelswap/modelswap/main/docs/logo.png"
_SOURCE = "<ModelSwapConfig block>"
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# Field name -> the environment variable the provider presets read (``api_key_env`` in modelswap._presets).
_KEY_FIELDS: dict[str, str] = {
    "openai_api_key": "OPENAI_API_KEY",
    "anthropic_api_key": "ANTHROPIC_API_KEY",
    "gemini_api_key": "GEMINI_API_KEY",
    "vertex_access_token": "VERTEX_ACCESS_TOKEN",
    "groq_api_key": "GROQ_API_KEY",
    "together_api_key": "TOGETHER_API_KEY",
    "openrouter_api_key": "OPENROUTER_API_KEY",
    "ollama_api_key": "OLLAMA_API_KEY",
    "hf_token": "HF_TOKEN",
    "vllm_api_key": "VLLM_API_KEY",
    "llamacpp_api_key": "LLAMACPP_API_KEY",
    "lmstudio_api_key": "LMSTUDIO_API_KEY",
}

# os.environ is process-wide: nested or concurrent applied() blocks must restore in a consistent order.
_environ_lock = threading.RLock()


def _key(env_var: str, who: str) -> Any:
    return Field(
        default=None,
        title=env_var,
        description=f"{who}; set as ${env_var} for providers whose api_key_env is {env_var}.",
    )


class ModelSwapCredentials(Block):
    """Provider API keys, stored as Prefect secrets and applied as the environment variables modelswap reads.

    Each field is the key of one provider preset, under the variable that preset's ``api_key_env`` names
    (``groq_api_key`` -> ``GROQ_API_KEY``). ``extra`` holds any other variable by name, for providers whose
    config points ``api_key_env`` (or a ``${VAR}`` header) elsewhere. Values never appear in reprs, logs or
    ``model_dump_json()``; they are masked as ``**********``.

    ``applied()`` sets the variables in ``os.environ`` for the duration of a ``with`` block and restores the
    previous values after. The environment is process-wide: apply credentials in the flow (before its tasks
    start), not inside concurrent tasks, and note that an HTTP client keeps the key it was built with.

    Example:
        ```python
        from modelswap.tasks import ModelSwapCredentials, complete

        credentials = ModelSwapCredentials.load("BLOCK_NAME")
        with credentials.applied():
            complete("Say hi", "groq/llama-3.1-8b-instant")
        ```
    """

    # A validation error must not echo what was typed into a secret field.
    model_config = ConfigDict(hide_input_in_errors=True)

    _block_type_name: ClassVar[str] = "ModelSwap Credentials"
    _block_type_slug: ClassVar[str] = "modelswap-credentials"
    _logo_url: ClassVar[str] = _LOGO  # type: ignore[assignment]
    _documentation_url: ClassVar[str] = _DOCS  # type: ignore[assignment]
    _description: ClassVar[str] = (
        "API keys for the LLM providers modelswap calls, applied as the environment variables its config names."
    )

    openai_api_key: Optional[SecretStr] = _key("OPENAI_API_KEY", "OpenAI API key")
    anthropic_api_key: Optional[SecretStr] = _key("ANTHROPIC_API_KEY", "Anthropic API key")
    gemini_api_key: Optional[SecretStr] = _key("GEMINI_API_KEY", "Google AI (Gemini API) key")
    vertex_access_token: Optional[SecretStr] = _key(
        "VERTEX_ACCESS_TOKEN", "Vertex AI OAuth access token (short-lived; prefer token_command in the config)"
    )
    groq_api_key: Optional[SecretStr] = _key("GROQ_API_KEY", "Groq API key")
    together_api_key: Optional[SecretStr] = _key("TOGETHER_API_KEY", "Together AI API key")
    openrouter_api_key: Optional[SecretStr] = _key("OPENROUTER_API_KEY", "OpenRouter API key")
    ollama_api_key: Optional[SecretStr] = _key("OLLAMA_API_KEY", "Ollama Cloud API key")
    hf_token: Optional[SecretStr] = _key("HF_TOKEN", "Hugging Face token for TGI endpoints")
    vllm_api_key: Optional[SecretStr] = _key("VLLM_API_KEY", "vLLM server API key")
    llamacpp_api_key: Optional[SecretStr] = _key("LLAMACPP_API_KEY", "llama.cpp server API key")
    lmstudio_api_key: Optional[SecretStr] = _key("LMSTUDIO_API_KEY", "LM Studio server API key")
    extra: dict[str, SecretStr] = Field(
        default_factory=dict,
        title="Other variables",
        description="Other secrets by environment variable name, such as INHOUSE_TOKEN for a ${INHOUSE_TOKEN} header.",
    )

    @field_validator("extra")
    @classmethod
    def _env_names(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        bad = [name for name in value if not _ENV_NAME.match(name)]
        if bad:
            raise ValueError(
                f"extra keys must be environment variable names (letters, digits, underscores), not {bad}"
            )
        return value

    def environ(self) -> dict[str, str]:
        """The variables to set: environment variable name -> secret value, for every field that has a value.

        ``extra`` wins over a field naming the same variable. Every value is registered with modelswap's
        redaction, so it is masked if it ever shows up in an error message.
        """
        values: dict[str, str] = {}
        for name, env_var in _KEY_FIELDS.items():
            secret = getattr(self, name)
            if secret is not None and secret.get_secret_value():
                values[env_var] = secret.get_secret_value()
        for env_var, secret in self.extra.items():
            if secret.get_secret_value():
                values[env_var] = secret.get_secret_value()
        for value in values.values():
            remember_secret(value)
        return values

    @contextmanager
    def applied(self) -> Iterator[dict[str, str]]:
        """Set :meth:`environ` in ``os.environ`` for the ``with`` block, then restore what was there.

        Variables that were unset are removed again; ones that were set get their old value back, even when the
        block raises. Yields the names and values applied.
        """
        values = self.environ()
        with _environ_lock:
            saved = {name: os.environ.get(name) for name in values}
            os.environ.update(values)
        try:
            yield values
        finally:
            with _environ_lock:
                for name, old in saved.items():
                    if old is None:
                        os.environ.pop(name, None)
                    else:
                        os.environ[name] = old


class _InstanceOrClass:
    """``ModelSwapConfig.load("name")`` stays Prefect's block loader; ``block.load()`` returns the Config."""

    def __init__(self, for_instance: Any) -> None:
        self._for_instance = for_instance

    def __get__(self, instance: Any, owner: type) -> Any:
        if instance is None:
            return Block.__dict__["load"].__get__(owner, owner)
        return self._for_instance.__get__(instance, owner)


class ModelSwapConfig(Block):
    """A modelswap config (the ``modelswap.yaml`` text) kept on the Prefect server, validated when created.

    ``yaml`` is checked with the same parser and schema as a config file: a bad config fails on creation (and on
    load) with the line and field at fault. ``default_model``, if set, overrides the config's ``default``: the
    model used when neither the task, the Prefect Variable ``modelswap_model`` nor the environment names one.

    ``ModelSwapConfig.load("name")`` loads the block; ``block.to_config()`` (also ``block.load()`` on an
    instance) builds the :class:`modelswap.Config`. Pass the block as ``config=`` to any modelswap task.

    Example:
        ```python
        from modelswap.tasks import ModelSwapConfig, complete

        config_block = ModelSwapConfig.load("BLOCK_NAME")
        complete("Say hi", config=config_block)
        config = config_block.to_config()    # a modelswap.Config
        ```
    """

    # The config error already says where and what; pydantic need not echo the YAML.
    model_config = ConfigDict(hide_input_in_errors=True)

    _block_type_name: ClassVar[str] = "ModelSwap Config"
    _block_type_slug: ClassVar[str] = "modelswap-config"
    _logo_url: ClassVar[str] = _LOGO  # type: ignore[assignment]
    _documentation_url: ClassVar[str] = _DOCS  # type: ignore[assignment]
    _description: ClassVar[str] = "A modelswap provider config: the providers, the model aliases and the default model."

    yaml: str = Field(
        default=...,
        title="Config YAML",
        description="The modelswap.yaml text: providers, models and default (API keys go in ModelSwap Credentials).",
        json_schema_extra={"format": "textarea"},
    )
    default_model: Optional[str] = Field(
        default=None,
        title="Default model",
        description="An alias or provider/model_id that overrides the config's default, if set.",
    )

    @field_validator("yaml")
    @classmethod
    def _valid_yaml(cls, value: str) -> str:
        try:
            loads_config(value, _SOURCE)
        except ConfigError as exc:
            field = exc.field or ""
            # `${VAR}` in a header is expanded on load; the variable may only exist where the flow runs
            # (after ModelSwapCredentials.applied()), so it is checked by to_config(), not here.
            if not (".headers." in f".{field}." and "is not set in the environment" in str(exc)):
                raise ValueError(str(exc)) from None
        return value

    @model_validator(mode="after")
    def _valid_default(self) -> ModelSwapConfig:
        if self.default_model:
            try:
                config = loads_config(self.yaml, _SOURCE)
            except ConfigError:
                return self  # only the header variables can be missing here; to_config() reports them
            try:
                config._lookup(self.default_model)
            except ConfigError as exc:
                raise ValueError(f"default_model: {exc}") from None
        return self

    def to_config(self) -> Config:
        """The :class:`modelswap.Config` this block holds, with ``default_model`` applied.

        Raises:
            modelswap.ConfigError: a ``${VAR}`` header names a variable that is not set.
        """
        config = loads_config(self.yaml, _SOURCE)
        if self.default_model:
            config.default = self.default_model
        return config

    load: ClassVar[Any] = _InstanceOrClass(to_config)

