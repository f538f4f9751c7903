"""API or self-hosted? The cost model behind ``modelswap cost``.

Input is one YAML file in the shape teams already keep::

    workload:  {monthly_input_tokens: 2.0e9, monthly_output_tokens: 4.0e8, peak_tokens_per_second: 1500}
    api:       {model: gpt-4.1-mini, input_per_mtok: 0.40, output_per_mtok: 1.60}
    self_host: {gpu: H100-80GB, gpu_monthly_lease: 2500, tokens_per_second_per_gpu: 2400, min_gpus: 1,
                redundancy: 1.0, engineering_fte: 0.5, fte_annual_cost: 180000, utilization_target: 0.6}
    conditions: {gpu_capacity_allocated: false, frontier_capability_required: false,
                 oncall_coverage_for_inference: true, volume_threshold_tokens: 1.0e9}

Formulas (``V`` is monthly volume in tokens, ``V0`` the workload's own input + output, at the workload's
input/output mix throughout):

* API monthly cost: ``input_tokens x input_per_mtok / 1e6 + output_tokens x output_per_mtok / 1e6``; at any
  volume it is ``V x p`` with ``p`` the blended price per token of the workload's mix (linear in volume).
* GPU count: peak throughput grows with volume, ``peak(V) = peak_tokens_per_second x V / V0``;
  ``needed = ceil(peak(V) / (tokens_per_second_per_gpu x utilization_target))``; redundancy is a multiplier
  (``ceil(needed x redundancy)``) or spares (``"n+1"``: ``needed + 1``); ``gpus = max(min_gpus, that)``.
* Self-host monthly cost: ``gpus x gpu_monthly_lease + engineering_fte x fte_annual_cost / 12``. Annual figures
  are 12 x monthly: ``gpu_monthly_lease x gpus x 12 + engineering_fte x fte_annual_cost``.
* Break-even: the self-host line is flat until the GPU count must grow, so it is a step function of volume. One
  GPU serves ``cap = tokens_per_second_per_gpu x utilization_target x V0 / peak_tokens_per_second`` tokens a
  month, and the count steps up at every multiple of ``cap``. The break-even volume is the lowest ``V`` where
  ``self_host(V) <= V x p``: on the first step ``n`` with ``self_host(n) <= p x n x cap`` it is
  ``self_host(n) / p``. ``never``: the API is cheaper at every volume; ``always``: self-hosting costs nothing
  extra (GPUs already paid, no added staff). When each extra GPU costs more than the API tokens it serves, the
  API can become cheaper again at a later step; the result says where.

Self-hosting is recommended only when all four conditions hold: GPU capacity is allocated or self-hosting is
cheaper at the current volume (lease included); the volume is above the threshold; frontier capability is not
required; and someone is on call for inference. Each condition is reported with pass/fail and why.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._common import YamlDoc, fmt_money, fmt_tokens, load_yaml

__all__ = [
    "ApiPricing",
    "BreakEven",
    "Conditions",
    "CostInputs",
    "CostResult",
    "SelfHost",
    "Workload",
    "compute_cost",
    "load_cost_inputs",
]

_MAX_STEPS = 1_000_000
_EPS = 1e-12  # money compared at equal volumes: equal within rounding is equal


def _ceil(x: float) -> int:
    # 1500 / (2400 x 0.625) is 1.0000000000000002 in floating point; that is one GPU, not two.
    return math.ceil(x - 1e-9 * max(1.0, abs(x)))


@dataclass(frozen=True, slots=True)
class Workload:
    monthly_input_tokens: float
    monthly_output_tokens: float
    peak_tokens_per_second: float

    @property
    def monthly_tokens(self) -> float:
        return self.monthly_input_tokens + self.monthly_output_tokens


@dataclass(frozen=True, slots=True)
class ApiPricing:
    input_per_mtok: float
    output_per_mtok: float
    model: str | None = None

    def monthly(self, input_tokens: float, output_tokens: float) -> float:
        return (input_tokens * self.input_per_mtok + output_tokens * self.output_per_mtok) / 1e6


@dataclass(frozen=True, slots=True)
class SelfHost:
    gpu_monthly_lease: float
    tokens_per_second_per_gpu: float
    gpu: str | None = None
    min_gpus: int = 1
    redundancy: float = 1.0
    spare_gpus: int = 0
    engineering_fte: float = 0.0
    fte_annual_cost: float = 0.0
    utilization_target: float = 1.0

    @property
    def engineering_monthly(self) -> float:
        return self.engineering_fte * self.fte_annual_cost / 12

    def gpus_for(self, needed: int) -> int:
        """GPUs to run when ``needed`` carry the peak: redundancy, spares, then the floor."""
        return max(self.min_gpus, _ceil(needed * self.redundancy) + self.spare_gpus)

    @property
    def redundancy_text(self) -> str:
        if self.spare_gpus:
            return f"n+{self.spare_gpus}" + (f" x{self.redundancy:g}" if self.redundancy != 1 else "")
        return f"x{self.redundancy:g}"


@dataclass(frozen=True, slots=True)
class Conditions:
    gpu_capacity_allocated: bool = False
    frontier_capability_required: bool = False
    oncall_coverage_for_inference: bool = False
    volume_threshold_tokens: float | None = None


@dataclass(frozen=True, slots=True)
class CostInputs:
    workload: Workload
    api: ApiPricing
    self_host: SelfHost
    conditions: Conditions = Conditions()
    source: str = "<inputs>"


@dataclass(frozen=True, slots=True)
class BreakEven:
    """Where the self-host step line meets the API line.

    ``status``: ``at`` (``monthly_tokens`` is the lowest break-even volume, reached on ``gpus`` GPUs), ``never``
    or ``always``. Uneven GPU steps (a fractional redundancy) can hand the lead back to the API for a while:
    ``api_cheaper_again_above`` is the first volume past the break-even where that happens (None: never), and
    ``self_host_cheaper_above`` the volume above which self-hosting is cheaper at every volume (None when the
    API wins again for good, because each added GPU costs more than the API tokens it serves).
    """

    status: str
    monthly_tokens: float | None = None
    gpus: int | None = None
    api_cheaper_again_above: float | None = None
    self_host_cheaper_above: float | None = None


@dataclass(slots=True)
class CostResult:
    inputs: CostInputs
    api_monthly: float
    api_annual: float
    blended_per_mtok: float
    gpus_needed: int
    gpus: int
    gpu_monthly: float
    engineering_monthly: float
    self_host_monthly: float
    self_host_annual: float
    tokens_per_gpu_month: float
    break_even: BreakEven
    conditions: list[dict[str, Any]] = field(default_factory=list)
    recommendation: str = "api"
    summary: str = ""

    # -- the two cost lines, at any volume -------------------------------------------------------------
    def api_at(self, volume: float) -> float:
        return volume * self.blended_per_mtok / 1e6

    def gpus_at(self, volume: float) -> int:
        return _gpus_at(self.inputs, volume)

    def self_host_at(self, volume: float) -> float:
        return self.gpus_at(volume) * self.inputs.self_host.gpu_monthly_lease + self.engineering_monthly

    def to_dict(self) -> dict[str, Any]:
        i = self.inputs
        sh = i.self_host
        return {
            "source": i.source,
            "workload": {
                "monthly_input_tokens": i.workload.monthly_input_tokens,
                "monthly_output_tokens": i.workload.monthly_output_tokens,
                "monthly_tokens": i.workload.monthly_tokens,
                "peak_tokens_per_second": i.workload.peak_tokens_per_second,
            },
            "api": {
                "model": i.api.model,
                "input_per_mtok": i.api.input_per_mtok,
                "output_per_mtok": i.api.output_per_mtok,
                "blended_per_mtok": self.blended_per_mtok,
                "monthly": self.api_monthly,
                "annual": self.api_annual,
            },
            "self_host": {
                "gpu": sh.gpu,
                "gpu_monthly_lease": sh.gpu_monthly_lease,
                "tokens_per_second_per_gpu": sh.tokens_per_second_per_gpu,
                "utilization_target": sh.utilization_target,
                "redundancy": sh.redundancy_text,
                "min_gpus": sh.min_gpus,
                "gpus_needed_for_peak": self.gpus_needed,
                "gpus": self.gpus,
                "tokens_per_gpu_month": self.tokens_per_gpu_month,
                "gpu_monthly": self.gpu_monthly,
                "engineering_monthly": self.engineering_monthly,
                "monthly": self.self_host_monthly,
                "annual": self.self_host_annual,
            },
            "break_even": {
                "status": self.break_even.status,
                "monthly_tokens": self.break_even.monthly_tokens,
                "gpus": self.break_even.gpus,
                "api_cheaper_again_above": self.break_even.api_cheaper_again_above,
                "self_host_cheaper_above": self.break_even.self_host_cheaper_above,
            },
            "decision": {
                "recommendation": self.recommendation,
                "summary": self.summary,
                "conditions": self.conditions,
            },
            "formulas": {
                "api_monthly": "input_tokens x input_per_mtok / 1e6 + output_tokens x output_per_mtok / 1e6",
                "gpus": "max(min_gpus, ceil(ceil(peak_tps x V/V0 / (tokens_per_second_per_gpu x utilization_target)) "
                        "x redundancy) + spares)",
                "self_host_monthly": "gpus x gpu_monthly_lease + engineering_fte x fte_annual_cost / 12",
                "annual": "12 x monthly (self-host: gpu_monthly_lease x gpus x 12 + engineering_fte x fte_annual_cost)",
                "break_even": "lowest monthly volume V with self_host(V) <= api(V), on the self-host step line",
            },
        }


# -- loading -------------------------------------------------------------------------------------------
_SECTIONS = ("workload", "api", "self_host", "conditions")
_WORKLOAD = ("monthly_input_tokens", "monthly_output_tokens", "peak_tokens_per_second")
_API = ("model", "input_per_mtok", "output_per_mtok", "currency")
_SELF_HOST = ("gpu", "gpu_monthly_lease", "tokens_per_second_per_gpu", "min_gpus", "redundancy", "engineering_fte",
              "fte_annual_cost", "utilization_target")
_CONDITIONS = ("gpu_capacity_allocated", "frontier_capability_required", "oncall_coverage_for_inference",
               "volume_threshold_tokens")


def load_cost_inputs(path: str | Path) -> CostInputs:
    """Read a cost-model YAML (see the module docstring).

    Raises:
        ConfigError: unreadable or invalid YAML, a missing or unknown field, or a value out of range; the message
            names the file, the line and the field, and says what to write instead.
    """
    doc = load_yaml(path, "cost inputs file")
    doc.section((), _SECTIONS)  # the root: refuse unknown top-level sections

    def required(section: str, key: str, values: dict[str, Any], **bounds: Any) -> float:
        if values.get(key) is None:
            raise doc.error((section,), f"missing required field `{key}`. Add `{key}: <number>` under `{section}:`.")
        return doc.number((section, key), values[key], **bounds)

    w = doc.section(("workload",), _WORKLOAD)
    workload = Workload(
        monthly_input_tokens=required("workload", "monthly_input_tokens", w),
        monthly_output_tokens=required("workload", "monthly_output_tokens", w),
        peak_tokens_per_second=required("workload", "peak_tokens_per_second", w, exclusive=True),
    )
    if workload.monthly_tokens <= 0:
        raise doc.error(("workload", "monthly_input_tokens"),
                        "the workload has no tokens: give the monthly input and output tokens it uses today.")

    a = doc.section(("api",), _API)
    model = a.get("model")
    api = ApiPricing(
        input_per_mtok=required("api", "input_per_mtok", a),
        output_per_mtok=required("api", "output_per_mtok", a),
        model=str(model) if model is not None else None,
    )
    if api.input_per_mtok == 0 and api.output_per_mtok == 0:
        raise doc.error(("api", "input_per_mtok"), "the API price is zero, so nothing can be cheaper: give the price "
                                                    "per million tokens from the vendor's price page.")

    s = doc.section(("self_host",), _SELF_HOST)
    min_gpus = doc.number(("self_host", "min_gpus"), s.get("min_gpus", 1))
    if min_gpus != int(min_gpus):
        raise doc.error(("self_host", "min_gpus"), f"must be a whole number of GPUs, got {min_gpus:g}.")
    redundancy, spares = _redundancy(doc, s.get("redundancy", 1.0))
    self_host = SelfHost(
        gpu_monthly_lease=required("self_host", "gpu_monthly_lease", s),
        tokens_per_second_per_gpu=required("self_host", "tokens_per_second_per_gpu", s, exclusive=True),
        gpu=str(s["gpu"]) if s.get("gpu") is not None else None,
        min_gpus=int(min_gpus),
        redundancy=redundancy,
        spare_gpus=spares,
        engineering_fte=doc.number(("self_host", "engineering_fte"), s.get("engineering_fte", 0)),
        fte_annual_cost=doc.number(("self_host", "fte_annual_cost"), s.get("fte_annual_cost", 0)),
        utilization_target=doc.number(("self_host", "utilization_target"), s.get("utilization_target", 1.0),
                                      exclusive=True, maximum=1.0),
    )
    if self_host.engineering_fte > 0 and "fte_annual_cost" not in s:
        raise doc.error(("self_host", "engineering_fte"),
                        "engineering_fte is set but fte_annual_cost is not: add the loaded annual cost of one engineer.")

    c = doc.section(("conditions",), _CONDITIONS, required=False)
    threshold = c.get("volume_threshold_tokens")
    conditions = Conditions(
        gpu_capacity_allocated=doc.boolean(("conditions", "gpu_capacity_allocated"), c.get("gpu_capacity_allocated", False)),
        frontier_capability_required=doc.boolean(("conditions", "frontier_capability_required"),
                                                 c.get("frontier_capability_required", False)),
        oncall_coverage_for_inference=doc.boolean(("conditions", "oncall_coverage_for_inference"),
                                                  c.get("oncall_coverage_for_inference", False)),
        volume_threshold_tokens=doc.number(("conditions", "volume_threshold_tokens"), threshold)
        if threshold is not None else None,
    )
    return CostInputs(workload, api, self_host, conditions, source=doc.source)


def _redundancy(doc: YamlDoc, value: Any) -> tuple[float, int]:
    """``1.0``/``1.5`` (a multiplier) or ``"n+1"``/``"N+2"`` (spare GPUs)."""
    if isinstance(value, str) and value.strip().lower().startswith("n+"):
        spare = value.strip()[2:]
        if spare.isdigit():
            return 1.0, int(spare)
        raise doc.error(("self_host", "redundancy"), f"{value!r}: write spares as n+1 or n+2.")
    factor = doc.number(("self_host", "redundancy"), value, minimum=1.0)
    return factor, 0


# -- the model -------------------------------------------------------------------------------------------
def _tokens_per_gpu_month(inputs: CostInputs) -> float:
    sh, w = inputs.self_host, inputs.workload
    return sh.tokens_per_second_per_gpu * sh.utilization_target * w.monthly_tokens / w.peak_tokens_per_second


def _needed_at(inputs: CostInputs, volume: float) -> int:
    sh, w = inputs.self_host, inputs.workload
    peak = w.peak_tokens_per_second * volume / w.monthly_tokens
    return max(0, _ceil(peak / (sh.tokens_per_second_per_gpu * sh.utilization_target)))


def _gpus_at(inputs: CostInputs, volume: float) -> int:
    return inputs.self_host.gpus_for(_needed_at(inputs, volume))


def compute_cost(inputs: CostInputs) -> CostResult:
    """Both cost lines at the current volume, the break-even volume, and the decision with its conditions."""
    w, api, sh = inputs.workload, inputs.api, inputs.self_host
    api_monthly = api.monthly(w.monthly_input_tokens, w.monthly_output_tokens)
    blended = api_monthly * 1e6 / w.monthly_tokens
    needed = _needed_at(inputs, w.monthly_tokens)
    gpus = sh.gpus_for(needed)
    gpu_monthly = gpus * sh.gpu_monthly_lease
    self_host_monthly = gpu_monthly + sh.engineering_monthly
    cap = _tokens_per_gpu_month(inputs)
    result = CostResult(
        inputs=inputs,
        api_monthly=api_monthly,
        api_annual=12 * api_monthly,
        blended_per_mtok=blended,
        gpus_needed=needed,
        gpus=gpus,
        gpu_monthly=gpu_monthly,
        engineering_monthly=sh.engineering_monthly,
        self_host_monthly=self_host_monthly,
        self_host_annual=sh.gpu_monthly_lease * gpus * 12 + sh.engineering_fte * sh.fte_annual_cost,
        tokens_per_gpu_month=cap,
        break_even=_break_even(inputs, api_monthly / w.monthly_tokens, cap),
    )
    _decide(result)
    return result


def _step_cost(sh: SelfHost, n: int) -> float:
    return sh.gpus_for(n) * sh.gpu_monthly_lease + sh.engineering_monthly


def _break_even(inputs: CostInputs, p: float, cap: float) -> BreakEven:
    """See the module docstring. ``p``: API price per token; ``cap``: tokens one GPU serves a month.

    Step ``n`` (``n`` GPUs carry the peak) covers volumes in ``((n-1) x cap, n x cap]`` at a constant cost
    ``C(n)``; within it self-hosting is no dearer from ``C(n) / p`` on. Past ``bound`` every step is cheaper
    from its start: ``C(m) <= lease x (min_gpus + m x redundancy + 1 + spares) + fixed <= p x (m-1) x cap``.
    """
    sh = inputs.self_host
    fixed = sh.engineering_monthly
    lease = sh.gpu_monthly_lease
    if lease == 0 and fixed == 0:
        return BreakEven("always", 0.0, sh.gpus_for(0), None, 0.0)
    slope_gap = p * cap - lease * sh.redundancy  # API money per step, minus the lease the step adds
    plateau = _plateau_end(sh)
    bound = None
    if slope_gap > 0:
        bound = math.ceil((p * cap + lease * (sh.min_gpus + 1 + sh.spare_gpus) + fixed) / slope_gap) + 1
    last = min(max(bound or 0, plateau + 2), _MAX_STEPS)
    # On the min_gpus plateau the cost is flat: the first step there that pays for itself, in closed form.
    first = None
    flat = _step_cost(sh, max(plateau, 1))
    if plateau >= 1 and p * cap > 0:
        n = max(1, _ceil(flat / (p * cap)))
        if n <= plateau:
            first = n
    if first is None:
        # Past the plateau, ceil(n x r) >= n x r: no step below (fixed + lease x spares) / slope_gap can pay.
        start = max(1, plateau + 1)
        if slope_gap > 0:
            start = max(start, int((fixed + lease * sh.spare_gpus) / slope_gap))
        first = next((n for n in range(start, last + 1) if _step_cost(sh, n) <= p * n * cap * (1 + _EPS)), None)
    if first is None:
        return BreakEven("never")
    volume = _step_cost(sh, first) / p
    again = None
    above = volume
    end = min(max(bound or 0, first + 1, plateau + 2), first + _MAX_STEPS)
    for m in range(first + 1, end + 1):
        cost = _step_cost(sh, m)
        if cost > p * (m - 1) * cap * (1 + _EPS):  # the API is cheaper at the start of step m
            if again is None:
                again = (m - 1) * cap
            above = max(above, cost / p)
    return BreakEven("at", volume, sh.gpus_for(first), again, above if bound is not None else None)


def _plateau_end(sh: SelfHost) -> int:
    """The last step ``n`` on which ``min_gpus`` still decides the GPU count (-1 when it never does)."""
    n = -1
    while _ceil((n + 1) * sh.redundancy) + sh.spare_gpus <= sh.min_gpus and n < _MAX_STEPS:
        n += 1
    return n


def _decide(r: CostResult) -> None:
    cond = r.inputs.conditions
    volume = r.inputs.workload.monthly_tokens
    cheaper = r.self_host_monthly <= r.api_monthly
    checks: list[dict[str, Any]] = []
    money = (f"self-host {fmt_money(r.self_host_monthly)}/month vs API {fmt_money(r.api_monthly)}/month "
             f"at {fmt_tokens(volume)} tokens")
    if cond.gpu_capacity_allocated:
        checks.append({"name": "gpu_capacity_or_cost", "passed": True,
                       "detail": f"GPU capacity is already allocated ({money})"})
    else:
        checks.append({"name": "gpu_capacity_or_cost", "passed": cheaper,
                       "detail": f"no GPU capacity allocated; {money}: "
                                 + ("self-hosting is cheaper, lease included" if cheaper
                                    else "the API is cheaper once the lease is paid")})
    be = r.break_even
    if cond.volume_threshold_tokens is not None:
        ok = volume >= cond.volume_threshold_tokens
        checks.append({"name": "volume", "passed": ok,
                       "detail": f"{fmt_tokens(volume)} tokens/month {'>=' if ok else '<'} the threshold "
                                 f"{fmt_tokens(cond.volume_threshold_tokens)}"})
    else:
        if be.status == "always":
            checks.append({"name": "volume", "passed": True, "detail": "no threshold set; self-hosting costs nothing "
                                                                       "extra at any volume"})
        elif be.status == "never":
            checks.append({"name": "volume", "passed": False,
                           "detail": "no threshold set and no break-even volume: the API is cheaper at every volume"})
        else:
            ok = volume >= (be.monthly_tokens or 0)
            checks.append({"name": "volume", "passed": ok,
                           "detail": f"no threshold set; {fmt_tokens(volume)} tokens/month {'>=' if ok else '<'} the "
                                     f"break-even {fmt_tokens(be.monthly_tokens)}"})
    checks.append({"name": "frontier_capability_not_required", "passed": not cond.frontier_capability_required,
                   "detail": "the workload needs frontier capability, which open-weight models do not match yet"
                   if cond.frontier_capability_required else "the workload does not need frontier capability"})
    checks.append({"name": "oncall_coverage", "passed": cond.oncall_coverage_for_inference,
                   "detail": "someone is on call for the inference servers" if cond.oncall_coverage_for_inference
                   else "no on-call coverage for inference: a self-hosted outage would wait for office hours"})
    r.conditions = checks
    failed = [c["name"] for c in checks if not c["passed"]]
    r.recommendation = "self-host" if not failed else "api"
    r.summary = ("self-host: all four conditions hold" if not failed
                 else f"stay on the API: {len(failed)} of 4 conditions fail ({', '.join(failed)})")


# -- output ----------------------------------------------------------------------------------------------
def format_table(r: CostResult) -> str:
    i = r.inputs
    w, sh = i.workload, i.self_host
    be = r.break_even
    lines = [
        f"cost model: {i.source}",
        "",
        f"workload     {fmt_tokens(w.monthly_input_tokens)} in + {fmt_tokens(w.monthly_output_tokens)} out = "
        f"{fmt_tokens(w.monthly_tokens)} tokens/month; peak {w.peak_tokens_per_second:,.0f} tokens/s",
        "",
        f"{'':<14}{'MONTHLY':>14}{'ANNUAL':>16}  DETAIL",
        f"{'API':<14}{fmt_money(r.api_monthly):>14}{fmt_money(r.api_annual):>16}  "
        f"{i.api.model or 'api'}: {i.api.input_per_mtok:g}/{i.api.output_per_mtok:g} per 1M in/out "
        f"(blended {fmt_money(r.blended_per_mtok)} per 1M)",
        f"{'self-host':<14}{fmt_money(r.self_host_monthly):>14}{fmt_money(r.self_host_annual):>16}  "
        f"{r.gpus} x {sh.gpu or 'GPU'} at {fmt_money(sh.gpu_monthly_lease)} + "
        f"{sh.engineering_fte:g} FTE ({fmt_money(r.engineering_monthly)}/month)",
        "",
        f"GPU count    max(min {sh.min_gpus}, ceil({w.peak_tokens_per_second:,.0f} / ({sh.tokens_per_second_per_gpu:,.0f} x "
        f"{sh.utilization_target:g})) = {r.gpus_needed}, redundancy {sh.redundancy_text}) = {r.gpus}; one GPU serves "
        f"{fmt_tokens(r.tokens_per_gpu_month)} tokens/month at this peak-to-volume ratio",
    ]
    if be.status == "never":
        lines.append("break-even   never: the API is cheaper at every monthly volume")
    elif be.status == "always":
        lines.append("break-even   always: self-hosting adds no cost at any volume")
    else:
        text = f"break-even   {fmt_tokens(be.monthly_tokens)} tokens/month (on {be.gpus} GPUs)"
        if be.api_cheaper_again_above is not None:
            text += f"; the API is cheaper again just above {fmt_tokens(be.api_cheaper_again_above)}"
            text += (f"; self-hosting is cheaper at every volume above {fmt_tokens(be.self_host_cheaper_above)}"
                     if be.self_host_cheaper_above is not None else "; the API stays cheaper at higher volumes")
        lines.append(text)
    lines += ["", f"decision     {r.recommendation.upper()}: {r.summary}"]
    for c in r.conditions:
        lines.append(f"  {'PASS' if c['passed'] else 'FAIL'}  {c['name']:<33} {c['detail']}")
    return "\n".join(lines)
