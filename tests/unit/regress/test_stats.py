"""modelswap.regress statistics: McNemar's exact test, percentiles, the samplers and the bootstraps.

Hand-computed cases always run; the cross-checks against scipy run when scipy is installed (a test-only
dependency: the package itself uses the standard library only)."""

from __future__ import annotations

import math
import random
import statistics
import subprocess
import sys

import pytest

from modelswap.regress import _stats, bootstrap_ci, mcnemar_exact, paired_bootstrap_ci, percentile, summary

try:  # pragma: no cover - depends on the environment
    import scipy.stats as sps
except ImportError:  # pragma: no cover
    sps = None

needs_scipy = pytest.mark.skipif(sps is None, reason="scipy is not installed (test-only cross-check)")


# ---------------------------------------------------------------------------------------------- McNemar


@pytest.mark.parametrize(
    ("b", "c", "expected"),
    [
        (0, 0, 1.0),  # no discordant pairs: nothing to test
        (1, 0, 1.0),  # 2 * 1/2, capped
        (4, 4, 1.0),
        (5, 0, 2 / 32),
        (0, 5, 2 / 32),
        (6, 0, 2 / 64),
        # 2 * (C(13,0) + C(13,1) + C(13,2) + C(13,3)) / 2^13 = 2 * 378 / 8192
        (10, 3, 2 * 378 / 8192),
        (3, 10, 2 * 378 / 8192),
        # 2 * (1 + 20) / 2^20
        (19, 1, 2 * 21 / 2**20),
    ],
)
def test_mcnemar_hand_computed(b: int, c: int, expected: float) -> None:
    assert mcnemar_exact(b, c) == pytest.approx(expected, rel=1e-12)


def test_mcnemar_exact_sum_matches_integer_arithmetic() -> None:
    for b, c in [(30, 12), (100, 70), (250, 199), (7, 40)]:
        n, k = b + c, min(b, c)
        exact = min(1.0, 2 * sum(math.comb(n, j) for j in range(k + 1)) / 2**n)
        assert mcnemar_exact(b, c) == pytest.approx(exact, rel=1e-11)


def test_mcnemar_is_stable_for_large_n() -> None:
    # n = 100,000 discordant pairs: close to the normal approximation with continuity correction
    b, c = 50_500, 49_500
    z = (abs(b - c) - 1) / math.sqrt(b + c)
    normal = math.erfc(z / math.sqrt(2))
    p = mcnemar_exact(b, c)
    assert 0.0 < p < 1.0
    assert p == pytest.approx(normal, rel=0.02)
    # far in the tail: underflows to 0.0 rather than raising or returning NaN
    assert mcnemar_exact(100_000, 0) == 0.0
    assert mcnemar_exact(60_000, 40_000) == 0.0
    assert mcnemar_exact(50_001, 49_999) == pytest.approx(1.0, abs=0.01)


def test_mcnemar_rejects_negative_counts() -> None:
    with pytest.raises(ValueError):
        mcnemar_exact(-1, 3)


@needs_scipy
def test_mcnemar_matches_scipy_binomtest() -> None:
    rng = random.Random(7)
    pairs = [(rng.randrange(0, 60), rng.randrange(0, 60)) for _ in range(200)]
    pairs += [(rng.randrange(0, 3000), rng.randrange(0, 3000)) for _ in range(50)]
    pairs += [(52_000, 48_000), (5_100, 4_900), (40_000, 39_000)]
    for b, c in pairs:
        if b + c == 0:
            continue
        expected = sps.binomtest(b, b + c, 0.5).pvalue
        assert mcnemar_exact(b, c) == pytest.approx(expected, rel=1e-9, abs=1e-300), (b, c)


# ---------------------------------------------------------------------------------------------- percentiles


def test_percentile_interpolates_like_numpy_linear() -> None:
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([4, 1, 3, 2], 0) == 1.0
    assert percentile([4, 1, 3, 2], 100) == 4.0
    assert percentile(range(1, 21), 95) == pytest.approx(19.05)  # pos 18.05 between 19 and 20
    assert percentile([10.0], 95) == 10.0
    assert percentile([3.0, None, 1.0], 50) == 2.0  # None ignored
    assert percentile([], 50) is None
    with pytest.raises(ValueError):
        percentile([1, 2], 101)


@needs_scipy
def test_percentile_matches_scipy_scoreatpercentile() -> None:
    rng = random.Random(3)
    for n in (2, 3, 10, 101, 1000):
        xs = [rng.lognormvariate(0, 1) for _ in range(n)]
        for q in (0, 5, 50, 90, 95, 99, 100):
            assert percentile(xs, q) == pytest.approx(sps.scoreatpercentile(xs, q), rel=1e-12)


def test_summary() -> None:
    s = summary([3.0, 1.0, None, 2.0])
    assert s["n"] == 3 and s["mean"] == 2.0 and s["min"] == 1.0 and s["max"] == 3.0 and s["p50"] == 2.0
    assert summary([])["p95"] is None and summary([None])["n"] == 0


# ---------------------------------------------------------------------------------------------- samplers


@pytest.mark.parametrize(("n", "p"), [(10_000, 0.3), (50, 0.05), (1000, 0.9), (40, 0.5), (7, 0.999)])
def test_binomial_sampler_moments(n: int, p: float) -> None:
    rng = random.Random(11)
    draws = [_stats._binomial(rng.random, n, p) for _ in range(20_000)]
    assert all(0 <= d <= n for d in draws)
    mean, var = statistics.fmean(draws), statistics.pvariance(draws)
    sd_of_mean = math.sqrt(n * p * (1 - p) / len(draws))
    assert abs(mean - n * p) < 5 * sd_of_mean + 1e-9
    assert var == pytest.approx(n * p * (1 - p), rel=0.06, abs=0.01)


def test_binomial_sampler_edges() -> None:
    rng = random.Random(0)
    assert _stats._binomial(rng.random, 0, 0.5) == 0
    assert _stats._binomial(rng.random, 10, 0.0) == 0
    assert _stats._binomial(rng.random, 10, 1.0) == 10


@needs_scipy
def test_binomial_sampler_distribution_matches_scipy() -> None:
    rng = random.Random(5)
    for n, p in ((200, 0.3), (30, 0.1)):  # BTRS and the geometric method
        draws = [_stats._binomial(rng.random, n, p) for _ in range(30_000)]
        lo, hi = int(sps.binom.ppf(0.001, n, p)), int(sps.binom.ppf(0.999, n, p))
        observed = (
            [sum(1 for d in draws if d <= lo)]
            + [draws.count(k) for k in range(lo + 1, hi)]
            + [sum(1 for d in draws if d >= hi)]
        )
        probs = (
            [sps.binom.cdf(lo, n, p)]
            + [sps.binom.pmf(k, n, p) for k in range(lo + 1, hi)]
            + [sps.binom.sf(hi - 1, n, p)]
        )
        expected = [q * len(draws) for q in probs]
        assert sps.chisquare(observed, expected).pvalue > 1e-4


def test_multinomial_counts_add_up() -> None:
    rng = random.Random(1)
    sizes = [500, 300, 150, 50]
    totals = [0] * 4
    for _ in range(2000):
        counts = _stats._multinomial(rng.random, 1000, sizes, 1000)
        assert sum(counts) == 1000 and all(c >= 0 for c in counts)
        totals = [t + c for t, c in zip(totals, counts)]
    for t, size in zip(totals, sizes):
        assert t / 2000 == pytest.approx(size, rel=0.02)


def test_draw_bytes_is_uniform_below_size() -> None:
    rng = random.Random(2)
    for size in (1, 5, 200, 256):
        draws = _stats._draw_bytes(rng.randbytes, size, 20_000, bytes(range(size, 256)))
        assert len(draws) == 20_000 and max(draws) < size
        expected = 20_000 / size
        assert all(abs(draws.count(i) - expected) < 6 * math.sqrt(expected) for i in range(size))


# ---------------------------------------------------------------------------------------------- bootstrap


def _bernoulli(n: int, p: float, seed: int) -> list[float]:
    rng = random.Random(seed)
    return [1.0 if rng.random() < p else 0.0 for _ in range(n)]


def test_bootstrap_is_deterministic_with_a_seed() -> None:
    xs = _bernoulli(2000, 0.8, 1)
    assert bootstrap_ci(xs, seed=3) == bootstrap_ci(xs, seed=3)
    assert len({bootstrap_ci(xs, seed=s) for s in range(6)}) > 1  # (two seeds may land on the same interval)
    ys = _bernoulli(2000, 0.7, 2)
    assert paired_bootstrap_ci(xs, ys, seed=9) == paired_bootstrap_ci(xs, ys, seed=9)
    lat = [random.Random(i).lognormvariate(0, 1) for i in range(3000)]
    assert paired_bootstrap_ci(lat, lat[::-1], "p95") == paired_bootstrap_ci(lat, lat[::-1], "p95")


def test_bootstrap_mean_of_a_rate_matches_the_normal_interval() -> None:
    n, p = 4000, 0.85
    xs = _bernoulli(n, p, 4)
    mean = sum(xs) / n
    low, high = bootstrap_ci(xs, "mean", n_resamples=4000)
    half = 1.959964 * math.sqrt(mean * (1 - mean) / n)
    assert low < mean < high
    assert low == pytest.approx(mean - half, abs=0.15 * half)
    assert high == pytest.approx(mean + half, abs=0.15 * half)


def test_fast_mean_bootstrap_agrees_with_the_textbook_one() -> None:
    xs = _bernoulli(1500, 0.6, 8)  # two distinct values: the multinomial path
    fast = bootstrap_ci(xs, "mean", n_resamples=2000, seed=1)
    slow = bootstrap_ci(xs, lambda v: sum(v) / len(v), n_resamples=2000, seed=1)  # a callable: case by case
    assert fast[0] == pytest.approx(slow[0], abs=0.005) and fast[1] == pytest.approx(slow[1], abs=0.005)


def test_single_quantile_bootstrap_agrees_with_the_textbook_one() -> None:
    rng = random.Random(12)
    xs = [rng.lognormvariate(0, 0.6) for _ in range(1000)]
    fast = bootstrap_ci(xs, "p95", n_resamples=2000, seed=2)  # Beta order statistics: no drawing
    slow = bootstrap_ci(xs, lambda v: percentile(v, 95), n_resamples=2000, seed=2)
    p95 = percentile(xs, 95)
    width = slow[1] - slow[0]
    assert fast[0] < p95 < fast[1]
    assert fast[0] == pytest.approx(slow[0], abs=0.15 * width)
    assert fast[1] == pytest.approx(slow[1], abs=0.15 * width)


def _paired_latencies(n: int, seed: int, *, repeats: bool = False) -> tuple[list, list]:
    rng = random.Random(seed)
    xs, ys = [], []
    for _ in range(n):
        size = rng.lognormvariate(0, 0.5)
        if repeats:
            k = rng.choice((0, 2, 3, 3, 3))  # 0: every call of the case lost its latency
            xs.append([size * rng.lognormvariate(0, 0.2) for _ in range(k)])
            ys.append([size * 1.3 * rng.lognormvariate(0, 0.2) for _ in range(rng.choice((1, 3, 3)))])
        else:
            xs.append(size * rng.lognormvariate(0, 0.2))
            ys.append(None if rng.random() < 0.02 else size * 1.3 * rng.lognormvariate(0, 0.2))
    return xs, ys


@pytest.mark.parametrize("repeats", [False, True])
def test_paired_quantile_bootstrap_agrees_with_the_textbook_one(repeats: bool) -> None:
    xs, ys = _paired_latencies(600, 21, repeats=repeats)
    fast = paired_bootstrap_ci(xs, ys, "p95", n_resamples=2000, seed=5)

    def pooled_p95(values: list[float]) -> float:
        return percentile(values, 95)  # type: ignore[return-value]

    slow = paired_bootstrap_ci(xs, ys, pooled_p95, n_resamples=2000, seed=5)
    point = percentile([v for y in ys for v in ((y,) if isinstance(y, float) else y or ())], 95) - percentile(
        [v for x in xs for v in ((x,) if isinstance(x, float) else x)], 95
    )
    width = slow[1] - slow[0]
    assert fast[0] < point < fast[1]
    assert fast[0] == pytest.approx(slow[0], abs=0.12 * width)
    assert fast[1] == pytest.approx(slow[1], abs=0.12 * width)


def test_paired_quantile_fast_path_is_exact_in_distribution() -> None:
    """The banded resampler and its always-correct completion path (forced for every resample) give the
    same bootstrap distribution."""
    xs, ys = _paired_latencies(600, 4)
    ux = [_stats._unit(v) for v in xs]
    uy = [_stats._unit(v) for v in ys]
    fast = _stats._boot_quantile_paired(ux, uy, 95, 2000, random.Random(1))
    full = _stats._boot_quantile_paired(ux, uy, 95, 2000, random.Random(2), _force_fallback=True)
    assert len(fast) == len(full) == 2000
    for q in (2.5, 25, 50, 75, 97.5):
        a, b = percentile(fast, q), percentile(full, q)
        spread = percentile(full, 97.5) - percentile(full, 2.5)
        assert a == pytest.approx(b, abs=0.08 * spread), q
    assert statistics.fmean(fast) == pytest.approx(statistics.fmean(full), abs=0.03 * spread)


def test_paired_quantile_with_ties() -> None:
    # every latency equal: the delta is exactly 0.1 in every resample
    low, high = paired_bootstrap_ci([1.0] * 5000, [1.1] * 5000, "p95", n_resamples=200)
    assert low == pytest.approx(0.1) and high == pytest.approx(0.1)


def test_paired_mean_bootstrap() -> None:
    n = 1500
    base = _bernoulli(n, 0.9, 1)
    rng = random.Random(6)
    cand = [b if rng.random() < 0.9 else 1.0 - b for b in base]
    delta = sum(cand) / n - sum(base) / n
    low, high = paired_bootstrap_ci(base, cand, "mean", n_resamples=2000)
    assert low < delta < high
    slow = paired_bootstrap_ci(base, cand, lambda v: sum(v) / len(v), n_resamples=2000)
    assert low == pytest.approx(slow[0], abs=0.004) and high == pytest.approx(slow[1], abs=0.004)
    # pairing makes the interval narrower than treating the two samples as independent
    unpaired_half = 1.96 * math.sqrt(sum(v * (1 - v) for v in (sum(base) / n, sum(cand) / n)) / n)
    assert (high - low) / 2 < unpaired_half


@needs_scipy
def test_bootstrap_agrees_with_scipy_percentile_bootstrap() -> None:
    rng = random.Random(9)
    xs = [rng.gauss(10, 2) for _ in range(400)]
    ours = bootstrap_ci(xs, lambda v: sum(v) / len(v), n_resamples=4000, seed=0)
    theirs = sps.bootstrap(
        (xs,),
        statistic=lambda v: sum(v) / len(v),
        vectorized=False,
        n_resamples=4000,
        method="percentile",
        random_state=0,
    ).confidence_interval
    assert ours[0] == pytest.approx(theirs.low, abs=0.05) and ours[1] == pytest.approx(theirs.high, abs=0.05)


def test_bootstrap_edge_cases() -> None:
    assert bootstrap_ci([]) == (None, None)
    assert bootstrap_ci([None, None]) == (None, None)
    assert paired_bootstrap_ci([None], [1.0]) == (None, None)
    assert bootstrap_ci([0.5]) == (0.5, 0.5)
    with pytest.raises(ValueError):
        paired_bootstrap_ci([1.0], [1.0, 2.0])
    with pytest.raises(ValueError):
        bootstrap_ci([1.0], "p101")
    with pytest.raises(ValueError):
        bootstrap_ci([1.0], "geomean")
    with pytest.raises(ValueError):
        bootstrap_ci([1.0], alpha=1.5)
    with pytest.raises(ValueError):
        bootstrap_ci([1.0], n_resamples=0)
    assert bootstrap_ci([1.0, float("nan"), 3.0], "median", n_resamples=50)[0] is not None


def test_import_stays_light() -> None:
    code = "import sys, modelswap.regress; print(sorted(m for m in ('numpy', 'scipy', 'httpx', 'yaml') if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "[]"
