from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["Completion"]


@dataclass(slots=True)
class Completion:
    """The result of one call, the same for every provider.

    Attributes:
        text: the generated text.
        finish_reason: why generation stopped, as the provider said it (``stop``, ``length``, ...).
        input_tokens, output_tokens: usage as the provider counted it, None when it did not say.
        latency_s: wall time of the whole call, retries included.
        cost: from the configured price per million tokens; None when the model has no price.
        alias: the model reference the call resolved (an alias, or ``provider/model_id``).
        provider, model_id: where the call went.
        attempts: HTTP attempts made (1 when the first one succeeded).
        reasoning_tokens: thinking tokens billed as output but not in ``output_tokens`` (Gemini), else None;
            ``cost`` includes them.
        data: with ``schema=``, the parsed JSON, validated against the schema.
        raw: the provider's response body, untouched.
    """

    text: str
    finish_reason: str | None
    input_tokens: int | None
    output_tokens: int | None
    latency_s: float
    cost: float | None
    alias: str
    provider: str
    model_id: str
    attempts: int = 1
    data: Any = None
    reasoning_tokens: int | None = None
    raw: Any = field(default=None, repr=False)

    def to_dict(self, *, include_raw: bool = False) -> dict[str, Any]:
        data = asdict(self)
        if not include_raw:
            data.pop("raw")
        return data
