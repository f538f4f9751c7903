"""promptfoo import: prompts, defaultTest, inline/YAML/CSV tests, assertion mapping, and the report of what
could not be mapped."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import pytest

from modelswap import ConfigError
from modelswap.evals import evaluate, grade, load_promptfoo, load_suite
from modelswap.evals._promptfoo import assertion_from_string

CONFIG_DIR = Path(__file__).parent / "data" / "promptfoo"
CONFIG = CONFIG_DIR / "promptfooconfig.yaml"


@pytest.fixture(scope="module")
def imported():
    return load_promptfoo(CONFIG)


def _write(folder: Path, text: str, name: str = "promptfooconfig.yaml") -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def _error(path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_promptfoo(path)
    return info.value


# -- the fixture ---------------------------------------------------------------------------------------------------


def test_suite_shape(imported):
    suite, notes = imported
    assert suite.name == "Returns desk answers" and suite.source == str(CONFIG)
    assert suite.notes is notes and suite.params == {} and suite.thresholds == {} and suite.judge is None
    # Every prompt x every test, test by test, as promptfoo runs them: 2 prompts x 11 test rows.
    tests = ["test-1", "test-2", "test-3", "test-4.1", "test-4.2", "test-5", "test-6", "test-7", "test-8", "test-9",
             "test-10"]
    assert [c.id for c in suite.cases] == [f"prompt-{p}/{t}" for t in tests for p in (1, 2)]
    assert [c.metadata["promptfoo"]["testIdx"] for c in suite.cases] == [i for i in range(11) for _ in (1, 2)]
    assert [c.metadata["promptfoo"]["promptIdx"] for c in suite.cases] == [0, 1] * 11
    assert suite.cases[1].metadata["promptfoo"]["prompt"].startswith("prompts/returns_agent_terse.txt: ")
    assert suite.cases[0].description == "quotes the return window"
    assert suite.uses_judge
    assert [(p["model_id"], p["params"]) for p in suite.providers] == [("gpt-4o-mini", {"temperature": 0}),
                                                                       ("llama3.1:8b", {})]


def test_report_lists_unmapped_assertions_with_their_test_index(imported):
    _, notes = imported
    unmapped = [n for n in notes if " not mapped " in n]
    assert unmapped == [
        "promptfooconfig.yaml:52: tests[2].assert[2]: python not mapped (runs code; rewrite it as regex, json-path, "
        "numeric or llm-rubric)",
        "promptfooconfig.yaml:60: tests[3].assert[0]: javascript not mapped (runs code; rewrite it as regex, "
        "json-path, numeric or llm-rubric)",
        "edge_cases.yaml:13: tests[5].assert[1]: rouge-n not mapped (no modelswap equivalent)",
        "regressions.csv:4: tests[8].assert[1]: javascript not mapped (runs code; rewrite it as regex, json-path, "
        "numeric or llm-rubric)",
    ]


def test_report_notes_providers_params_and_approximations(imported):
    _, notes = imported
    assert notes[0].startswith("promptfooconfig.yaml:7: providers: they set different temperature;")
    assert ("promptfooconfig.yaml:31: tests[0].assert[1]: provider ignored; modelswap uses the suite judge and its "
            "own rubric prompt") in notes
    assert sum("similar is lexical" in n for n in notes) == 2


def test_a_transform_that_is_a_plain_expression_is_carried_over(imported):
    suite, notes = imported
    edge = suite.cases[12]
    assert edge.transform == "output.trim()" and not any("transform" in n for n in notes)


def test_first_prompt_file_rendered_with_default_and_test_vars(imported):
    suite, _ = imported
    text = suite.cases[0].messages[0]["content"]
    assert suite.cases[0].messages[0]["role"] == "user" and len(suite.cases[0].messages) == 1
    assert text.startswith("You answer customer questions for Larkspur Outdoor Supply's returns desk.")
    assert "- Used tents and stoves: returnable within 30 days" in text  # file:// var loaded from policies/
    assert text.endswith("Customer: How long do I have to return unworn boots?\nAgent:")
    assert suite.cases[0].vars["store"] == "Larkspur Outdoor Supply"


def test_default_test_assertions_come_first_in_every_case(imported):
    suite, _ = imported
    for case in suite.cases:
        assert [a.label for a in case.asserts][:2] == ["not-icontains", "latency"]
        assert case.asserts[1].threshold == 4000


def test_inline_assertions_map_one_to_one(imported):
    suite, _ = imported
    rubric = suite.cases[0].asserts[3]
    assert (rubric.type, rubric.threshold) == ("llm-rubric", 0.7) and rubric.value.startswith("States the 30-day")
    is_json, contains = suite.cases[2].asserts[2:4]
    assert is_json.type == "is-json" and is_json.value["required"] == ["order_id", "status"]  # schema file loaded
    assert (contains.value, contains.weight) == ("A-1042", 2.0)  # {{ order }} filled from the test's vars
    assert suite.cases[2].metadata["owner"] == "api-team"
    any_of, no_swearing = suite.cases[4].asserts[2:4]
    assert any_of.value == ["supervisor", "manager", "escalate"]
    assert no_swearing.label == "not-regex" and no_swearing.value.startswith("(?P<swear>")  # JS named group


def test_list_vars_expand_into_one_case_each(imported):
    suite, _ = imported
    spanish, french = suite.cases[6], suite.cases[8]
    assert spanish.messages[0]["content"].endswith("¿Puedo devolver una tienda de campaña usada?\nAgent:")
    assert french.messages[0]["content"].endswith("Puis-je retourner une tente utilisée ?\nAgent:")
    assert [a.label for a in spanish.asserts] == ["not-icontains", "latency", "similar"]


def test_yaml_and_csv_test_files(imported):
    suite, _ = imported
    empty, phone = suite.cases[10], suite.cases[12]
    assert empty.description == "empty question" and empty.asserts[2].value == ["help", "assist"]
    assert phone.asserts[2].type == "regex"
    canada, stove, hours, clearance = suite.cases[14::2]
    assert canada.description == "return labels for Canada"
    assert [(a.label, a.value) for a in canada.asserts[2:4]] == [("icontains", "canada"), ("not-icontains", "sorry")]
    assert (stove.asserts[2].type, stove.asserts[2].value) == (
        "llm-rubric", "Says used stoves need to be clean and undamaged and that the refund is store credit")
    assert (hours.asserts[2].type, hours.asserts[2].threshold) == ("similar", 0.6)
    assert (clearance.asserts[2].type, clearance.asserts[2].value, clearance.asserts[2].options) == (
        "equals", "yes", {"exact": True})
    assert canada.line == 2 and clearance.line == 5


def test_imported_cases_grade(imported):
    suite, _ = imported
    order = suite.cases[2]
    good = grade(order, '{"order_id": "A-1042", "status": "shipped"}', latency_s=0.5, cost=None)
    assert good.passed and good.score == 1.0
    fenced = grade(order, '```json\n{"order_id": "A-1042", "status": "shipped"}\n```', latency_s=0.5, cost=None)
    assert not fenced.passed and fenced.failures[0].type == "is-json"
    judge_calls: list[str] = []

    def judge(prompt: str) -> str:
        judge_calls.append(prompt)
        return '{"pass": true, "score": 0.8, "reason": "Quotes 30 days."}'

    window = grade(suite.cases[0], "You have 30 days for unworn items.", latency_s=1.0, cost=None, judge=judge)
    assert window.passed and "How long do I have to return unworn boots?" in judge_calls[0]
    escalation = suite.cases[4]
    assert not evaluate(escalation.asserts[3], "What the hell is this").passed
    assert grade(escalation, "I will ask a manager to call you.", latency_s=1.0, cost=None).passed


# -- detection by load_suite ---------------------------------------------------------------------------------------


def test_load_suite_detects_promptfoo_by_name_by_folder_and_by_keys(tmp_path, imported):
    suite, notes = imported
    for target in (CONFIG, CONFIG_DIR):
        detected = load_suite(target)
        assert [c.id for c in detected.cases] == [c.id for c in suite.cases] and detected.notes == notes
    renamed = tmp_path / "cfg"
    shutil.copytree(CONFIG_DIR, renamed)
    (renamed / "promptfooconfig.yaml").rename(renamed / "returns-evals.yaml")
    assert load_suite(renamed / "returns-evals.yaml").name == "Returns desk answers"


# -- smaller configs -----------------------------------------------------------------------------------------------


def test_inline_prompt_chat_json_and_tests_without_assertions(tmp_path):
    path = _write(tmp_path, """
        prompts:
          - '[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "{{question}}"}]'
        tests:
          - vars: {question: Hi}
          - vars: {question: Ho}
            assert: [{type: javascript, value: "output.length > 2"}]
    """)
    suite, notes = load_promptfoo(path)
    assert suite.cases[0].messages == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    assert [c.asserts for c in suite.cases] == [[], []]
    assert notes == [
        "promptfooconfig.yaml:4: tests[0]: no assertions; the case is kept and counts for latency and errors only",
        "promptfooconfig.yaml:6: tests[1].assert[0]: javascript not mapped (runs code; rewrite it as regex, "
        "json-path, numeric or llm-rubric)",
        "promptfooconfig.yaml:5: tests[1]: no assertion left after mapping; the case is kept and counts for latency "
        "and errors only",
    ]
    assert suite.name == tmp_path.name


def test_prompt_files_json_chat_and_dashes(tmp_path):
    _write(tmp_path, '[{"role": "system", "content": "You are {{ persona }}."}, {"role": "user", "content": "{{ q }}"}]',
           "prompts/chat.json")
    _write(tmp_path, "First {{ q }}\n---\nSecond {{ q }}\n", "prompts/many.txt")
    chat = _write(tmp_path, """
        description: chat
        prompts: file://prompts/chat.json
        tests: [{vars: {persona: a pirate, q: Hi}, assert: [{type: icontains, value: arr}]}]
    """)
    suite, notes = load_promptfoo(chat)
    assert suite.cases[0].messages == [{"role": "system", "content": "You are a pirate."}, {"role": "user", "content": "Hi"}]
    assert notes == []
    many = _write(tmp_path, """
        prompts: [file://prompts/many.txt]
        tests: [{vars: {q: Hi}, assert: [{type: icontains, value: x}]}]
    """, "many.yaml")
    suite, notes = load_promptfoo(many)
    assert [c.messages[0]["content"] for c in suite.cases] == ["First Hi", "Second Hi"] and notes == []
    assert [c.id for c in suite.cases] == ["prompt-1/test-1", "prompt-2/test-1"]


def test_default_test_threshold_and_other_keys(tmp_path):
    path = _write(tmp_path, """
        prompts: ["{{q}}"]
        defaultTest:
          threshold: 0.5
          options: {provider: openai:gpt-4o}
        scenarios: []
        evaluateOptions: {maxConcurrency: 2}
        nunjucksFilters: {shout: filters/shout.js}
        tests:
          - vars: {q: a}
            assert:
              - {type: contains, value: a, metric: accuracy}
              - {type: contains, value: b}
            providerOutput: canned
    """)
    suite, notes = load_promptfoo(path)
    case = suite.cases[0]
    assert case.threshold == 0.5 and grade(case, "a", latency_s=0.1, cost=None).passed
    assert notes == [
        "promptfooconfig.yaml:5: scenarios: not imported; move their tests under `tests`",
        "promptfooconfig.yaml:7: nunjucksFilters: ignored (no modelswap equivalent)",
        "promptfooconfig.yaml:4: defaultTest: options.provider ignored; set the judge with `judge:` or --judge",
        "promptfooconfig.yaml:13: tests[0]: providerOutput ignored; modelswap grades live model answers",
    ]
    assert case.asserts[0].metric == "accuracy"


@pytest.mark.parametrize(("text", "expected"), [
    ("contains: Paris", {"type": "contains", "value": "Paris"}),
    ("not-icontains:sorry", {"type": "not-icontains", "value": "sorry"}),
    ("similar(0.7): The store opens at 9", {"type": "similar", "value": "The store opens at 9", "threshold": 0.7}),
    ('icontains-any: refund, "store credit, maybe", exchange',
     {"type": "icontains-any", "value": ["refund", "store credit, maybe", "exchange"]}),
    ("is-json", {"type": "is-json"}),
    ("grade: Is polite", {"type": "llm-rubric", "value": "Is polite"}),
    ("llm-rubric: Is polite", {"type": "llm-rubric", "value": "Is polite"}),
    ("fn: output.length < 10", {"type": "javascript", "value": "output.length < 10"}),
    ("python: len(output) < 10", {"type": "python", "value": "len(output) < 10"}),
    ("rouge-n(0.6): text", {"type": "rouge-n", "value": "text", "threshold": 0.6}),
    ("Paris", {"type": "equals", "value": "Paris"}),
    ("containsParis", {"type": "equals", "value": "containsParis"}),
    ("Yes: it is", {"type": "equals", "value": "Yes: it is"}),
])
def test_csv_expected_shorthand(text, expected):
    assert assertion_from_string(text) == expected


# -- errors --------------------------------------------------------------------------------------------------------

ERRORS = [
    ("prompt-function", """
        prompts:
          - file://prompts.py:build
        tests: [{vars: {q: a}}]
     """, {}, 2, "prompts[0]", ["prompt function", "Export the prompt"]),
    ("missing-prompt-file", """
        prompts: [file://nowhere.txt]
        tests: [{vars: {q: a}}]
     """, {}, 1, "prompts[0]", ["file://nowhere.txt not found", "relative to the config file"]),
    ("no-prompts", """
        tests: [{vars: {q: a}}]
     """, {}, 1, None, ["no `prompts`"]),
    ("no-tests", """
        prompts: ["{{q}}"]
        tests: []
     """, {}, 2, "tests", ["no tests"]),
    ("bad-regex", """
        prompts: ["{{q}}"]
        tests:
          - vars: {q: a}
            assert:
              - type: contains
                value: a
              - type: regex
                value: "[a-"
     """, {}, 8, "tests[0].assert[1].value", ["bad regular expression"]),
    ("missing-tests-file", """
        prompts: ["{{q}}"]
        tests: file://tests/missing.csv
     """, {}, 2, "tests", ["file://tests/missing.csv not found"]),
    ("csv-single-underscore", """
        prompts: ["{{q}}"]
        tests: file://t.csv
     """, {"t.csv": "q,_expected\nHi,hello\n"}, 2, "_expected", ["one underscore", "'__expected'"]),
    ("csv-bad-threshold", """
        prompts: ["{{q}}"]
        tests: file://t.csv
     """, {"t.csv": "q,__expected,__threshold\nHi,hello,high\n"}, 2, "__threshold", ["must be a number"]),
]


@pytest.mark.parametrize(("text", "files", "line", "field", "parts"), [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_errors_name_file_line_and_field(tmp_path, text, files, line, field, parts):
    for name, content in files.items():
        (tmp_path / name).write_text(content)
    path = _write(tmp_path, text)
    error = _error(path)
    assert (error.line, error.field) == (line, field), str(error)
    for part in parts:
        assert part in str(error), str(error)
    if error.file == str(path):
        assert str(error).startswith(f"{path}:{line}: ")


def test_missing_config():
    with pytest.raises(ConfigError, match="promptfoo config not found"):
        load_promptfoo(CONFIG_DIR / "nope.yaml")


# -- nothing silent --------------------------------------------------------------------------------------------------

UNSUPPORTED = """
    prompts: ["Q: {{q}}"]
    tests:
      - vars: {q: hi}
        assert: [{type: javascript, value: "output.length > 1"}, {type: icontains, value: h}]
"""


def test_strict_refuses_a_config_with_anything_not_carried_over(tmp_path):
    path = _write(tmp_path, UNSUPPORTED)
    with pytest.raises(ConfigError) as info:
        load_promptfoo(path, strict=True)
    assert "--strict: 1 thing in the config cannot be carried over exactly" in str(info.value)
    assert "promptfooconfig.yaml:4: tests[0].assert[0]: javascript not mapped" in str(info.value)
    with pytest.raises(ConfigError):
        load_suite(path, strict=True)
    assert len(load_suite(path).notes) == 1


def test_the_cli_lists_what_is_not_carried_over_before_any_request(tmp_path):
    import subprocess
    import sys

    path = _write(tmp_path, UNSUPPORTED)
    # The aliases do not exist: the run stops after the listing, before any request.
    run = subprocess.run([sys.executable, "-m", "modelswap", "regress", str(path), "--baseline", "nope-a",
                          "--candidate", "nope-b"], capture_output=True, text=True, timeout=60)
    assert run.stderr.index("1 thing not carried over") < run.stderr.index("nope-a")
    assert "javascript not mapped" in run.stderr and run.returncode == 2 and "Traceback" not in run.stderr
    strict = subprocess.run([sys.executable, "-m", "modelswap", "regress", str(path), "--baseline", "nope-a",
                             "--candidate", "nope-b", "--strict"], capture_output=True, text=True, timeout=60)
    assert strict.returncode == 2 and "--strict: 1 thing" in strict.stderr and "nope-a" not in strict.stderr


def test_transforms_metrics_and_promptfoo_comparisons(tmp_path):
    path = _write(tmp_path, """
        prompts: ["{{q}}"]
        defaultTest:
          options: {transform: "output.trim().toLowerCase()"}
        tests:
          - vars: {q: a}
            assert:
              - {type: equals, value: paris, metric: city}
              - {type: starts-with, value: par}
              - {type: contains-json}
          - vars: {q: b}
            options: {transform: "JSON.parse(output).city"}
            assert: [{type: equals, value: Lyon}]
    """)
    suite, notes = load_promptfoo(path)
    assert notes == [] and suite.cases[0].transform == "output.trim().toLowerCase()"
    first = grade(suite.cases[0], "  PARIS {name: x}\n", latency_s=0.1, cost=None)
    assert [r.passed for r in first.results] == [False, True, True] and first.results[0].metric == "city"
    assert grade(suite.cases[0], " Paris\n", latency_s=0.1, cost=None).results[0].passed is True
    assert grade(suite.cases[1], '{"city": "Lyon"}', latency_s=0.1, cost=None).passed
    broken = grade(suite.cases[1], "not json", latency_s=0.1, cost=None)
    assert not broken.passed and "the transform failed" in broken.results[0].reason


REFERENCE = json.loads((Path(__file__).parent / "data" / "promptfoo_reference.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("row", REFERENCE["contains_json"], ids=lambda r: r["text"][:30])
def test_contains_json_finds_what_promptfoo_finds(row):
    from modelswap.evals._json_checks import json_equal, promptfoo_json_objects

    found = promptfoo_json_objects(row["text"])
    assert len(found) == len(row["objects"]) and all(json_equal(a, b) for a, b in zip(found, row["objects"]))


@pytest.mark.parametrize("row", REFERENCE["transform"], ids=lambda r: r["expression"])
def test_transforms_give_what_javascript_gives(row):
    from modelswap.evals._transform import apply_transform

    assert apply_transform(row["expression"], row["output"]) == row["result"]


@pytest.mark.parametrize(("pattern", "text", "matches"), [
    (r"^\d{3}$", "123\n", False),       # JavaScript's $ is the very end; Python's would match before the newline
    (r"^\w+$", "héllo", False),         # \w is ASCII in JavaScript
    (r"(?<y>\d{4})-\d\d", "on 2026-12", True),
    (r"[\d.]+", "v1.5", True),
])
def test_regexes_keep_javascript_meaning(pattern, text, matches):
    import re

    from modelswap.evals._promptfoo import js_regex_to_python

    assert bool(re.search(js_regex_to_python(pattern), text)) is matches


def test_a_var_the_test_lacks_renders_empty_as_in_promptfoo_and_is_noted(tmp_path):
    path = _write(tmp_path, """
        prompts: ["{{q}} in {{ lang }}"]
        tests:
          - vars: {q: "{{ greeting }}, world", greeting: Hello}
            assert: [{type: icontains, value: hello}]
    """)
    suite, notes = load_promptfoo(path)
    assert suite.cases[0].messages[0]["content"] == "Hello, world in "  # vars naming vars are resolved first
    assert notes == ["promptfooconfig.yaml:3: tests[0]: the prompt prompt-1 uses lang, which the test's vars lack; "
                     "rendered empty as promptfoo does"]


def test_tests_from_jsonl_and_a_glob(tmp_path):
    _write(tmp_path, '{"vars": {"q": "a"}, "assert": [{"type": "contains", "value": "a"}]}\n\n'
                     '{"vars": {"q": "b"}, "assert": [{"type": "contains", "value": "b"}]}\n', "tests/one.jsonl")
    _write(tmp_path, "- vars: {q: c}\n  assert: [{type: contains, value: c}]\n", "tests/two.yaml")
    path = _write(tmp_path, """
        prompts: ["{{q}}"]
        tests:
          - file://tests/one.jsonl
          - file://tests/t*.yaml
    """)
    suite, notes = load_promptfoo(path)
    assert [c.vars["q"] for c in suite.cases] == ["a", "b", "c"] and notes == []
    assert [c.line for c in suite.cases] == [1, 3, 1]


def test_nunjucks_filters_and_tags_render_as_in_promptfoo(tmp_path):
    import yaml

    prompt = ("{{ name | upper }} {{ nope | default('none') }} {{ items | join('+') }} {{ obj | dump }} {{ obj }} "
              "{{ items }} {{ flag }}{% if flag %} yes{% endif %}{% for i in items %} -{{ i }}{% endfor %}\n")
    config = {"prompts": [prompt], "tests": [
        {"vars": {"name": "ada", "items": [1, 2.0, 3.5], "obj": {"k": "v"}, "flag": True},
         "assert": [{"type": "contains", "value": "ADA"}]},
        {"vars": {"items": [1], "obj": {}, "flag": False}, "assert": [{"type": "contains", "value": "none"}]},
    ]}
    path = tmp_path / "promptfooconfig.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    suite, notes = load_promptfoo(path)
    assert suite.cases[0].messages[0]["content"] == (
        'ADA none 1+2+3.5 {"k":"v"} [object Object] 1,2,3.5 true yes -1 -2 -3.5\n')
    assert suite.cases[1].messages[0]["content"] == " none 1 {} [object Object] 1 false -1\n"
    assert len(notes) == 1 and "tests[1]: the prompt prompt-1 uses name, which the test's vars lack" in notes[0]


def test_without_jinja2_a_prompt_with_filters_names_the_extra(tmp_path, monkeypatch):
    from modelswap.evals import _template

    def missing() -> None:
        raise ImportError("No module named 'jinja2'")

    monkeypatch.setattr(_template, "_nunjucks_environment", missing)
    from modelswap.evals import _cases

    _cases._text_template.cache_clear()  # a template checked before the patch would be reused
    path = _write(tmp_path, """
        prompts: ["{{ q | upper }}"]
        tests: [{vars: {q: a}}]
    """)
    error = _error(path)
    assert "pip install 'modelswap[promptfoo]'" in str(error) and error.line == 2
