"""Anytime-valid monitors: bounds on a rate that stay right however often they are looked at.

A fixed-sample bound (Clopper-Pearson) is wrong at most ``alpha`` of the time *for one look*. ``watch`` and an
hourly ``shadow`` look again and again at data that keep growing; each look is another chance of a false alarm,
and over 48 hourly looks a 5% test raises one far more often than 5% (the rate is computed exactly in
tests/unit/regress/test_sequential.py). A *confidence sequence* holds at every look at once: the chance that the
true rate is *ever* outside it is at most ``alpha``, whenever and however often one looks, and one may act the
moment it proves a breach.

The construction is Robbins' mixture martingale, the beta-binomial confidence sequence of Howard, Ramdas,
McAuliffe & Sekhon (2021, "Time-uniform, nonparametric, nonasymptotic confidence sequences", *Annals of
Statistics* 49:1055-1080), one-sided. For a limit ``p0``, the likelihood ratio of the data under a rate ``p``
against ``p0``, averaged over a Beta prior on ``p`` restricted to ``p > p0``, is a nonnegative supermartingale
under every rate at or below ``p0`` (each factor ``p/p0`` or ``(1-p)/(1-p0)`` has mean at most 1 there). By
Ville's inequality it ever reaches ``1/alpha`` with probability at most ``alpha``, so reaching it proves the rate
above ``p0``. The integral is closed-form (incomplete beta functions), so a look costs microseconds. The prior
only decides where the power goes: Beta(1, (1 - p0)/p0), mean ``p0`` (mirrored above one half), spreads it over
rates up to a few times the limit, the breaches a rollback exists for.

Each claim ("above the limit", "below the limit") is tested at ``alpha``; a monitor says ``breach proven``,
``within limit`` or ``inconclusive``. The counts must be cumulative from a fixed start (the promotion, the first
replay): a sliding window forgets data and is not covered.

    >>> monitor_rate(events=9, n=100, limit=0.02).status
    'breach proven'
    >>> monitor_rate(events=0, n=40, limit=0.02).status
    'inconclusive'
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from ._bounds import _betacf, binomial_cdf

__all__ = [
    "BREACH",
    "INCONCLUSIVE",
    "WITHIN",
    "Monitor",
    "calls_to_decide",
    "log_evidence_above",
    "monitor_floor",
    "monitor_rate",
    "rate_sequence",
    "sample_ratio",
]

BREACH = "breach proven"
WITHIN = "within limit"
INCONCLUSIVE = "inconclusive"
SRM_ALPHA = 0.001  # a sample-ratio mismatch is flagged at p < 0.001, as GrowthBook and Optimizely do


@dataclass(frozen=True)
class Monitor:
    """One look at a monitored rate: the counts, the anytime-valid bounds and what they prove."""

    status: str
    events: int
    n: int
    limit: float
    alpha: float
    lower: float
    upper: float

    @property
    def rate(self) -> float | None:
        return self.events / self.n if self.n else None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "rate": self.rate, "anytime_valid": True}


def _log_regularized_beta(x: float, a: float, b: float) -> float:
    """log I_x(a, b), accurate where I_x is tiny (the continued fraction on the side that converges)."""
    if x <= 0.0:
        return -math.inf
    if x >= 1.0:
        return 0.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):
        return log_front + math.log(_betacf(a, b, x)) - math.log(a)
    rest = math.exp(log_front) * _betacf(b, a, 1.0 - x) / b
    return math.log1p(-rest) if rest < 1.0 else -math.inf


def _log_beta(a: float, b: float) -> float:
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


def _prior(limit: float) -> tuple[float, float]:
    """Beta(a, b) with mean ``limit`` and one of a, b equal to 1."""
    return (1.0, (1.0 - limit) / limit) if limit <= 0.5 else (limit / (1.0 - limit), 1.0)


def log_evidence_above(events: int, n: int, limit: float, prior_limit: float | None = None) -> float:
    """log of the mixture martingale for "the rate is above ``limit``" after ``events`` of ``n``.

    It is at most ``log(1/alpha)`` at every ``n`` with probability at least ``1 - alpha`` when the rate is at or
    below ``limit``. ``prior_limit`` centres the prior (default: ``limit`` itself).
    """
    if limit <= 0.0:
        return math.inf if events > 0 else 0.0
    if limit >= 1.0:
        return -math.inf
    a, b = _prior(prior_limit if prior_limit is not None and 0.0 < prior_limit < 1.0 else limit)
    failures = n - events
    # The prior restricted to p > limit: P(Beta(a, b) > limit) = I_{1-limit}(b, a).
    posterior = _log_beta(a + events, b + failures) + _log_regularized_beta(1.0 - limit, b + failures, a + events)
    prior = _log_beta(a, b) + _log_regularized_beta(1.0 - limit, b, a)
    null = events * math.log(limit) + failures * math.log1p(-limit)
    return posterior - prior - null


def _log_evidence_below(events: int, n: int, limit: float, prior_limit: float | None = None) -> float:
    mirrored = None if prior_limit is None else 1.0 - prior_limit
    return log_evidence_above(n - events, n, 1.0 - limit, mirrored)


def rate_sequence(events: int, n: int, alpha: float = 0.05, *, prior_limit: float | None = None,
                  tolerance: float = 1e-6) -> tuple[float, float]:
    """The anytime-valid one-sided bounds ``(lower, upper)`` of the rate after ``events`` of ``n``, each at
    ``1 - alpha``: the limits whose breach (or whose holding) the data already prove."""
    if n <= 0:
        return 0.0, 1.0
    threshold = math.log(1.0 / alpha)
    rate = events / n

    def search(proven: Any, lo: float, hi: float, proven_side_low: bool) -> float:
        # proven(p0) is True on one side of the bound; bisection finds where it stops holding.
        for _ in range(60):
            if hi - lo < tolerance:
                break
            mid = (lo + hi) / 2.0
            if proven(mid) == proven_side_low:
                lo = mid
            else:
                hi = mid
        return lo if proven_side_low else hi

    lower = 0.0
    if events > 0:
        lower = search(lambda p0: log_evidence_above(events, n, p0, prior_limit) >= threshold, 0.0, rate, True)
    upper = 1.0
    if events < n:
        upper = search(lambda p0: _log_evidence_below(events, n, p0, prior_limit) >= threshold, rate, 1.0, False)
    return lower, upper


def monitor_rate(events: int, n: int, limit: float, alpha: float = 0.05) -> Monitor:
    """Is the rate of an event (an error, a call slower than the SLA) above ``limit``? Anytime-valid.

    ``breach proven`` when the data already rule out a rate at or below ``limit``; ``within limit`` when they
    rule out a rate above it; ``inconclusive`` otherwise (keep watching).
    """
    _check(events, n, limit, alpha)
    threshold = math.log(1.0 / alpha)
    if log_evidence_above(events, n, limit) >= threshold:
        status = BREACH
    elif limit < 1.0 and _log_evidence_below(events, n, limit) >= threshold:
        status = WITHIN
    elif limit >= 1.0:
        status = WITHIN  # a rate cannot exceed 1
    else:
        status = INCONCLUSIVE
    lower, upper = rate_sequence(events, n, alpha, prior_limit=limit if 0.0 < limit < 1.0 else None)
    return Monitor(status, events, n, limit, alpha, lower, upper)


def monitor_floor(successes: int, n: int, floor: float, alpha: float = 0.05) -> Monitor:
    """Is a rate that should stay high (agreement, accuracy) below ``floor``? Anytime-valid.

    ``breach proven`` when the data rule out a rate at or above ``floor``; ``within limit`` when they rule out a
    rate below it. The bounds returned are those of the success rate.
    """
    _check(successes, n, floor, alpha)
    failures = monitor_rate(n - successes, n, 1.0 - floor, alpha)
    return Monitor(failures.status, successes, n, floor, alpha, 1.0 - failures.upper, 1.0 - failures.lower)


def calls_to_decide(events: int, n: int, limit: float, alpha: float = 0.05, *, floor: bool = False,
                    cap: int = 1_000_000) -> int | None:
    """About how many calls in all would decide, if the rate stays where it is now (None: not within ``cap``, or
    no calls yet). ``floor`` reads ``events`` as successes against a floor, as :func:`monitor_floor` does."""
    if n <= 0:
        return None
    rate = events / n

    def decides(total: int) -> bool:
        k = round(rate * total)
        look = monitor_floor(k, total, limit, alpha) if floor else monitor_rate(k, total, limit, alpha)
        return look.status != INCONCLUSIVE

    if decides(n):
        return n
    hi = n
    while not decides(hi):
        if hi >= cap:
            return None
        hi = min(cap, hi * 2)
    lo = hi // 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if decides(mid) else (mid, hi)
    return hi


def sample_ratio(first: int, second: int, expected_share: float = 0.5, alpha: float = SRM_ALPHA) -> dict[str, Any]:
    """The split between two sides and whether it departs from ``expected_share`` (a sample-ratio mismatch).

    A mismatch means the comparison itself is suspect (requests lost on one side, a router that does not split as
    configured), whatever the other numbers say. Exact two-sided binomial test, flagged at p < ``alpha``.
    """
    total = first + second
    if not 0.0 < expected_share < 1.0:
        raise ValueError(f"expected_share must lie strictly between 0 and 1, got {expected_share!r}")
    if total == 0:
        return {"first": 0, "second": 0, "share": None, "expected_share": expected_share, "p_value": None,
                "mismatch": False}
    low = binomial_cdf(first, total, expected_share)
    high = 1.0 - binomial_cdf(first - 1, total, expected_share)
    p_value = min(1.0, 2.0 * min(low, high))
    return {"first": first, "second": second, "share": first / total, "expected_share": expected_share,
            "p_value": p_value, "mismatch": p_value < alpha}


def _check(events: int, n: int, limit: float, alpha: float) -> None:
    if not 0 <= events <= n:
        raise ValueError(f"events must lie between 0 and n={n}, got {events}")
    if not 0.0 <= limit <= 1.0:
        raise ValueError(f"a rate limit must lie between 0 and 1, got {limit!r}")
    if not 0.0 < alpha < 0.5:
        raise ValueError(f"alpha must lie strictly between 0 and 0.5, got {alpha!r}")
