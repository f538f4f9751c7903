"""Prefect flows: ``batch_inference`` (flows/batch.py); ``regression``, ``shadow`` and ``rollback_watch``
(flows/safety.py); and ``migration``, the whole runbook from audit to cutover and rollback (flows/runbook.py).

Installed as ``modelswap.flows``; needs the ``prefect`` extra (``pip install 'modelswap[prefect]'``). Each flow
takes the model as one parameter (``model``, or ``candidate``/``baseline`` where there are two), the swap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["batch_inference", "migration", "regression", "rollback_watch", "shadow"]

_WHERE = {"batch_inference": "batch", "migration": "runbook", "regression": "safety", "rollback_watch": "safety", "shadow": "safety"}

if TYPE_CHECKING:
    from modelswap.flows.batch import batch_inference
    from modelswap.flows.runbook import migration
    from modelswap.flows.safety import regression, rollback_watch, shadow


def __getattr__(name: str) -> Any:
    # Lazy, so that `import modelswap.flows.batch` in a deployment loads only what that flow needs.
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'modelswap.flows' has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f"modelswap.flows.{module}"), name)
