"""Statistics for the regression report: McNemar's exact test, percentiles and the percentile bootstrap.

Standard library only (the core stays light), and fast enough for 10,000 cases: a naive bootstrap that
draws every case of every resample in Python costs seconds, so the two statistics the report needs are
resampled exactly but without touching every case:

* **Means of few distinct values** (pass rates, paired pass-rate deltas): a resample of *n* cases is fully
  described by how often each distinct case value was drawn, a multinomial count vector, drawn with one
  binomial per distinct value. The result has the same distribution as drawing *n* cases one by one.
* **Quantiles** (latency p95): a quantile of a resample depends only on the few values around its rank.
  Each side's values are split into a high zone, a narrow band around the rank and a low zone; cases
  without band values are only counted (a multinomial again), and only the cases with band values are drawn
  one by one (as random bytes, so in C). When a resample's quantile falls outside the band (rare, the band
  is wide) the resample is completed case by case, so the result is exact, not an approximation. A single
  sample's quantile needs no drawing at all: the order statistics of uniform draws are Beta distributed.

Everything is deterministic for a given ``seed`` (``random.Random``; the binomial sampler is our own, so
results do not change with the Python version).
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from itertools import chain
from operator import itemgetter
from typing import Any, Union

__all__ = [
    "bootstrap_ci",
    "mcnemar_exact",
    "paired_bootstrap_ci",
    "percentile",
    "summary",
]

Statistic = Union[str, Callable[[list[float]], float]]
Interval = tuple[Union[float, None], Union[float, None]]

_LOG2 = math.log(2.0)


# --------------------------------------------------------------------------------------------------------
# Percentiles and summaries


def percentile(values: Iterable[float], q: float, *, presorted: bool = False) -> float | None:
    """The ``q``-th percentile (0-100) with linear interpolation between order statistics, as numpy's
    default (``method="linear"``). ``None`` for no values; ``None`` entries are ignored."""
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"percentile q must be within 0..100, got {q!r}")
    s = values if presorted and isinstance(values, list) else sorted(v for v in values if v is not None)
    n = len(s)
    if n == 0:
        return None
    pos = (n - 1) * (q / 100.0)
    lo = int(pos)
    frac = pos - lo
    if frac == 0.0 or lo + 1 >= n:
        return float(s[lo])
    a, b = s[lo], s[lo + 1]
    return float(a + (b - a) * frac)


def summary(values: Iterable[float | None]) -> dict[str, Any]:
    """``n``, ``mean``, ``min``, ``p50``, ``p90``, ``p95``, ``p99`` and ``max`` of the values that are not
    ``None`` (all ``None`` but ``n`` when there are none)."""
    s = sorted(v for v in values if v is not None)
    if not s:
        return {
            "n": 0,
            "mean": None,
            "min": None,
            "p50": None,
            "p90": None,
            "p95": None,
            "p99": None,
            "max": None,
        }
    return {
        "n": len(s),
        "mean": math.fsum(s) / len(s),
        "min": float(s[0]),
        "p50": percentile(s, 50, presorted=True),
        "p90": percentile(s, 90, presorted=True),
        "p95": percentile(s, 95, presorted=True),
        "p99": percentile(s, 99, presorted=True),
        "max": float(s[-1]),
    }


# --------------------------------------------------------------------------------------------------------
# McNemar


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar test: the binomial test of ``b`` against ``b + c`` discordant pairs at p = 1/2.

    ``b`` counts cases the baseline passed and the candidate failed, ``c`` the reverse. Returns
    ``min(1, 2 * P(X <= min(b, c)))`` for X ~ Binomial(b + c, 1/2), which is what ``scipy.stats.binomtest``
    gives for p = 1/2 (the distribution is symmetric), and 1.0 when ``b + c == 0``. The tail is summed in
    log space relative to its largest term, so it neither overflows nor loses precision for n in the
    hundreds of thousands; p-values below about 1e-308 underflow to 0.0.
    """
    b, c = int(b), int(c)
    if b < 0 or c < 0:
        raise ValueError(f"discordant counts must be non-negative, got b={b}, c={c}")
    n = b + c
    k = min(b, c)
    if n == 0 or 2 * k == n:
        return 1.0
    # log of the largest tail term C(n, k) / 2^n; the tail sum is that times sum_{j<=k} C(n, j) / C(n, k).
    log_top = math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) - n * _LOG2
    total = term = 1.0
    for j in range(k, 0, -1):
        term *= j / (n - j + 1)  # C(n, j-1) / C(n, j); < 1 since j <= k < n/2, so the terms shrink
        total += term
        if term < total * 1e-17:
            break
    log_p = _LOG2 + log_top + math.log(total)
    return 1.0 if log_p >= 0.0 else math.exp(log_p)


# --------------------------------------------------------------------------------------------------------
# Random variates


def _binomial(random_: Callable[[], float], n: int, p: float) -> int:
    """A Binomial(n, p) variate: Devroye's geometric method for n*p < 10, else Hörmann's BTRS (the
    algorithms of ``random.binomialvariate`` in Python 3.12, kept here so results match on 3.10 and 3.11)."""
    if n <= 0 or p <= 0.0:
        return 0
    if p >= 1.0:
        return n
    if p > 0.5:
        return n - _binomial(random_, n, 1.0 - p)
    if n * p < 10.0:
        x = y = 0
        c = math.log(1.0 - p)
        if not c:
            return 0
        while True:
            y += math.floor(math.log(1.0 - random_()) / c) + 1  # 1 - random() is in (0, 1]
            if y > n:
                return x
            x += 1
    spq = math.sqrt(n * p * (1.0 - p))
    b = 1.15 + 2.53 * spq
    a = -0.0873 + 0.0248 * b + 0.01 * p
    c = n * p + 0.5
    vr = 0.92 - 4.2 / b
    alpha = lpq = h = 0.0
    m = -1
    while True:
        u = random_() - 0.5
        us = 0.5 - abs(u)
        k = math.floor((2.0 * a / us + b) * u + c)
        if k < 0 or k > n:
            continue
        v = random_()
        if us >= 0.07 and v <= vr:
            return k
        if m < 0:
            alpha = (2.83 + 5.1 / b) * spq
            lpq = math.log(p / (1.0 - p))
            m = math.floor((n + 1) * p)
            h = math.lgamma(m + 1) + math.lgamma(n - m + 1)
        v *= alpha / (a / (us * us) + b)
        if v > 0.0 and math.log(v) <= h - math.lgamma(k + 1) - math.lgamma(n - k + 1) + (k - m) * lpq:
            return k


def _multinomial(random_: Callable[[], float], n: int, sizes: Sequence[int], total: int) -> list[int]:
    """Counts of ``n`` uniform draws from ``total`` items split into groups of ``sizes`` (sequential binomials)."""
    out = []
    left_n, left_total = n, total
    last = len(sizes) - 1
    for i, size in enumerate(sizes):
        if i == last or left_n == 0:
            out.append(left_n if i == last else 0)
            continue
        k = _binomial(random_, left_n, size / left_total) if size < left_total else left_n
        out.append(k)
        left_n -= k
        left_total -= size
    return out


# --------------------------------------------------------------------------------------------------------
# Bootstrap


def _parse_statistic(statistic: Statistic) -> tuple[str, float | None, Callable[[list[float]], float] | None]:
    """("mean", None, None) | ("quantile", q, None) | ("callable", None, fn)."""
    if callable(statistic):
        return "callable", None, statistic
    if not isinstance(statistic, str):
        raise TypeError(f"statistic must be 'mean', 'median', 'pNN' or a callable, got {statistic!r}")
    name = statistic.strip().lower()
    if name == "mean":
        return "mean", None, None
    if name == "median":
        return "quantile", 50.0, None
    if name.startswith("p"):
        try:
            q = float(name[1:])
        except ValueError:
            q = -1.0
        if 0.0 <= q <= 100.0:
            return "quantile", q, None
    raise ValueError(
        f"unknown statistic {statistic!r}: use 'mean', 'median', 'pNN' (e.g. 'p95') or a callable"
    )


def _unit(v: Any) -> tuple[float, ...]:
    """One case's values: None -> (), a number -> (x,), a sequence -> its numbers (None and NaN dropped)."""
    kind = type(v)
    if kind is tuple and all(type(x) is float and x == x for x in v):
        return v  # the common case (build_report passes tuples of floats): no copy
    if v is None:
        return ()
    if kind is float or kind is int or isinstance(v, (int, float)):
        x = float(v)
        return () if x != x else (x,)
    return tuple(x for x in (float(x) for x in v if x is not None) if x == x)


def _interval(dist: list[float], alpha: float) -> Interval:
    if not dist:
        return None, None
    dist.sort()
    return (
        percentile(dist, 100.0 * alpha / 2.0, presorted=True),
        percentile(dist, 100.0 * (1.0 - alpha / 2.0), presorted=True),
    )


def _check(n_resamples: int, alpha: float) -> None:
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be at least 1, got {n_resamples}")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be within (0, 1), got {alpha}")


def _apply(
    stat: Callable[[list[float]], float] | None, kind: str, q: float | None, pool: list[float]
) -> float | None:
    if not pool:
        return None
    if kind == "mean":
        return math.fsum(pool) / len(pool)
    if kind == "quantile":
        return percentile(pool, q)  # type: ignore[arg-type]
    return float(stat(pool))  # type: ignore[misc]


def bootstrap_ci(
    values: Sequence[Any],
    statistic: Statistic = "mean",
    *,
    n_resamples: int = 2000,
    alpha: float = 0.05,
    seed: int = 0,
) -> Interval:
    """Percentile-bootstrap ``(low, high)`` confidence interval (level ``1 - alpha``) of ``statistic``.

    ``values`` holds one entry per case: a number, ``None`` (no value) or a sequence of numbers (the case's
    repeats; a resampled case brings all of them). The statistic is computed over the pooled values of the
    resampled cases: ``"mean"``, ``"median"``, ``"pNN"`` (a percentile such as ``"p95"``, interpolated as
    :func:`percentile`) or any callable taking a list of floats. ``(None, None)`` when there is nothing to
    resample. Deterministic for a given ``seed``.
    """
    _check(n_resamples, alpha)
    kind, q, fn = _parse_statistic(statistic)
    units = [_unit(v) for v in values]
    if not any(units):
        return None, None
    rng = random.Random(seed)
    if kind == "mean":
        dist = _boot_means([(0.0, 0, math.fsum(u), len(u)) for u in units], n_resamples, rng, paired=False)
    elif kind == "quantile" and all(len(u) == 1 for u in units):
        dist = _boot_quantile_single(sorted(u[0] for u in units), q, n_resamples, rng)  # type: ignore[arg-type]
    else:
        dist = _boot_explicit([()] * len(units), units, kind, q, fn, n_resamples, rng, paired=False)
    return _interval(dist, alpha)


def paired_bootstrap_ci(
    baseline: Sequence[Any],
    candidate: Sequence[Any],
    statistic: Statistic = "mean",
    *,
    n_resamples: int = 2000,
    alpha: float = 0.05,
    seed: int = 0,
) -> Interval:
    """Paired percentile-bootstrap interval of ``statistic(candidate) - statistic(baseline)``.

    ``baseline[i]`` and ``candidate[i]`` are the values of case *i* (a number, ``None`` or a sequence of
    repeats, as for :func:`bootstrap_ci`). Each resample draws case indices with replacement and computes
    the statistic of the candidate's pooled values minus that of the baseline's for the same cases, so the
    interval reflects the pairing (a hard case is hard for both models). Resamples in which a side has no
    value are skipped. Deterministic for a given ``seed``.
    """
    if len(baseline) != len(candidate):
        raise ValueError(
            f"paired samples differ in length: {len(baseline)} baseline vs {len(candidate)} candidate"
        )
    _check(n_resamples, alpha)
    kind, q, fn = _parse_statistic(statistic)
    xs = [_unit(v) for v in baseline]
    ys = [_unit(v) for v in candidate]
    if not any(xs) or not any(ys):
        return None, None
    rng = random.Random(seed)
    if kind == "mean":
        units = [(math.fsum(x), len(x), math.fsum(y), len(y)) for x, y in zip(xs, ys)]
        dist = _boot_means(units, n_resamples, rng, paired=True)
    elif kind == "quantile":
        dist = _boot_quantile_paired(xs, ys, q, n_resamples, rng)  # type: ignore[arg-type]
    else:
        dist = _boot_explicit(xs, ys, kind, q, fn, n_resamples, rng, paired=True)
    return _interval(dist, alpha)


def _boot_means(
    units: list[tuple[float, int, float, int]], n_resamples: int, rng: random.Random, *, paired: bool
) -> list[float]:
    """Bootstrap distribution of a (difference of) pooled mean(s); units are (sum_x, n_x, sum_y, n_y)."""
    n = len(units)
    groups = Counter(units)
    dist: list[float] = []
    append = dist.append
    if len(groups) * 32 <= n:
        # Few distinct cases (pass rates): draw how often each distinct value is drawn, not each draw.
        keys = list(groups)
        sizes = [groups[k] for k in keys]
        random_ = rng.random
        for _ in range(n_resamples):
            counts = _multinomial(random_, n, sizes, n)
            sx = nx = sy = ny = 0.0
            for (ux, unx, uy, uny), k in zip(keys, counts):
                if k:
                    sx += k * ux
                    nx += k * unx
                    sy += k * uy
                    ny += k * uny
            if ny and (nx or not paired):
                append(sy / ny - (sx / nx if paired else 0.0))
        return dist
    choices = rng.choices
    for _ in range(n_resamples):
        draw = choices(units, k=n)
        sx, nx, sy, ny = (sum(col) for col in zip(*draw))
        if ny and (nx or not paired):
            append(sy / ny - (sx / nx if paired else 0.0))
    return dist


def _boot_quantile_single(s: list[float], q: float, n_resamples: int, rng: random.Random) -> list[float]:
    """Bootstrap distribution of the q-th percentile of one sample, without drawing the resamples.

    A resample's j-th smallest value is ``s[floor(U_(j) * n)]`` where U_(j) is the j-th smallest of n
    uniforms; U_(k) ~ Beta(k, n - k + 1), and the next one up is U_(k) plus (1 - U_(k)) times the minimum
    of the remaining n - k uniforms. So two variates per resample give the two order statistics the
    interpolated percentile needs.
    """
    n = len(s)
    pos = (n - 1) * (q / 100.0)
    lo = int(pos)
    frac = pos - lo
    last = n - 1
    betavariate, random_ = rng.betavariate, rng.random
    dist = []
    for _ in range(n_resamples):
        u = betavariate(lo + 1, n - lo)
        v_lo = s[min(int(u * n), last)]
        if frac and lo + 1 < n:
            u2 = u + (1.0 - u) * (1.0 - (1.0 - random_()) ** (1.0 / (n - lo - 1)))
            v_hi = s[min(int(u2 * n), last)]
            dist.append(v_lo + (v_hi - v_lo) * frac)
        else:
            dist.append(float(v_lo))
    return dist


def _boot_explicit(
    xs: list[tuple[float, ...]],
    ys: list[tuple[float, ...]],
    kind: str,
    q: float | None,
    fn: Callable[[list[float]], float] | None,
    n_resamples: int,
    rng: random.Random,
    *,
    paired: bool,
) -> list[float]:
    """The textbook bootstrap: draw n case indices per resample and compute the statistic on the pools."""
    n = len(ys)
    idx = range(n)
    choices = rng.choices
    flat = chain.from_iterable
    dist = []
    for _ in range(n_resamples):
        draw = choices(idx, k=n)
        vy = _apply(fn, kind, q, list(flat([ys[i] for i in draw])))
        if vy is None:
            continue
        if not paired:
            dist.append(vy)
            continue
        vx = _apply(fn, kind, q, list(flat([xs[i] for i in draw])))
        if vx is not None:
            dist.append(vy - vx)
    return dist


def _zones(units: list[tuple[float, ...]], q: float) -> list[tuple[int, tuple[float, ...], int]] | None:
    """Split one side's values around the rank its q-th percentile needs.

    Returns, per case, (values in the high zone, the values in the band, values in the low zone), or None
    when the band would hold a large share of the values (small samples: resample them case by case). The
    zones follow one descending order of all values (ties cut by position, which changes no quantile), so
    every high value is >= every band value >= every low value. The band spans the needed rank plus a
    margin of five standard deviations of how many values a resample draws above that rank (a sum over
    cases, so its variance is at most the sum of the squared per-case counts).
    """
    items = [(v, i) for i, u in enumerate(units) for v in u]
    total = len(items)
    if total == 0:
        return [(0, (), 0) for _ in units]
    need0 = total - int((total - 1) * (q / 100.0))  # 1-based rank from the top of the lower order statistic
    rmax = max(len(u) for u in units)
    items.sort(key=lambda it: it[0], reverse=True)

    def spread(top: int) -> float:
        counts = Counter(i for _, i in items[:top])
        return math.sqrt(sum(c * c for c in counts.values()))

    margin = int(5.0 * spread(need0)) + 2 * rmax + 3
    margin = max(margin, int(5.0 * spread(min(total, need0 + margin))) + 2 * rmax + 3)
    band_lo = max(
        0, need0 - 2 - margin
    )  # first descending rank in the band (and the interpolation neighbour)
    band_hi = min(total, need0 + margin)  # one past the last
    if (band_hi - band_lo) * 3 > total:
        return None
    high = [0] * len(units)
    low = [0] * len(units)
    band: list[list[float]] = [[] for _ in units]
    for r, (v, i) in enumerate(items):
        if r < band_lo:
            high[i] += 1
        elif r < band_hi:
            band[i].append(v)
        else:
            low[i] += 1
    return [(high[i], tuple(band[i]), low[i]) for i in range(len(units))]


_CHUNK = 256


def _draw_bytes(randbytes: Callable[[int], bytes], size: int, k: int, reject: bytes) -> bytes:
    """``k`` uniform draws from ``range(size)`` (size <= 256) as bytes: random bytes with those >= size
    deleted (rejection sampling, all in C). ``reject`` is ``bytes(range(size, 256))``."""
    if size == 256:
        return randbytes(k)
    out = b""
    while len(out) < k:
        missing = k - len(out)
        out += randbytes(missing * 256 // size + 8 + missing // 4).translate(None, reject)
    return out[:k]


def _boot_quantile_paired(
    xs: list[tuple[float, ...]],
    ys: list[tuple[float, ...]],
    q: float,
    n_resamples: int,
    rng: random.Random,
    *,
    _force_fallback: bool = False,
) -> list[float]:
    """Paired bootstrap of quantile(candidate) - quantile(baseline) that draws only cases near the quantile.

    Each side's values are split into a high zone, a band around the rank the quantile needs, and a low zone
    (:func:`_zones`). Cases without band values are grouped by what they add to each side (values in the
    high zone, values in all), cases with band values into chunks of at most 256. A resample first draws how
    many cases come from each group and chunk (a multinomial); only the chunks' cases are then drawn one by
    one, as random bytes (:func:`_draw_bytes`). That gives both pool sizes, hence the ranks the quantiles
    need, how many drawn values lie above the band, and the band values drawn; the quantile is read from the
    sorted band draws. If it falls outside the band (rare: the band is wide), the other groups' cases are
    drawn too and the quantile is taken on the full pools, so every resample is exact.
    """
    n = len(ys)
    zx = _zones(xs, q)
    zy = _zones(ys, q)
    if zx is None or zy is None:
        return _boot_explicit(xs, ys, "quantile", q, None, n_resamples, rng, paired=True)

    # Cases without band values are only counted: grouped by what they add to each side (values in the high
    # zone, values in all). Cases with band values are drawn: grouped by band widths and what they add, in
    # chunks of at most 256; small groups of those are merged (by band widths) and add per member.
    plain: dict[tuple[int, int, int, int], list[int]] = {}
    banded: dict[tuple[int, int, tuple[int, int, int, int]], list[int]] = {}
    for i in range(n):
        (hx, bx, lx), (hy, by, ly) = zx[i], zy[i]
        if _force_fallback:
            hx, bx, lx, hy, by, ly = 0, (), len(xs[i]), 0, (), len(ys[i])
        contrib = (hx, hx + len(bx) + lx, hy, hy + len(by) + ly)
        if bx or by:
            banded.setdefault((len(bx), len(by), contrib), []).append(i)
        else:
            plain.setdefault(contrib, []).append(i)
    mixed: dict[tuple[int, int], list[int]] = {}
    chunk_list: list[tuple[tuple[int, int], tuple[int, int, int, int] | None, list[int]]] = []
    for (wx, wy, contrib), members in banded.items():
        if len(members) < 16:
            mixed.setdefault((wx, wy), []).extend(members)
        else:
            chunk_list += [
                ((wx, wy), contrib, members[c : c + _CHUNK]) for c in range(0, len(members), _CHUNK)
            ]
    for widths, members in mixed.items():
        chunk_list += [(widths, None, members[c : c + _CHUNK]) for c in range(0, len(members), _CHUNK)]
    groups: list[tuple[bool, tuple[int, int], Any, list[int]]] = [
        (False, (0, 0), contrib, members)
        for contrib, members in sorted(plain.items(), key=lambda kv: -len(kv[1]))
    ]
    groups += [(True, widths, contrib, members) for widths, contrib, members in chunk_list]
    sizes = [len(g[3]) for g in groups]
    rejects = [bytes(range(size, 256)) if size <= _CHUNK else b"" for size in sizes]

    def column(members: list[int], get: Callable[[int], Any]) -> list[Any]:
        return [get(i) for i in members]

    # Per chunk: the band values of each member (flat floats when each has one) and, for merged chunks,
    # what each member adds.
    bx_pop: list[list[Any]] = []
    by_pop: list[list[Any]] = []
    adds: list[Any] = []
    for is_chunk, (wx, wy), contrib, members in groups:
        if not is_chunk:
            bx_pop.append([])
            by_pop.append([])
            adds.append(None)
            continue
        bx_pop.append(
            column(members, lambda i: zx[i][1][0]) if wx == 1 else column(members, lambda i: zx[i][1])
        )
        by_pop.append(
            column(members, lambda i: zy[i][1][0]) if wy == 1 else column(members, lambda i: zy[i][1])
        )
        adds.append(
            None
            if contrib is not None
            else (
                column(members, lambda i: zx[i][0]),
                column(members, lambda i: len(xs[i])),
                column(members, lambda i: zy[i][0]),
                column(members, lambda i: len(ys[i])),
            )
        )
    x_all = [[xs[i] for i in g[3]] for g in groups]  # for the rare completed resample
    y_all = [[ys[i] for i in g[3]] for g in groups]
    chunks = [(g, grp[1], grp[2]) for g, grp in enumerate(groups) if grp[0]]
    plains = [(g, grp[2]) for g, grp in enumerate(groups) if grp[2] is not None]
    frac_q = q / 100.0
    random_, choices, randbytes = rng.random, rng.choices, rng.randbytes
    flat = chain.from_iterable
    dist: list[float] = []

    def pick(pop: list[Any], idx: Sequence[int]) -> tuple[Any, ...]:
        return (pop[idx[0]],) if len(idx) == 1 else itemgetter(*idx)(pop)

    def from_band(band: list[float], high: int, size: int) -> float | None | bool:
        """The quantile from the sorted-descending band draws, or False when it lies outside the band."""
        if size == 0:
            return None
        pos = (size - 1) * frac_q
        lo = int(pos)
        need = size - lo  # the lower order statistic is the need-th largest value of the pool
        frac = pos - lo
        interpolate = frac and need >= 2
        j = need - 1 - high  # its index in the band draws
        if j < (1 if interpolate else 0) or j >= len(band):
            return False
        v_lo = band[j]
        return v_lo + (band[j - 1] - v_lo) * frac if interpolate else v_lo

    for _ in range(n_resamples):
        counts = _multinomial(random_, n, sizes, n)
        high_x = high_y = size_x = size_y = 0
        for g, (hx, nx, hy, ny) in plains:
            k = counts[g]
            if k:
                high_x += k * hx
                size_x += k * nx
                high_y += k * hy
                size_y += k * ny
        band_x: list[float] = []
        band_y: list[float] = []
        drawn: dict[int, Sequence[int]] = {}
        for g, (wx, wy), contrib in chunks:
            k = counts[g]
            if not k:
                continue
            idx = drawn[g] = _draw_bytes(randbytes, sizes[g], k, rejects[g])
            if contrib is None:
                add_hx, add_nx, add_hy, add_ny = adds[g]
                high_x += sum(pick(add_hx, idx))
                size_x += sum(pick(add_nx, idx))
                high_y += sum(pick(add_hy, idx))
                size_y += sum(pick(add_ny, idx))
            if wx:
                band_x += pick(bx_pop[g], idx) if wx == 1 else flat(pick(bx_pop[g], idx))
            if wy:
                band_y += pick(by_pop[g], idx) if wy == 1 else flat(pick(by_pop[g], idx))
        band_x.sort(reverse=True)
        band_y.sort(reverse=True)
        vx = from_band(band_x, high_x, size_x)
        vy = from_band(band_y, high_y, size_y)
        if vx is False or vy is False:
            # Complete this resample: keep the chunks' cases already drawn, draw every other group's cases,
            # and take the quantiles of the full pools.
            pool_x: list[float] = []
            pool_y: list[float] = []
            for g, k in enumerate(counts):
                if k:
                    idx = drawn.get(g) or choices(range(sizes[g]), k=k)
                    pool_x += flat(pick(x_all[g], idx))
                    pool_y += flat(pick(y_all[g], idx))
            vx = percentile(pool_x, q)
            vy = percentile(pool_y, q)
        if vx is None or vy is None:
            continue
        dist.append(vy - vx)  # type: ignore[operator]
    return dist
