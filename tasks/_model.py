"""Which model a task uses, and the client that calls it.

The precedence, first match wins:

1. the ``model`` argument of the task (or flow parameter passed down to it);
2. the Prefect Variable ``modelswap_model``, read when the flow *runs*: change it in the UI or with
   ``prefect variable set modelswap_model groq/llama-3.1-8b-instant --overwrite`` and the next run uses the new
   model, with no redeploy (a run reads it once: all its tasks use the same model);
3. what the core does with no model: ``$MODEL_PROVIDER`` + ``$MODEL_ID`` or ``$MODELSWAP_MODEL``, then the
   config's ``default`` (see ``modelswap._config``).
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from typing import Any

from modelswap._client import Client, default_client
from modelswap._config import Config

__all__ = ["MODEL_VARIABLE", "client_for", "close_clients", "resolve_model"]

MODEL_VARIABLE = "modelswap_model"

logger = logging.getLogger("modelswap.tasks")


def _flow_run_id() -> Any:
    """The id of the flow run this code runs in (a task run's flow run), or None outside flow runs."""
    from prefect.context import FlowRunContext, TaskRunContext

    task_ctx = TaskRunContext.get()
    if task_ctx is not None and task_ctx.task_run.flow_run_id is not None:
        return task_ctx.task_run.flow_run_id
    flow_ctx = FlowRunContext.get()
    if flow_ctx is not None and flow_ctx.flow_run is not None:
        return flow_ctx.flow_run.id
    return None


def _in_run_context() -> bool:
    from prefect.context import FlowRunContext, TaskRunContext

    return FlowRunContext.get() is not None or TaskRunContext.get() is not None


def _api_configured() -> bool:
    from prefect.settings import PREFECT_API_URL

    return bool(PREFECT_API_URL.value())


# The Variable as each flow run first read it: every task of a run uses the same model, even if the Variable
# changes while the run is going (a batch answered by two models is the hazard modelswap exists to catch).
_per_run: OrderedDict[Any, str | None] = OrderedDict()
_per_run_lock = threading.Lock()
_PER_RUN_SIZE = 256


def resolve_model(model: str | None = None) -> str | None:
    """The model a task should use: ``model`` if given, else the Prefect Variable ``modelswap_model``, else None.

    None lets the core pick (``$MODEL_PROVIDER`` + ``$MODEL_ID``, ``$MODELSWAP_MODEL``, then the config's
    ``default``). The Variable is read at run time, so a change applies to the next flow run without
    redeploying; within one flow run it is read once, so all of the run's tasks use the same model.

    Works inside and outside flow runs. Outside a run, the Variable is read only when ``PREFECT_API_URL`` is set
    (no temporary server is started for it). When the Prefect API cannot be reached, or the Variable holds
    something other than a non-empty string, this falls back to None and logs why at DEBUG level.

    Args:
        model: an alias, ``provider/model_id``, or None.

    Returns:
        The model reference to pass to the core, or None for the core's own resolution.

    Example:
        >>> from modelswap.tasks import resolve_model
        >>> resolve_model("groq/llama-3.1-8b-instant")
        'groq/llama-3.1-8b-instant'
    """
    if model:
        return model
    run_id = _flow_run_id()
    if run_id is None and not _in_run_context() and not _api_configured():
        logger.debug("resolve_model: not in a Prefect run and PREFECT_API_URL is unset; Variable %r not read",
                     MODEL_VARIABLE)
        return None
    if run_id is not None:
        with _per_run_lock:
            if run_id in _per_run:
                return _per_run[run_id]
    try:
        from prefect.variables import Variable

        value = Variable.get(MODEL_VARIABLE, default=None, _sync=True)
    except Exception as exc:  # noqa: BLE001 - any API failure means "no Variable"
        logger.debug("resolve_model: cannot read the Prefect Variable %r (%s: %s); using the core's default",
                     MODEL_VARIABLE, type(exc).__name__, exc)
        return None  # not remembered: the next task of the run tries again
    if value is not None and (not isinstance(value, str) or not value.strip()):
        logger.debug("resolve_model: the Prefect Variable %r is %r, not a model name; ignored", MODEL_VARIABLE, value)
        value = None
    resolved = value.strip() if value is not None else None
    if run_id is not None:
        with _per_run_lock:
            resolved = _per_run.setdefault(run_id, resolved)
            while len(_per_run) > _PER_RUN_SIZE:
                _per_run.popitem(last=False)
    return resolved


# -- clients ---------------------------------------------------------------------------------------------------
# One client per config, kept across task runs of a process so HTTP connections are pooled (the per-endpoint
# concurrency and rate limits are process-wide in the core whatever the client). Keys are fixed when a
# provider's first call builds its HTTP client: apply credentials before the first call of the process.
_CACHE_SIZE = 16
_clients: OrderedDict[tuple[Any, ...], tuple[Any, Client]] = OrderedDict()
_clients_lock = threading.Lock()


def _key(config: Any) -> tuple[tuple[Any, ...], Any]:
    """A cache key for ``config`` and the object the key keeps alive (so an ``id`` is never reused)."""
    if isinstance(config, Config):
        return ("config", id(config)), config
    if hasattr(config, "to_config") and hasattr(config, "yaml"):  # a ModelSwapConfig block
        import hashlib

        digest = hashlib.sha256(f"{config.yaml}\0{getattr(config, 'default_model', None)}".encode()).hexdigest()
        return ("block", digest), None
    if isinstance(config, (str, os.PathLike)):
        path = os.path.abspath(os.fspath(config))
        try:
            mtime = os.stat(path).st_mtime_ns
        except OSError:
            mtime = None  # Client raises the clear "config file not found" on use
        return ("path", path, mtime), None
    raise TypeError(
        "config must be None, a path to a modelswap YAML file, a modelswap.Config or a ModelSwapConfig block, "
        f"not {type(config).__name__}"
    )


def client_for(config: Any = None) -> Client:
    """The shared :class:`modelswap.Client` for ``config`` (None: the process-wide default client).

    ``config`` may be None, a path to a YAML config, a :class:`modelswap.Config`, or a ``ModelSwapConfig`` block.
    A path is reloaded when the file changes.
    """
    if config is None:
        return default_client()
    key, keep = _key(config)
    with _clients_lock:
        found = _clients.get(key)
        if found is not None:
            _clients.move_to_end(key)
            return found[1]
    if isinstance(config, Config):
        client = Client(config)
    elif hasattr(config, "to_config"):
        client = Client(config.to_config())
    else:
        client = Client(config)
        client.config  # noqa: B018 - load now: a bad file raises here, and is never cached
    with _clients_lock:
        found = _clients.get(key)
        if found is not None:
            return found[1]
        _clients[key] = (keep, client)
        while len(_clients) > _CACHE_SIZE:
            # Not closed: another thread may still be calling through it; its pools go with it.
            _clients.popitem(last=False)
    return client


def close_clients() -> None:
    """Close and forget the clients :func:`client_for` keeps (for tests, and processes that change configs)."""
    with _clients_lock:
        clients = [client for _, client in _clients.values()]
        _clients.clear()
    for client in clients:
        client.close()
