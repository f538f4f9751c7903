"""Prefect tasks and blocks for modelswap. Installed as ``modelswap.tasks``; needs the ``prefect`` extra.

    >>> from prefect import flow
    >>> from modelswap.tasks import classify, complete
    >>> @flow
    ... def triage(ticket: str, model: str | None = None) -> str:
    ...     return classify(ticket, ["bug", "feature", "question"], model, temperature=0)

The model a task uses: its ``model`` argument, else the Prefect Variable ``modelswap_model`` (read at run
time: change it and the next run uses the new model, no redeploy), else ``$MODEL_PROVIDER``/``$MODEL_ID`` or
``$MODELSWAP_MODEL``, else the config's ``default``. Importing :mod:`modelswap` alone never imports Prefect.
"""

from ._blocks import ModelSwapConfig, ModelSwapCredentials
from ._cache import MODEL_CALL_CACHE, ModelCallCache
from ._model import MODEL_VARIABLE, client_for, resolve_model
from ._tasks import classify, complete, complete_batch, extract_json, parse_label, retry_on_transient

__all__ = [
    "MODEL_CALL_CACHE",
    "MODEL_VARIABLE",
    "ModelCallCache",
    "ModelSwapConfig",
    "ModelSwapCredentials",
    "classify",
    "client_for",
    "complete",
    "complete_batch",
    "extract_json",
    "parse_label",
    "resolve_model",
    "retry_on_transient",
]
