"""Load, validate and resolve the provider config.

Where the config comes from, first match wins: an explicit path (``--config``), ``$MODELSWAP_CONFIG``,
``./modelswap.yaml``, then the built-in default (the two local models, Gemma 3 270M and SmolLM2-135M).

Which model a call uses, first match wins: the explicit ``model=`` argument, then the environment
(``MODEL_PROVIDER`` + ``MODEL_ID``, or ``MODELSWAP_MODEL``), then the config's ``default``. When the model
comes from the environment or the default, ``INFERENCE_ENDPOINT`` and ``API_KEY`` override its base URL and
key: the Kubernetes ConfigMap swap.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

from ._yaml import line_of, parse_yaml
from ._errors import ConfigError, MissingCredentialsError, UnknownModelError
from ._presets import PRESETS, default_config
from ._redact import looks_like_key, remember_secret

__all__ = [
    "BUILTIN_SOURCE",
    "Config",
    "ModelSpec",
    "Price",
    "ProviderSpec",
    "RetryPolicy",
    "Timeouts",
    "config_schema",
    "find_config_path",
    "load_config",
]

BUILTIN_SOURCE = "<built-in default>"
_SCHEMA_PATH = Path(__file__).parent / "schema" / "config.schema.json"
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
# Keys people paste into configs by habit; all are refused with the same advice.
_LITERAL_KEY_FIELDS = ("api_key", "apikey", "key", "token", "secret", "password")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How a provider retries 429, 5xx and connection errors (never other 4xx)."""

    max_retries: int = 2
    initial_backoff_s: float = 0.5
    max_backoff_s: float = 20.0
    max_retry_after_s: float = 60.0


@dataclass(frozen=True, slots=True)
class Timeouts:
    connect: float = 10.0
    read: float = 120.0
    write: float = 30.0
    pool: float = 30.0


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    """One endpoint. Hashable: equal specs share one pooled HTTP client."""

    name: str
    kind: str
    base_url: str
    api_key_env: str | None = None
    api_key_required: bool = True
    headers: tuple[tuple[str, str], ...] = ()
    timeout: Timeouts = Timeouts()
    max_concurrency: int | None = None
    requests_per_minute: float | None = None
    retry: RetryPolicy = RetryPolicy()
    profile: str | None = None
    token_command: tuple[str, ...] | str | None = None
    token_ttl_s: float = 3000.0
    # Only ever set from the API_KEY environment variable; never printed.
    api_key_override: str | None = field(default=None, repr=False)

    def api_key(self) -> str | None:
        """The key from the environment, or None for servers that need none.

        Raises:
            MissingCredentialsError: the key is required and its env var is unset.
        """
        if self.api_key_override:
            return self.api_key_override
        key = os.environ.get(self.api_key_env) if self.api_key_env else None
        if key:
            remember_secret(key)
            return key
        if self.api_key_required:
            var = self.api_key_env or "API_KEY"
            raise MissingCredentialsError(
                f"Provider {self.name!r} needs an API key: set `{var}` in the environment"
                + (f" (or point api_key_env of providers.{self.name} at the variable that holds it)." if self.api_key_env else "."),
                env_var=var,
                provider=self.name,
            )
        return None


@dataclass(frozen=True, slots=True)
class Price:
    input_per_mtok: float
    output_per_mtok: float
    currency: str = "USD"
    checked: str | None = None

    def cost(self, input_tokens: int | None, output_tokens: int | None) -> float:
        return ((input_tokens or 0) * self.input_per_mtok + (output_tokens or 0) * self.output_per_mtok) / 1e6


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """A resolved model: what the caller named, the endpoint, and what the config knows about the model."""

    alias: str
    provider: ProviderSpec
    model_id: str
    prompt_format: str | None = None
    license: str | None = None
    weights: str | None = None
    context_window: int | None = None
    price: Price | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    drop_params: frozenset[str] | bool = frozenset()

    def dropped(self, param: str) -> bool:
        """Whether ``param`` may be dropped silently when the provider cannot honour it."""
        return self.drop_params is True or (isinstance(self.drop_params, frozenset) and param in self.drop_params)


@dataclass(slots=True)
class Config:
    """A validated config. Use :meth:`resolve` to turn a model reference into a :class:`ModelSpec`."""

    source: str
    providers: dict[str, ProviderSpec]
    models: dict[str, ModelSpec]
    default: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    # -- the one parameter ---------------------------------------------------------------------------
    def resolve(self, model: str | None = None, environ: Mapping[str, str] | None = None) -> ModelSpec:
        """Resolve ``model`` (an alias, ``provider/model_id``, or None for the active model).

        Raises:
            UnknownModelError: the alias or provider is not known; the message suggests the closest.
            ConfigError: the environment is contradictory or incomplete.
        """
        if model:
            return self._lookup(model)
        env = os.environ if environ is None else environ
        provider_name = env.get("MODEL_PROVIDER") or None
        model_id = env.get("MODEL_ID") or None
        env_alias = env.get("MODELSWAP_MODEL") or None
        if provider_name or model_id:
            if env_alias:
                raise ConfigError(
                    "Both MODELSWAP_MODEL and MODEL_PROVIDER/MODEL_ID are set: unset one of them. "
                    "MODELSWAP_MODEL picks a configured alias; MODEL_PROVIDER with MODEL_ID names a model directly."
                )
            if not (provider_name and model_id):
                missing = "MODEL_ID" if provider_name else "MODEL_PROVIDER"
                raise ConfigError(
                    f"MODEL_PROVIDER and MODEL_ID go together: set {missing} too "
                    "(for example MODEL_PROVIDER=groq MODEL_ID=llama-3.1-8b-instant)."
                )
            spec = self._lookup(f"{provider_name}/{model_id}", origin="MODEL_PROVIDER")
        elif env_alias:
            spec = self._lookup(env_alias, origin="MODELSWAP_MODEL")
        elif self.default:
            spec = self._lookup(self.default, origin="default")
        else:
            raise ConfigError(
                f"{self.source}: no model given and no `default` set. Pass a model, set MODELSWAP_MODEL, "
                "or add `default: <alias>` to the config.",
                file=self.source,
                field="default",
            )
        endpoint = env.get("INFERENCE_ENDPOINT") or None
        key = env.get("API_KEY") or None
        if endpoint or key:
            spec = _override_endpoint(spec, endpoint, key)
        return spec

    def _lookup(self, ref: str, origin: str = "model") -> ModelSpec:
        found = self.models.get(ref)
        if found is not None:
            return found
        if "/" in ref:
            provider_name, _, model_id = ref.partition("/")
            provider = self.provider(provider_name, origin=origin)
            known = next((m for m in self.models.values() if m.provider == provider and m.model_id == model_id), None)
            return known if known is not None else ModelSpec(alias=ref, provider=provider, model_id=model_id)
        suggestion = _closest(ref, self.models)
        where = {"MODELSWAP_MODEL": "$MODELSWAP_MODEL", "default": f"{self.source}: default"}.get(origin, "model")
        raise UnknownModelError(
            f"{where}: unknown model alias {ref!r}."
            + (f" Did you mean {suggestion!r}?" if suggestion else "")
            + f" Configured aliases: {', '.join(sorted(self.models)) or 'none'}; or name a model directly as "
            "provider/model_id (for example groq/llama-3.1-8b-instant).",
            alias=ref,
            suggestion=suggestion,
            file=self.source if origin == "default" else None,
            field="default" if origin == "default" else None,
        )

    def provider(self, name: str, origin: str = "model") -> ProviderSpec:
        """A configured provider or a built-in preset, by name."""
        found = self.providers.get(name)
        if found is not None:
            return found
        if name in PRESETS:
            return _build_provider(name, {"preset": name}, self.source)
        choices = sorted(set(self.providers) | set(PRESETS))
        suggestion = _closest(name, choices)
        where = "$MODEL_PROVIDER" if origin == "MODEL_PROVIDER" else "model"
        raise UnknownModelError(
            f"{where}: unknown provider {name!r}."
            + (f" Did you mean {suggestion!r}?" if suggestion else "")
            + f" Known providers: {', '.join(choices)}.",
            alias=name,
            suggestion=suggestion,
        )


def _override_endpoint(spec: ModelSpec, endpoint: str | None, key: str | None) -> ModelSpec:
    provider = spec.provider
    if endpoint:
        if not endpoint.startswith(("http://", "https://")):
            raise ConfigError(
                f"$INFERENCE_ENDPOINT must be an http(s) URL such as http://vllm:8000/v1, not {endpoint!r}.",
                field="INFERENCE_ENDPOINT",
            )
        provider = replace(provider, base_url=endpoint.rstrip("/"))
    if key:
        remember_secret(key)
        provider = replace(provider, api_key_override=key)
    return replace(spec, provider=provider)


def _closest(word: str, choices: Any) -> str | None:
    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    if matches:
        return matches[0]
    lowered = {str(c).lower(): c for c in choices}
    return lowered.get(word.lower())


# -- loading -------------------------------------------------------------------------------------------
def find_config_path(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """The config file to use, or None for the built-in default.

    Raises:
        ConfigError: an explicitly named file (argument or $MODELSWAP_CONFIG) does not exist.
    """
    if explicit is not None:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"{path}: config file not found. Check the path given to --config.", file=str(path))
        return path
    from_env = os.environ.get("MODELSWAP_CONFIG")
    if from_env:
        path = Path(from_env)
        if not path.is_file():
            raise ConfigError(
                f"{path}: config file not found (named by $MODELSWAP_CONFIG). Fix the variable or unset it.",
                file=str(path),
            )
        return path
    here = Path("modelswap.yaml")
    return here if here.is_file() else None


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Load and validate the config found by :func:`find_config_path`.

    Raises:
        ConfigError: the file cannot be read, is not YAML, or breaks the schema; the message names the file,
            the line and the field, and says how to fix it.
    """
    found = find_config_path(path)
    if found is None:
        return parse_config(default_config(), BUILTIN_SOURCE)
    try:
        text = found.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{found}: cannot read the config file ({exc.__class__.__name__}: {exc}).", file=str(found)) from None
    return loads_config(text, str(found))


def loads_config(text: str, source: str = "<string>") -> Config:
    """Parse and validate config YAML given as text; ``source`` names it in error messages."""
    root, data = parse_yaml(text, source)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{source}:1: the config must be a mapping with `providers`, `models` and `default`, "
            f"not a {type(data).__name__}. Run `modelswap schema` to see the format.",
            file=source,
            line=1,
        )
    return parse_config(data, source, root)


def config_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the config file."""
    return json.loads(_SCHEMA_PATH.read_text(encoding="utf-8"))


_validator: Any = None


def _schema_validator() -> Any:
    global _validator
    if _validator is None:
        import jsonschema

        _validator = jsonschema.Draft202012Validator(config_schema())
    return _validator


def parse_config(data: dict[str, Any], source: str, root: Any = None) -> Config:
    """Validate a config already parsed into Python objects and build the :class:`Config`."""
    _refuse_literal_keys(data, source, root)
    providers_in = data.get("providers")
    if isinstance(providers_in, dict) and None in providers_in.values():
        # `groq:` with nothing under it means "the preset as it is".
        data = {**data, "providers": {k: ({} if v is None else v) for k, v in providers_in.items()}}
    errors = sorted(_schema_validator().iter_errors(data), key=lambda e: (len(e.path), list(map(str, e.path))))
    if errors:
        raise _schema_error(errors[0], source, root, more=len(errors) - 1)

    providers: dict[str, ProviderSpec] = {}
    for name, entry in (data.get("providers") or {}).items():
        providers[name] = _build_provider(name, entry or {}, source, root)

    config = Config(source=source, providers=providers, models={}, default=data.get("default"), raw=data)
    for alias, entry in (data.get("models") or {}).items():
        provider_name = entry["provider"]
        try:
            provider = config.provider(provider_name)
        except UnknownModelError as exc:
            raise _located(
                f"unknown provider {provider_name!r}"
                + (f"; did you mean {exc.suggestion!r}?" if exc.suggestion else "")
                + " Define it under `providers:` or use a preset: " + ", ".join(sorted(PRESETS)) + ".",
                source, root, ("models", alias, "provider"),
            ) from None
        price = entry.get("price")
        config.models[alias] = ModelSpec(
            alias=alias,
            provider=provider,
            model_id=entry["model_id"],
            prompt_format=entry.get("prompt_format"),
            license=entry.get("license"),
            weights=entry.get("weights"),
            context_window=entry.get("context_window"),
            price=Price(**{k: (str(v) if k == "checked" else v) for k, v in price.items()}) if price else None,
            params=dict(entry.get("params") or {}),
            drop_params=True if entry.get("drop_params") is True else frozenset(entry.get("drop_params") or ()),
        )
    if config.default is not None and config.default not in config.models and "/" not in config.default:
        suggestion = _closest(config.default, config.models)
        raise _located(
            f"default {config.default!r} is not an alias under `models:`"
            + (f"; did you mean {suggestion!r}?" if suggestion else "")
            + " Set `default` to one of: " + (", ".join(sorted(config.models)) or "(no models defined)") + ".",
            source, root, ("default",),
        )
    return config


def _build_provider(name: str, entry: dict[str, Any], source: str, root: Any = None) -> ProviderSpec:
    preset_name = entry.get("preset") or (name if name in PRESETS else None)
    if preset_name is not None and preset_name not in PRESETS:
        suggestion = _closest(preset_name, PRESETS)
        raise _located(
            f"unknown preset {preset_name!r}" + (f"; did you mean {suggestion!r}?" if suggestion else "")
            + " Presets: " + ", ".join(sorted(PRESETS)) + ".",
            source, root, ("providers", name, "preset"),
        )
    merged = {**PRESETS.get(preset_name or "", {}), **{k: v for k, v in entry.items() if k != "preset"}}
    for required in ("kind", "base_url"):
        if not merged.get(required):
            raise _located(
                f"missing `{required}`: give it, or start from a preset with `preset: <name>` "
                f"({', '.join(sorted(PRESETS))}).",
                source, root, ("providers", name),
            )
    timeout = merged.get("timeout")
    if isinstance(timeout, (int, float)):
        timeouts = Timeouts(read=float(timeout), write=float(timeout))
    else:
        timeouts = Timeouts(**(timeout or {}))
    headers = tuple((str(k), _expand_env(str(v), source, root, ("providers", name, "headers", k))) for k, v in (merged.get("headers") or {}).items())
    # Unset variables stay as ${VAR} until the provider is used: a config naming Vertex must still load on a
    # machine that only ever calls the local model.
    base_url = _ENV_REF.sub(lambda m: os.environ.get(m.group(1), m.group(0)), str(merged["base_url"]))
    if not base_url.startswith(("http://", "https://", "${")):
        raise _located(f"base_url {base_url!r} is not an http(s) URL; write it like https://api.groq.com/openai/v1.",
                       source, root, ("providers", name, "base_url"))
    token_command = merged.get("token_command")
    return ProviderSpec(
        name=name,
        kind=merged["kind"],
        base_url=base_url.rstrip("/"),
        api_key_env=merged.get("api_key_env"),
        api_key_required=merged.get("api_key_required", merged.get("api_key_env") is not None),
        headers=headers,
        timeout=timeouts,
        max_concurrency=merged.get("max_concurrency"),
        requests_per_minute=merged.get("requests_per_minute"),
        retry=RetryPolicy(**(merged.get("retry") or {})),
        profile=merged.get("profile") or preset_name,
        token_command=tuple(token_command) if isinstance(token_command, list) else token_command,
        token_ttl_s=float(merged.get("token_ttl_s", 3000.0)),
    )


def unresolved_env(text: str) -> list[str]:
    """The ``${VAR}`` references left in ``text`` (their variables were unset when the config loaded)."""
    return _ENV_REF.findall(text)


def _expand_env(value: str, source: str, root: Any, path: tuple[Any, ...]) -> str:
    def sub(match: re.Match[str]) -> str:
        var = match.group(1)
        if var not in os.environ:
            raise _located(f"${{{var}}} is not set in the environment. Set {var}.", source, root, path)
        remember_secret(os.environ[var])
        return os.environ[var]

    return _ENV_REF.sub(sub, value)


# -- error reporting -----------------------------------------------------------------------------------
def _refuse_literal_keys(data: Any, source: str, root: Any, path: tuple[Any, ...] = ()) -> None:
    if isinstance(data, dict):
        for key, value in data.items():
            here = (*path, key)
            in_provider = len(path) == 2 and path[0] == "providers"
            if in_provider and str(key).lower() in _LITERAL_KEY_FIELDS:
                raise _literal_key_error(source, root, here, path[1])
            _refuse_literal_keys(value, source, root, here)
    elif isinstance(data, list):
        for i, value in enumerate(data):
            _refuse_literal_keys(value, source, root, (*path, i))
    elif isinstance(data, str) and looks_like_key(data) and not _ENV_REF.search(data):
        provider = path[1] if len(path) > 1 and path[0] == "providers" else "<provider>"
        raise _literal_key_error(source, root, path, provider)


def _literal_key_error(source: str, root: Any, path: tuple[Any, ...], provider: Any) -> ConfigError:
    var = f"{str(provider).upper().replace('-', '_').replace('.', '_')}_API_KEY"
    return _located(
        "a literal API key does not belong in the config file (it would end up in git, logs and reports). "
        f"Put it in an environment variable and reference it: `api_key_env: {var}` under providers.{provider} "
        f"(or `${{{var}}}` inside a header value).",
        source, root, path,
    )


def _schema_error(error: Any, source: str, root: Any, more: int = 0) -> ConfigError:
    path = tuple(error.absolute_path)
    validator = error.validator
    if validator == "additionalProperties":
        allowed = list((error.schema.get("properties") or {}).keys())
        extra = [k for k in error.instance if k not in allowed] if isinstance(error.instance, dict) else []
        name = extra[0] if extra else "?"
        suggestion = _closest(str(name), allowed)
        path = (*path, name)
        message = f"unknown field {name!r}" + (f"; did you mean {suggestion!r}?" if suggestion else "") + (
            f" Allowed here: {', '.join(allowed)}." if allowed else ""
        )
    elif validator == "required":
        missing = re.findall(r"'([^']+)' is a required property", error.message)
        message = f"missing required field {missing[0] if missing else '?'!r}. Add it (see `modelswap schema`)."
    elif validator == "enum":
        message = f"{error.instance!r} is not allowed; use one of: {', '.join(map(str, error.validator_value))}."
    elif validator == "type":
        wanted = error.validator_value if isinstance(error.validator_value, str) else " or ".join(error.validator_value)
        message = f"expected {wanted}, got {type(error.instance).__name__} {error.instance!r}."
    elif validator == "pattern" and path[-1:] == ("api_key_env",):
        message = (
            f"{error.instance!r} is not an environment variable name. api_key_env takes the variable's name "
            "(like GROQ_API_KEY), never the key itself."
        )
    elif validator == "pattern" and path[-1:] == ("base_url",):
        message = f"{error.instance!r} is not an http(s) URL; write it like https://api.groq.com/openai/v1."
    elif validator == "propertyNames" or (validator == "pattern" and not path):
        message = f"{error.instance!r} is not a valid name: {error.message}."
    else:
        message = error.message + "."
    if more:
        message += f" ({more} more problem{'s' if more > 1 else ''} after this one.)"
    return _located(message, source, root, path)


def _located(message: str, source: str, root: Any, path: tuple[Any, ...]) -> ConfigError:
    line = line_of(root, path)
    field_path = ".".join(map(str, path)) or None
    where = f"{source}:{line}" if line else source
    return ConfigError(
        f"{where}: {field_path + ': ' if field_path else ''}{message}",
        file=source,
        line=line,
        field=field_path,
    )


