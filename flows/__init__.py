"""Prefect flows: batch inference (and, as they land, regression, shadow, rollback and migration).

Installed as ``modelswap.flows``; needs the ``prefect`` extra (``pip install 'modelswap[prefect]'``). Each flow
takes ``model: str | None = None``, the one parameter of a swap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["batch_inference"]

if TYPE_CHECKING:
    from modelswap.flows.batch import batch_inference


def __getattr__(name: str) -> Any:
    # Lazy, so that `import modelswap.flows.batch` in a deployment loads only what that flow needs.
    if name == "batch_inference":
        from modelswap.flows.batch import batch_inference

        return batch_inference
    raise AttributeError(f"module 'modelswap.flows' has no attribute {name!r}")
