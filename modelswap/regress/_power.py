"""How many cases would decide: sample sizes for the verdict's tests, before a run (a plan) or after one.

The accuracy test is Tango's (see ``_bounds``), so its sample size is Tango's too (Nam 1997; Liu, Hsueh &
Chen 2002): for a true difference ``delta1`` with discordant share ``psi``, testing against ``delta0``,

    n = ((z_alpha * sigma0 + z_beta * sigma1) / (delta1 - delta0)) ** 2

with ``sigma1**2 = psi - delta1**2`` the variance of one case's difference and ``sigma0**2`` the variance
under the null's constrained estimate. The exact test needs a few cases more than this at small ``n``, so the
numbers are "about". :func:`least_cases` is the floor no run can go below: the cases that would prove the
margin even if both models agreed on every one.
"""

from __future__ import annotations

import math
from functools import lru_cache

from ._bounds import _constrained_q, clopper_pearson, noninferiority_p, z_quantile

__all__ = ["DEFAULT_POWER", "cases_for_difference", "cases_for_rate", "least_cases"]

DEFAULT_POWER = 0.8
_MAX_CASES = 10_000_000


def cases_for_difference(
    delta1: float, psi: float, delta0: float, *, alpha: float = 0.05, power: float = DEFAULT_POWER
) -> int | None:
    """Paired cases for a power of ``power`` to show "difference > delta0" when it truly is ``delta1``.

    ``psi``: the share of cases on which the two models disagree (discordant), at least ``|delta1|``.
    ``None`` when ``delta1 <= delta0`` (no number of cases shows a claim that is false).
    """
    if delta1 <= delta0:
        return None
    psi = min(1.0, max(psi, abs(delta1), 1e-6))
    p12 = (psi + delta1) / 2.0  # fixed
    p21 = (psi - delta1) / 2.0  # regressed
    q = _constrained_q(p21, p12, 1.0, delta0)
    var0 = max(2.0 * q + delta0 * (1.0 - delta0), 1e-12)
    var1 = max(psi - delta1 * delta1, 1e-12)
    n = ((z_quantile(1.0 - alpha) * math.sqrt(var0) + z_quantile(power) * math.sqrt(var1)) / (delta1 - delta0)) ** 2
    return min(_MAX_CASES, max(1, math.ceil(n)))


@lru_cache(maxsize=256)
def least_cases(margin: float, alpha: float = 0.05) -> int | None:
    """The fewest paired cases with which a ``margin`` can be proven at all (both models agree on every case).

    ``None`` for a margin of 0: non-inferiority with no margin cannot be proven, only superiority.
    """
    if margin <= 0.0:
        return None
    # Rule of three's generalisation: no regression in n cases rules out a regression rate above margin once
    # (1 - margin)^n < alpha; the exact test (with its 0.001 for the nuisance) may need one or two more.
    n = max(1, math.ceil(math.log(alpha) / math.log1p(-margin)) - 2)
    while n < _MAX_CASES and noninferiority_p(0, 0, n, -margin) >= alpha:
        n += 1 if n < 2000 else max(1, n // 200)
    return n


def cases_for_rate(
    rate: float, limit: float, *, alpha: float = 0.05, power: float = DEFAULT_POWER
) -> int | None:
    """Calls needed to show a rate (errors, calls slower than the SLA) is below ``limit`` when it truly is
    ``rate``, or above it when ``rate > limit``. ``None`` when ``rate == limit``."""
    if rate == limit or not 0.0 <= limit <= 1.0:
        return None
    if rate <= 0.0:
        # No event at all: the exact bound reaches the limit after log(alpha) / log(1 - limit) calls.
        return min(_MAX_CASES, math.ceil(math.log(alpha) / math.log1p(-limit))) if limit > 0 else None
    za, zb = z_quantile(1.0 - alpha), z_quantile(power)
    n = ((za * math.sqrt(limit * (1 - limit)) + zb * math.sqrt(rate * (1 - rate))) / (rate - limit)) ** 2
    n = max(1, math.ceil(n))
    # The exact (Clopper-Pearson) bound is a little wider than the normal one: step up until it decides.
    for _ in range(200):
        events = rate * n
        low, high = clopper_pearson(events, n, alpha)
        if (rate < limit and high <= limit) or (rate > limit and low > limit) or n >= _MAX_CASES:
            break
        n = math.ceil(n * 1.05) + 1
    return min(n, _MAX_CASES)
