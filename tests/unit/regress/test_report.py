"""build_report / write_reports: the numbers, the JSON round trip, report.md, a well-formed and inert
report.html, redaction and determinism."""

from __future__ import annotations

import json
import math
import os
import random
import stat
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from modelswap._redact import remember_secret
from modelswap.regress import (
    build_report,
    dumps_report,
    mcnemar_exact,
    percentile,
    render_html,
    render_markdown,
    write_reports,
)

SUITE = {"name": "faq", "source": "evals/faq.yaml", "n_cases": 20}
XSS = "<script>alert('x')</script><img src=x onerror=alert(1)>"
OPENAI_KEY = "sk-proj-" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4"
SECRET = "in-house-token-4242-zz"


def run(
    role: str,
    case: str,
    passed: bool = True,
    *,
    repeat: int = 0,
    latency: float | None = 0.2,
    error: str | None = None,
    output: str | None = "ok",
    cost: float | None = 0.001,
    score: float | None = None,
    prompt: str = "What is the capital of France?",
    expected: Any = "Paris",
    assertions: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "role": role,
        "alias": "gpt-4o-mini" if role == "baseline" else "llama-3.1-8b",
        "case_id": case,
        "repeat": repeat,
        "passed": passed,
        "score": (1.0 if passed else 0.0) if score is None else score,
        "latency_s": latency,
        "input_tokens": 12,
        "output_tokens": None if error else 3,
        "cost": cost,
        "error": error,
        "output": None if error else output,
        "expected": expected,
        "prompt": prompt,
        "assertions": [
            {
                "type": "contains",
                "passed": passed,
                "score": float(passed),
                "reason": None if passed else "expected 'Paris'",
            }
        ]
        if assertions is None
        else assertions,
    }


def pattern_results() -> list[dict[str, Any]]:
    """20 cases: 10 both pass, 5 regressed, 2 fixed, 3 both fail."""
    outcome = ["pp"] * 10 + ["pf"] * 5 + ["fp"] * 2 + ["ff"] * 3
    results = []
    for i, (b, c) in enumerate(outcome):
        results.append(run("baseline", f"case-{i:02d}", b == "p", latency=0.1 + i * 0.01))
        results.append(
            run(
                "candidate",
                f"case-{i:02d}",
                c == "p",
                latency=0.2 + i * 0.02,
                output="London" if c == "f" else "Paris",
            )
        )
    return results


def build(results: list[dict[str, Any]], **kw: Any) -> dict[str, Any]:
    kw.setdefault("suite", SUITE)
    kw.setdefault("thresholds", {"max_accuracy_drop": 0.02})
    kw.setdefault("repeat", 1)
    return build_report(results, baseline="gpt-4o-mini", candidate="llama-3.1-8b", **kw)


# ---------------------------------------------------------------------------------------------- shape and numbers


def test_report_shape_and_json_round_trip() -> None:
    report = build(pattern_results())
    for key in (
        "verdict",
        "reasons",
        "checks",
        "models",
        "comparison",
        "cases",
        "generated_at",
        "modelswap_version",
        "suite",
        "thresholds",
        "repeat",
        "baseline",
        "candidate",
    ):
        assert key in report
    for role in ("baseline", "candidate"):
        assert {
            "alias",
            "accuracy",
            "accuracy_ci",
            "latency_p50_ms",
            "latency_p95_ms",
            "error_rate",
            "input_tokens",
            "output_tokens",
            "cost",
            "n_runs",
        } <= set(report["models"][role])
    assert {"mcnemar", "accuracy_delta", "latency_p95_delta_ms", "cost_delta"} <= set(report["comparison"])
    case = report["cases"][0]
    assert {"case_id", "prompt", "expected", "baseline", "candidate", "changed"} <= set(case)
    assert {"passed", "output", "latency_ms", "error"} <= set(case["baseline"])
    text = dumps_report(report)
    assert json.loads(text) == report  # strict JSON (no NaN), nothing lost
    assert text.count("\n") > len(report["cases"])  # one line per case
    assert report["models"]["baseline"]["alias"] == "gpt-4o-mini"
    assert report["modelswap_version"] == __import__("modelswap").__version__


def test_counts_accuracy_and_mcnemar() -> None:
    report = build(pattern_results())
    mb, mc = report["models"]["baseline"], report["models"]["candidate"]
    assert mb["accuracy"] == 15 / 20 and mc["accuracy"] == 12 / 20 and mb["n_runs"] == 20
    comp = report["comparison"]
    assert comp["mcnemar"] == {
        "b": 5,
        "c": 2,
        "p_value": mcnemar_exact(5, 2),
        "both_pass": 10,
        "both_fail": 3,
    }
    assert comp["accuracy_delta"]["value"] == pytest.approx(-0.15)
    low, high = comp["accuracy_delta"]["ci"]
    assert low <= -0.15 <= high
    lo_b, hi_b = mb["accuracy_ci"]
    assert lo_b <= 0.75 <= hi_b
    changed = Counter(c["changed"] for c in report["cases"])
    assert changed == {"same": 13, "regressed": 5, "fixed": 2}
    # 5 vs 2 discordant pairs is not significant: the drop (15 points > 2) holds rather than rolls back
    assert report["verdict"] == "hold"
    assert report["checks"][0]["status"] == "hold"


def test_latency_metrics_are_over_every_call() -> None:
    results = pattern_results()
    results[3]["latency_s"] = None  # a call that reported no latency
    report = build(results, thresholds={"latency_sla_ms": 500})
    lat_b = sorted(
        r["latency_s"] * 1000 for r in results if r["role"] == "baseline" and r["latency_s"] is not None
    )
    lat_c = sorted(
        r["latency_s"] * 1000 for r in results if r["role"] == "candidate" and r["latency_s"] is not None
    )
    assert len(lat_c) == 19
    mb, mc = report["models"]["baseline"], report["models"]["candidate"]
    assert mb["latency_p50_ms"] == pytest.approx(percentile(lat_b, 50))
    assert mc["latency_p95_ms"] == pytest.approx(percentile(lat_c, 95))
    delta = report["comparison"]["latency_p95_delta_ms"]
    assert delta["value"] == pytest.approx(percentile(lat_c, 95) - percentile(lat_b, 95))
    assert delta["ci"][0] <= delta["ci"][1]
    hist = report["latency_histogram"]
    assert sum(hist["baseline"]) == len(lat_b) and sum(hist["candidate"]) == len(lat_c)
    assert hist["upper_ms"] >= 500  # the SLA is inside the plotted range


def test_errors_count_as_failures_and_as_errors() -> None:
    results = pattern_results()
    for r in results:
        if r["role"] == "candidate" and r["case_id"] in ("case-00", "case-01"):
            r.update(passed=True, error=f"RateLimitedError: 429 for key {OPENAI_KEY}", output=None, cost=None)
    report = build(results, thresholds={"max_error_rate": 0.05})
    mc = report["models"]["candidate"]
    assert mc["errors"] == 2 and mc["error_rate"] == pytest.approx(0.1)
    assert mc["accuracy"] == pytest.approx(10 / 20)  # the two errored "passes" count as failures
    assert mc["error_types"] == {"RateLimitedError": 2}
    assert mc["cost_unknown_runs"] == 0  # errored calls cost nothing, they are not "unknown"
    # 2 errors in 20 calls do not prove a rate above 5% (the exact lower bound is 1.8%): hold, not rollback
    assert report["verdict"] == "hold"
    assert any("10.0% (2 of 20 calls)" in r and "cannot yet show it is within 5.0%" in r for r in report["reasons"])
    case0 = report["cases"][0]
    assert case0["changed"] == "regressed" and case0["candidate"]["error"].startswith("RateLimitedError: 429")


def test_cost_totals_and_unknown_costs() -> None:
    results = pattern_results()
    for r in results:
        if r["role"] == "candidate":
            r["cost"] = 0.002
    results[-1]["cost"] = None  # a candidate call without a price that did not error
    report = build(results, thresholds={"max_cost_increase": 0.5})
    assert report["models"]["baseline"]["cost"] == pytest.approx(0.02)
    assert report["models"]["candidate"]["cost"] == pytest.approx(0.038)
    assert report["models"]["candidate"]["cost_unknown_runs"] == 1
    assert report["comparison"]["cost_delta"]["relative"] == pytest.approx(0.9)
    cost_check = next(c for c in report["checks"] if c["name"] == "cost")
    assert cost_check["status"] == "hold"


def test_repeats_majority_ties_and_flakiness() -> None:
    results = []
    # case a: baseline 3/3, candidate 1/3 -> regressed, candidate flaky
    for rep, ok in enumerate((True, True, True)):
        results.append(run("baseline", "a", ok, repeat=rep))
    for rep, ok in enumerate((True, False, False)):
        results.append(run("candidate", "a", ok, repeat=rep))
    # case b: baseline 2/3 (flaky, passes), candidate 3/3
    for rep, ok in enumerate((False, True, True)):
        results.append(run("baseline", "b", ok, repeat=rep))
    for rep in range(3):
        results.append(run("candidate", "b", True, repeat=rep))
    report = build(results, repeat=3)
    cases = {c["case_id"]: c for c in report["cases"]}
    assert cases["a"]["changed"] == "regressed" and cases["b"]["changed"] == "same"
    assert (
        cases["a"]["candidate"]["flaky"]
        and cases["b"]["baseline"]["flaky"]
        and not cases["b"]["candidate"]["flaky"]
    )
    assert cases["a"]["candidate"]["pass_rate"] == pytest.approx(1 / 3)
    assert report["models"]["candidate"]["accuracy"] == pytest.approx(4 / 6)  # mean over all runs
    assert (
        report["models"]["baseline"]["flaky_cases"] == 1 and report["models"]["candidate"]["flaky_cases"] == 1
    )
    assert cases["a"]["candidate"]["output"] == "ok" and cases["a"]["candidate"]["passed"] is False
    md = render_markdown(report)
    assert "## Flaky cases: 2" in md

    # an exact tie (2 repeats, 1 passed) is broken by the mean score
    tie = [
        run("baseline", "t", True, repeat=0, score=1.0),
        run("baseline", "t", False, repeat=1, score=0.4),
        run("candidate", "t", True, repeat=0, score=0.5),
        run("candidate", "t", False, repeat=1, score=0.2),
    ]
    report = build(tie, repeat=2)
    case = report["cases"][0]
    assert case["baseline"]["passed"] is True  # mean score 0.7 >= 0.5
    assert case["candidate"]["passed"] is False  # mean score 0.35
    assert case["changed"] == "regressed"


def test_a_partial_candidate_run_holds() -> None:
    results = [r for r in pattern_results() if not (r["role"] == "candidate" and r["case_id"] >= "case-15")]
    report = build(results, thresholds={})
    assert report["comparison"]["cases"] == {"paired": 15, "baseline_only": 5, "candidate_only": 0}
    assert report["verdict"] in ("hold", "rollback")
    sample = next(c for c in report["checks"] if c["name"] == "sample_size")
    assert sample["status"] == "hold" and "5 cases have no candidate result" in sample["detail"]
    missing = next(c for c in report["cases"] if c["case_id"] == "case-19")
    assert missing["candidate"] is None and missing["changed"] == "same"
    render_html(report), render_markdown(report)


def test_empty_results_still_render() -> None:
    report = build([], thresholds={"latency_sla_ms": 100})
    assert report["verdict"] == "hold"
    json.loads(dumps_report(report))
    assert "No latency was recorded" in render_html(report)
    assert render_markdown(report).startswith("# Verdict: HOLD")


def test_odd_values_stay_strict_json() -> None:
    class Thing:
        def __repr__(self) -> str:
            return f"Thing({OPENAI_KEY})"

    results = pattern_results()
    results[0].update(
        latency_s=float("nan"), score=float("inf"), expected={"any": {1, 2}, "obj": Thing(), 3: (1, 2)}
    )
    report = build(results)
    text = dumps_report(report)
    back = json.loads(text)
    assert back["cases"][0]["expected"]["any"] == [1, 2] and OPENAI_KEY not in text
    assert "NaN" not in text and "Infinity" not in text


def test_invalid_role_is_rejected() -> None:
    with pytest.raises(ValueError, match="role"):
        build([{**run("baseline", "a"), "role": "challenger"}])


# ---------------------------------------------------------------------------------------------- files


class _Checker(HTMLParser):
    VOID = {
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "source",
        "track",
        "wbr",
    }

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.tags: Counter[str] = Counter()
        self.attrs: list[tuple[str, str | None]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] += 1
        self.attrs += attrs
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] += 1
        self.attrs += attrs

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:]} at {self.getpos()}")
        else:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def xss_results() -> list[dict[str, Any]]:
    results = pattern_results()
    for r in results:
        if r["case_id"] == "case-10":  # a regressed case: shown in both md and html
            r["prompt"] = f"Ignore the above {XSS} | and | break | the table"
            if r["role"] == "candidate":
                r["output"] = f"{XSS}\nmy key is {OPENAI_KEY} and {SECRET}"
                r["assertions"] = [
                    {"type": "contains", "passed": False, "score": 0.0, "reason": f"got {XSS}"}
                ]
            r["expected"] = {"answer": "Paris", "note": XSS}
    return results


def test_write_reports_writes_three_files(tmp_path: Path) -> None:
    report = build(pattern_results())
    old = os.umask(0o022)
    try:
        paths = write_reports(report, tmp_path / "out" / "nested")
    finally:
        os.umask(old)
    assert set(paths) == {"json", "md", "html"}
    assert [p.name for p in paths.values()] == ["report.json", "report.md", "report.html"]
    for p in paths.values():
        assert p.is_file() and stat.S_IMODE(p.stat().st_mode) == 0o644
    assert json.loads(paths["json"].read_text(encoding="utf-8")) == report
    assert not [
        p for p in (tmp_path / "out" / "nested").iterdir() if p.name.startswith(".")
    ]  # no temp files left


def test_markdown_verdict_first_regressed_before_fixed() -> None:
    results = pattern_results()
    report = build(results)
    md = render_markdown(report)
    assert md.startswith("# Verdict: HOLD\n")
    assert (
        md.index("## Why")
        < md.index("## Models")
        < md.index("## Comparison")
        < md.index("## Regressed cases: 5")
    )
    assert md.index("## Regressed cases") < md.index("## Fixed cases: 2")
    assert "| Accuracy | 75.0% (95% CI" in md
    # top 20 regressed only
    many = []
    for i in range(30):
        many.append(run("baseline", f"r{i:02d}", True))
        many.append(run("candidate", f"r{i:02d}", False))
    md = render_markdown(build(many))
    assert "## Regressed cases: 30 (the first 20; all are in report.json)" in md
    assert md.startswith("# Verdict: ROLLBACK")
    section = md.split("## Regressed cases")[1].split("## Fixed")[0]
    assert sum(1 for line in section.splitlines() if line.startswith("| r")) == 20


def test_markdown_escapes_untrusted_text() -> None:
    remember_secret(SECRET)
    md = render_markdown(build(xss_results()))
    assert "<script" not in md and "<img" not in md
    row = next(line for line in md.splitlines() if line.startswith("| case-10 "))
    assert row.count(" | ") == 5  # pipes from the prompt are escaped: still six columns
    assert OPENAI_KEY not in md and SECRET not in md


def test_html_is_well_formed_self_contained_and_inert() -> None:
    remember_secret(SECRET)
    report = build(xss_results(), thresholds={"max_accuracy_drop": 0.02, "latency_sla_ms": 300})
    page = render_html(report)
    checker = _Checker()
    checker.feed(page)
    checker.close()
    assert checker.errors == [] and checker.stack == []
    assert page.startswith("<!DOCTYPE html>")
    # nothing loads from anywhere: no scripts at all, no src attributes, only in-page links, no CSS urls
    assert checker.tags["script"] == 0 and checker.tags["img"] == 0 and checker.tags["link"] == 0
    assert not [a for a in checker.attrs if a[0] in ("src", "srcset", "onerror", "onload", "xmlns")]
    assert all(v.startswith("#") for k, v in checker.attrs if k == "href")
    assert "<script src=" not in page and "http://" not in page and "https://" not in page
    assert "url(" not in page and "@import" not in page
    # the payload is shown as text
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert any("<script>alert('x')</script>" in t for t in checker.text)
    # the verdict banner and the charts
    assert 'class="verdict verdict-hold"' in page or 'class="verdict verdict-rollback"' in page
    assert checker.tags["svg"] == 3 and "SLA 300 ms" in page
    assert OPENAI_KEY not in page and SECRET not in page


def test_no_secret_reaches_any_report(tmp_path: Path) -> None:
    remember_secret(SECRET)
    results = xss_results()
    results[0]["error"] = f"AuthenticationError: bad key {OPENAI_KEY}"
    results[1]["prompt"] = f"token={SECRET}"
    paths = write_reports(
        build(results, suite={**SUITE, "source": f"https://x/evals.yaml?token={SECRET}"}), tmp_path
    )
    for p in paths.values():
        text = p.read_text(encoding="utf-8")
        assert OPENAI_KEY not in text and SECRET not in text, p.name
        assert "***" in text


# ---------------------------------------------------------------------------------------------- determinism


def _stable(report: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in report.items() if k != "generated_at"}


def _big_results(n: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        hard = rng.random()
        for role, skill, speed in (("baseline", 0.1, 0.3), ("candidate", 0.2, 0.4)):
            out.append(run(role, f"c{i:04d}", hard > skill, latency=speed * rng.lognormvariate(0, 0.4)))
    return out


def test_determinism_with_a_seed() -> None:
    results = _big_results(400, 1)
    one, two = build(results, seed=7), build(results, seed=7)
    assert _stable(one) == _stable(two)
    assert render_markdown(one).split("Generated by")[0] == render_markdown(two).split("Generated by")[0]
    # the statistics do not depend on the order in which the runner delivered the results
    shuffled = results[:]
    random.Random(3).shuffle(shuffled)
    three = build(shuffled, seed=7)
    for key in ("verdict", "reasons", "checks", "models", "comparison", "latency_histogram"):
        assert three[key] == one[key], key
    # another seed: same point estimates, intervals from other resamples
    other = build(results, seed=8)
    assert other["models"]["baseline"]["accuracy"] == one["models"]["baseline"]["accuracy"]
    assert (
        other["comparison"]["latency_p95_delta_ms"]["value"]
        == one["comparison"]["latency_p95_delta_ms"]["value"]
    )
    assert (
        other["comparison"]["latency_p95_delta_ms"]["ci"] != one["comparison"]["latency_p95_delta_ms"]["ci"]
    )


def test_a_clear_regression_rolls_back_with_numbers() -> None:
    report = build(_big_results(400, 2), thresholds={"max_accuracy_drop": 0.02})
    assert report["verdict"] == "rollback"
    reason = report["reasons"][0]
    assert reason.startswith("Accuracy fell from") and "one-sided 95% bounds" in reason
    assert "a drop beyond the margin is proven (p \u2264 0.001)" in reason
    ni = report["comparison"]["noninferiority"]
    assert ni["outcome"] == "breach proven" and ni["upper"] < -0.02 and ni["exact"]
    low, high = report["comparison"]["accuracy_delta"]["ci"]
    assert high < 0 and math.isfinite(low)


# ---------------------------------------------------------------------------------------------- evidence (issue 18)


def test_the_report_carries_the_evidence_the_verdict_is_decided_on() -> None:
    report = build(pattern_results(), thresholds={"max_accuracy_drop": 0.05, "max_cost_increase": 0.1})
    ev = report["evidence"]
    assert ev["accuracy"] == {"regressed": 5, "fixed": 2, "n": 20, "cases": 20, "design_effect": 1.0}
    assert len(ev["latency"]["candidate_ms"]) == 20 and len(ev["cost"]["baseline"]) == 20
    ni = report["comparison"]["noninferiority"]
    assert ni["margin"] == 0.05 and ni["exact"] and ni["lower"] < -0.05 < ni["upper"]
    assert ni["outcome"] == "inconclusive" and ni["cases_needed"] > 20
    assert report["thresholds"]["min_cases"] == 59  # computed, and written down


def test_errored_calls_keep_their_elapsed_time_in_the_latency_evidence() -> None:
    results = pattern_results()
    for r in results:
        if r["role"] == "candidate" and r["case_id"] == "case-00":
            r.update(error="ProviderTimeoutError: timed out after 30 s", latency_s=30.0, output=None, passed=False)
    report = build(results, thresholds={"latency_sla_ms": 1000})
    assert 30_000.0 in report["evidence"]["latency"]["candidate_ms"][0]
    lat = next(c for c in report["checks"] if c["name"] == "latency_p95")
    assert "1 of 20 calls slower than 1,000 ms" in lat["detail"]


def test_md_and_html_show_the_margin_the_bounds_and_the_cases_needed() -> None:
    report = build(pattern_results(), thresholds={"max_accuracy_drop": 0.05})
    md, page = render_markdown(report), render_html(report)
    for doc in (md, page):
        assert "Margin (largest acceptable drop)" in doc and "5 points" in doc
        assert "one-sided 95% bounds" in doc and "Drops the data rule out" in doc
        assert "To decide" in doc and "paired cases (80% power" in doc
        assert "inconclusive" in doc
    assert "| check | status | outcome | value | threshold | bounds | detail |" in md


def test_an_errored_call_does_not_switch_off_the_cost_bound() -> None:
    # Found by the bounds benchmark: one errored candidate call (cost None) made the whole cost check hold.
    results = []
    for i in range(100):
        results.append(run("baseline", f"c{i:03d}", cost=0.001))
        results.append(run("candidate", f"c{i:03d}", cost=0.004))
    results[1].update(error="ProviderTimeoutError: timed out", cost=None, output=None, passed=False)
    report = build(results, thresholds={"max_accuracy_drop": 0.05, "max_cost_increase": 0.1})
    assert report["evidence"]["cost"] is not None and report["evidence"]["cost"]["candidate"][0] == 0.0
    cost = next(c for c in report["checks"] if c["name"] == "cost")
    assert cost["status"] == "rollback" and cost["bounds"]["ratio_lower"] > 1.1
