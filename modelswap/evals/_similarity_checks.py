"""The checks that score how close the answer is to a reference text: ``similar`` (a similarity from 0 to 1)
and ``levenshtein`` (an edit distance).

``similar`` is lexical, not embedding-based (no model call, no extra dependency): ``ratio`` is difflib's
``SequenceMatcher`` ratio of the case-folded, whitespace-collapsed texts; ``jaccard`` is the overlap of their
word sets. The similarity is the assertion's score.
"""

from __future__ import annotations

import difflib
import re

from ._check import AssertionSpecError, Check, CheckContext, Outcome, value_or_expected
from ._types import Assertion
from ._values import as_text, short

__all__ = ["CHECKS"]

_SIMILAR_DEFAULT = 0.8
_LEVENSHTEIN_DEFAULT = 5.0  # as in promptfoo


def _similar(a: Assertion, out: str, ctx: CheckContext) -> Outcome:
    want = as_text(value_or_expected(a, ctx))
    method = a.options.get("method", "ratio")
    similarity = _jaccard(out, want) if method == "jaccard" else _ratio(out, want)
    threshold = _SIMILAR_DEFAULT if a.threshold is None else a.threshold
    ok = similarity >= threshold
    return Outcome(ok, similarity, f"similarity {similarity:.2f} ({method}) to {short(want)!r}; threshold {threshold:g}")


def _levenshtein(a: Assertion, out: str, ctx: CheckContext) -> Outcome:
    want, got = as_text(value_or_expected(a, ctx)), out
    if not a.options.get("exact"):
        want, got = want.strip(), got.strip()
    limit = _LEVENSHTEIN_DEFAULT if a.threshold is None else a.threshold
    distance = _edit_distance(got, want, int(limit))
    ok = distance <= limit
    shown = f"{distance}" if ok else f"more than {limit:g}"
    return Outcome(ok, float(ok), f"edit distance {shown} to {short(want)!r}; limit {limit:g}")


# -- validation ---------------------------------------------------------------------------------------------------


def _validate_similar(a: Assertion) -> None:
    method = a.options.get("method", "ratio")
    if method not in ("ratio", "jaccard"):
        raise AssertionSpecError(f"similar `options.method` is ratio or jaccard, not {method!r}.", "options.method")
    if a.threshold is not None and not 0 <= a.threshold <= 1:
        raise AssertionSpecError(f"similar `threshold` is a similarity in 0..1, not {a.threshold}.", "threshold")


def _validate_levenshtein(a: Assertion) -> None:
    if a.threshold is not None and a.threshold < 0:
        raise AssertionSpecError("levenshtein `threshold` is the largest edit distance allowed, >= 0.", "threshold")


CHECKS: dict[str, Check] = {
    "similar": Check(_similar, frozenset({"method"}), "or-expected", validate=_validate_similar),
    "levenshtein": Check(_levenshtein, frozenset({"exact"}), value="or-expected", validate=_validate_levenshtein),
}
"""The assertion types this module implements."""


# -- measures -----------------------------------------------------------------------------------------------------


def _normalize(text: str) -> str:
    return " ".join(text.casefold().split())


def _ratio(a: str, b: str) -> float:
    a, b = _normalize(a), _normalize(b)
    if not a and not b:
        return 1.0
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


def _jaccard(a: str, b: str) -> float:
    left, right = set(re.findall(r"\w+", a.casefold())), set(re.findall(r"\w+", b.casefold()))
    if not left and not right:
        return 1.0
    return len(left & right) / len(left | right)


def _edit_distance(a: str, b: str, limit: int) -> int:
    """Levenshtein distance, or ``limit + 1`` as soon as it is sure to exceed ``limit``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i]
        for j, char_b in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b)))
        if min(current) > limit:
            return limit + 1
        previous = current
    return previous[-1]
