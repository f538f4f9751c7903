"""The checks that compare a number with a limit: ``numeric`` (the first number in the answer, within a
tolerance of the expected one), ``latency`` (the call's time) and ``cost`` (the call's price).

``latency`` and ``cost`` measure the call, not the answer; when the measurement is missing (no latency, no
configured price) they fail, negated or not: not knowing is never a pass.
"""

from __future__ import annotations

from typing import Any

from .._errors import ConfigError
from ._check import AssertionSpecError, Check, CheckContext, Outcome, value_or_expected
from ._types import Assertion
from ._values import NUMBER, as_number, is_number

__all__ = ["CHECKS"]


def _numeric(a: Assertion, out: str, ctx: CheckContext) -> Outcome:
    want = as_number(value_or_expected(a, ctx))
    if want is None:
        raise ConfigError(f"numeric compares with a number, not {value_or_expected(a, ctx)!r}.", field="value")
    match = NUMBER.search(out)
    tolerance = float(a.options.get("tolerance", a.threshold if a.threshold is not None else 0.0))
    relative = float(a.options.get("rel_tolerance", 0.0))
    allowed = max(tolerance, relative * abs(want))
    spec = f"{_fmt(want)}" + (f" ± {_fmt(allowed)}" if allowed else "")
    if match is None:
        return Outcome(False, 0.0, f"output holds no number; want {spec}")
    got = float(match.group(0).replace(",", "").replace("\u2212", "-"))
    # A hair of slack so 0.1 + 0.2 style float noise never fails an exact match.
    ok = abs(got - want) <= allowed + 1e-9 * max(1.0, abs(want))
    return Outcome(ok, float(ok), f"first number in the output is {_fmt(got)}; want {spec}")


def _latency(a: Assertion, out: str, ctx: CheckContext) -> Outcome:
    if ctx.latency_s is None:
        return Outcome(False, 0.0, "no latency measured for this call", definite=False)
    ms = ctx.latency_s * 1000
    ok = ms <= float(a.threshold or 0)
    return Outcome(ok, float(ok), f"took {ms:.0f} ms; limit {a.threshold:g} ms")


def _cost(a: Assertion, out: str, ctx: CheckContext) -> Outcome:
    if ctx.cost is None:
        return Outcome(
            False, 0.0, "no price configured for this model (add `price:` to it in modelswap.yaml)", definite=False
        )
    ok = ctx.cost <= float(a.threshold or 0)
    return Outcome(ok, float(ok), f"cost {ctx.cost:.6g}; limit {a.threshold:g}")


# -- validation ---------------------------------------------------------------------------------------------------


def _validate_numeric(a: Assertion) -> None:
    if a.value is not None and as_number(a.value) is None:
        raise AssertionSpecError(f"numeric `value` must be a number, not {a.value!r}.", "value")
    for key in ("tolerance", "rel_tolerance"):
        if key in a.options and (not is_number(a.options[key]) or a.options[key] < 0):
            raise AssertionSpecError(f"`options.{key}` must be a number >= 0.", f"options.{key}")
    if a.threshold is not None and a.threshold < 0:
        raise AssertionSpecError("numeric `threshold` is the absolute tolerance and must be >= 0.", "threshold")


def _validate_numeric_for_case(a: Assertion, expected: Any) -> None:
    if a.value is None and as_number(expected) is None:
        raise AssertionSpecError(f"numeric compares with `expected`, which is not a number: {expected!r}.", "expected")


def _validate_limit(a: Assertion) -> None:
    unit = "milliseconds" if a.type == "latency" else "the model's price currency"
    if a.threshold is None or a.threshold < 0:
        raise AssertionSpecError(
            f"{a.label} needs `threshold`: the limit in {unit}, such as `threshold: 2000`.", "threshold"
        )


CHECKS: dict[str, Check] = {
    "numeric": Check(
        _numeric, frozenset({"tolerance", "rel_tolerance"}), "or-expected",
        validate=_validate_numeric, validate_for_case=_validate_numeric_for_case,
    ),
    "latency": Check(_latency, validate=_validate_limit),
    "cost": Check(_cost, validate=_validate_limit),
}
"""The assertion types this module implements."""


def _fmt(number: float) -> str:
    return f"{number:g}"
