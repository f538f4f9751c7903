"""An opt-in Prefect cache policy for model calls, keyed on what the model sees, never on secrets."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Optional

from prefect.cache_policies import CachePolicy

from modelswap._client import _messages

from ._model import client_for, resolve_model

__all__ = ["MODEL_CALL_CACHE", "ModelCallCache"]

# Task inputs the key handles itself: `config` and `model` become the resolved endpoint and model id;
# `prompt` and `system` become the messages.
_HANDLED = frozenset({"config", "model", "prompt", "system"})


@dataclass
class ModelCallCache(CachePolicy):
    """Cache a model call on the resolved model and the exact request: same model, same messages, same params.

    The key hashes the task function, the **resolved** provider kind, base URL and model id (what
    ``Client(config).resolve(model)`` gives after the Prefect Variable and the environment are applied, so
    switching ``modelswap_model`` misses the cache), the model's configured params, the messages and every other
    input (params, schema, labels...). It never hashes API keys, headers, clients or config objects. Inputs must
    be JSON values; anything else is refused, and Prefect then runs the task uncached and logs why.

    Model calls are not idempotent (sampling), so no task caches by default. Opt in per task:

    Example:
        >>> from modelswap.tasks import MODEL_CALL_CACHE, complete
        >>> cached_complete = complete.with_options(
        ...     cache_policy=MODEL_CALL_CACHE, persist_result=True, result_serializer="json"
        ... )

        ``cached_complete("Say hi", "gemma-raw")`` twice in a flow calls the model once; the second run is
        ``Cached``. Add ``cache_expiration=timedelta(days=7)`` to let entries age out.
    """

    def compute_key(
        self,
        task_ctx: Any,
        inputs: dict[str, Any],
        flow_parameters: dict[str, Any],
        **kwargs: Any,
    ) -> Optional[str]:
        inputs = dict(inputs or {})
        spec = client_for(inputs.get("config")).resolve(resolve_model(inputs.get("model")))
        prompt = inputs.get("prompt")
        task = getattr(task_ctx, "task", None) if task_ctx is not None else None
        fn = getattr(task, "fn", None)
        payload = {
            "task": f"{getattr(fn, '__module__', '')}.{getattr(fn, '__qualname__', '')}" if fn else None,
            "kind": spec.provider.kind,
            "base_url": spec.provider.base_url,
            "model_id": spec.model_id,
            "model_params": dict(spec.params),
            "messages": _messages(prompt, inputs.get("system")) if prompt is not None else None,
            "inputs": {name: value for name, value in inputs.items() if name not in _HANDLED},
        }
        try:
            text = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=_refuse)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"MODEL_CALL_CACHE cannot key this call: {exc}") from None
        return hashlib.sha256(text.encode()).hexdigest()


def _refuse(value: Any) -> Any:
    if isinstance(value, (set, frozenset, tuple)):
        return sorted(value, key=repr) if isinstance(value, (set, frozenset)) else list(value)
    raise TypeError(f"a {type(value).__name__} is not a JSON value; pass JSON values only")


MODEL_CALL_CACHE = ModelCallCache()
"""The :class:`ModelCallCache` instance to pass as ``cache_policy``."""
