"""The anytime-valid monitors keep their error rate over 48 hourly looks, where a repeated fixed-sample test does not.

The error rates are computed exactly, not simulated: the monitors depend on the cumulative count only, so the
chance of ever crossing a boundary is a dynamic programme over the count's distribution, look by look.
"""

from __future__ import annotations

import math

import pytest

from modelswap.regress._bounds import binomial_cdf, clopper_pearson
from modelswap.regress._sequential import (
    BREACH,
    INCONCLUSIVE,
    WITHIN,
    log_evidence_above,
    monitor_floor,
    monitor_rate,
    rate_sequence,
    sample_ratio,
)

ALPHA = 0.05
LOOKS = 48  # hourly for two days


def _pmf(m: int, p: float) -> list[float]:
    return [math.exp(math.lgamma(m + 1) - math.lgamma(j + 1) - math.lgamma(m - j + 1) + j * math.log(p)
                     + (m - j) * math.log1p(-p)) for j in range(m + 1)]


def _ever_crosses(boundaries: list[int], per_look: int, rate: float) -> float:
    """P(the cumulative count reaches boundaries[t] at look t, for some t); ``per_look`` calls between looks."""
    step = _pmf(per_look, rate)
    alive, crossed = [1.0], 0.0
    for boundary in boundaries:
        grown = [0.0] * (len(alive) + per_look)
        for k, mass in enumerate(alive):
            for j, q in enumerate(step):
                grown[k + j] += mass * q
        crossed += math.fsum(grown[boundary:])
        alive = grown[:boundary]
    return crossed


def _least_count(per_look: int, proves, looks: int = LOOKS) -> list[int]:
    """At each look, the least cumulative count at which ``proves(k, n)`` holds (n + 1 if none)."""
    out = []
    for look in range(1, looks + 1):
        n = per_look * look
        lo, hi = 0, n + 1
        while lo < hi:
            mid = (lo + hi) // 2
            if proves(mid, n):
                hi = mid
            else:
                lo = mid + 1
        out.append(lo)
    return out


def _sequential(limit: float):
    return lambda k, n: monitor_rate(k, n, limit, ALPHA).status == BREACH


def _repeated_clopper_pearson(limit: float):
    return lambda k, n: clopper_pearson(k, n, ALPHA)[0] > limit


CASES = [(0.02, 25), (0.05, 25), (0.10, 10), (0.20, 5)]  # (limit, calls per hour)


@pytest.mark.parametrize(("limit", "per_look"), CASES)
def test_a_breach_is_falsely_proven_at_most_alpha_of_the_time_over_48_looks(limit, per_look):
    """The worst case of the null: the true rate exactly at the limit, checked every hour for 48 hours."""
    false_alarm = _ever_crosses(_least_count(per_look, _sequential(limit)), per_look, limit)
    assert false_alarm <= ALPHA, false_alarm


@pytest.mark.parametrize(("limit", "per_look"), CASES)
def test_a_repeated_fixed_sample_test_raises_false_alarms_far_above_alpha(limit, per_look):
    """Why the monitors exist: the same hourly looks with a one-look Clopper-Pearson bound alarm 18-22% of the
    time at a nominal 5%, although a single look keeps its level."""
    repeated = _ever_crosses(_least_count(per_look, _repeated_clopper_pearson(limit)), per_look, limit)
    n = per_look * LOOKS
    once = _least_count(n, _repeated_clopper_pearson(limit), looks=1)[0]
    single = 1.0 - binomial_cdf(once - 1, n, limit)
    assert repeated > 3 * ALPHA, repeated
    assert single <= ALPHA


@pytest.mark.parametrize(("limit", "per_look"), CASES)
def test_a_rate_twice_the_limit_is_caught_within_48_looks(limit, per_look):
    power = _ever_crosses(_least_count(per_look, _sequential(limit)), per_look, 2 * limit)
    assert power >= 0.9, power


@pytest.mark.parametrize(("limit", "per_look"), [(0.05, 25), (0.10, 10)])
def test_within_limit_is_falsely_claimed_at_most_alpha_of_the_time(limit, per_look):
    """The other claim: 'within limit' when the true rate is exactly at the limit, over the same looks.

    Counted as the share of paths whose count ever falls to the most a 'within' claim allows."""
    def within(k: int, n: int) -> bool:
        return monitor_rate(k, n, limit, ALPHA).status == WITHIN

    # A 'within' claim is a low count: mirror it into a high count of the complementary event.
    mirrored = _least_count(per_look, lambda k, n: within(n - k, n))
    assert _ever_crosses(mirrored, per_look, 1 - limit) <= ALPHA


def test_an_agreement_floor_is_monitored_like_a_rate_from_the_other_side():
    assert monitor_floor(50, 100, 0.9).status == BREACH
    assert monitor_floor(995, 1000, 0.9).status == WITHIN
    assert monitor_floor(90, 100, 0.8).status == INCONCLUSIVE  # 90% of 100, but not yet anytime-valid above 80%
    low = monitor_floor(50, 100, 0.9)
    assert low.lower < 0.5 < low.upper < 0.9
    # A floor of 0 always holds; a floor of 1 is breached by one miss.
    assert monitor_floor(0, 10, 0.0).status == WITHIN
    assert monitor_floor(9, 10, 1.0).status == BREACH


@pytest.mark.parametrize(("events", "n"), [(0, 40), (1, 40), (9, 100), (50, 1000), (300, 300), (17, 5000)])
def test_the_sequence_is_wider_than_the_one_look_bound_and_holds_the_rate(events, n):
    lower, upper = rate_sequence(events, n, ALPHA)
    cp_lower, cp_upper = clopper_pearson(events, n, ALPHA)
    assert lower <= cp_lower + 1e-9 and upper >= cp_upper - 1e-9
    assert lower <= events / n <= upper


def test_the_status_agrees_with_the_bounds():
    for events, n, limit in [(9, 100, 0.02), (0, 300, 0.02), (70, 1000, 0.05), (30, 1000, 0.05), (6, 6, 0.05)]:
        m = monitor_rate(events, n, limit)
        assert (m.status == BREACH) == (m.lower > limit - 1e-6), m
        assert (m.status == WITHIN) == (m.upper < limit + 1e-6), m


def test_the_evidence_grows_with_the_count_so_boundaries_are_one_number_per_look():
    values = [log_evidence_above(k, 500, 0.05) for k in range(0, 80)]
    assert values == sorted(values)


def test_the_doctest_figures_and_the_edges():
    assert monitor_rate(9, 100, 0.02).status == BREACH
    assert monitor_rate(0, 40, 0.02).status == INCONCLUSIVE
    assert monitor_rate(0, 0, 0.02).status == INCONCLUSIVE
    assert monitor_rate(3, 10, 0.0).status == BREACH and monitor_rate(0, 10, 0.0).status == INCONCLUSIVE
    assert monitor_rate(10, 10, 1.0).status == WITHIN
    d = monitor_rate(1, 40, 0.02).to_dict()
    assert d["rate"] == pytest.approx(0.025) and d["anytime_valid"] is True


@pytest.mark.parametrize(("bad", "message"), [((5, 4, 0.1, 0.05), "events"), ((1, 4, 1.5, 0.05), "limit"),
                                              ((1, 4, 0.1, 0.7), "alpha")])
def test_bad_arguments_are_named(bad, message):
    with pytest.raises(ValueError, match=message):
        monitor_rate(*bad)


def test_a_sample_ratio_mismatch_is_flagged_only_when_clear():
    assert sample_ratio(480, 520)["mismatch"] is False
    flagged = sample_ratio(400, 600)
    assert flagged["mismatch"] is True and flagged["p_value"] < 1e-6 and flagged["share"] == pytest.approx(0.4)
    assert sample_ratio(95, 905, expected_share=0.1)["mismatch"] is False
    assert sample_ratio(0, 0)["share"] is None
    with pytest.raises(ValueError, match="expected_share"):
        sample_ratio(1, 1, expected_share=1.0)
