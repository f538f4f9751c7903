"""The API-or-self-host cost model: hand-computed figures, the step line, break-even cases, errors and the chart."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from modelswap import ConfigError
from modelswap.migrate import (
    ApiPricing,
    Conditions,
    CostInputs,
    SelfHost,
    Workload,
    compute_cost,
    cost_chart_svg,
    load_cost_inputs,
    run_cost,
)

DATA = Path(__file__).parent / "data"
SVG = "{http://www.w3.org/2000/svg}"


def inputs(*, tokens_in=1.0e9, tokens_out=0.0, peak=1000.0, price_in=1.0, price_out=0.0, lease=1000.0, tps=1000.0,
           util=1.0, min_gpus=1, redundancy=1.0, spares=0, fte=0.0, fte_cost=0.0, **conditions) -> CostInputs:
    return CostInputs(
        Workload(tokens_in, tokens_out, peak),
        ApiPricing(price_in, price_out),
        SelfHost(lease, tps, min_gpus=min_gpus, redundancy=redundancy, spare_gpus=spares, engineering_fte=fte,
                 fte_annual_cost=fte_cost, utilization_target=util),
        Conditions(**conditions),
    )


# -- hand-computed -------------------------------------------------------------------------------------
def test_small_team_example_by_hand():
    r = compute_cost(load_cost_inputs(DATA / "cost_small_team.yaml"))
    # API: 2,000 Mtok x $0.40 + 400 Mtok x $1.60 = 800 + 640 = $1,440 a month; x 12 = $17,280 a year.
    assert r.api_monthly == pytest.approx(1440.0)
    assert r.api_annual == pytest.approx(17280.0)
    # Blended: 1,440 / 2,400 Mtok = $0.60 per million tokens.
    assert r.blended_per_mtok == pytest.approx(0.60)
    # GPUs: ceil(1500 / (2400 x 0.6)) = ceil(1.0417) = 2; x redundancy 1.0 = 2; max(min 1, 2) = 2.
    assert (r.gpus_needed, r.gpus) == (2, 2)
    # Self-host: 2 x 2,500 + 0.5 x 180,000 / 12 = 5,000 + 7,500 = $12,500 a month.
    assert r.gpu_monthly == pytest.approx(5000.0)
    assert r.engineering_monthly == pytest.approx(7500.0)
    assert r.self_host_monthly == pytest.approx(12500.0)
    # Annual: 2,500 x 2 x 12 + 0.5 x 180,000 = 60,000 + 90,000 = $150,000 (= 12 x monthly).
    assert r.self_host_annual == pytest.approx(150000.0) == pytest.approx(12 * r.self_host_monthly)
    # One GPU serves 2400 x 0.6 x 2.4e9 / 1500 = 2.304e9 tokens a month.
    assert r.tokens_per_gpu_month == pytest.approx(2.304e9)
    # Each GPU step adds $2,500 but the API earns only 2.304e9 x 6e-7 = $1,382.40 over it: no break-even.
    assert r.break_even.status == "never"
    assert r.recommendation == "api"
    verdicts = {c["name"]: c["passed"] for c in r.conditions}
    assert verdicts == {"gpu_capacity_or_cost": False, "volume": True, "frontier_capability_not_required": True,
                        "oncall_coverage": True}


def test_high_volume_with_n_plus_1_by_hand():
    r = compute_cost(load_cost_inputs(DATA / "cost_high_volume.yaml"))
    # API: 40,000 Mtok x $2 + 10,000 Mtok x $8 = 80,000 + 80,000 = $160,000 a month.
    assert r.api_monthly == pytest.approx(160000.0)
    # GPUs: ceil(30000 / (2400 x 0.6)) = ceil(20.83) = 21, n+1 -> 22.
    assert (r.gpus_needed, r.gpus) == (21, 22)
    # Self-host: 22 x 2,500 + 1 x 180,000 / 12 = 55,000 + 15,000 = $70,000; annual 660,000 + 180,000.
    assert r.self_host_monthly == pytest.approx(70000.0)
    assert r.self_host_annual == pytest.approx(840000.0)
    # Break-even: p = $3.2e-6 a token, cap = 1440 x 50e9 / 30000 = 2.4e9 tokens per GPU.
    # Step n costs 2,500 x (n + 1) + 15,000 and the API earns 3.2e-6 x 2.4e9 x n = 7,680 n at its end:
    # 17,500 + 2,500 n <= 7,680 n  ->  n >= 3.38  ->  n = 4, cost 27,500  ->  V = 27,500 / 3.2e-6 = 8.59375e9.
    assert r.break_even.status == "at"
    assert r.break_even.monthly_tokens == pytest.approx(8.59375e9)
    assert r.break_even.gpus == 5
    assert r.break_even.api_cheaper_again_above is None
    assert r.break_even.self_host_cheaper_above == pytest.approx(8.59375e9)
    assert r.recommendation == "self-host"
    assert all(c["passed"] for c in r.conditions)


def test_the_self_host_line_is_a_step_function_of_volume():
    r = compute_cost(inputs(tokens_in=1.0e9, peak=1000, tps=1000, util=0.5, lease=1000, fte=1, fte_cost=120000))
    # Capacity per GPU: 1000 x 0.5 x 1e9 / 1000 = 5e8 tokens a month; engineering $10,000 a month.
    assert r.tokens_per_gpu_month == pytest.approx(5e8)
    assert r.self_host_at(1) == pytest.approx(11000)           # 1 GPU
    assert r.self_host_at(5e8) == pytest.approx(11000)         # still 1 GPU at the step's end
    assert r.self_host_at(5e8 + 1e6) == pytest.approx(12000)   # 2 GPUs just past it
    assert r.self_host_at(1.0e9) == pytest.approx(12000)
    assert r.self_host_at(1.2e9) == pytest.approx(13000)
    assert [r.gpus_at(v) for v in (0, 1e8, 5e8, 6e8, 1e9, 1.1e9)] == [1, 1, 1, 2, 2, 3]
    # Flat within a step, linear for the API.
    assert r.api_at(2e9) == pytest.approx(2 * r.api_at(1e9))


def test_redundancy_multiplier_spares_and_floor():
    base = dict(tokens_in=1.0e9, peak=3000, tps=1000, util=1.0)  # 3 GPUs carry the peak
    assert compute_cost(inputs(**base)).gpus == 3
    assert compute_cost(inputs(**base, redundancy=1.5)).gpus == 5   # ceil(3 x 1.5) = 5
    assert compute_cost(inputs(**base, spares=1)).gpus == 4         # n+1
    assert compute_cost(inputs(**base, min_gpus=8)).gpus == 8       # the floor wins


def test_break_even_at_a_volume_by_hand():
    # 1e9 tokens, peak 1000 tokens/s, 1000 tokens/s per GPU: cap = 1e9 tokens a GPU. Lease $1,000, FTE $2,000/month.
    # API at $2 per 1M: p = 2e-6, so a step earns 2,000 per GPU against 1,000 of lease.
    r = compute_cost(inputs(price_in=2.0, lease=1000, fte=0.2, fte_cost=120000))
    assert r.engineering_monthly == pytest.approx(2000)
    # Step n costs 1,000 n + 2,000 and the API is 2,000 n at its end: n >= 2. Break-even = 4,000 / 2e-6 = 2e9.
    assert r.break_even.status == "at"
    assert r.break_even.monthly_tokens == pytest.approx(2e9)
    assert r.break_even.gpus == 2
    assert r.self_host_at(2e9) == pytest.approx(r.api_at(2e9))
    # The break-even falls on the end of step 2: just past 2e9 a third GPU makes it 5,000 against 4,000 of API,
    # and the API leads until 5,000 / 2e-6 = 2.5e9. From step 4 on (6,000 vs 6,000 at its start) self-hosting holds.
    assert r.break_even.api_cheaper_again_above == pytest.approx(2e9)
    assert r.break_even.self_host_cheaper_above == pytest.approx(2.5e9)


def test_break_even_never_when_each_gpu_costs_more_than_the_tokens_it_serves():
    # A step earns $500 of API spend (cap 1e9 x $0.5 per 1M) against a $1,000 lease.
    r = compute_cost(inputs(price_in=0.5, lease=1000))
    assert r.break_even.status == "never"
    assert r.break_even.monthly_tokens is None
    assert r.to_dict()["break_even"]["status"] == "never"


def test_break_even_always_when_capacity_is_already_paid_for():
    r = compute_cost(load_cost_inputs(DATA / "cost_allocated.yaml"))
    assert r.self_host_monthly == 0
    assert r.gpus == 2  # ceil(800 / 1600) = 1, floor min_gpus 2
    assert r.api_monthly == pytest.approx(1000 * 0.15 + 100 * 0.60)  # 150 + 60 = $210
    assert r.break_even.status == "always"
    verdicts = {c["name"]: c["passed"] for c in r.conditions}
    # Capacity allocated and volume pass; frontier capability and missing on-call fail, so stay on the API.
    assert verdicts == {"gpu_capacity_or_cost": True, "volume": True, "frontier_capability_not_required": False,
                        "oncall_coverage": False}
    assert r.recommendation == "api"
    assert "2 of 4" in r.summary


def test_uneven_steps_hand_the_lead_back_to_the_api_for_a_while():
    # Redundancy 1.5 makes the GPU count ceil(1.5 n): 2, 3, 5, 6, 8, 9, ... at $1,000 each; the API earns $1,600 a step.
    r = compute_cost(inputs(price_in=1.6, lease=1000, redundancy=1.5))
    be = r.break_even
    # Step 2 costs 3,000 <= 1,600 x 2: break-even at 3,000 / 1.6e-6 = 1.875e9 on 3 GPUs.
    assert be.monthly_tokens == pytest.approx(1.875e9)
    assert be.gpus == 3
    # Step 3 costs 5,000 > 1,600 x 2 at its start (2e9): the API leads again there.
    assert be.api_cheaper_again_above == pytest.approx(2e9)
    # The last step whose start is dearer is m = 19: ceil(28.5) = 29 GPUs, 29,000 > 1,600 x 18 = 28,800;
    # self-hosting is cheaper at every volume above 29,000 / 1.6e-6 = 1.8125e10.
    assert be.self_host_cheaper_above == pytest.approx(1.8125e10)


def test_volume_threshold_falls_back_to_the_break_even():
    r = compute_cost(inputs(price_in=2.0, lease=1000, fte=0.2, fte_cost=120000, tokens_in=1.0e9))
    volume = next(c for c in r.conditions if c["name"] == "volume")
    assert not volume["passed"] and "break-even" in volume["detail"]  # 1e9 < 2e9


# -- loading and errors ----------------------------------------------------------------------------------
def test_numbers_written_as_teams_write_them(tmp_path):
    i = load_cost_inputs(DATA / "cost_high_volume.yaml")
    assert i.workload.monthly_input_tokens == 40e9          # "40B"
    assert i.self_host.gpu_monthly_lease == 2500            # "$2,500"
    assert i.self_host.fte_annual_cost == 180000            # 180_000
    assert (i.self_host.redundancy, i.self_host.spare_gpus) == (1.0, 1)
    small = load_cost_inputs(DATA / "cost_small_team.yaml")
    assert small.workload.monthly_input_tokens == 2.0e9      # "2.0e9", text to YAML 1.1


@pytest.mark.parametrize(
    ("name", "text", "line", "field", "words"),
    [
        ("unknown.yaml", (DATA / "cost_unknown_field.yaml").read_text(), 11, "self_host.utilisation_target",
         "did you mean 'utilization_target'"),
        ("missing.yaml", (DATA / "cost_missing_field.yaml").read_text(), 1, "workload",
         "missing required field `peak_tokens_per_second`"),
        ("negative.yaml", "workload: {monthly_input_tokens: 1, monthly_output_tokens: 1, peak_tokens_per_second: 1}\n"
         "api: {input_per_mtok: -1, output_per_mtok: 1}\nself_host: {gpu_monthly_lease: 1, tokens_per_second_per_gpu: 1}\n",
         2, "api.input_per_mtok", "at least 0"),
        ("words.yaml", "workload: {monthly_input_tokens: lots, monthly_output_tokens: 1, peak_tokens_per_second: 1}\n"
         "api: {input_per_mtok: 1, output_per_mtok: 1}\nself_host: {gpu_monthly_lease: 1, tokens_per_second_per_gpu: 1}\n",
         1, "workload.monthly_input_tokens", "expected a number"),
        ("util.yaml", "workload: {monthly_input_tokens: 1, monthly_output_tokens: 1, peak_tokens_per_second: 1}\n"
         "api: {input_per_mtok: 1, output_per_mtok: 1}\nself_host:\n  gpu_monthly_lease: 1\n"
         "  tokens_per_second_per_gpu: 1\n  utilization_target: 60\n", 6, "self_host.utilization_target", "at most 1"),
        ("redundancy.yaml", "workload: {monthly_input_tokens: 1, monthly_output_tokens: 1, peak_tokens_per_second: 1}\n"
         "api: {input_per_mtok: 1, output_per_mtok: 1}\n"
         "self_host: {gpu_monthly_lease: 1, tokens_per_second_per_gpu: 1, redundancy: n+one}\n",
         3, "self_host.redundancy", "n+1"),
        ("bool.yaml", "workload: {monthly_input_tokens: 1, monthly_output_tokens: 1, peak_tokens_per_second: 1}\n"
         "api: {input_per_mtok: 1, output_per_mtok: 1}\nself_host: {gpu_monthly_lease: 1, tokens_per_second_per_gpu: 1}\n"
         "conditions:\n  oncall_coverage_for_inference: sometimes\n", 5, "conditions.oncall_coverage_for_inference",
         "true or false"),
        ("section.yaml", "workload: {monthly_input_tokens: 1, monthly_output_tokens: 1, peak_tokens_per_second: 1}\n"
         "api: {input_per_mtok: 1, output_per_mtok: 1}\nself_hosting: {gpu_monthly_lease: 1}\n", 3, "self_hosting",
         "did you mean 'self_host'"),
    ],
)
def test_bad_inputs_name_file_line_field_and_fix(tmp_path, name, text, line, field, words):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_cost_inputs(path)
    err = info.value
    assert (err.line, err.field) == (line, field), str(err)
    assert str(err).startswith(f"{path}:{line}: {field}: ")
    assert words in str(err)


def test_invalid_yaml_and_missing_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("workload:\n  monthly_input_tokens: [1,\n")
    with pytest.raises(ConfigError, match=r"bad.yaml:\d+: not valid YAML"):
        load_cost_inputs(bad)
    with pytest.raises(ConfigError, match="not found"):
        load_cost_inputs(tmp_path / "nope.yaml")


# -- the command -----------------------------------------------------------------------------------------
def test_run_cost_table_and_json():
    out = io.StringIO()
    assert run_cost(DATA / "cost_small_team.yaml", out=out) == 0
    text = out.getvalue()
    assert "$1,440" in text and "$12,500" in text and "$150,000" in text
    assert "FAIL  gpu_capacity_or_cost" in text and "PASS  oncall_coverage" in text
    out = io.StringIO()
    assert run_cost(DATA / "cost_high_volume.yaml", fmt="json", out=out) == 0
    data = json.loads(out.getvalue())
    assert data["decision"]["recommendation"] == "self-host"
    assert data["break_even"]["monthly_tokens"] == pytest.approx(8.59375e9)
    assert data["self_host"]["gpus"] == 22 and data["api"]["annual"] == pytest.approx(1.92e6)
    assert len(data["decision"]["conditions"]) == 4
    assert all({"name", "passed", "detail"} <= set(c) for c in data["decision"]["conditions"])


def test_run_cost_bad_input_exits_2_without_a_traceback(tmp_path):
    err = io.StringIO()
    assert run_cost(DATA / "cost_missing_field.yaml", out=io.StringIO(), err=err) == 2
    assert err.getvalue().startswith("error: ") and "Traceback" not in err.getvalue()
    assert run_cost(DATA / "cost_small_team.yaml", fmt="csv", out=io.StringIO(), err=io.StringIO()) == 2
    blocked = tmp_path / "file"
    blocked.write_text("")
    err = io.StringIO()
    assert run_cost(DATA / "cost_small_team.yaml", chart=blocked / "chart.svg", out=io.StringIO(), err=err) == 2
    assert "--chart" in err.getvalue()


# -- the chart -------------------------------------------------------------------------------------------
def _parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    return root


def _by_id(root: ET.Element, ident: str) -> ET.Element:
    found = [e for e in root.iter() if e.get("id") == ident]
    assert len(found) == 1, ident
    return found[0]


def test_chart_is_valid_svg_with_both_series_and_the_markers(tmp_path):
    path = tmp_path / "out" / "break-even.svg"
    assert run_cost(DATA / "cost_high_volume.yaml", chart=path, out=io.StringIO()) == 0
    root = _parse(path.read_text())
    api = _by_id(root, "series-api")
    self_host = _by_id(root, "series-self-host")
    assert api.tag == self_host.tag == f"{SVG}polyline"
    api_points = [tuple(map(float, p.split(","))) for p in api.get("points").split()]
    step_points = [tuple(map(float, p.split(","))) for p in self_host.get("points").split()]
    assert len(api_points) == 2                      # a straight line
    assert len(step_points) > 4                      # steps: pairs of points at equal height
    assert any(a[1] == b[1] and a[0] != b[0] for a, b in zip(step_points, step_points[1:]))
    assert any(a[0] == b[0] and a[1] != b[1] for a, b in zip(step_points, step_points[1:]))
    assert _by_id(root, "break-even").find(f"{SVG}circle") is not None
    assert _by_id(root, "current-volume").find(f"{SVG}line") is not None
    texts = " ".join(t.text or "" for t in root.iter(f"{SVG}text"))
    assert "API (gpt-4.1)" in texts and "Self-host" in texts                           # legend
    assert "monthly tokens" in texts and "cost per month" in texts                     # axis labels
    assert "break-even 8.59B tokens/month" in texts and "current 50B/month" in texts
    assert _by_id(root, "x-axis") is not None and _by_id(root, "y-axis") is not None


def test_chart_without_a_break_even_still_has_both_lines():
    r = compute_cost(load_cost_inputs(DATA / "cost_small_team.yaml"))
    root = _parse(cost_chart_svg(r))
    _by_id(root, "series-api")
    _by_id(root, "series-self-host")
    assert not [e for e in root.iter() if e.get("id") == "break-even"]
    assert "no break-even" in " ".join(t.text or "" for t in root.iter(f"{SVG}text"))


def test_chart_samples_a_line_with_very_many_steps():
    # cap = 1e6 tokens per GPU against 2e9 tokens: thousands of steps, drawn as a bounded number of points.
    r = compute_cost(inputs(tokens_in=2e9, peak=2000, tps=1, price_in=5.0, lease=1.0))
    root = _parse(cost_chart_svg(r))
    points = _by_id(root, "series-self-host").get("points").split()
    assert len(points) <= 4001


def test_text_in_the_chart_is_escaped():
    r = compute_cost(CostInputs(Workload(1e9, 0, 1000), ApiPricing(1.0, 0.0, model="<gpt & co>"),
                                SelfHost(1000, 1000, gpu="A&B")))
    root = _parse(cost_chart_svg(r))
    assert "API (<gpt & co>)" in " ".join(t.text or "" for t in root.iter(f"{SVG}text"))
