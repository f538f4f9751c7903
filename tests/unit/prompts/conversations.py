"""Messages and seeded random conversations, shared by the prompt-format tests that compare against a template."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["assistant", "random_conversation", "system", "user"]


def user(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}


def assistant(text: str) -> dict[str, str]:
    return {"role": "assistant", "content": text}


def system(text: str) -> dict[str, str]:
    return {"role": "system", "content": text}


def _text(rng: random.Random, pieces: Sequence[str], specials: Sequence[str]) -> str:
    parts = rng.choices(pieces, k=rng.randint(1, 3))
    if specials and rng.random() < 0.15:
        parts.insert(rng.randrange(len(parts) + 1), rng.choice(specials))
    return "".join(parts)


def random_conversation(
    rng: random.Random,
    pieces: Sequence[str],
    specials: Sequence[str] = (),
    extra: Callable[[random.Random, str, float], dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Mostly well-formed alternations (with or without a system message), sometimes arbitrary role orders.

    Contents join 1 to 3 of ``pieces``, now and then with one of ``specials`` (a family's special tokens) inside.
    Now and then a message has a None-valued key (dropped before rendering) or an extra key every template ignores;
    ``extra(rng, role, roll)`` may add a family's own keys for the rolls in 0.15..1.
    """
    n = rng.randint(1, 6)
    if rng.random() < 0.7:
        roles = ["user" if i % 2 == 0 else "assistant" for i in range(n)]
        if rng.random() < 0.5:
            roles = ["system", *roles]
    else:
        roles = [rng.choice(["system", "user", "assistant"]) for _ in range(n)]
    messages: list[dict[str, Any]] = []
    for role in roles:
        message: dict[str, Any] = {"role": role, "content": _text(rng, pieces, specials)}
        roll = rng.random()
        if roll < 0.1:
            message["tool_calls"] = None
        elif roll < 0.15:
            message["name"] = "someone"
        elif extra is not None:
            message.update(extra(rng, role, roll))
        messages.append(message)
    return messages
