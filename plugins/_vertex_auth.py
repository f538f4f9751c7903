"""Vertex AI's OAuth bearer tokens: where they come from, how long they are kept, and the retry on a 401.

The token comes from ``API_KEY`` (the ConfigMap override), from running the provider's ``token_command``
(``gcloud auth print-access-token``; no shell), or from ``api_key_env``. A command token is cached for
``token_ttl_s``, shared by every client of one endpoint in the process, refreshed when it expires and once
more on a 401. Tokens are registered with the redactor and never appear in a message, a log line or a repr.
:class:`VertexTokenAuth` is the ``httpx.Auth`` that ``VertexGenerate.auth`` hands to the client.
"""

from __future__ import annotations

import asyncio
import shlex
import subprocess
import threading
import time
from typing import TYPE_CHECKING, Any, AsyncGenerator, Callable, Generator

import httpx

from modelswap._errors import ConfigError, MissingCredentialsError
from modelswap._redact import redact, remember_secret

if TYPE_CHECKING:
    from modelswap._config import ProviderSpec

__all__ = ["VertexTokenAuth"]

_COMMAND_TIMEOUT_S = 60.0


class _TokenSource:
    """Where one provider's bearer token comes from, with the cached command token (shared per process).

    Precedence: ``API_KEY`` (the ConfigMap override), then ``token_command``, then ``api_key_env``.
    Environment tokens are read on every request, so an updated variable is picked up; command tokens are
    cached for ``token_ttl_s`` and fetched by one thread while the others wait.
    """

    def __init__(self, spec: ProviderSpec, clock: Callable[[], float] = time.monotonic) -> None:
        self._spec = spec
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: tuple[str, float] | None = None  # (token, expiry on the clock), replaced as one
        self.from_command = spec.token_command is not None and not spec.api_key_override

    def __repr__(self) -> str:
        return f"<{type(self).__name__} provider={self._spec.name!r} from_command={self.from_command}>"

    def cached(self) -> str | None:
        """The current command token without waiting, or None when it must be fetched."""
        cache = self._cache
        return cache[0] if cache is not None and self._clock() < cache[1] else None

    def token(self) -> str | None:
        """The token to send (None: send none, for keyless proxies)."""
        if not self.from_command:
            return self._from_environment()
        token = self.cached()
        if token is not None:
            return token
        with self._lock:
            token = self.cached()  # another thread may have fetched it while this one waited
            if token is None:
                token = self._fetch()
            return token

    def refresh(self, rejected: str | None) -> str | None:
        """A token to retry with after ``rejected`` got a 401, or None when there is no other one to try."""
        if not self.from_command:
            token = self._from_environment()
            return token if token != rejected else None
        with self._lock:
            token = self.cached()
            if token is None or token == rejected:
                token = self._fetch()
            # gcloud hands out its cached token until it nears expiry: resending that one would 401 again.
            return token if token != rejected else None

    def _from_environment(self) -> str | None:
        spec = self._spec
        try:
            return spec.api_key()
        except MissingCredentialsError:
            var = spec.api_key_env or "API_KEY"
            raise MissingCredentialsError(
                f"Provider {spec.name!r} needs a Google OAuth access token: set `{var}` (for example to the "
                f"output of `gcloud auth print-access-token`), or set providers.{spec.name}.token_command: "
                "gcloud auth print-access-token, which modelswap runs and refreshes by itself.",
                env_var=var,
                provider=spec.name,
            ) from None

    def _fetch(self) -> str:
        spec = self._spec
        command = spec.token_command
        argv = shlex.split(command) if isinstance(command, str) else list(command or ())
        shown = " ".join(argv)
        where = f"providers.{spec.name}.token_command"
        if not argv:
            raise ConfigError(f"{where} is empty; give the command that prints an access token.", field=where)
        try:
            # No shell: the configured words are the argv, so nothing in them is interpreted.
            done = subprocess.run(
                argv,
                capture_output=True,
                text=True,
                timeout=_COMMAND_TIMEOUT_S,
                stdin=subprocess.DEVNULL,
                check=False,
            )
        except FileNotFoundError:
            raise ConfigError(
                f"{where} `{shown}` cannot run: {argv[0]} is not installed or not on PATH.", field=where
            ) from None
        except subprocess.TimeoutExpired:
            raise ConfigError(
                f"{where} `{shown}` did not finish within {_COMMAND_TIMEOUT_S:g}s. Run it in a shell to see "
                "whether it waits for input (a login prompt, say).",
                field=where,
            ) from None
        except OSError as exc:
            raise ConfigError(f"{where} `{shown}` cannot run ({exc.strerror or exc}).", field=where) from None
        lines = [line.strip() for line in done.stdout.splitlines() if line.strip()]
        if done.returncode != 0:
            said = redact(" ".join(done.stderr.split()))[:300]
            raise ConfigError(
                f"{where} `{shown}` failed with exit code {done.returncode}"
                + (f": {said}" if said else "")
                + ". Run it in a shell to see why (for gcloud: `gcloud auth login`).",
                field=where,
            )
        if not lines:
            raise ConfigError(f"{where} `{shown}` printed no token.", field=where)
        token = lines[-1]  # tools print warnings first; the token is the last line
        remember_secret(token)
        self._cache = (token, self._clock() + spec.token_ttl_s)
        return token


_sources: dict[tuple[Any, ...], _TokenSource] = {}
_sources_lock = threading.Lock()


def _token_source(spec: ProviderSpec) -> _TokenSource:
    """One token source per endpoint and credentials, however many clients talk to it."""
    key = (
        spec.name,
        spec.base_url,
        spec.token_command,
        spec.token_ttl_s,
        spec.api_key_env,
        hash(spec.api_key_override) if spec.api_key_override else None,
    )
    with _sources_lock:
        source = _sources.get(key)
        if source is None:
            source = _sources[key] = _TokenSource(spec)
        return source


class VertexTokenAuth(httpx.Auth):
    """Sets ``Authorization: Bearer`` from the provider's token source; on a 401, refreshes and resends once.

    Works for both clients: the sync flow fetches a token inline, the async flow in a worker thread (running
    ``gcloud`` takes a second, which must not stall the event loop). A cached token costs no thread hop.
    """

    requires_request_body = False
    requires_response_body = False

    def __init__(self, spec: ProviderSpec, source: _TokenSource | None = None) -> None:
        self._source = source if source is not None else _token_source(spec)
        self._provider = spec.name

    def __repr__(self) -> str:
        return f"VertexTokenAuth(provider={self._provider!r})"

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = self._source.token()
        _authorize(request, token)
        response = yield request
        if response.status_code == 401:
            fresh = self._source.refresh(token)
            if fresh is not None:
                _authorize(request, fresh)
                yield request

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        source = self._source
        if source.from_command:
            token = source.cached() or await asyncio.to_thread(source.token)
        else:
            token = source.token()  # the environment: nothing to wait for
        _authorize(request, token)
        response = yield request
        if response.status_code == 401:
            fresh = (
                await asyncio.to_thread(source.refresh, token)
                if source.from_command
                else source.refresh(token)
            )
            if fresh is not None:
                _authorize(request, fresh)
                yield request


def _authorize(request: httpx.Request, token: str | None) -> None:
    if token:
        request.headers["authorization"] = f"Bearer {token}"
