"""``python -m modelswap._llama_engine -m MODEL.gguf --port P ...``: llama-server, from a prebuilt wheel.

``xllamacpp`` (MIT) compiles llama.cpp's own HTTP server (``tools/server``) into a Python extension and ships it
as a prebuilt manylinux wheel, so a fresh machine gets the exact llama-server API (``/health``, ``/completion``,
``/v1/chat/completions``, ``json_schema``, ...) from ``pip install`` in seconds instead of a 5-30 minute
source build. This module takes the subset of llama-server's flags :class:`modelswap.local.LocalServer` uses,
so the two engines are one command line apart, and serves until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m modelswap._llama_engine",
                                     description="llama-server's HTTP API, served by xllamacpp.")
    parser.add_argument("-m", "--model", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--alias", default=None)
    parser.add_argument("-c", "--ctx-size", type=int, default=4096)
    parser.add_argument("-np", "--parallel", type=int, default=1)
    parser.add_argument("-t", "--threads", type=int, default=-1)
    parser.add_argument("--no-webui", action="store_true")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        import xllamacpp
    except ImportError:
        print("xllamacpp is not installed: pip install 'modelswap[local]'", file=sys.stderr)
        return 2
    params = xllamacpp.CommonParams()
    params.model.path = args.model
    params.hostnames = [args.host]
    params.port = args.port
    params.n_ctx = args.ctx_size
    params.n_parallel = args.parallel
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads
    params.ui = not args.no_webui
    if args.alias:
        params.model_alias = {args.alias}
    # Block the stop signals before the server's threads start, so they inherit the mask and only this thread
    # receives them.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    try:
        server = xllamacpp.Server(params)
    except Exception as exc:  # the extension raises plain RuntimeErrors for a bad model file or a taken port
        print(f"llama-server (xllamacpp) could not start: {exc}", file=sys.stderr)
        return 1
    print(f"llama-server (xllamacpp {getattr(xllamacpp, '__version__', '?')}) listening on "
          f"{server.listening_address}", flush=True)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    sys.stdout.flush()
    # The extension's destructors may wait on idle HTTP keep-alive connections; the process owns nothing else.
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
