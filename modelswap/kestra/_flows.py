"""The five flows, one builder each: inputs, tasks, outputs and the lines of the header that documents them.

Each builder takes the namespace, the config's :class:`~modelswap.kestra._facts.Facts`, the pip spec of the
Python tasks and the modelswap version, and returns the flow (a mapping, dumped as YAML) and its header comment.
``regression_gate`` and ``scheduled_migration`` share the ``modelswap regress`` step's inputs, environment and
command.
"""

from __future__ import annotations

from typing import Any

from ._facts import Facts, provider_secret_notes
from ._parts import (
    ALL_FILES,
    CONFIG_FILE,
    CONFIG_ONLY,
    KV_CANDIDATE,
    KV_ENDPOINT,
    KV_MODEL,
    KV_MODEL_ID,
    SECRET_API_KEY,
    flow_input,
    kv_default,
    make_flow,
    optional_input,
    python_task,
    secret_env,
)
from ._text import header_comment

__all__ = ["batch_inference", "llm_call", "llm_call_python", "regression_gate", "scheduled_migration"]


def llm_call(ns: str, facts: Facts, spec: str, version: str) -> tuple[dict[str, Any], str]:
    """``llm_call``: one chat completion through an ``http.Request`` task, from any OpenAI-compatible endpoint."""
    # Each value goes through toJson, so any prompt is a valid JSON string; `??` keeps an absent optional input
    # from failing under Kestra's strict variables.
    body = "\n".join([
        "{",
        '  "model": {{ inputs.model | toJson }},',
        '  "messages": [',
        ("    {% if (inputs.system ?? '') != '' %}"
         '{"role": "system", "content": {{ inputs.system | toJson }} },{% endif %}'),
        '    {"role": "user", "content": {{ inputs.prompt | toJson }} }',
        "  ],",
        '  "temperature": {{ inputs.temperature | toJson }},',
        '  "max_tokens": {{ inputs.max_tokens | toJson }}',
        "}",
    ])
    content = "{{ outputs.chat.body | jq('.choices[0].message.content') | first }}"
    inputs = [
        flow_input("model", "STRING", "The model id the endpoint serves. THE swap: change it here for one execution, "
                   f"or set the KV key {KV_MODEL_ID} for every later one.",
                   kv_default([KV_MODEL_ID], facts.wire_model_id)),
        flow_input("endpoint", "STRING", "OpenAI-compatible base URL, without a trailing slash "
                   "(https://api.groq.com/openai/v1, http://vllm:8000/v1, ...); /chat/completions is appended.",
                   kv_default([KV_ENDPOINT], facts.wire_endpoint), validator=r"^https?://\S*[^/\s]$"),
        flow_input("prompt", "STRING", "The user message.", "Name a colour."),
        flow_input("system", "STRING", "Optional system prompt.", required=False),
        flow_input("temperature", "FLOAT", "Sampling temperature.", 0.0),
        flow_input("max_tokens", "INT", "Largest answer, in tokens.", 256, min=1),
        flow_input("timeout", "DURATION", "How long to wait for the answer.", "PT2M"),
    ]
    tasks = [
        {
            "id": "chat",
            "type": "io.kestra.plugin.core.http.Request",
            "description": "POST {endpoint}/chat/completions: the OpenAI Chat Completions protocol.",
            "uri": "{{ inputs.endpoint }}/chat/completions",
            "method": "POST",
            "contentType": "application/json",
            "headers": {"Authorization": "Bearer {{ secret('" + SECRET_API_KEY + "') }}"},
            "body": body,
            "options": {"timeout": {"readIdleTimeout": "{{ inputs.timeout }}"}},
            "retry": {"type": "exponential", "interval": "PT2S", "maxInterval": "PT1M", "maxAttempts": 3},
        },
        {
            "id": "answer",
            "type": "io.kestra.plugin.core.output.OutputValues",
            "description": "The answer and its usage, parsed from the response body.",
            "values": {
                "text": content,
                "model": "{{ outputs.chat.body | jq('.model') | first }}",
                "input_tokens": "{{ outputs.chat.body | jq('.usage.prompt_tokens') | first }}",
                "output_tokens": "{{ outputs.chat.body | jq('.usage.completion_tokens') | first }}",
            },
        },
        {"id": "log", "type": "io.kestra.plugin.core.log.Log", "message": "{{ outputs.answer.values.text }}"},
    ]
    flow = make_flow("llm_call", ns, "One chat completion from any OpenAI-compatible endpoint; the model is the "
                     "`model` input.", None, inputs, tasks, outputs=[
                         {"id": "answer", "type": "STRING", "value": "{{ outputs.answer.values.text }}"},
                         {"id": "model", "type": "STRING", "value": "{{ outputs.answer.values.model }}"},
                     ])
    header = header_comment(flow, [
        "llm_call: one chat completion from an OpenAI-compatible endpoint (OpenAI, Groq, Together, OpenRouter,",
        "vLLM, llama.cpp, Ollama /v1, TGI, LM Studio). One http.Request task: no plugin, no container, no pip.",
        "",
        "The swap is the `model` input: it is sent verbatim as the request's `model`, so give the id the endpoint",
        "serves (not a modelswap alias: use llm_call_python for those). The KV keys below move every later",
        "execution at once; an input given at execution time wins over them.",
    ], facts, [
        (KV_MODEL_ID, "default of `model`, e.g. llama-3.1-8b-instant"),
        (KV_ENDPOINT, "default of `endpoint`, e.g. https://api.groq.com/openai/v1"),
    ], [
        (SECRET_API_KEY, "the endpoint's key, sent as `Authorization: Bearer`; any placeholder for keyless servers"),
    ], [], version)
    return flow, header


def llm_call_python(ns: str, facts: Facts, spec: str, version: str) -> tuple[dict[str, Any], str]:
    """``llm_call_python``: one completion through ``modelswap.complete()`` in a Python task."""
    script = '''\
"""One completion through modelswap, on the model the flow's `model` input names (env MODELSWAP_MODEL)."""
import json
import os

import modelswap

params = {}
if os.environ.get("TEMPERATURE"):
    params["temperature"] = float(os.environ["TEMPERATURE"])
if os.environ.get("MAX_TOKENS"):
    params["max_tokens"] = int(os.environ["MAX_TOKENS"])

# No model= argument on purpose: the model comes from MODELSWAP_MODEL (the `model` input), which is what lets
# API_KEY and INFERENCE_ENDPOINT apply to it; an explicit model= is always used exactly as configured.
completion = modelswap.complete(os.environ["PROMPT"], system=os.environ.get("SYSTEM") or None, **params)
print(completion.text)
outputs = {
    "text": completion.text,
    "alias": completion.alias,
    "provider": completion.provider,
    "model_id": completion.model_id,
    "input_tokens": completion.input_tokens,
    "output_tokens": completion.output_tokens,
    "cost": completion.cost,
    "latency_s": completion.latency_s,
}
# Kestra reads one line `::{"outputs": ...}::` from stdout as this task's outputs (outputs.complete.vars).
print("::" + json.dumps({"outputs": outputs}) + "::")
'''
    inputs = [
        flow_input("model", "STRING", "A modelswap alias from modelswap.yaml, or provider/model_id "
                   f"(groq/llama-3.1-8b-instant). THE swap: change it for one execution, or set the KV key {KV_MODEL}.",
                   kv_default([KV_MODEL], facts.default_model)),
        flow_input("prompt", "STRING", "The user message.", "Name a colour."),
        flow_input("system", "STRING", "Optional system prompt.", required=False),
        flow_input("temperature", "FLOAT", "Sampling temperature; empty keeps the model's configured params.",
                   required=False),
        flow_input("max_tokens", "INT", "Largest answer, in tokens; empty keeps the model's configured params.",
                   required=False, min=1),
        flow_input("endpoint", "STRING", "Optional base URL that replaces the model's (INFERENCE_ENDPOINT).",
                   required=False, validator=r"^https?://\S+$"),
    ]
    env = {
        "MODELSWAP_MODEL": "{{ inputs.model }}",
        "INFERENCE_ENDPOINT": optional_input("endpoint"),
        "API_KEY": "{{ secret('" + SECRET_API_KEY + "') }}",
        "PROMPT": "{{ inputs.prompt }}",
        "SYSTEM": optional_input("system"),
        "TEMPERATURE": optional_input("temperature"),
        "MAX_TOKENS": optional_input("max_tokens"),
    }
    tasks = [python_task("complete", "Script", "modelswap.complete() on the `model` input.", script, env,
                         namespace_files=CONFIG_ONLY)]
    flow = make_flow("llm_call_python", ns, "One completion through modelswap, any provider kind; the model is the "
                     "`model` input.", spec, inputs, tasks, outputs=[
                         {"id": "answer", "type": "STRING", "value": "{{ outputs.complete.vars.text }}"},
                         {"id": "model_id", "type": "STRING", "value": "{{ outputs.complete.vars.model_id }}"},
                     ])
    header = header_comment(flow, [
        "llm_call_python: one completion through modelswap.complete() in a Python task (pip-installs modelswap),",
        "so every provider kind works: OpenAI-compatible, Anthropic, Gemini, Vertex, Ollama, raw completion.",
        "",
        "The swap is the `model` input, a modelswap alias or provider/model_id, exported as MODELSWAP_MODEL;",
        f"the KV key {KV_MODEL} moves every later execution. API_KEY (the secret) and INFERENCE_ENDPOINT (the",
        "`endpoint` input) override the resolved provider's key and URL, as the README's ConfigMap swap does.",
    ], facts, [(KV_MODEL, "default of `model`: the alias every modelswap flow uses")], [
        (SECRET_API_KEY, "exported as API_KEY, the key of the provider `model` resolves to; any placeholder"),
        ("", "for keyless servers (the config's provider keys are not read here: API_KEY replaces them)"),
    ], [(CONFIG_FILE, "the modelswap config (aliases, providers); without it, the built-in local default")],
        version)
    return flow, header


def batch_inference(ns: str, facts: Facts, spec: str, version: str) -> tuple[dict[str, Any], str]:
    """``batch_inference``: ``modelswap batch`` over an uploaded JSONL or CSV file."""
    commands = '''\
# modelswap tells JSONL from CSV by the file's extension.
mv input.data "input.$FORMAT"
code=0
modelswap batch "input.$FORMAT" output.jsonl --model "$MODEL" --concurrency "$CONCURRENCY" \\
  ${TEMPLATE:+--template "$TEMPLATE"} ${TEMPERATURE:+-p "temperature=$TEMPERATURE"} \\
  ${MAX_TOKENS:+-p "max_tokens=$MAX_TOKENS"} --json --quiet > summary.json || code=$?
cat summary.json
# The summary becomes this task's outputs (outputs.batch.vars.succeeded, .failed, .cost, ...).
python -c 'import json; print("::" + json.dumps({"outputs": json.load(open("summary.json"))}) + "::")' || true
# 0: every record answered; 1: some records failed (their lines in output.jsonl carry `error`); 2: usage error.
exit "$code"'''
    inputs = [
        flow_input("data", "FILE", "The records: JSONL or CSV, each with an `id` and a `prompt` "
                   "(or the fields the template names).", allowedFileExtensions=[".jsonl", ".csv", ".tsv"]),
        flow_input("format", "SELECT", "The file's format.", "jsonl", values=["jsonl", "csv", "tsv"]),
        flow_input("model", "STRING", "A modelswap alias from modelswap.yaml, or provider/model_id. THE swap: "
                   f"change it for one execution, or set the KV key {KV_MODEL}.",
                   kv_default([KV_MODEL], facts.default_model)),
        flow_input("template", "STRING", "Optional prompt template with {field} placeholders, for records "
                   "without a `prompt`.", required=False),
        flow_input("concurrency", "INT", "Calls in flight.", 8, min=1),
        flow_input("temperature", "FLOAT", "Sampling temperature; empty keeps the model's configured params.",
                   required=False),
        flow_input("max_tokens", "INT", "Largest answer per record; empty keeps the model's configured params.",
                   required=False, min=1),
    ]
    env = {
        "MODEL": "{{ inputs.model }}",
        "FORMAT": "{{ inputs.format }}",
        "TEMPLATE": optional_input("template"),
        "CONCURRENCY": "{{ inputs.concurrency }}",
        "TEMPERATURE": optional_input("temperature"),
        "MAX_TOKENS": optional_input("max_tokens"),
        **secret_env(facts.provider_secrets),
    }
    tasks = [python_task("batch", "Commands", "modelswap batch: every record once, in input order.", commands,
                         env, namespace_files=CONFIG_ONLY, input_files={"input.data": "{{ inputs.data }}"},
                         output_files=["output.jsonl", "summary.json"])]
    flow = make_flow("batch_inference", ns, "Answer every record of a JSONL/CSV file with modelswap batch; the model "
                     "is the `model` input.", spec, inputs, tasks, outputs=[
                         {"id": "results", "type": "FILE", "value": "{{ outputs.batch.outputFiles['output.jsonl'] }}"},
                         {"id": "summary", "type": "FILE", "value": "{{ outputs.batch.outputFiles['summary.json'] }}"},
                     ])
    header = header_comment(flow, [
        "batch_inference: `modelswap batch` over an uploaded JSONL or CSV file, in one Python task. The answers",
        "(output.jsonl: id, text, tokens, cost, latency, error) are the flow output `results`. The execution",
        "fails when any record failed; output.jsonl and summary.json are kept in the task's outputs all the same.",
        "",
        f"The swap is the `model` input (a modelswap alias or provider/model_id); the KV key {KV_MODEL} moves",
        "every later execution.",
    ], facts, [(KV_MODEL, "default of `model`")], provider_secret_notes(facts),
        [(CONFIG_FILE, "the modelswap config; without it, the built-in local default")], version)
    return flow, header


def _regress_command(out: str) -> str:
    return (
        'modelswap regress "$SUITE" --baseline "$BASELINE" --candidate "$MODEL" --repeat "$REPEAT" \\\n'
        '  --concurrency "$CONCURRENCY" ${MAX_ACCURACY_DROP:+--max-accuracy-drop "$MAX_ACCURACY_DROP"} \\\n'
        '  ${LATENCY_SLA_MS:+--latency-sla-ms "$LATENCY_SLA_MS"} ${MAX_ERROR_RATE:+--max-error-rate "$MAX_ERROR_RATE"} \\\n'
        '  ${MAX_COST_INCREASE:+--max-cost-increase "$MAX_COST_INCREASE"} ${MAX_ERROR_INCREASE:+--max-error-increase '
        '"$MAX_ERROR_INCREASE"} \\\n'
        '  ${ALPHA:+--alpha "$ALPHA"} ${MIN_CASES:+--min-cases "$MIN_CASES"} '
        f'--json --out {out} > {out}/verdict.json || code=$?'
    )


_EMIT_VERDICT = (
    "python -c 'import json; r = json.load(open(\"report/verdict.json\")); "
    "ni = (r.get(\"comparison\") or {}).get(\"noninferiority\") or {}; "
    "print(\"::\" + json.dumps({\"outputs\": {\"verdict\": r.get(\"verdict\"), \"reasons\": r.get(\"reasons\"), "
    "\"cases_needed\": ni.get(\"cases_needed\")}}) + \"::\")' "
    "|| true"
)


def _regress_inputs(facts: Facts) -> list[dict[str, Any]]:
    return [
        flow_input("model", "STRING", "The candidate: the model to swap in (alias or provider/model_id). THE swap: "
                   f"defaults to the KV key {KV_CANDIDATE}, else {KV_MODEL}.",
                   kv_default([KV_CANDIDATE, KV_MODEL], facts.default_model)),
        flow_input("baseline", "STRING", f"The model in production; defaults to the KV key {KV_MODEL}.",
                   kv_default([KV_MODEL], facts.default_model)),
        flow_input("suite", "STRING", "The eval suite, a path among the namespace files (YAML, JSONL or "
                   "promptfooconfig.yaml).", "evals/suite.yaml"),
        flow_input("repeat", "INT", "Runs per case and model.", 1, min=1),
        flow_input("concurrency", "INT", "Calls in flight.", 8, min=1),
        flow_input("max_accuracy_drop", "FLOAT", "The non-inferiority margin: the largest acceptable accuracy drop "
                   "(0.05 = 5 points, the default); promote only when a larger drop is ruled out. Empty keeps the "
                   "suite's threshold.", required=False),
        flow_input("alpha", "FLOAT", "Each one-sided bound is wrong at most this often (default 0.05); empty keeps "
                   "the suite's.", required=False),
        flow_input("min_cases", "INT", "Hold below this many paired cases (default: the fewest that could prove "
                   "the margin, 59 for 5 points); empty keeps the suite's.", required=False),
        flow_input("latency_sla_ms", "FLOAT", "The candidate's p95 latency must stay under it; empty keeps the "
                   "suite's.", required=False),
        flow_input("max_error_rate", "FLOAT", "Largest acceptable error rate, e.g. 0.01; empty keeps the suite's.",
                   required=False),
        flow_input("max_error_increase", "FLOAT", "Largest acceptable rise of the error rate over the baseline's, "
                   "e.g. 0.01 = 1 point; empty keeps the suite's.", required=False),
        flow_input("max_cost_increase", "FLOAT", "Largest cost increase, e.g. 0.10 for +10%; empty keeps the "
                   "suite's.", required=False),
    ]


def _regress_env(facts: Facts) -> dict[str, str]:
    return {
        "MODEL": "{{ inputs.model }}",
        "BASELINE": "{{ inputs.baseline }}",
        "SUITE": "{{ inputs.suite }}",
        "REPEAT": "{{ inputs.repeat }}",
        "CONCURRENCY": "{{ inputs.concurrency }}",
        "MAX_ACCURACY_DROP": optional_input("max_accuracy_drop"),
        "LATENCY_SLA_MS": optional_input("latency_sla_ms"),
        "MAX_ERROR_RATE": optional_input("max_error_rate"),
        "MAX_COST_INCREASE": optional_input("max_cost_increase"),
        "MAX_ERROR_INCREASE": optional_input("max_error_increase"),
        "ALPHA": optional_input("alpha"),
        "MIN_CASES": optional_input("min_cases"),
        **secret_env(facts.provider_secrets),
    }


def regression_gate(ns: str, facts: Facts, spec: str, version: str) -> tuple[dict[str, Any], str]:
    """``regression_gate``: ``modelswap regress``; the execution succeeds only on promote."""
    commands = "\n".join([
        "mkdir -p report",
        "code=0",
        _regress_command("report"),
        _EMIT_VERDICT,
        'echo "modelswap regress exited $code: 0 promote, 1 hold or rollback, 2 usage or configuration error"',
        "# A non-zero exit fails the task, and so the execution: the gate. The report files stay in its outputs.",
        'exit "$code"',
    ])
    tasks = [python_task("regress", "Commands", "modelswap regress: baseline against candidate; exit 0 only "
                         "on promote.", commands, _regress_env(facts), namespace_files=ALL_FILES,
                         output_files=["report/**"])]
    flow = make_flow("regression_gate", ns, "Compare a candidate model with the baseline on an eval suite; the "
                     "execution fails unless the verdict is promote.", spec, _regress_inputs(facts), tasks, outputs=[
                         {"id": "verdict", "type": "STRING", "value": "{{ outputs.regress.vars.verdict }}"},
                         {"id": "report", "type": "FILE",
                          "value": "{{ outputs.regress.outputFiles['report/report.json'] }}"},
                         {"id": "report_html", "type": "FILE",
                          "value": "{{ outputs.regress.outputFiles['report/report.html'] }}"},
                     ])
    header = header_comment(flow, [
        "regression_gate: `modelswap regress SUITE --baseline B --candidate C --json --out report`. The CLI",
        "exits 0 for promote (every limit shown to hold: a drop beyond the margin ruled out at 1 - alpha),",
        "1 for hold (the data cannot tell yet; the task's `cases_needed` says about how many cases would) or",
        "rollback (a breach proven), 2 for bad input. So the execution SUCCEEDS ONLY ON PROMOTE; use it as",
        "a gate (a Subflow task, or a Flow trigger on SUCCESS). report.json, report.md and report.html are the",
        "task's output files either way, and the flow outputs `verdict`, `report` and `report_html` on success.",
        "",
        "The swap is the `model` input: the candidate.",
    ], facts, [
        (KV_CANDIDATE, "default of `model` (the candidate)"),
        (KV_MODEL, "default of `baseline` (the live model), and of `model` without a candidate"),
    ], provider_secret_notes(facts), [
        (CONFIG_FILE, "the modelswap config naming both models"),
        ("evals/suite.yaml", "the eval suite (the `suite` input names another path)"),
    ], version)
    return flow, header


def scheduled_migration(ns: str, facts: Facts, spec: str, version: str) -> tuple[dict[str, Any], str]:
    """``scheduled_migration``: the weekly runbook, then the KV switch unless ``dry_run``."""
    inputs = _regress_inputs(facts) + [
        flow_input("traffic", "STRING", "Recorded production traffic to replay (JSONL from MODELSWAP_RECORD), a "
                   "path among the namespace files.", "traffic/recorded.jsonl"),
        flow_input("min_agreement", "FLOAT", "Shadow replay: the share of answers that must agree, proven on "
                   "anytime-valid bounds (too few requests to prove it also stops the run).", 0.9),
        flow_input("configmap", "STRING", "The Kubernetes ConfigMap manifest promote and watch re-point (a namespace "
                   "file if it exists, else created); it is an output file to apply.", "k8s/modelswap-model.yaml"),
        flow_input("dry_run", "BOOL", "true: every step reports what it would do and nothing is switched (no KV "
                   "change, the manifest unchanged). Set false to let a passing run switch.", True),
    ]
    secrets = secret_env(facts.provider_secrets)
    dry_run_flag = {"DRY_RUN_FLAG": "{{ inputs.dry_run ? '--dry-run' : '' }}"}
    regress_env = _regress_env(facts)
    shadow_env = {"MODEL": "{{ inputs.model }}", "TRAFFIC": "{{ inputs.traffic }}",
                  "MIN_AGREEMENT": "{{ inputs.min_agreement }}", **secrets}
    promote_env = {"MODEL": "{{ inputs.model }}", "CONFIGMAP": "{{ inputs.configmap }}", **dry_run_flag}
    watch_env = {"MODEL": "{{ inputs.model }}", "BASELINE": "{{ inputs.baseline }}", "SUITE": "{{ inputs.suite }}",
                 "CONFIGMAP": "{{ inputs.configmap }}", "MAX_ACCURACY_DROP": optional_input("max_accuracy_drop"),
                 **dry_run_flag, **secrets}
    steps = [
        python_task("audit", "Commands", "Find hard-coded model names in the namespace files.", "\n".join([
           "code=0",
           "modelswap audit . --format json > audit.json || code=$?",
           "cat audit.json",
           "# Exit 1 means hard-coded findings: the report this step exists for, so it does not stop the runbook.",
           "# Anything else non-zero (2: usage or configuration error) does.",
           """printf '::{"outputs": {"audit_exit_code": %d}}::\\n' "$code\"""",
           'test "$code" -le 1',
        ]), {}, output_files=["audit.json"]),
        python_task("inventory", "Commands", "Every configured model: provider, weights, license, price.",
                    f"modelswap inventory --config {CONFIG_FILE} --json > inventory.json\ncat inventory.json",
                    {}, output_files=["inventory.json"]),
        python_task("regress", "Commands", "The regression gate: stops the runbook unless the verdict is "
                    "promote.", "\n".join([
                        "mkdir -p report", "code=0", _regress_command("report"), _EMIT_VERDICT, 'exit "$code"',
                    ]), regress_env, output_files=["report/**"]),
        python_task("shadow", "Commands", "Replay recorded traffic to the candidate; stops the runbook unless "
                    "the agreement is proven at or above min_agreement (anytime-valid bounds).",
                    'modelswap shadow "$TRAFFIC" --candidate "$MODEL" --min-agreement "$MIN_AGREEMENT" '
                    "--out shadow.json", shadow_env, output_files=["shadow.json"]),
        python_task("promote", "Commands", "Point the ConfigMap manifest at the candidate, with an audit "
                    "record (--dry-run unless dry_run is false).",
                    'modelswap promote "$MODEL" --target "configmap:$CONFIGMAP" --evidence report/report.json \\\n'
                    "  --audit modelswap-audit.jsonl $DRY_RUN_FLAG",
                    promote_env, output_files=["modelswap-audit.jsonl", "{{ inputs.configmap }}"]),
        python_task("watch", "Commands", "Rerun the suite on the promoted model against its regression "
                    "accuracy; roll the manifest back and stop if a drop beyond the margin is proven.",
                    'modelswap watch --target "configmap:$CONFIGMAP" --live "$MODEL" --fallback "$BASELINE" \\\n'
                    '  --suite "$SUITE" --reference-report report/report.json \\\n'
                    "  ${MAX_ACCURACY_DROP:+--max-accuracy-drop \"$MAX_ACCURACY_DROP\"} "
                    "--audit modelswap-audit.jsonl $DRY_RUN_FLAG",
                    watch_env, output_files=["modelswap-audit.jsonl", "{{ inputs.configmap }}"]),
    ]
    tasks = [
        {
            "id": "runbook",
            "type": "io.kestra.plugin.core.flow.WorkingDirectory",
            "description": "The runbook steps in order, sharing one directory (the namespace files, then each "
                           "step's reports). A failing step stops the rest.",
            "namespaceFiles": ALL_FILES,
            "tasks": steps,
        },
        {
            "id": "switch_model",
            "type": "io.kestra.plugin.core.kv.Set",
            "description": f"The swap itself: every modelswap flow of the namespace reads {KV_MODEL} when an "
                           "execution starts. Runs only when dry_run is false and every step passed.",
            "runIf": "{{ inputs.dry_run == false }}",
            "key": KV_MODEL,
            "value": "{{ inputs.model }}",
            "kvType": "STRING",
            "overwrite": True,
        },
    ]
    flow = make_flow("scheduled_migration", ns, "The weekly migration runbook: audit, inventory, regress, shadow, "
                     "promote, watch; then the KV switch unless dry_run.", spec, inputs, tasks,
                     triggers=[{"id": "weekly", "type": "io.kestra.plugin.core.trigger.Schedule",
                                "description": "Mondays at 06:00 UTC, with every input at its default.",
                                "cron": "0 6 * * 1"}],
                     concurrency={"limit": 1, "behavior": "QUEUE"},
                     outputs=[{"id": "verdict", "type": "STRING", "value": "{{ outputs.regress.vars.verdict }}"}])
    header = header_comment(flow, [
        "scheduled_migration: the migration runbook, every Monday at 06:00 UTC (trigger `weekly`, no inputs:",
        "every input has a default) and on demand. Steps, in order, in one working directory:",
        "  audit      modelswap audit . --format json          exit 1 (findings) is reported, not fatal",
        f"  inventory  modelswap inventory --config {CONFIG_FILE} --json",
        "  regress    modelswap regress ...                    stops the run unless the verdict is promote",
        "  shadow     modelswap shadow TRAFFIC ...             stops the run unless min_agreement is proven",
        "  promote    modelswap promote ... --target configmap:...   --dry-run unless dry_run is false",
        "  watch      modelswap watch ...                      rolls the manifest back and stops if a trigger trips",
        f"  then KV {KV_MODEL} := the candidate, only when dry_run is false and every step passed.",
        "",
        f"The swap is the `model` input: the candidate, by default the KV key {KV_CANDIDATE}. dry_run defaults to",
        "true: a scheduled run reports and switches nothing until you change that default (or run it by hand).",
    ], facts, [
        (KV_CANDIDATE, "default of `model`: the model to migrate to"),
        (KV_MODEL, "default of `baseline`; set to the candidate at the end of a passing run"),
    ], provider_secret_notes(facts), [
        (CONFIG_FILE, "the modelswap config naming both models (required here)"),
        ("evals/suite.yaml", "the eval suite (`suite` input)"),
        ("traffic/recorded.jsonl", "recorded traffic to replay (`traffic` input)"),
        ("k8s/modelswap-model.yaml", "optional: the ConfigMap manifest to re-point (`configmap` input)"),
        ("(everything else)", "audited for hard-coded model names"),
    ], version)
    return flow, header
