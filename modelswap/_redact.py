"""Keep API keys out of messages, logs and reports.

Two nets: every key modelswap resolves is remembered (in this process only) and replaced wherever it shows up,
and strings shaped like well-known provider keys are masked even when modelswap never saw them (a provider
echoing a key back in an error body, a key pasted into a prompt that ends up in a report).
"""

from __future__ import annotations

import re

__all__ = ["looks_like_key", "redact", "remember_secret"]

_MASK = "***"
_known: set[str] = set()
_known_pattern: re.Pattern[str] | None = None

# Prefixes documented by the providers; the tail lengths keep ordinary words from matching.
_KEY_SHAPES = re.compile(
    r"""(
        sk-(?:proj-|ant-(?:api\d\d-)?|or-v1-)?[A-Za-z0-9_\-]{16,}   # OpenAI, Anthropic, OpenRouter
      | gsk_[A-Za-z0-9]{20,}                                      # Groq
      | AIza[0-9A-Za-z_\-]{30,}                                   # Google AI
      | hf_[A-Za-z0-9]{30,}                                       # Hugging Face
      | ya29\.[0-9A-Za-z_\-\.]{20,}                               # Google OAuth access token
      | (?<=Bearer\s)[A-Za-z0-9_\-\.=]{20,}                        # anything sent as a bearer token
    )""",
    re.VERBOSE,
)


def remember_secret(secret: str | None) -> None:
    """Register a secret so that :func:`redact` masks it from now on (secrets shorter than 6 chars are ignored)."""
    global _known_pattern
    if not secret or len(secret) < 6 or secret in _known:
        return
    _known.add(secret)
    _known_pattern = re.compile("|".join(re.escape(s) for s in sorted(_known, key=len, reverse=True)))


def looks_like_key(value: str) -> bool:
    """True when ``value`` contains something shaped like a provider API key."""
    return bool(_KEY_SHAPES.search(value))


def redact(text: str) -> str:
    """Return ``text`` with every remembered secret and every key-shaped string masked."""
    if not text:
        return text
    if _known_pattern is not None:
        text = _known_pattern.sub(_MASK, text)
    return _KEY_SHAPES.sub(_MASK, text)
