"""Reading what ``generateContent`` answers, whole or streamed: text, finish reason, refusals and usage.

The text is ``candidates[0].content.parts[*].text`` joined, without ``thought: true`` parts (reasoning).
``finishReason`` is reported as the API says it (``STOP``, ``MAX_TOKENS``, ...). A prompt blocked by
``promptFeedback.blockReason`` (no candidates at all) and an answer withheld by a content filter
(``SAFETY``, ``RECITATION``, ``PROHIBITED_CONTENT``, ...) are refusals (an :class:`InBandError` that is never
retried), naming the reason and the flagged categories. Usage: ``promptTokenCount`` in,
``candidatesTokenCount`` out, and ``thoughtsTokenCount`` as the reasoning tokens.

Streams (``alt=sse``) are decoded by :class:`GeminiGenerateStream`: each event a whole
``GenerateContentResponse`` with the next text, no sentinel, an error mid-stream an event with the error body.
"""

from __future__ import annotations

import json
from typing import Any, Mapping

from modelswap.hookspecs import Adapter, ErrorInfo, InBandError, Parsed

__all__ = ["GeminiGenerateStream", "answer", "refused"]


# Finish reasons that mean the answer was withheld by a filter: an error, not an (empty or cut) answer.
_WITHHELD = frozenset(
    {
        "SAFETY",
        "RECITATION",
        "LANGUAGE",
        "BLOCKLIST",
        "PROHIBITED_CONTENT",
        "SPII",
        "IMAGE_SAFETY",
        "IMAGE_PROHIBITED_CONTENT",
        "IMAGE_RECITATION",
    }
)
# google.rpc codes that are the server's trouble, worth a retry when they arrive inside a 200 stream.
_TRANSIENT_STATUSES = frozenset(
    {"RESOURCE_EXHAUSTED", "UNAVAILABLE", "INTERNAL", "DEADLINE_EXCEEDED", "ABORTED", "UNKNOWN"}
)


def answer(body: Mapping[str, Any]) -> Parsed:
    """The answer in one complete ``GenerateContentResponse``.

    Raises:
        InBandError: a refusal (:func:`refused`): the prompt was blocked, or a filter withheld the answer.
    """
    blocked = _prompt_blocked(body)
    if blocked is not None:
        raise refused(blocked)
    candidate = _first_candidate(body)
    text = "".join(_texts(candidate))
    finish_reason = candidate.get("finishReason") or None
    if finish_reason in _WITHHELD:
        raise refused(_withheld(candidate, text))
    usage = body.get("usageMetadata") or {}
    return Parsed(
        text, finish_reason, _count(usage, "promptTokenCount"), _count(usage, "candidatesTokenCount"),
        _count(usage, "thoughtsTokenCount"),
    )


def refused(info: ErrorInfo) -> InBandError:
    """A refusal to raise: the core makes it a RequestRejectedError naming the provider, never retried."""
    return InBandError(info, transient=False)


class GeminiGenerateStream:
    """Decodes ``alt=sse`` events: each one a ``GenerateContentResponse`` carrying the next piece of text.

    There is no terminal event: the stream is complete when the server closes it after a ``finishReason``
    (``done`` stays False, so every chunk, a trailing usage-only one included, is read). Usage counts are
    cumulative; the last non-null value of each wins.
    """

    def __init__(self, adapter: Adapter) -> None:
        self._adapter = adapter
        self._parts: list[str] = []
        self._finish_reason: str | None = None
        self._usage: dict[str, Any] = {}
        self.done = False

    def feed(self, data: str, event: str) -> str | None:
        if not data.strip():
            return None
        return self.take(json.loads(data))

    def take(self, chunk: Any) -> str | None:
        """Take one decoded chunk; return the answer text it adds."""
        if not isinstance(chunk, dict):
            raise ValueError("a stream event is not a JSON object")
        if "error" in chunk:
            info = self._adapter.parse_error(200, chunk, {})
            raise InBandError(info, transient=_is_server_side(info))
        usage = chunk.get("usageMetadata")
        if isinstance(usage, dict):
            self._usage.update({k: v for k, v in usage.items() if v is not None})
        blocked = _prompt_blocked(chunk)
        if blocked is not None:
            raise InBandError(blocked, transient=False)
        candidate = _first_candidate(chunk)
        text = "".join(_texts(candidate))
        if text:
            self._parts.append(text)
        finish_reason = candidate.get("finishReason")
        if finish_reason:
            self._finish_reason = finish_reason
            if finish_reason in _WITHHELD:
                raise InBandError(_withheld(candidate, "".join(self._parts)), transient=False)
        return text or None

    def finish(self) -> Parsed:
        if self._finish_reason is None:
            raise ValueError("the stream ended before any finishReason (truncated)")
        return self.partial()

    def partial(self) -> Parsed:
        """What arrived so far, complete or not."""
        usage = self._usage
        return Parsed(
            "".join(self._parts),
            self._finish_reason,
            _count(usage, "promptTokenCount"),
            _count(usage, "candidatesTokenCount"),
            _count(usage, "thoughtsTokenCount"),
        )


# -- reading one response -----------------------------------------------------------------------------------
def _first_candidate(body: Mapping[str, Any]) -> Mapping[str, Any]:
    """Candidate 0. With candidateCount > 1 a stream chunk may carry only another candidate's text."""
    for candidate in body.get("candidates") or []:
        if isinstance(candidate, dict) and candidate.get("index", 0) in (0, None):
            return candidate
    return {}


def _texts(candidate: Mapping[str, Any]) -> list[str]:
    parts = (candidate.get("content") or {}).get("parts") or []
    # Thought summaries (`thought: true`) are reasoning, not the answer; function calls carry no text.
    return [
        p["text"]
        for p in parts
        if isinstance(p, dict) and isinstance(p.get("text"), str) and not p.get("thought")
    ]


def _prompt_blocked(body: Mapping[str, Any]) -> ErrorInfo | None:
    feedback = body.get("promptFeedback")
    if not isinstance(feedback, dict):
        return None
    reason = feedback.get("blockReason")
    if not reason or body.get("candidates"):
        return None
    flagged = _flagged(feedback.get("safetyRatings"))
    message = (
        f"Gemini blocked the prompt (blockReason {reason}{'; ' + flagged if flagged else ''}) "
        "and gave no answer. "
        "Rephrase the prompt, or relax the model's safety_settings if the use is legitimate"
    )
    return ErrorInfo(message, f"PROMPT_BLOCKED:{reason}")


def _withheld(candidate: Mapping[str, Any], text: str) -> ErrorInfo:
    reason = str(candidate.get("finishReason"))
    flagged = _flagged(candidate.get("safetyRatings"))
    said = candidate.get("finishMessage")
    cut = f" after {len(text)} characters" if text else ""
    message = (
        f"Gemini withheld the answer{cut} (finishReason {reason}{'; ' + flagged if flagged else ''}"
        f"{'; ' + str(said) if said else ''}). "
        + (
            "It recited protected material: ask for a summary or a paraphrase instead"
            if reason in ("RECITATION", "IMAGE_RECITATION")
            else "Rephrase the prompt, or relax the model's safety_settings if the use is legitimate"
        )
    )
    return ErrorInfo(message, reason)


def _flagged(ratings: Any) -> str:
    """The safety categories rated above NEGLIGIBLE/LOW, or marked blocked."""
    found = []
    for rating in ratings or []:
        if not isinstance(rating, dict):
            continue
        probability = rating.get("probability")
        if rating.get("blocked") or probability in ("MEDIUM", "HIGH"):
            found.append(f"{rating.get('category')}: {probability or 'blocked'}")
    return ", ".join(found)


def _count(usage: Mapping[str, Any], name: str) -> int | None:
    value = usage.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _is_server_side(info: ErrorInfo) -> bool:
    """Whether an in-band error is the server's trouble (worth a retry) rather than the request's."""
    if isinstance(info.code, int) and (info.code == 429 or info.code >= 500):
        return True
    if info.error_type:
        return info.error_type in _TRANSIENT_STATUSES
    return not isinstance(info.code, int)
