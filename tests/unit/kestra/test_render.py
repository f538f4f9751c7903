"""The generated Kestra flows: valid for Kestra 1.3 and 2.0, no literal secret, the model as one input, a valid
OpenAI request from the http.Request flow, shell steps that keep the exit codes they promise, and no drift
between the generator and the committed ``kestra_templates``."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from modelswap import __version__
from modelswap.kestra import (
    FLOW_IDS,
    KV_MODEL,
    KV_MODEL_ID,
    REGENERATE_COMMAND,
    SECRET_API_KEY,
    check_drift,
    render_flows,
    write_flows,
)

REPO = Path(__file__).resolve().parents[3]
TEMPLATES = REPO / "kestra_templates"
SHARED = REPO.parent / "shared"
KESTRA = SHARED / "kestra"
CHECK_REQUEST = REPO / "tests" / "contracts_kit" / "check_request.py"
needs_validator = pytest.mark.skipif(
    not (KESTRA / "validate_kestra.py").is_file(),
    reason=f"the Kestra validator is not beside the repository ({KESTRA}/validate_kestra.py)",
)

# A config like the README's: a keyed preset, a provider with a ${VAR} header, a second kind.
USER_CONFIG = """\
version: 1
default: fast
providers:
  groq: {max_concurrency: 8}
  inhouse:
    preset: vllm
    base_url: http://vllm.ml.svc:8000/v1
    headers: {X-Team: data-eng, X-Token: "${MODELSWAP_TEST_UNSET_TOKEN}"}
models:
  fast: {provider: groq, model_id: llama-3.1-8b-instant}
  own: {provider: inhouse, model_id: meta-llama/Llama-3.1-8B-Instruct}
  claude: {provider: anthropic, model_id: claude-haiku-4-5}
"""


@pytest.fixture(scope="module")
def flows() -> dict[str, str]:
    return render_flows()


@pytest.fixture(scope="module")
def docs(flows: dict[str, str]) -> dict[str, dict[str, Any]]:
    return {name[: -len(".yaml")]: yaml.safe_load(text) for name, text in flows.items()}


@pytest.fixture(scope="module")
def user_config_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("config") / "modelswap.yaml"
    path.write_text(USER_CONFIG)
    return path


def _tasks(node: Any) -> list[dict[str, Any]]:
    """Every task of a flow, nested ones included."""
    found = []
    if isinstance(node, dict):
        if isinstance(node.get("id"), str) and isinstance(node.get("type"), str) and "." in node["type"]:
            found.append(node)
        for value in node.values():
            found += _tasks(value)
    elif isinstance(node, list):
        for value in node:
            found += _tasks(value)
    return found


def _input(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return next(i for i in doc["inputs"] if i["id"] == name)


# -- shape --------------------------------------------------------------------------------------------------
def test_five_flows_named_after_their_ids(docs: dict[str, dict[str, Any]]) -> None:
    assert tuple(docs) == FLOW_IDS
    for flow_id, doc in docs.items():
        assert doc["id"] == flow_id
        assert doc["namespace"] == "company.ai"


def test_rendering_is_deterministic_and_timestamp_free(flows: dict[str, str]) -> None:
    assert render_flows() == flows
    for name, text in flows.items():
        assert not re.search(r"\b20\d\d-\d\d-\d\d\b|\d\d:\d\d:\d\d", text), name
        assert str(REPO) not in text, name


def test_every_file_starts_with_comments_naming_inputs_kv_and_secrets(flows: dict[str, str]) -> None:
    for name, text in flows.items():
        header = text.split("\nid: ", 1)[0]
        assert all(line.startswith("#") or not line for line in header.splitlines()), name
        for section in ("# Inputs", "# KV keys", "# Secrets to create", REGENERATE_COMMAND):
            assert section in header, (name, section)
        doc = yaml.safe_load(text)
        for inp in doc["inputs"]:
            assert re.search(rf"^#   {re.escape(inp['id'])} ", header, re.MULTILINE), (name, inp["id"])


def test_namespace_and_spec_are_parameters(flows: dict[str, str]) -> None:
    other = render_flows(namespace="acme.data-eng", modelswap_spec="modelswap[prefect]>=0.1")
    for text in other.values():
        doc = yaml.safe_load(text)
        assert doc["namespace"] == "acme.data-eng"
        if "variables" in doc:
            assert doc["variables"]["modelswap_spec"] == "modelswap[prefect]>=0.1"
    assert yaml.safe_load(flows["batch_inference.yaml"])["variables"]["modelswap_spec"] == f"modelswap=={__version__}"


@pytest.mark.parametrize("namespace", ["Company.AI", "-ai", "a b", ""])
def test_bad_namespace_is_refused(namespace: str) -> None:
    with pytest.raises(ValueError, match="namespace"):
        render_flows(namespace=namespace)


@pytest.mark.parametrize("spec", ["modelswap; rm -rf /", "modelswap=='1'", "{{ x }}", ""])
def test_bad_spec_is_refused(spec: str) -> None:
    with pytest.raises(ValueError, match="modelswap_spec"):
        render_flows(modelswap_spec=spec)


# -- the one parameter --------------------------------------------------------------------------------------
def test_model_input_in_every_flow_and_used_by_its_tasks(docs: dict[str, dict[str, Any]]) -> None:
    for flow_id, doc in docs.items():
        model = _input(doc, "model")
        assert model["type"] == "STRING", flow_id
        assert "defaults" in model, flow_id  # runnable as is, and from the Schedule trigger
        tasks_text = yaml.safe_dump(doc["tasks"])
        assert "inputs.model" in tasks_text, flow_id


def test_model_defaults_come_from_kv_then_the_config(docs: dict[str, dict[str, Any]]) -> None:
    assert _input(docs["llm_call"], "model")["defaults"] == (
        f"{{{{ kv('{KV_MODEL_ID}', errorOnMissing=false) ?? 'gemma-3-270m' }}}}"
    )
    assert _input(docs["llm_call"], "endpoint")["defaults"] == (
        "{{ kv('MODELSWAP_ENDPOINT', errorOnMissing=false) ?? 'http://127.0.0.1:8080/v1' }}"
    )
    for flow_id in ("llm_call_python", "batch_inference"):
        assert _input(docs[flow_id], "model")["defaults"] == f"{{{{ kv('{KV_MODEL}', errorOnMissing=false) ?? 'gemma-raw' }}}}"
    for flow_id in ("regression_gate", "scheduled_migration"):
        assert "MODELSWAP_CANDIDATE" in _input(docs[flow_id], "model")["defaults"]
        assert _input(docs[flow_id], "baseline")["defaults"] == (
            f"{{{{ kv('{KV_MODEL}', errorOnMissing=false) ?? 'gemma-raw' }}}}"
        )


def test_a_user_config_sets_the_fallbacks_and_the_provider_secrets(user_config_path: Path) -> None:
    assert "MODELSWAP_TEST_UNSET_TOKEN" not in os.environ
    flows = render_flows(user_config_path)
    assert "MODELSWAP_TEST_UNSET_TOKEN" not in os.environ  # the placeholder is gone again
    call = yaml.safe_load(flows["llm_call.yaml"])
    assert "'llama-3.1-8b-instant'" in _input(call, "model")["defaults"]
    assert "'https://api.groq.com/openai/v1'" in _input(call, "endpoint")["defaults"]
    batch = yaml.safe_load(flows["batch_inference.yaml"])
    assert "'fast'" in _input(batch, "model")["defaults"]
    env = batch["tasks"][0]["env"]
    for name in ("ANTHROPIC_API_KEY", "GROQ_API_KEY", "MODELSWAP_TEST_UNSET_TOKEN"):
        assert env[name] == f"{{{{ secret('{name}') }}}}"
    assert "VLLM_API_KEY" not in env  # optional for vllm
    assert flows["batch_inference.yaml"].startswith("# Generated by modelswap.kestra")
    assert "from modelswap.yaml." in flows["batch_inference.yaml"].splitlines()[0]  # a file name, not a path


# -- validity -----------------------------------------------------------------------------------------------
def _validate(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(KESTRA / "validate_kestra.py"), "--target", "portable", str(path)],
        capture_output=True, text=True, timeout=120, check=False,
    )


@needs_validator
@pytest.mark.parametrize("flow_id", FLOW_IDS)
def test_each_flow_validates_portable_without_warnings(flows: dict[str, str], flow_id: str, tmp_path: Path) -> None:
    path = tmp_path / f"{flow_id}.yaml"
    path.write_text(flows[f"{flow_id}.yaml"])
    result = _validate(path)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


@needs_validator
def test_flows_from_a_user_config_validate(user_config_path: Path, tmp_path: Path) -> None:
    write_flows(tmp_path, config=user_config_path, namespace="acme.data-eng")
    result = _validate(tmp_path)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


@needs_validator
def test_the_validator_is_not_a_rubber_stamp(flows: dict[str, str], tmp_path: Path) -> None:
    broken = flows["llm_call.yaml"].replace("{{ inputs.prompt | toJson }}", "{{ inputs.promt | toJson }}")
    path = tmp_path / "llm_call.yaml"
    path.write_text(broken)
    result = _validate(path)
    assert result.returncode == 1 and "inputs.promt" in result.stdout


# -- secrets ------------------------------------------------------------------------------------------------
KEY_SHAPES = re.compile(
    r"sk-[A-Za-z0-9_-]{16,}|gsk_[A-Za-z0-9]{16,}|AIza[0-9A-Za-z_-]{20,}|hf_[A-Za-z0-9]{16,}|xai-[A-Za-z0-9]{16,}"
    r"|gh[pousr]_[A-Za-z0-9]{20,}|xox[abposr]-[A-Za-z0-9-]{10,}|AKIA[0-9A-Z]{16}|r8_[A-Za-z0-9]{20,}"
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----"
)
SECRETISH = re.compile(r"(?i)(api[_-]?key|(^|[_-])token$|secret|passw(or)?d|authorization)")


def _leaves(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], Any]]:
    if isinstance(node, dict):
        return [leaf for k, v in node.items() for leaf in _leaves(v, (*path, k))]
    if isinstance(node, list):
        return [leaf for i, v in enumerate(node) for leaf in _leaves(v, (*path, i))]
    return [(path, node)]


def _no_literal_secret(name: str, text: str) -> None:
    assert not KEY_SHAPES.search(text), (name, KEY_SHAPES.search(text))
    assert not re.search(r"Bearer\s+(?!\{\{)\S", text), name
    for line in text.splitlines():
        match = re.match(r"\s*[\w-]*API_KEY\s*:\s*(.+)$", line)
        if match and not line.lstrip().startswith("#"):
            assert match.group(1).strip().strip("'\"").startswith("{{ secret("), (name, line)
    for path, value in _leaves(yaml.safe_load(text)):
        key = next((str(p) for p in reversed(path) if isinstance(p, str)), "")
        if SECRETISH.search(key) and isinstance(value, str) and path[0] != "inputs" and "description" not in key:
            assert "secret(" in value, (name, path, value)


def test_no_literal_secrets(flows: dict[str, str], user_config_path: Path) -> None:
    for name, text in [*flows.items(), *render_flows(user_config_path).items()]:
        _no_literal_secret(name, text)


def test_the_secret_scan_catches_literals() -> None:
    with pytest.raises(AssertionError):
        _no_literal_secret("x", "tasks:\n  - env:\n      API_KEY: abc123\n")
    with pytest.raises(AssertionError):
        _no_literal_secret("x", "headers:\n  Authorization: Bearer abc123\n")
    with pytest.raises(AssertionError):
        _no_literal_secret("x", "env:\n  OPENAI: sk-proj-AbCdEfGhIjKlMnOpQrStUv\n")


def test_keys_only_through_secret(docs: dict[str, dict[str, Any]]) -> None:
    chat = docs["llm_call"]["tasks"][0]
    assert chat["headers"]["Authorization"] == f"Bearer {{{{ secret('{SECRET_API_KEY}') }}}}"
    assert docs["llm_call_python"]["tasks"][0]["env"]["API_KEY"] == f"{{{{ secret('{SECRET_API_KEY}') }}}}"


# -- llm_call: the request it sends -------------------------------------------------------------------------
def _render_pebble(template: str, inputs: dict[str, Any]) -> str:
    """Render the Pebble this generator writes (toJson, ??, if/endif) with Jinja, by simple substitution."""
    jinja2 = pytest.importorskip("jinja2")
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    env.filters["toJson"] = lambda value: json.dumps(value, ensure_ascii=False)
    return env.from_string(template.replace("??", "or")).render(inputs=inputs)


CHAT_INPUTS = [
    {"model": "llama-3.1-8b-instant", "prompt": 'Say "hi"\nand {braces} \\ back', "system": None,
     "temperature": 0.0, "max_tokens": 256},
    {"model": "meta-llama/Llama-3.1-8B-Instruct", "prompt": "Name a colour.", "system": "Be terse.",
     "temperature": 0.7, "max_tokens": 16},
]


@pytest.mark.parametrize("inputs", CHAT_INPUTS, ids=["no-system", "system"])
def test_http_body_is_an_openai_chat_request(docs: dict[str, dict[str, Any]], inputs: dict[str, Any],
                                             tmp_path: Path) -> None:
    chat = docs["llm_call"]["tasks"][0]
    assert chat["type"] == "io.kestra.plugin.core.http.Request" and chat["method"] == "POST"
    assert chat["contentType"] == "application/json"
    assert _render_pebble(chat["uri"], {"endpoint": "https://api.groq.com/openai/v1"}) == (
        "https://api.groq.com/openai/v1/chat/completions"
    )
    body = json.loads(_render_pebble(chat["body"], inputs))
    expected = ([{"role": "system", "content": inputs["system"]}] if inputs["system"] else []) + [
        {"role": "user", "content": inputs["prompt"]}]
    assert body == {"model": inputs["model"], "messages": expected, "temperature": inputs["temperature"],
                    "max_tokens": inputs["max_tokens"]}
    path = tmp_path / "body.json"
    path.write_text(json.dumps(body))
    for profile in ("openai", "groq", "vllm", "llamacpp"):
        result = subprocess.run(
            [sys.executable, str(CHECK_REQUEST), "--api", "openai-chat", "--profile", profile,
             str(path)], capture_output=True, text=True, timeout=60, check=False,
        )
        assert result.returncode == 0 and "ERROR" not in result.stdout, (profile, result.stdout + result.stderr)


def test_http_answer_is_parsed_from_the_response(docs: dict[str, dict[str, Any]]) -> None:
    answer = docs["llm_call"]["tasks"][1]
    assert answer["type"] == "io.kestra.plugin.core.output.OutputValues"
    assert "jq('.choices[0].message.content')" in answer["values"]["text"]
    assert {o["id"] for o in docs["llm_call"]["outputs"]} >= {"answer"}


# -- the scripts and shell steps ----------------------------------------------------------------------------
def _script_tasks(docs: dict[str, dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    return [(flow_id, t) for flow_id, doc in docs.items() for t in _tasks(doc["tasks"])
            if t["type"].startswith("io.kestra.plugin.scripts.python.")]


def test_scripts_hold_no_pebble_and_take_inputs_only_through_env(docs: dict[str, dict[str, Any]]) -> None:
    for flow_id, task in _script_tasks(docs):
        code = task.get("script") or "\n".join(task["commands"])
        assert not re.search(r"\{\{|\{%|\{#", code), (flow_id, task["id"])  # Kestra would render it
        assert task["beforeCommands"] == [
            "pip install --quiet --disable-pip-version-check --root-user-action=ignore '{{ vars.modelswap_spec }}'"
        ]
        assert task["containerImage"].startswith("python:")
    script = docs["llm_call_python"]["tasks"][0]["script"]
    compile(script, "llm_call_python", "exec")
    assert "modelswap.complete(" in script
    assert docs["llm_call_python"]["tasks"][0]["env"]["MODELSWAP_MODEL"] == "{{ inputs.model }}"


@pytest.mark.skipif(shutil.which("sh") is None, reason="no POSIX sh")
def test_shell_steps_parse(docs: dict[str, dict[str, Any]]) -> None:
    for flow_id, task in _script_tasks(docs):
        if "commands" in task:
            result = subprocess.run(["sh", "-n", "-c", "\n".join(task["commands"])], capture_output=True, text=True,
                                    check=False)
            assert result.returncode == 0, (flow_id, task["id"], result.stderr)


@pytest.fixture()
def fake_modelswap(tmp_path: Path) -> Path:
    """A ``bin`` folder with a ``modelswap`` that logs its argv and exits with $FAKE_EXIT, and ``python``."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "modelswap"
    fake.write_text(
        f"#!{sys.executable}\n"
        "import json, os, sys\n"
        "args = sys.argv[1:]\n"
        "open(os.environ['FAKE_LOG'], 'a').write(json.dumps(args) + '\\n')\n"
        "if '--out' in args and args[0] == 'regress':\n"
        "    out = args[args.index('--out') + 1]\n"
        "    os.makedirs(out, exist_ok=True)\n"
        "    open(os.path.join(out, 'report.json'), 'w').write('{}')\n"
        "code = int(os.environ.get('FAKE_EXIT', '0'))\n"
        "verdict = {0: 'promote', 1: 'hold'}.get(code)\n"
        "if verdict and args[0] == 'regress':\n"
        "    ni = {'cases_needed': 249} if verdict == 'hold' else {}\n"
        "    print(json.dumps({'verdict': verdict, 'reasons': ['r'], 'comparison': {'noninferiority': ni}}))\n"
        "if args[0] == 'batch':\n"
        "    print(json.dumps({'succeeded': 2, 'failed': code}))\n"
        "sys.exit(code)\n"
    )
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    (bin_dir / "python").symlink_to(sys.executable)
    return bin_dir


def _run_step(task: dict[str, Any], bin_dir: Path, workdir: Path, exit_code: int,
              env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], list[list[str]]]:
    """Run a Commands task as Kestra does (``set -e``, then the commands, in one sh), modelswap faked."""
    log = workdir / "argv.jsonl"
    log.unlink(missing_ok=True)
    result = subprocess.run(
        ["sh", "-c", "set -e\n" + "\n".join(task["commands"])], cwd=workdir, capture_output=True, text=True,
        env={"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "FAKE_EXIT": str(exit_code),
             "FAKE_LOG": str(log), **env}, timeout=60, check=False,
    )
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return result, calls


def _outputs(stdout: str) -> dict[str, Any]:
    lines = [m.group(1) for m in re.finditer(r"^::(\{.*\})::$", stdout, re.MULTILINE)]  # Kestra's TaskLogLineMatcher
    assert len(lines) == 1, stdout
    return json.loads(lines[0])["outputs"]


REGRESS_ENV = {"SUITE": "evals/suite.yaml", "BASELINE": "gemma-raw", "MODEL": "gemma-chat", "REPEAT": "1",
               "CONCURRENCY": "8", "MAX_ACCURACY_DROP": "", "LATENCY_SLA_MS": "250", "MAX_ERROR_RATE": "",
               "MAX_COST_INCREASE": "", "MAX_ERROR_INCREASE": "", "ALPHA": "", "MIN_CASES": ""}


@pytest.mark.skipif(shutil.which("sh") is None, reason="no POSIX sh")
@pytest.mark.parametrize(("code", "verdict"), [(0, "promote"), (1, "hold"), (2, None)])
def test_regression_gate_fails_unless_promote(docs: dict[str, dict[str, Any]], fake_modelswap: Path,
                                              tmp_path: Path, code: int, verdict: str | None) -> None:
    task = docs["regression_gate"]["tasks"][0]
    result, calls = _run_step(task, fake_modelswap, tmp_path, code, REGRESS_ENV)
    assert result.returncode == code  # non-zero fails the task, and the execution
    assert calls == [["regress", "evals/suite.yaml", "--baseline", "gemma-raw", "--candidate", "gemma-chat",
                      "--repeat", "1", "--concurrency", "8", "--latency-sla-ms", "250", "--json", "--out", "report"]]
    if verdict:
        # a hold says how many cases would decide, as the task's output `cases_needed`
        assert _outputs(result.stdout) == {"verdict": verdict, "reasons": ["r"],
                                           "cases_needed": 249 if verdict == "hold" else None}
        assert (tmp_path / "report" / "report.json").is_file()
    assert "report/**" in task["outputFiles"]
    assert {o["id"] for o in docs["regression_gate"]["outputs"]} == {"verdict", "report", "report_html"}


@pytest.mark.skipif(shutil.which("sh") is None, reason="no POSIX sh")
def test_regression_gate_passes_the_evidence_thresholds_on(docs: dict[str, dict[str, Any]], fake_modelswap: Path,
                                                         tmp_path: Path) -> None:
    task = docs["regression_gate"]["tasks"][0]
    env = {**REGRESS_ENV, "MAX_ACCURACY_DROP": "0.03", "ALPHA": "0.01", "MIN_CASES": "400", "MAX_ERROR_INCREASE": "0.01"}
    _, calls = _run_step(task, fake_modelswap, tmp_path, 0, env)
    args = calls[0]
    for flag, value in (("--max-accuracy-drop", "0.03"), ("--alpha", "0.01"), ("--min-cases", "400"),
                        ("--max-error-increase", "0.01")):
        assert args[args.index(flag) + 1] == value
    inputs = {i["id"]: i for i in docs["regression_gate"]["inputs"]}
    assert "non-inferiority margin" in inputs["max_accuracy_drop"]["description"]
    assert inputs["min_cases"]["type"] == "INT" and inputs["min_cases"]["required"] is False


@pytest.mark.skipif(shutil.which("sh") is None, reason="no POSIX sh")
@pytest.mark.parametrize(("code", "passes"), [(0, True), (1, True), (2, False)])
def test_audit_findings_do_not_stop_the_runbook(docs: dict[str, dict[str, Any]], fake_modelswap: Path,
                                                tmp_path: Path, code: int, passes: bool) -> None:
    audit = _tasks(docs["scheduled_migration"]["tasks"])[1]
    assert audit["id"] == "audit"
    result, calls = _run_step(audit, fake_modelswap, tmp_path, code, {})
    assert calls == [["audit", ".", "--format", "json"]]
    assert (result.returncode == 0) is passes
    assert _outputs(result.stdout) == {"audit_exit_code": code}


@pytest.mark.skipif(shutil.which("sh") is None, reason="no POSIX sh")
def test_batch_step_passes_optional_flags_only_when_set(docs: dict[str, dict[str, Any]], fake_modelswap: Path,
                                                        tmp_path: Path) -> None:
    task = docs["batch_inference"]["tasks"][0]
    assert task["inputFiles"] == {"input.data": "{{ inputs.data }}"}
    assert task["outputFiles"] == ["output.jsonl", "summary.json"]
    env = {"MODEL": "gemma-raw", "FORMAT": "csv", "CONCURRENCY": "4", "TEMPLATE": "Review: {text} *",
           "TEMPERATURE": "", "MAX_TOKENS": "2"}
    (tmp_path / "input.data").write_text("id,text\n1,a\n")
    result, calls = _run_step(task, fake_modelswap, tmp_path, 0, env)
    assert result.returncode == 0, result.stderr
    assert calls == [["batch", "input.csv", "output.jsonl", "--model", "gemma-raw", "--concurrency", "4",
                      "--template", "Review: {text} *", "-p", "max_tokens=2", "--json", "--quiet"]]
    assert _outputs(result.stdout) == {"succeeded": 2, "failed": 0}
    (tmp_path / "input.data").write_text("{}\n")
    result, _ = _run_step(task, fake_modelswap, tmp_path, 1, {**env, "FORMAT": "jsonl"})
    assert result.returncode == 1  # some records failed: the task fails, its files are still collected


@pytest.mark.skipif(shutil.which("sh") is None, reason="no POSIX sh")
@pytest.mark.parametrize("dry_run", [True, False])
def test_promote_is_guarded_by_dry_run(docs: dict[str, dict[str, Any]], fake_modelswap: Path, tmp_path: Path,
                                       dry_run: bool) -> None:
    flow = docs["scheduled_migration"]
    dry = _input(flow, "dry_run")
    assert dry["type"] == "BOOL" and dry["defaults"] is True
    promote = next(t for t in _tasks(flow["tasks"]) if t["id"] == "promote")
    flag = _render_pebble(promote["env"]["DRY_RUN_FLAG"].replace("? '--dry-run' : ''", "and '--dry-run' or ''"),
                          {"dry_run": dry_run})
    result, calls = _run_step(promote, fake_modelswap, tmp_path, 0,
                              {"MODEL": "gemma-chat", "CONFIGMAP": "k8s/cm.yaml", "DRY_RUN_FLAG": flag})
    assert result.returncode == 0
    assert calls == [["promote", "gemma-chat", "--target", "configmap:k8s/cm.yaml", "--evidence",
                      "report/report.json", "--audit", "modelswap-audit.jsonl"] + (["--dry-run"] if dry_run else [])]
    switch = flow["tasks"][-1]
    assert switch["type"] == "io.kestra.plugin.core.kv.Set" and switch["key"] == KV_MODEL
    assert switch["runIf"] == "{{ inputs.dry_run == false }}"


def test_migration_runs_the_runbook_in_order_on_a_schedule(docs: dict[str, dict[str, Any]]) -> None:
    flow = docs["scheduled_migration"]
    runbook = flow["tasks"][0]
    assert runbook["type"] == "io.kestra.plugin.core.flow.WorkingDirectory"
    steps = [t["id"] for t in runbook["tasks"]]
    assert steps == ["audit", "inventory", "regress", "shadow", "promote", "watch"]
    first_words = [" ".join(t["commands"]).split("modelswap ", 1)[1].split()[0] for t in runbook["tasks"]]
    assert first_words == steps
    (trigger,) = flow["triggers"]
    assert trigger["type"] == "io.kestra.plugin.core.trigger.Schedule" and "inputs" not in trigger
    required = [i["id"] for i in flow["inputs"] if i.get("required", True) and "defaults" not in i]
    assert required == []  # the trigger supplies no inputs


# -- drift --------------------------------------------------------------------------------------------------
def test_committed_templates_match_the_generator() -> None:
    problems = check_drift(TEMPLATES)
    assert not problems, (
        f"kestra_templates drifted from modelswap.kestra; regenerate with `{REGENERATE_COMMAND}`:\n"
        + "\n".join(problems)
    )
    assert (TEMPLATES / "__init__.py").is_file()  # the folder is the package modelswap.kestra_templates


def test_check_drift_reports_changed_missing_and_stale(tmp_path: Path) -> None:
    paths = write_flows(tmp_path)
    assert [p.name for p in paths] == [f"{f}.yaml" for f in FLOW_IDS]
    assert check_drift(tmp_path) == []
    paths[0].write_text(paths[0].read_text() + "# edited\n")
    paths[1].unlink()
    (tmp_path / "old_flow.yaml").write_text("# Generated by modelswap.kestra 0.0.1 from x\nid: old_flow\n")
    (tmp_path / "mine.yaml").write_text("id: mine\n")
    problems = check_drift(tmp_path)
    assert len(problems) == 3
    assert "llm_call.yaml: differs" in problems[0] and "llm_call_python.yaml: missing" in problems[1]
    assert "old_flow.yaml: generated earlier" in problems[2]
    write_flows(tmp_path)
    assert check_drift(tmp_path) == []
    assert not (tmp_path / "old_flow.yaml").exists() and (tmp_path / "mine.yaml").exists()
