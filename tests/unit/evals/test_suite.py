"""Suites: JSONL and YAML loading, templates in both syntaxes, defaults, the default check, and every error
naming file, line and field with the fix."""

from __future__ import annotations

import json
import math
import textwrap
from pathlib import Path

import pytest

from modelswap import ConfigError
from modelswap.evals import Assertion, Case, Suite, grade, load_suite

DATA = Path(__file__).parent / "data"


def _write(tmp_path: Path, text: str, name: str = "suite.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def _error(path: Path, **kwargs) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_suite(path, **kwargs)
    return info.value


# -- the YAML fixture ----------------------------------------------------------------------------------------------


def test_yaml_suite_settings():
    suite = load_suite(DATA / "triage.yaml")
    assert suite.name == "ticket-triage" and suite.description.startswith("Route inbound")
    assert suite.params == {"temperature": 0, "max_tokens": 8, "stop": ["\n"]}
    assert suite.thresholds == {"max_accuracy_drop": 0.02, "latency_sla_ms": 1500.0, "max_error_rate": 0.01,
                                "max_cost_increase": 0.25, "alpha": 0.05}
    assert suite.judge == "judge-model" and suite.source == str(DATA / "triage.yaml")
    assert suite.system.startswith("You route support tickets for Ledgerly")
    assert [c.id for c in suite.cases] == ["dup-charge", "pdf-crash", "locked-out", "seats", "refund-tone"]
    assert not suite.uses_judge and suite.notes == []


def test_yaml_cases_are_rendered_with_the_system_prompt_first():
    first = load_suite(DATA / "triage.yaml").cases[0]
    assert first.messages == [
        {"role": "system", "content": "You route support tickets for Ledgerly, an invoicing product. Reply with the "
                                      "queue name only:\nbilling, bugs, account or sales."},
        {"role": "user", "content": "Ticket: I was charged twice for my March invoice.\nQueue:"},
    ]
    assert first.line == 28 and first.vars == {"ticket": "I was charged twice for my March invoice."}


def test_a_case_with_its_own_system_message_keeps_it():
    case = load_suite(DATA / "triage.yaml").cases[-1]
    assert [m["role"] for m in case.messages] == ["system", "user"]
    assert case.messages[0]["content"].startswith("You route support tickets. Reply with the queue name, then")
    assert case.description == "A refund request must be routed and never promise money."


def test_defaults_are_appended_and_choice_labels_come_from_expected():
    suite = load_suite(DATA / "triage.yaml")
    first, last = suite.cases[0], suite.cases[-1]
    assert [(a.label, a.value, a.weight) for a in first.asserts] == [
        ("choice", ["billing", "bugs", "account", "sales"], 1.0), ("latency", None, 0.0)]
    assert [a.label for a in last.asserts] == ["starts-with", "not-icontains", "choice", "latency"]
    assert suite.cases[3].metadata == {"category": "pricing"}
    verdict = grade(first, "Billing.", latency_s=9.0, cost=None)
    assert verdict.passed  # latency has weight 0: reported, not failing
    assert not grade(first, "bugs", latency_s=0.1, cost=None).passed


def test_required_context_tokens_is_the_longest_prompt_plus_max_tokens():
    suite = load_suite(DATA / "triage.yaml")
    longest = max(math.ceil(sum(len(m["content"]) for m in c.messages) / 4) + 4 * len(c.messages) for c in suite.cases)
    assert suite.required_context_tokens() == longest + 8
    assert suite.required_context_tokens(max_tokens=100) == longest + 100
    assert Suite("s", [Case("a", [{"role": "user", "content": "x" * 400}])]).required_context_tokens() == 104


# -- the JSONL fixture ---------------------------------------------------------------------------------------------

TEMPLATE = "Classify the sentiment of this review as positive, negative or neutral: {review}"


def test_jsonl_suite_with_a_template():
    suite = load_suite(DATA / "sentiment.jsonl", template=TEMPLATE)
    assert suite.name == "sentiment" and suite.template == TEMPLATE and suite.params == {} and suite.judge is None
    assert [(c.id, c.line) for c in suite.cases] == [
        ("rev-001", 1), ("rev-002", 2), ("rev-003", 3), ("rev-004", 5), ("rev-005", 6)]
    first = suite.cases[0]
    assert first.messages == [{"role": "user", "content": TEMPLATE.format(review="Arrived a day early and the fit is perfect.")}]
    assert [(a.type, a.options) for a in first.asserts] == [("equals", {"ignore_case": True})]
    assert suite.cases[2].metadata == {"source": "app-store"}
    assert suite.cases[3].messages[0]["content"].startswith("Reply with one word")  # its own prompt wins
    assert suite.cases[4].messages[0] == {"role": "system", "content": "Answer in JSON."}
    assert grade(suite.cases[4], '{"label": "neutral"}', latency_s=0.1, cost=None).passed


def test_jsonl_vars_without_a_template_name_the_line_and_the_fix():
    error = _error(DATA / "sentiment.jsonl")
    assert error.line == 1 and error.field == "vars" and error.file == str(DATA / "sentiment.jsonl")
    assert str(error).startswith(f"{DATA / 'sentiment.jsonl'}:1: vars: case 'rev-001' has `vars` but the suite has no")
    assert "template=" in str(error)


@pytest.mark.parametrize(("lines", "line", "field", "parts"), [
    (['{"id": "a", "prompt": "Hi", "expected": "x"}', '{"id": "b", "prompt": "Hi",'], 2, None, ["not valid JSON"]),
    (['{"id": "a", "prompt": "Hi", "expected": "x"}', "", '{"prompt": "Hi", "expected": "x"}'], 3, "id",
     ["no `id`", "unique id"]),
    (['{"id": "a", "prompt": "Hi", "assert": [{"type": "regexp", "value": "x"}]}'], 1, "assert[0].type",
     ["unknown assertion type 'regexp'", "did you mean 'regex'"]),
    (['{"id": "a", "prompt": "Hi", "expected": "x"}', '{"id": "a", "prompt": "Ho", "expected": "y"}'], 2, "id",
     ["duplicate id 'a' (first used on line 1)"]),
    (['{"id": "a", "prompt": "Hi"}'], 1, None, ["neither `expected` nor `assert`"]),
    (['["a", "b"]'], 1, None, ["a case must be a mapping"]),
])
def test_jsonl_errors(tmp_path, lines, line, field, parts):
    path = tmp_path / "cases.jsonl"
    path.write_text("\n".join(lines) + "\n")
    error = _error(path)
    assert (error.line, error.field, error.file) == (line, field, str(path))
    assert str(error).startswith(f"{path}:{line}: ")
    for part in parts:
        assert part in str(error)


# -- templates -----------------------------------------------------------------------------------------------------


def test_format_style_template_with_literal_braces(tmp_path):
    path = _write(tmp_path, """
        prompt: 'Reply as JSON like {{"label": "..."}}. Review: {review}'
        cases:
          - {id: a, vars: {review: Great}, expected: x}
    """)
    assert load_suite(path).cases[0].messages[0]["content"] == 'Reply as JSON like {"label": "..."}. Review: Great'


def test_nunjucks_style_template_keeps_single_braces_and_reads_dotted_vars(tmp_path):
    path = _write(tmp_path, """
        system: "You help {{ customer.name }}."
        prompt: 'Reply as JSON like {"label": "..."}. Order {{order.items.0}}: {{ note }}'
        cases:
          - id: a
            vars: {customer: {name: Ana}, order: {items: [TENT-2]}, note: "fast"}
            expected: x
    """)
    messages = load_suite(path).cases[0].messages
    assert messages == [{"role": "system", "content": "You help Ana."},
                        {"role": "user", "content": 'Reply as JSON like {"label": "..."}. Order TENT-2: fast'}]


def test_case_prompt_and_messages_are_templates_when_the_case_has_vars(tmp_path):
    path = _write(tmp_path, """
        cases:
          - {id: a, prompt: "Hi {name}", vars: {name: Bo}, expected: x}
          - {id: b, prompt: "Literal {braces} stay", expected: x}
          - id: c
            vars: {q: "2+2"}
            messages: [{role: user, content: "Compute {{ q }}"}]
            expected: "4"
    """)
    cases = load_suite(path).cases
    assert [c.messages[-1]["content"] for c in cases] == ["Hi Bo", "Literal {braces} stay", "Compute 2+2"]


def test_template_argument_overrides_the_suite_prompt(tmp_path):
    path = _write(tmp_path, """
        prompt: "Old {text}"
        cases: [{id: a, vars: {text: t}, expected: x}]
    """)
    assert load_suite(path, template="New {text}").cases[0].messages[0]["content"] == "New t"


def test_prompt_template_may_be_a_chat_list(tmp_path):
    path = _write(tmp_path, """
        prompt:
          - {role: system, content: "Translate to {{ lang }}."}
          - {role: user, content: "{{ text }}"}
        defaults: {vars: {lang: French}}
        cases: [{id: a, vars: {text: Hello}, expected: Bonjour}]
    """)
    case = load_suite(path).cases[0]
    assert case.messages == [{"role": "system", "content": "Translate to French."}, {"role": "user", "content": "Hello"}]
    assert case.vars == {"lang": "French", "text": "Hello"}


# -- the default check and defaults --------------------------------------------------------------------------------


def test_default_equality_is_added_when_only_measurements_check_the_case(tmp_path):
    path = _write(tmp_path, """
        defaults:
          assert: [{type: latency, threshold: 2000}]
        cases:
          - {id: only-measured, prompt: Hi, expected: hello}
          - {id: checked, prompt: Hi, expected: hello, assert: [{type: icontains, value: hell}]}
          - {id: no-expected, prompt: Hi, assert: [{type: cost, threshold: 0.01}]}
    """)
    cases = load_suite(path).cases
    assert [[a.label for a in c.asserts] for c in cases] == [
        ["equals", "latency"], ["icontains", "latency"], ["cost", "latency"]]
    assert cases[0].asserts[0].options == {"ignore_case": True}


def test_assertion_values_can_use_vars_and_expected(tmp_path):
    path = _write(tmp_path, """
        prompt: "Where is order {{ order }}?"
        defaults:
          assert: [{type: contains, value: "{{ order }}"}]
        cases:
          - id: a
            vars: {order: A-1042}
            expected: shipped
            assert: [{type: icontains, value: "status: {{expected}}"}, {type: regex, value: 'A-\\d{4}'}]
    """)
    asserts = load_suite(path).cases[0].asserts
    assert [a.value for a in asserts] == ["status: shipped", r"A-\d{4}", "A-1042"]


def test_tests_alias_bare_list_and_cases_file(tmp_path):
    alias = _write(tmp_path, "tests: [{id: a, prompt: Hi, expected: x}]\n", "alias.yaml")
    assert [c.id for c in load_suite(alias).cases] == ["a"]
    bare = _write(tmp_path, "- {id: a, prompt: Hi, expected: x}\n- {id: b, prompt: Ho, expected: y}\n", "bare.yaml")
    assert load_suite(bare).name == "bare" and len(load_suite(bare).cases) == 2
    (tmp_path / "cases.jsonl").write_text('{"id": "r1", "vars": {"t": "ok"}, "expected": "x"}\n{"id": "r1", "vars": {"t": "no"}, "expected": "y"}\n')
    ref = _write(tmp_path, "name: ref\nprompt: 'Say {t}'\ncases: file://cases.jsonl\n", "ref.yaml")
    error = _error(ref)
    assert error.file == str(tmp_path / "cases.jsonl") and error.line == 2 and "duplicate id 'r1'" in str(error)


def test_yaml_dates_and_numbers_in_expected(tmp_path):
    path = _write(tmp_path, """
        cases:
          - {id: 1, prompt: "Date?", expected: 2024-03-01}
          - {id: 2, prompt: "Count?", expected: 42}
    """)
    cases = load_suite(path).cases
    assert [c.id for c in cases] == ["1", "2"] and cases[0].expected == "2024-03-01"
    assert grade(cases[1], " 42 ", latency_s=0.1, cost=None).passed


def test_license_policy(tmp_path):
    path = _write(tmp_path, """
        license_policy: {allow: [Apache-2.0, MIT], deny: CC-BY-NC-4.0}
        cases: [{id: a, prompt: Hi, expected: x}]
    """)
    assert load_suite(path).license_policy == {"allow": ["Apache-2.0", "MIT"], "deny": ["CC-BY-NC-4.0"]}
    assert load_suite(DATA / "triage.yaml").license_policy == {}


def test_json_suite_file(tmp_path):
    path = tmp_path / "suite.json"
    path.write_text(json.dumps({"name": "j", "cases": [{"id": "a", "prompt": "Hi", "expected": "x"}]}))
    assert load_suite(path).name == "j"


def test_assertions_built_in_code_work_with_cases():
    case = Case("a", [{"role": "user", "content": "Hi"}], expected="x", asserts=[Assertion("not-contains", "y")])
    assert grade(case, "x", latency_s=None, cost=None).passed


# -- every error names file, line and field, and says the fix ------------------------------------------------------

ERRORS = [
    ("duplicate-id", """
        cases:
          - id: a
            prompt: Hi
            expected: x
          - id: a
            prompt: Ho
            expected: y
     """, 5, "cases[1].id", ["duplicate id 'a' (first used on line 2)", "unique id"]),
    ("missing-id", """
        cases:
          - prompt: Hi
            expected: x
     """, 2, "cases[0].id", ["no `id`", "Give every case a unique id"]),
    ("unknown-type", """
        cases:
          - id: a
            prompt: Hi
            assert:
              - type: icontain
                value: x
     """, 5, "cases[0].assert[0].type", ["unknown assertion type 'icontain'", "did you mean 'icontains'"]),
    ("unknown-negated-type", """
        cases:
          - id: a
            prompt: Hi
            assert: [{type: not-contians, value: x}]
     """, 4, "cases[0].assert[0].type", ["did you mean 'not-contains'"]),
    ("bad-regex", """
        cases:
          - id: a
            prompt: Hi
            assert:
              - type: regex
                value: '(unclosed'
     """, 6, "cases[0].assert[0].value", ["bad regular expression '(unclosed'", "missing )", "Escape special"]),
    ("bad-schema", """
        cases:
          - id: a
            prompt: Hi
            assert:
              - type: json-schema
                value: {type: objekt}
     """, 6, "cases[0].assert[0].value", ["not a valid JSON Schema", "'objekt' is not valid"]),
    ("schema-not-a-mapping", """
        cases:
          - id: a
            prompt: Hi
            assert: [{type: json-schema, value: "object"}]
     """, 4, "cases[0].assert[0].value", ["must be a mapping"]),
    ("bad-json-path", """
        cases:
          - id: a
            prompt: Hi
            assert:
              - type: json-path
                path: $..name
                value: x
     """, 6, "cases[0].assert[0].path", ["unsupported syntax", "Supported: $.key"]),
    ("json-path-without-path", """
        cases:
          - {id: a, prompt: Hi, assert: [{type: json-path, value: x}]}
     """, 2, "cases[0].assert[0].path", ["needs `path`"]),
    ("case-key-typo", """
        cases:
          - id: a
            prompt: Hi
            expect: x
     """, 4, "cases[0].expect", ["unknown field 'expect'; did you mean 'expected'?"]),
    ("assertion-key-typo", """
        cases:
          - id: a
            prompt: Hi
            assert:
              - type: numeric
                value: 3
                tolerance: 1
     """, 7, "cases[0].assert[0].tolerance", ["unknown field 'tolerance'", "under `options:`"]),
    ("suite-key-typo", """
        treshholds: {alpha: 0.05}
        cases: [{id: a, prompt: Hi, expected: x}]
     """, 1, "treshholds", ["did you mean 'thresholds'"]),
    ("threshold-key-typo", """
        thresholds:
          max_acuracy_drop: 0.02
        cases: [{id: a, prompt: Hi, expected: x}]
     """, 2, "thresholds.max_acuracy_drop", ["did you mean 'max_accuracy_drop'"]),
    ("accuracy-drop-percent", """
        thresholds: {max_accuracy_drop: 2}
        cases: [{id: a, prompt: Hi, expected: x}]
     """, 1, "thresholds.max_accuracy_drop", ["is a fraction: 0.02 means two percentage points"]),
    ("alpha-out-of-range", """
        thresholds:
          alpha: 1.5
        cases: [{id: a, prompt: Hi, expected: x}]
     """, 2, "thresholds.alpha", ["between 0 and 1"]),
    ("param-typo", """
        params:
          temperature: 0
          max_token: 64
        cases: [{id: a, prompt: Hi, expected: x}]
     """, 3, "params.max_token", ["did you mean 'max_tokens'"]),
    ("duplicate-yaml-key", """
        prompt: "A {x}"
        prompt: "B {x}"
        cases: [{id: a, vars: {x: 1}, expected: x}]
     """, 2, "prompt", ["appears twice", "first on line 1", "Remove or rename one"]),
    ("yaml-syntax", """
        cases:
          - id: a
            prompt: "unterminated
     """, 4, None, ["not valid YAML", "Check indentation and quoting"]),
    ("choice-label-typo", """
        cases:
          - id: a
            prompt: Hi
            expected: postive
            assert:
              - type: choice
                value: [positive, negative]
     """, 4, "cases[0].expected", ["expected 'postive' is not one of the choice labels", "did you mean 'positive'"]),
    ("choice-single-label", """
        cases:
          - id: a
            prompt: Hi
            expected: ok
            assert: [{type: choice}]
     """, 5, "cases[0].assert", ["fewer than two labels", "value: [positive, negative, neutral]"]),
    ("choice-bad-labels", """
        cases:
          - {id: a, prompt: Hi, expected: ok, assert: [{type: choice, value: [ok, OK]}]}
     """, 2, "cases[0].assert[0].value", ["at least two distinct labels"]),
    ("nothing-to-check", """
        cases:
          - id: a
            prompt: Hi
     """, 2, "cases[0]", ["neither `expected` nor `assert`", "Add `expected:`"]),
    ("prompt-and-messages", """
        cases:
          - id: a
            prompt: Hi
            messages: [{role: user, content: Hi}]
            expected: x
     """, 4, "cases[0].messages", ["both `prompt` and `messages`"]),
    ("bad-role", """
        cases:
          - id: a
            messages:
              - {role: usr, content: Hi}
            expected: x
     """, 4, "cases[0].messages[0].role", ["role 'usr'", "did you mean 'user'"]),
    ("no-prompt", """
        cases:
          - {id: a, expected: x}
     """, 2, "cases[0]", ["has no prompt", "`messages`"]),
    ("double-negation", """
        cases:
          - id: a
            prompt: Hi
            assert:
              - {type: not-contains, value: x, negate: true}
     """, 5, "cases[0].assert[0].negate", ["negates twice"]),
    ("negative-weight", """
        cases:
          - id: a
            prompt: Hi
            assert:
              - type: contains
                value: x
                weight: -1
     """, 7, "cases[0].assert[0].weight", ["number >= 0"]),
    ("latency-without-threshold", """
        cases:
          - id: a
            prompt: Hi
            assert: [{type: latency}]
     """, 4, "cases[0].assert[0].threshold", ["needs `threshold`", "milliseconds"]),
    ("rubric-without-value", """
        cases:
          - id: a
            prompt: Hi
            assert: [{type: llm-rubric}]
     """, 4, "cases[0].assert[0].value", ["needs a `value`", "what a good answer does"]),
    ("option-typo", """
        cases:
          - id: a
            prompt: Hi
            expected: x
            assert:
              - type: equals
                options: {ignorecase: true}
     """, 7, "cases[0].assert[0].options.ignorecase", ["no option 'ignorecase'", "did you mean 'ignore_case'"]),
    ("value-and-expected-missing", """
        cases:
          - id: a
            prompt: Hi
            assert:
              - type: contains
     """, 5, "cases[0].assert[0].value", ["no `value` and the case has no `expected`"]),
    ("numeric-expected-not-a-number", """
        cases:
          - {id: a, prompt: Hi, expected: many, assert: [{type: numeric}]}
     """, 2, "cases[0].expected", ["not a number"]),
    ("vars-without-template", """
        cases:
          - id: a
            vars: {text: hi}
            expected: x
     """, 3, "cases[0].vars", ["no prompt template", "add `prompt:` at the top of the suite"]),
    ("missing-var", """
        prompt: "Ticket: {{ ticket }}"
        cases:
          - id: a
            vars: {text: hi}
            expected: x
     """, 4, "cases[0].vars", ["uses {{ ticket }}, which the case's vars lack", "Add `ticket` to the case's vars"]),
    ("missing-format-var", """
        prompt: "Ticket: {ticket}"
        cases:
          - {id: a, vars: {text: hi}, expected: x}
     """, 3, "cases[0].vars", ["uses {ticket}", "Add `ticket`"]),
    ("nunjucks-filter", """
        prompt: "{{ ticket }} {{ ticket | upper }}"
        cases: [{id: a, vars: {ticket: t}, expected: x}]
     """, 1, "prompt", ["'{{ ticket | upper }}'", "no filters"]),
    ("nunjucks-tag", """
        prompt: "{% if vip %}VIP {% endif %}{{ ticket }}"
        cases: [{id: a, vars: {ticket: t}, expected: x}]
     """, 1, "prompt", ["nunjucks tag", "plain {{ var }}"]),
    ("positional-field", """
        prompt: "Classify {}"
        cases: [{id: a, vars: {t: t}, expected: x}]
     """, 1, "prompt", ["positional field", "name every placeholder"]),
    ("unbalanced-brace", """
        prompt: "Classify {text"
        cases: [{id: a, vars: {text: t}, expected: x}]
     """, 1, "prompt", ["not valid str.format", "{{ and }} for literal braces"]),
    ("no-cases", """
        name: empty
     """, 1, None, ["no `cases:`"]),
    ("empty-cases", """
        cases: []
     """, 1, "cases", ["no cases"]),
    ("cases-and-tests", """
        cases: [{id: a, prompt: Hi, expected: x}]
        tests: [{id: b, prompt: Hi, expected: x}]
     """, 2, "tests", ["not both"]),
    ("license-policy-typo", """
        license_policy:
          alow: [MIT]
        cases: [{id: a, prompt: Hi, expected: x}]
     """, 2, "license_policy.alow", ["did you mean 'allow'"]),
    ("license-policy-not-names", """
        license_policy: {deny: [1]}
        cases: [{id: a, prompt: Hi, expected: x}]
     """, 1, "license_policy.deny", ["must list license names"]),
    ("defaults-typo", """
        defaults:
          asserts: [{type: latency, threshold: 1}]
        cases: [{id: a, prompt: Hi, expected: x}]
     """, 2, "defaults.asserts", ["did you mean 'assert'"]),
    ("defaults-bad-regex", """
        defaults:
          assert:
            - {type: regex, value: "a{2"}
            - {type: regex, value: "(?<x>"}
        cases: [{id: a, prompt: Hi, expected: x}]
     """, 4, "defaults.assert[1].value", ["bad regular expression"]),
    ("defaults-need-expected", """
        defaults:
          assert: [{type: contains}]
        cases:
          - {id: a, prompt: Hi, expected: x}
          - {id: b, prompt: Hi}
     """, 5, "cases[1]", ["case 'b': defaults.assert[0]: contains has no `value`"]),
    ("case-threshold", """
        cases:
          - {id: a, prompt: Hi, expected: x, threshold: 5}
     """, 2, "cases[0].threshold", ["passing score in 0..1"]),
    ("id-not-text", """
        cases:
          - {id: [a], prompt: Hi, expected: x}
     """, 2, "cases[0].id", ["text or a whole number"]),
    ("not-a-mapping", """
        just text
     """, 1, None, ["a suite is a mapping"]),
]


@pytest.mark.parametrize(("text", "line", "field", "parts"), [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_suite_errors_name_file_line_field_and_fix(tmp_path, text, line, field, parts):
    path = _write(tmp_path, text)
    error = _error(path)
    assert error.file == str(path)
    assert (error.line, error.field) == (line, field), str(error)
    prefix = f"{path}:{line}: " if line else f"{path}"
    assert str(error).startswith(prefix + (f"{field}: " if field else "")), str(error)
    for part in parts:
        assert part in str(error), str(error)


def test_file_errors(tmp_path):
    assert "suite file not found" in str(_error(tmp_path / "missing.yaml"))
    (tmp_path / "suite.txt").write_text("x")
    assert "unknown suite format '.txt'" in str(_error(tmp_path / "suite.txt"))
    assert "without promptfooconfig.yaml" in str(_error(tmp_path))
    ref = _write(tmp_path, "cases: file://nowhere.jsonl\n", "ref.yaml")
    error = _error(ref)
    assert error.line == 1 and "file://nowhere.jsonl not found" in str(error)
