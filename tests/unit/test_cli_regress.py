"""`modelswap regress`: verdict and exit codes, reports in --out, pre-flight, resumption, thresholds from flags."""

from __future__ import annotations

import json

import pytest

from modelswap import cli
from modelswap.testing import FaultyServer

SUITE = """\
name: echo-suite
prompt: "{word}"
params: {max_tokens: 5}
cases:
"""


@pytest.fixture(autouse=True)
def env(monkeypatch, tmp_path):
    for var in ("MODELSWAP_CONFIG", "MODELSWAP_MODEL", "MODEL_PROVIDER", "MODEL_ID", "INFERENCE_ENDPOINT", "API_KEY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)


def _setup(tmp_path, base_url, *, n=60, license_=None):
    # 60 cases: the fewest with which agreeing models prove the default 5-point margin is 59.
    suite = tmp_path / "suite.yaml"
    cases = "".join(f"  - {{id: c{i}, vars: {{word: w{i}}}, expected: 'echo:w{i}'}}\n" for i in range(n))
    suite.write_text(SUITE + cases)
    config = tmp_path / "modelswap.yaml"
    lic = f", license: {license_}" if license_ else ""
    config.write_text(
        f"default: a\nproviders:\n  p: {{kind: openai, base_url: '{base_url}', api_key_required: false}}\n"
        f"  bad: {{kind: openai, base_url: '{base_url}', api_key_required: false, retry: {{max_retries: 0}}}}\n"
        f"models:\n  a: {{provider: p, model_id: a-1}}\n  b: {{provider: p, model_id: b-1{lic}}}\n"
    )
    return suite, config


def test_same_answers_promote_and_write_three_reports(tmp_path, capsys):
    with FaultyServer() as server:
        suite, config = _setup(tmp_path, server.base_url)
        code = cli.main(["--config", str(config), "regress", str(suite), "--baseline", "a", "--candidate", "b",
                         "--out", "out", "--json"])
        report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["verdict"] == "promote"
    assert {p.name for p in (tmp_path / "out").iterdir()} >= {"report.json", "report.md", "report.html", "results.jsonl"}
    # The report says which model each alias pointed at during the run, not only the alias.
    assert [(report["models"][r]["provider"], report["models"][r]["model_id"]) for r in ("baseline", "candidate")] \
        == [("p", "a-1"), ("p", "b-1")]
    assert "`p/a-1`" in (tmp_path / "out" / "report.md").read_text()
    assert "<code>p</code>" not in (tmp_path / "out" / "report.html").read_text()
    assert "<code>p/b-1</code>" in (tmp_path / "out" / "report.html").read_text()


def test_a_failing_candidate_is_rolled_back_with_exit_1(tmp_path, capsys):
    # Baseline a answers from a healthy stub; candidate b goes to a provider that only answers 500.
    with FaultyServer() as good, FaultyServer({"500": 1.0}) as broken:
        suite, config = _setup(tmp_path, good.base_url)
        text = config.read_text()
        config.write_text(text.replace(f"bad: {{kind: openai, base_url: '{good.base_url}'",
                                       f"bad: {{kind: openai, base_url: '{broken.base_url}'")
                          .replace("b: {provider: p,", "b: {provider: bad,"))
        code = cli.main(["--config", str(config), "regress", str(suite), "--baseline", "a", "--candidate", "b",
                         "--max-error-rate", "0.01", "--json"])
        report = json.loads(capsys.readouterr().out)
    assert code == 1 and report["verdict"] == "rollback"
    assert report["models"]["candidate"]["error_rate"] == 1.0
    assert any("error" in reason.lower() for reason in report["reasons"])


def test_preflight_license_policy_holds_before_any_call(tmp_path, capsys):
    with FaultyServer() as server:
        suite, config = _setup(tmp_path, server.base_url, license_="CC-BY-NC-4.0")
        code = cli.main(["--config", str(config), "regress", str(suite), "--baseline", "a", "--candidate", "b",
                         "--license-allow", "Apache-2.0,MIT", "--json"])
        report = json.loads(capsys.readouterr().out)
        assert sum(server.counts.values()) == 0
    assert code == 1 and report["verdict"] == "hold" and "license" in report["reasons"][0]


def test_a_rerun_resumes_from_the_results_in_out(tmp_path, capsys):
    with FaultyServer() as server:
        suite, config = _setup(tmp_path, server.base_url, n=12)
        # 12 agreeing cases prove a 30-point margin, not the default 5 (least_cases(0.3) is 8)
        argv = ["--config", str(config), "regress", str(suite), "--baseline", "a", "--candidate", "b", "--out", "o",
                "--json", "--max-accuracy-drop", "0.3"]
        assert cli.main(argv) == 0
        first = sum(server.counts.values())
        assert cli.main(argv) == 0
        assert sum(server.counts.values()) == first == 24  # nothing asked twice
    capsys.readouterr()


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--max-accuracy-drop", "2"], "--max-accuracy-drop 2: max_accuracy_drop is a fraction (0.05 = 5 points)"),
        (["--alpha", "5"], "--alpha 5: alpha is a probability such as 0.05"),
        (["--max-error-increase", "1.5"], "--max-error-increase 1.5: max_error_increase is a fraction"),
        (["--min-cases", "-3"], "--min-cases -3: min_cases must be non-negative"),
    ],
)
def test_bad_threshold_flags_are_usage_errors_before_any_request(tmp_path, capsys, flags, message):
    with FaultyServer() as server:
        suite, config = _setup(tmp_path, server.base_url, n=3)
        code = cli.main(["--config", str(config), "regress", str(suite), "--baseline", "a", "--candidate", "b", *flags])
        assert sum(server.counts.values()) == 0
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err


def test_a_bad_threshold_in_the_suite_names_the_file_and_line(tmp_path, capsys):
    with FaultyServer() as server:
        suite, config = _setup(tmp_path, server.base_url, n=3)
        suite.write_text("thresholds: {alpha: 0.7}\n" + suite.read_text())
        code = cli.main(["--config", str(config), "regress", str(suite), "--baseline", "a", "--candidate", "b"])
        assert sum(server.counts.values()) == 0
    err = capsys.readouterr().err
    assert code == 2 and "suite.yaml" in err and "alpha" in err


def test_a_hold_says_how_many_cases_would_decide(tmp_path, capsys):
    with FaultyServer() as server:
        suite, config = _setup(tmp_path, server.base_url, n=20)
        code = cli.main(["--config", str(config), "regress", str(suite), "--baseline", "a", "--candidate", "b",
                         "--min-cases", "20"])
    out = capsys.readouterr().out
    assert code == 1 and out.startswith("verdict: HOLD")
    assert "accuracy: margin 5 points; one-sided 95% bounds of the difference" in out and "rule out a drop larger than" in out
    assert "to decide: about " in out and "paired cases" in out


def test_usage_errors_exit_2(tmp_path, capsys):
    assert cli.main(["regress", "nope.yaml", "--baseline", "a", "--candidate", "b"]) == 2
    assert "nope.yaml" in capsys.readouterr().err


PROMPTFOO = """\
prompts: ["{{word}}"]
providers:
  - openai:chat:a-1
  - id: openai:chat:b-1
    config: {max_tokens: 5}
%s
tests:
%s
"""


def _promptfoo(tmp_path, extra_provider=""):
    tests = "".join(f"  - {{vars: {{word: w{i}}}, assert: [{{type: equals, value: 'echo:w{i}'}}]}}\n" for i in range(60))
    path = tmp_path / "promptfooconfig.yaml"
    path.write_text(PROMPTFOO % (extra_provider, tests))
    return path


def test_a_promptfoo_configs_providers_are_the_models_compared(tmp_path, capsys):
    with FaultyServer() as server:
        _, config = _setup(tmp_path, server.base_url)
        code = cli.main(["--config", str(config), "regress", str(_promptfoo(tmp_path)), "--json"])
        captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert code == 0 and (report["baseline"], report["candidate"]) == ("a", "b")
    assert "comparing a with b (from the config's providers)" in captured.err


def test_several_candidates_each_get_a_verdict_and_a_folder(tmp_path, capsys):
    with FaultyServer() as server:
        _, config = _setup(tmp_path, server.base_url)
        config.write_text(config.read_text() + "  c: {provider: p, model_id: c-1}\n")
        path = _promptfoo(tmp_path, "  - {id: 'openai:chat:whatever', label: c}")
        code = cli.main(["--config", str(config), "regress", str(path), "--out", "out", "--json"])
        reports = json.loads(capsys.readouterr().out)
    assert code == 0 and [(r["baseline"], r["candidate"]) for r in reports] == [("a", "b"), ("a", "c")]
    assert {p.name for p in (tmp_path / "out").iterdir()} == {"b", "c"}


def test_a_provider_without_an_alias_is_a_clear_error(tmp_path, capsys):
    with FaultyServer() as server:
        _, config = _setup(tmp_path, server.base_url)
        path = _promptfoo(tmp_path, "  - ollama:chat:llama3.1:8b")
        code = cli.main(["--config", str(config), "regress", str(path)])
    err = capsys.readouterr().err
    assert code == 2 and "promptfooconfig.yaml:6: provider ollama:chat:llama3.1:8b (model id llama3.1:8b) matches " \
                          "no configured alias. Configured: a (a-1), b (b-1)" in err and "Traceback" not in err


def test_a_native_suite_still_needs_both_flags(tmp_path, capsys):
    with FaultyServer() as server:
        suite, config = _setup(tmp_path, server.base_url)
        code = cli.main(["--config", str(config), "regress", str(suite), "--baseline", "a"])
    assert code == 2 and "regress needs --candidate" in capsys.readouterr().err


def test_metric_names_are_reported_per_model(tmp_path, capsys):
    with FaultyServer() as server:
        _, config = _setup(tmp_path, server.base_url)
        tests = "".join(f"  - {{vars: {{word: w{i}}}, assert: [{{type: equals, value: 'echo:w{i}', metric: exact}}, "
                        f"{{type: icontains, value: 'W{i % 2}', metric: mentions}}]}}\n" for i in range(12))
        path = tmp_path / "promptfooconfig.yaml"
        path.write_text('prompts: ["{{word}}"]\ntests:\n' + tests)
        code = cli.main(["--config", str(config), "regress", str(path), "--baseline", "a", "--candidate", "b",
                         "--out", "out", "--json"])
        report = json.loads(capsys.readouterr().out)
    assert code in (0, 1)
    assert report["metrics"]["exact"]["baseline"] == {"score": 1.0, "passed": 12, "total": 12}
    assert report["metrics"]["mentions"]["candidate"]["passed"] == 3  # w0, w1 and w11
    assert "| mentions |" in (tmp_path / "out" / "report.md").read_text()
    assert '<section id="metrics">' in (tmp_path / "out" / "report.html").read_text()
