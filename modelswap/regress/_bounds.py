"""Confidence bounds the verdict is decided on: paired accuracy, error rates, p95 latency, cost ratio.

Standard library only. Every function returns one-sided bounds at level ``1 - alpha`` (a lower and an upper
bound are each wrong at most ``alpha`` of the time), because every question the verdict asks is one-sided:
"is the drop smaller than the margin?", "is the error rate below the limit?".

**Paired accuracy** (:func:`paired_bounds`, :func:`noninferiority_p`). A case is *regressed* (``b``: the
baseline passed, the candidate failed) or *fixed* (``c``: the reverse) or the same; the difference in accuracy
is ``(c - b) / n``. The test of "the difference is at most delta0" uses Tango's score statistic for paired
proportions (Tango 1998, *Statistics in Medicine* 17:891-908; the score interval that Newcombe 1998 and
Fagerland, Lydersen & Laake 2013 recommend for paired data):

    Z(delta0) = (c - b - n*delta0) / sqrt(n * (2*q + delta0*(1 - delta0)))

with ``q`` the maximum-likelihood probability of a regressed case under the null (a quadratic's root). The
normal approximation is a little liberal (up to about 6% at a nominal 5% with 20 cases, when nearly every case
is discordant), so for up to ``EXACT_MAX_CASES`` paired cases the p-value is exact: the probability, maximised
over the unknown share of discordant cases, that Tango's statistic is at least as extreme as observed, summed
over every table with ``n`` cases (an exact unconditional test, Berger & Boos 1994: the maximum is taken over a
99.9% Clopper-Pearson interval of the discordant share and 0.001 is added, which keeps the test valid while
ignoring implausible nuisance values). Bounds invert the test, so "the lower bound is above -margin" and "the
test at the margin rejects" say the same thing.

Repeats (``--repeat N``) make runs of one case correlated. :func:`design_effect` measures how much (the
variance of the case-level differences over the variance were runs independent; Rao & Scott 1992) and the
counts are divided by it before Tango's statistic is applied (never below 1: repeats never *add* evidence
beyond independent cases).

**Rates** (:func:`clopper_pearson`): the exact binomial bounds, through the regularised incomplete beta
function so that effective (non-integer) counts work too. **Quantiles** (:func:`quantile_upper_bound`): the
distribution-free order-statistic bound: p95 is at most the k-th smallest latency, for the least k with
``P(Binomial(n, 0.95) < k) >= 1 - alpha``. **Cost** (:func:`ratio_bounds`): the ratio of the mean cost per
case, paired, by the delta method on its logarithm.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist

__all__ = [
    "EXACT_MAX_CASES",
    "binomial_cdf",
    "clopper_pearson",
    "design_effect",
    "noninferiority_p",
    "paired_bounds",
    "quantile_upper_bound",
    "rate_design_effect",
    "ratio_bounds",
    "regularized_beta",
    "tango_z",
    "z_quantile",
]

EXACT_MAX_CASES = 400
_GAMMA = 0.001  # Berger-Boos: the nuisance interval's miss rate, added to the p-value
_GRID = 24  # nuisance values tried inside that interval
_NORMAL = NormalDist()


def z_quantile(p: float) -> float:
    """The standard normal quantile."""
    return _NORMAL.inv_cdf(p)


# --------------------------------------------------------------------------------------------------------
# Tango's score statistic


def _constrained_q(b: float, c: float, n: float, delta: float) -> float:
    """Maximum-likelihood probability of a regressed case when the difference is ``delta`` (Tango 1998, eq. 3)."""
    a_ = 2.0 * n
    b_ = -c - b + (2.0 * n - c + b) * delta
    c_ = -b * delta * (1.0 - delta)
    disc = max(b_ * b_ - 4.0 * a_ * c_, 0.0)
    return max((-b_ + math.sqrt(disc)) / (2.0 * a_), 0.0)


def tango_z(b: float, c: float, n: float, delta: float) -> float:
    """Tango's score statistic for "the difference (c - b)/n is ``delta``"; large when it is larger.

    ``b`` regressed and ``c`` fixed cases of ``n`` paired ones (floats allowed: effective counts).
    """
    if n <= 0:
        return 0.0
    q = _constrained_q(b, c, n, delta)
    var = n * (2.0 * q + delta * (1.0 - delta))
    num = c - b - n * delta
    if var <= 1e-300:
        return 0.0 if abs(num) < 1e-12 else math.copysign(math.inf, num)
    return num / math.sqrt(var)


def _asymptotic_p(b: float, c: float, n: float, delta0: float) -> float:
    return 1.0 - _NORMAL.cdf(tango_z(b, c, n, delta0))


# --------------------------------------------------------------------------------------------------------
# Binomial and beta


def _log_binom_pmf(k: int, n: int, p: float) -> float:
    if p <= 0.0:
        return 0.0 if k == 0 else -math.inf
    if p >= 1.0:
        return 0.0 if k == n else -math.inf
    return (
        math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
        + k * math.log(p) + (n - k) * math.log1p(-p)
    )


def _window(n: int, p: float, width: float = 8.0) -> tuple[int, int]:
    """The range of a Binomial(n, p) outside which the probability is below about 1e-15."""
    mean = n * p
    sd = math.sqrt(n * p * (1.0 - p))
    return max(0, int(mean - width * sd) - 2), min(n, int(mean + width * sd) + 2)


def _pmf_range(n: int, p: float, lo: int, hi: int) -> list[float]:
    """Binomial(n, p) probabilities of lo..hi, by the ratio recursion from lo."""
    if p <= 0.0 or p >= 1.0:
        return [1.0 if (k == 0 and p <= 0.0) or (k == n and p >= 1.0) else 0.0 for k in range(lo, hi + 1)]
    first = math.exp(_log_binom_pmf(lo, n, p))
    out = [first]
    ratio = p / (1.0 - p)
    term = first
    for k in range(lo, hi):
        term *= (n - k) / (k + 1) * ratio
        out.append(term)
    return out


def binomial_cdf(k: int, n: int, p: float) -> float:
    """P(Binomial(n, p) <= k), exact for integers (summed over the probable range only)."""
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    lo, hi = _window(n, p)
    if k < lo:
        return 0.0
    if k >= hi:
        return 1.0
    return min(1.0, math.fsum(_pmf_range(n, p, lo, k)))


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 400):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return h


def regularized_beta(x: float, a: float, b: float) -> float:
    """I_x(a, b), the regularised incomplete beta function (the Beta(a, b) distribution function at x)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _betacf(a, b, x) / a
    return 1.0 - math.exp(log_front) * _betacf(b, a, 1.0 - x) / b


def _beta_quantile(p: float, a: float, b: float) -> float:
    lo, hi = 0.0, 1.0
    for _ in range(100):
        mid = (lo + hi) / 2.0
        if regularized_beta(mid, a, b) < p:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-12:
            break
    return (lo + hi) / 2.0


def clopper_pearson(x: float, n: float, alpha: float = 0.05) -> tuple[float, float]:
    """One-sided exact bounds ``(lower, upper)`` of a binomial rate, each at level ``1 - alpha``.

    ``x`` events of ``n`` trials; effective (non-integer) counts are allowed. ``(0, 1)`` when ``n`` is 0.
    """
    if n <= 0:
        return 0.0, 1.0
    x = min(max(x, 0.0), n)
    lower = 0.0 if x <= 0 else _beta_quantile(alpha, x, n - x + 1.0)
    upper = 1.0 if x >= n else _beta_quantile(1.0 - alpha, x + 1.0, n - x)
    return lower, upper


# --------------------------------------------------------------------------------------------------------
# The exact unconditional test


def _exact_p(b: int, c: int, n: int, delta0: float) -> float:
    """Berger-Boos exact p-value of "difference <= delta0" against "> delta0", with Tango's statistic."""
    t_obs = tango_z(b, c, n, delta0) - 1e-9  # ties count as "at least as extreme"
    # For each number of discordant cases d, the tables at least as extreme are b' <= k(d): Tango's statistic
    # falls as b' rises with d fixed. k(d) = -1 when none is.
    ks: list[int] = []
    for d in range(n + 1):
        if tango_z(0, d, n, delta0) < t_obs:
            ks.append(-1)
            continue
        lo, hi = 0, d  # largest b' in 0..d with Z >= t_obs
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if tango_z(mid, d - mid, n, delta0) >= t_obs:
                lo = mid
            else:
                hi = mid - 1
        ks.append(lo)
    low_d, high_d = clopper_pearson(b + c, n, _GAMMA / 2.0)
    low_psi = max(abs(delta0), low_d)
    high_psi = min(1.0, high_d)
    if low_psi > high_psi:  # the observed discordance is impossible under the null at this delta0
        low_psi = high_psi = max(abs(delta0), min(1.0, high_d))
    grid = {low_psi, high_psi}
    for i in range(1, _GRID):
        grid.add(low_psi + (high_psi - low_psi) * i / _GRID)
    worst = 0.0
    for psi in sorted(grid):
        if psi <= 0.0:
            prob = 1.0 if ks[0] >= 0 else 0.0  # no discordant case at all: only the table (0, 0)
            worst = max(worst, prob)
            continue
        regressed = (psi - delta0) / 2.0 / psi  # P(regressed | discordant) on the null's boundary
        regressed = min(max(regressed, 0.0), 1.0)
        lo, hi = _window(n, psi)
        pmf_d = _pmf_range(n, psi, lo, hi)
        total = 0.0
        for d, weight in zip(range(lo, hi + 1), pmf_d):
            k = ks[d]
            if k < 0 or weight < 1e-18:
                continue
            total += weight * binomial_cdf(k, d, regressed)
        worst = max(worst, total)
    return min(1.0, worst + _GAMMA)


def noninferiority_p(b: float, c: float, n: float, delta0: float, *, exact: bool | None = None) -> float:
    """One-sided p-value of "the accuracy difference (c - b)/n is at most ``delta0``".

    Small p: the data show the candidate's accuracy minus the baseline's is above ``delta0``. ``delta0 =
    -margin`` tests non-inferiority; with the roles swapped (``b`` and ``c`` exchanged, ``delta0 = margin``)
    it tests "worse by more than the margin". Exact (see the module docstring) for integer counts of at most
    ``EXACT_MAX_CASES`` cases unless ``exact`` says otherwise; Tango's normal approximation above.
    """
    if n <= 0:
        return 1.0
    delta0 = min(max(delta0, -0.999999), 0.999999)
    integral = float(b).is_integer() and float(c).is_integer() and float(n).is_integer()
    use_exact = (integral and n <= EXACT_MAX_CASES) if exact is None else (exact and integral)
    if use_exact:
        return _exact_p(int(b), int(c), int(n), delta0)
    return _asymptotic_p(b, c, n, delta0)


def paired_bounds(
    b: float, c: float, n: float, alpha: float = 0.05, *, exact: bool | None = None, tol: float = 2e-4
) -> tuple[float, float]:
    """One-sided ``(lower, upper)`` bounds, each at level ``1 - alpha``, of the paired difference (c - b)/n.

    The lower bound is the largest ``delta0`` that :func:`noninferiority_p` rejects at ``alpha`` (to ``tol``),
    so ``lower > -margin`` exactly when the non-inferiority test at that margin rejects; the upper bound is the
    same with the roles swapped. ``(-1, 1)`` for no cases.
    """
    if n <= 0:
        return -1.0, 1.0
    return _lower(b, c, n, alpha, exact, tol), -_lower(c, b, n, alpha, exact, tol)


def _lower(b: float, c: float, n: float, alpha: float, exact: bool | None, tol: float) -> float:
    estimate = (c - b) / n
    z = z_quantile(1.0 - alpha)
    # Tango's asymptotic bound first (cheap, monotone), then the exact one searched from just below it.
    lo, hi = -1.0, estimate
    if tango_z(b, c, n, hi) >= z:  # cannot happen for a proper estimate, but guards rounding
        return hi
    for _ in range(60):
        mid = (lo + hi) / 2.0
        if tango_z(b, c, n, mid) >= z:
            lo = mid
        else:
            hi = mid
        if hi - lo < tol / 4:
            break
    asymptotic = lo

    def rejects(delta0: float) -> bool:
        return noninferiority_p(b, c, n, delta0, exact=exact) < alpha

    integral = float(b).is_integer() and float(c).is_integer() and float(n).is_integer()
    if not ((integral and n <= EXACT_MAX_CASES) if exact is None else (exact and integral)):
        return asymptotic
    # The exact bound lies near the asymptotic one, usually a little below: bracket it, then bisect.
    step = max(0.01, 2.0 / math.sqrt(n) * 0.1)
    hi = min(estimate, asymptotic + step)
    if rejects(hi):
        lo_ = hi
        hi = estimate
        if rejects(hi):
            return hi
    else:
        lo_ = asymptotic
        while lo_ > -1.0 and not rejects(lo_):
            hi = lo_
            lo_ = max(-1.0, lo_ - step)
        if lo_ <= -1.0 and not rejects(lo_):
            return -1.0
    while hi - lo_ > tol:
        mid = (lo_ + hi) / 2.0
        if rejects(mid):
            lo_ = mid
        else:
            hi = mid
    return lo_


def design_effect(baseline: Sequence[Sequence[float]], candidate: Sequence[Sequence[float]]) -> float:
    """How much repeats inflate the variance of the accuracy difference (Rao & Scott 1992), at least 1.

    ``baseline[i]`` and ``candidate[i]`` are case i's pass values (0/1) over its repeats. The variance of the
    mean difference estimated from cases (the clusters) is divided by the one that treating every run as
    independent would give. 1 when no case has more than one run on each side.
    """
    pairs = [(x, y) for x, y in zip(baseline, candidate) if x and y]
    if len(pairs) < 2 or all(len(x) <= 1 and len(y) <= 1 for x, y in pairs):
        return 1.0
    runs = [max(len(x), len(y)) for x, y in pairs]
    diffs = [sum(y) / len(y) - sum(x) / len(x) for x, y in pairs]
    total = sum(runs)
    mean = sum(r * d for r, d in zip(runs, diffs)) / total
    k = len(pairs)
    cluster_var = k / (k - 1) * sum((r * (d - mean)) ** 2 for r, d in zip(runs, diffs)) / total**2
    # Independent runs: each run's difference in {-1, 0, 1}, paired repeat by repeat on average.
    regressed = sum(r * (sum(x) / len(x)) * (1 - sum(y) / len(y)) for r, (x, y) in zip(runs, pairs))
    fixed = sum(r * (sum(y) / len(y)) * (1 - sum(x) / len(x)) for r, (x, y) in zip(runs, pairs))
    srs_var = ((regressed + fixed) / total - mean**2) / total
    if srs_var <= 0.0:
        return 1.0
    return max(1.0, cluster_var / srs_var)


def rate_design_effect(per_case: Sequence[Sequence[float]]) -> float:
    """Design effect of a share measured over repeated runs of cases (clusters); 1 without repeats."""
    cases = [c for c in per_case if c]
    if len(cases) < 2 or all(len(c) == 1 for c in cases):
        return 1.0
    total = sum(len(c) for c in cases)
    p = sum(sum(c) for c in cases) / total
    if p <= 0.0 or p >= 1.0:
        return 1.0
    k = len(cases)
    cluster = k / (k - 1) * sum((sum(c) - p * len(c)) ** 2 for c in cases) / total**2
    srs = p * (1 - p) / total
    return max(1.0, cluster / srs)


# --------------------------------------------------------------------------------------------------------
# Latency and cost


def quantile_upper_bound(values: Sequence[float], q: float = 0.95, alpha: float = 0.05) -> float | None:
    """A distribution-free one-sided upper bound (level ``1 - alpha``) of the ``q`` quantile.

    The k-th smallest value, for the least k with P(Binomial(n, q) <= k - 1) >= 1 - alpha; ``None`` (no
    finite bound: more values are needed) when even the largest does not reach that level, and for no values.
    """
    s = sorted(values)
    n = len(s)
    if n == 0:
        return None
    lo, hi = 1, n
    if binomial_cdf(n - 1, n, q) < 1.0 - alpha:
        return None
    while lo < hi:
        mid = (lo + hi) // 2
        if binomial_cdf(mid - 1, n, q) >= 1.0 - alpha:
            hi = mid
        else:
            lo = mid + 1
    return float(s[lo - 1])


def ratio_bounds(
    baseline: Sequence[float], candidate: Sequence[float], alpha: float = 0.05
) -> tuple[float | None, float | None]:
    """One-sided bounds ``(lower, upper)`` of mean(candidate) / mean(baseline) over paired cases.

    The delta method on the log of the ratio of means (paired, so the covariance counts). ``(None, None)``
    when the baseline's mean is not positive or there are fewer than two cases.
    """
    n = len(baseline)
    if n < 2 or n != len(candidate):
        return None, None
    mx = math.fsum(baseline) / n
    my = math.fsum(candidate) / n
    if mx <= 0.0:
        return None, None
    if my <= 0.0:
        return 0.0, 0.0
    vx = math.fsum((x - mx) ** 2 for x in baseline) / (n - 1)
    vy = math.fsum((y - my) ** 2 for y in candidate) / (n - 1)
    cxy = math.fsum((x - mx) * (y - my) for x, y in zip(baseline, candidate)) / (n - 1)
    var = (vy / my**2 + vx / mx**2 - 2.0 * cxy / (mx * my)) / n
    ratio = my / mx
    spread = z_quantile(1.0 - alpha) * math.sqrt(max(var, 0.0))
    return ratio * math.exp(-spread), ratio * math.exp(spread)
