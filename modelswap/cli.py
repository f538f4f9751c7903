"""The ``modelswap`` command line.

Exit codes: 0 success, 1 the provider failed (or: regress did not promote, audit found hard-coded models,
watch rolled back), 2 usage or configuration error. Expected errors print one clear
message, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Sequence

from ._errors import ConfigError, ModelSwapError, ProviderError

__all__ = ["main"]

EXIT_OK, EXIT_PROVIDER, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's own exit code is 2 as well; keep its usage line
        self.print_usage(sys.stderr)
        raise SystemExit(f"{self.prog}: error: {message}")


def _parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = _Parser(prog="modelswap", description="Swap the LLM under every pipeline with one parameter.")
    parser.add_argument("--version", action="version", version=f"modelswap {__version__}")
    parser.add_argument("--config", metavar="FILE", help="config file (default: $MODELSWAP_CONFIG, ./modelswap.yaml, built-in)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    commands.add_parser("validate", help="check the config file and print a summary")
    commands.add_parser("schema", help="print the config's JSON Schema")

    models = commands.add_parser("models", help="list the configured models")
    models.add_argument("--json", action="store_true", help="print JSON")
    models.add_argument("--check", metavar="MODEL", help="report what one model accepts (params, streaming, JSON schema, context)")

    call = commands.add_parser("call", help="get one completion")
    call.add_argument("model", help="an alias, provider/model_id, or - for the active model")
    call.add_argument("prompt", help="the prompt (a user message); - reads it from stdin")
    call.add_argument("--system", metavar="TEXT", help="system prompt")
    call.add_argument("--param", "-p", action="append", default=[], metavar="KEY=VALUE",
                      help="generation param, e.g. temperature=0 max_tokens=32 stop='[\"\\n\"]' (values are JSON when they parse)")
    call.add_argument("--json", action="store_true", help="print the whole completion as JSON")
    call.add_argument("--stream", action="store_true", help="print the answer as it arrives (with --json, the final JSON)")

    batch = commands.add_parser("batch", help="answer every record of a JSONL/CSV file; resumable after any crash")
    batch.add_argument("input", help="JSONL or CSV records, each with an `id` and a `prompt` (or template fields)")
    batch.add_argument("output", help="JSONL results, one line per id, in input order; rerun to resume")
    batch.add_argument("--model", help="alias or provider/model_id (default: the active model)")
    batch.add_argument("--template", metavar="TEXT|@FILE", help="prompt template with {field} placeholders")
    batch.add_argument("--concurrency", type=int, default=16, metavar="N", help="calls in flight (default 16)")
    batch.add_argument("--param", "-p", action="append", default=[], metavar="KEY=VALUE", help="generation param, as for call")
    batch.add_argument("--retry-errors", action="store_true",
                       help="also ask again the records whose line holds an error, and replace those lines")
    batch.add_argument("--json", action="store_true", help="print the summary as JSON")
    batch.add_argument("--quiet", "-q", action="store_true", help="no progress line")

    regress = commands.add_parser("regress", help="compare a candidate model with the baseline on an eval suite; verdict")
    regress.add_argument("suite", help="eval suite: YAML, JSONL, or a promptfooconfig.yaml")
    regress.add_argument("--baseline", metavar="MODEL",
                         help="the model in production (promptfoo configs: default the first of `providers`)")
    regress.add_argument("--candidate", metavar="MODEL",
                         help="the model to swap in (promptfoo configs: default each other provider in turn)")
    regress.add_argument("--repeat", type=int, default=1, metavar="N", help="runs per case and model (default 1)")
    regress.add_argument("--out", metavar="DIR", help="report.json, report.md, report.html and resumable results here")
    regress.add_argument("--json", action="store_true", help="print the report as JSON (top-level `verdict`)")
    regress.add_argument("--concurrency", type=int, default=8, metavar="N", help="calls in flight (default 8)")
    regress.add_argument("--max-accuracy-drop", type=float, metavar="X",
                         help="the non-inferiority margin: the largest acceptable drop (default 0.05 = 5 points)")
    regress.add_argument("--latency-sla-ms", type=float, metavar="MS", help="the candidate's p95 must stay under it")
    regress.add_argument("--max-error-rate", type=float, metavar="X", help="largest acceptable error rate, e.g. 0.01")
    regress.add_argument("--max-error-increase", type=float, metavar="X",
                         help="largest acceptable rise of the error rate over the baseline's, e.g. 0.01 = 1 point")
    regress.add_argument("--max-cost-increase", type=float, metavar="X", help="largest cost increase, e.g. 0.10 = +10%%")
    regress.add_argument("--alpha", type=float, metavar="A",
                         help="each one-sided bound is wrong at most this often (default 0.05: 95%% confidence)")
    regress.add_argument("--min-cases", type=int, metavar="N",
                         help="hold below N paired cases (default: the fewest that could prove the margin, 59 for 5 points)")
    regress.add_argument("--judge", metavar="MODEL", help="the model that grades llm-rubric assertions")
    regress.add_argument("--license-allow", metavar="LIST", help="comma-separated licenses the candidate may have")
    regress.add_argument("--license-deny", metavar="LIST", help="comma-separated licenses it may not have")
    regress.add_argument("--skip-preflight", action="store_true", help="run even when the pre-flight check fails")
    regress.add_argument("--seed", type=int, default=0, help="seed of the bootstrap (default 0)")
    regress.add_argument("--strict", action="store_true",
                         help="promptfoo configs: stop when anything in the config cannot be carried over exactly")

    plan = commands.add_parser("plan", help="how many eval cases a regression needs to decide, before any call")
    plan.add_argument("--from", dest="from_report", metavar="JSON", help="a pilot run's report.json (its accuracies "
                      "and disagreement)")
    plan.add_argument("--baseline-accuracy", type=float, metavar="X", help="the baseline's expected accuracy, e.g. 0.8")
    plan.add_argument("--candidate-accuracy", type=float, metavar="X", help="the candidate's (default: the baseline's)")
    plan.add_argument("--disagreement", type=float, metavar="X",
                      help="share of cases the models answer differently (default: as if their failures were independent)")
    plan.add_argument("--max-accuracy-drop", type=float, metavar="X", help="the margin (default 0.05 = 5 points)")
    plan.add_argument("--alpha", type=float, metavar="A", help="one-sided error rate (default 0.05)")
    plan.add_argument("--power", type=float, default=0.8, metavar="P", help="chance of a decision (default 0.8)")
    plan.add_argument("--error-rate", type=float, metavar="X", help="the candidate's expected error rate")
    plan.add_argument("--max-error-rate", type=float, metavar="X", help="and its limit: adds the calls needed")
    plan.add_argument("--json", action="store_true")

    shadow = commands.add_parser("shadow", help="replay recorded traffic to a candidate and compare the answers")
    shadow.add_argument("traffic", help="JSONL recorded with MODELSWAP_RECORD (or TrafficRecorder)")
    shadow.add_argument("--candidate", required=True, metavar="MODEL", help="the model to shadow")
    shadow.add_argument("--assert", dest="assertion", default="similar", metavar="TYPE",
                        help="how answers are compared: similar (default), equals, contains, icontains, levenshtein")
    shadow.add_argument("--threshold", type=float, default=0.8, help="for similar: the similarity needed (default 0.8)")
    shadow.add_argument("--min-agreement", type=float, default=0.9, metavar="X",
                        help="the agreement floor: exit 0 only once it is proven (default 0.9)")
    shadow.add_argument("--alpha", type=float, default=0.05, metavar="A",
                        help="the chance of a wrong pass or fail over every replay together (default 0.05)")
    shadow.add_argument("--state", metavar="FILE",
                        help="earlier comparisons (JSONL, no text): replay only new requests, judge them all together")
    shadow.add_argument("--limit", type=int, metavar="N", help="replay at most N requests")
    shadow.add_argument("--concurrency", type=int, default=8, metavar="N")
    shadow.add_argument("--out", metavar="FILE", help="write the shadow report as JSON here")
    shadow.add_argument("--json", action="store_true", help="print the report as JSON")

    watch = commands.add_parser("watch", help="evaluate the rollback triggers for the live model; roll back if one trips")
    watch.add_argument("--target", required=True, metavar="T", help="prefect-variable[:NAME], config:PATH or configmap:PATH")
    watch.add_argument("--fallback", required=True, metavar="MODEL", help="the model to roll back to")
    watch.add_argument("--live", metavar="MODEL", help="the live model (default: what the target points at)")
    watch.add_argument("--traffic", metavar="FILE", help="recorded traffic of the live model (latency, errors)")
    watch.add_argument("--since", metavar="TIME", help="count calls from this ISO time or epoch (default: the live "
                       "model's promotion in --audit, else the whole traffic file)")
    watch.add_argument("--window-min", type=float, metavar="MIN",
                       help="count only the last MIN minutes instead (valid for one look per window)")
    watch.add_argument("--suite", metavar="SUITE", help="a rolling eval suite to run on the live model")
    watch.add_argument("--reference-accuracy", type=float, metavar="X",
                       help="the suite's accuracy at promotion (or give --reference-report)")
    watch.add_argument("--reference-report", metavar="JSON", help="report.json of the regression that promoted it")
    watch.add_argument("--max-accuracy-drop", type=float, default=0.05, metavar="X")
    watch.add_argument("--latency-sla-ms", type=float, metavar="MS")
    watch.add_argument("--max-error-rate", type=float, metavar="X")
    watch.add_argument("--min-requests", type=int, default=20, metavar="N", help="calls needed before acting (default 20)")
    watch.add_argument("--alpha", type=float, default=0.05, metavar="A",
                       help="each trigger's chance of a false rollback over every look together (default 0.05)")
    watch.add_argument("--expected-share", type=float, metavar="X",
                       help="the share of calls the router sends to the live model; warns on a sample-ratio mismatch")
    watch.add_argument("--audit", default="modelswap-audit.jsonl", metavar="FILE", help="audit log (appended)")
    watch.add_argument("--dry-run", action="store_true", help="report what would happen; change nothing")
    watch.add_argument("--json", action="store_true")

    promote = commands.add_parser("promote", help="point the one parameter at a model, with an audit record")
    promote.add_argument("model", help="the model to point at")
    promote.add_argument("--target", required=True, metavar="T", help="prefect-variable[:NAME], config:PATH or configmap:PATH")
    promote.add_argument("--evidence", metavar="PATH|URL", help="the regression report that justifies it")
    promote.add_argument("--audit", default="modelswap-audit.jsonl", metavar="FILE")
    promote.add_argument("--dry-run", action="store_true")
    promote.add_argument("--json", action="store_true")

    audit = commands.add_parser("audit", help="find hard-coded model ids, endpoints, prompt formats and keys")
    audit.add_argument("path", nargs="?", default=".", help="directory or file to scan (default: .)")
    audit.add_argument("--format", choices=("table", "json", "sarif"), default="table", help="output (default table)")
    audit.add_argument("--output", "-o", metavar="FILE", help="write the report here instead of stdout")
    audit.add_argument("--no-gitignore", action="store_true", help="also scan what .gitignore ignores")
    audit.add_argument("--jobs", "-j", type=int, metavar="N", help="worker processes (default: one per core for large trees)")

    cost = commands.add_parser("cost", help="API or self-hosted: monthly/annual cost, break-even volume, decision")
    cost.add_argument("file", help="cost inputs (YAML): workload, api, self_host, conditions")
    cost.add_argument("--format", choices=("table", "json"), default="table", help="output format (default table)")
    cost.add_argument("--chart", metavar="OUT.svg", help="also write the break-even chart as SVG")

    select = commands.add_parser("select", help="rank replacement models: licence policy, benchmarks, cost, context")
    select.add_argument("--config", metavar="FILE", default=argparse.SUPPRESS,
                        help="config whose models are ranked with the catalog's (default: found as for every command)")
    select.add_argument("--policy", action="append", metavar="RULES",
                        help="licence policy, e.g. 'allow=Apache-2.0,MIT deny=CC-BY-NC-4.0' (repeatable)")
    select.add_argument("--need-context", type=int, metavar="N", help="tokens of context the workload needs")
    select.add_argument("--max-params", type=float, metavar="B", help="largest model to self-host, billions of params")
    select.add_argument("--task", choices=("general", "code", "math"), default="general",
                        help="which benchmarks weigh most (default general)")
    select.add_argument("--top", type=int, default=5, metavar="K", help="candidates to show (default 5)")
    select.add_argument("--catalog", metavar="FILE", help="a catalog.json of your own (default: the shipped one)")
    select.add_argument("--json", action="store_true", help="print JSON")

    inventory = commands.add_parser("inventory", help="every model dependency across environments, by urgency")
    inventory.add_argument("--config", dest="configs", action="append", default=[], metavar="[ENV=]FILE",
                           help="one config per environment (repeatable); ENV defaults to the file's stem")
    inventory.add_argument("--audit", metavar="FILE", help="audit findings naming model ids (JSON or JSON Lines)")
    inventory.add_argument("--usage", metavar="FILE", help="monthly tokens per environment and alias (YAML)")
    inventory.add_argument("--catalog", metavar="FILE", help="a catalog.json of your own (default: the shipped one)")
    inventory.add_argument("--json", action="store_true", help="print JSON")

    kestra = commands.add_parser("kestra", help="Kestra flows whose model is one input")
    kestra_commands = kestra.add_subparsers(dest="kestra_command", metavar="ACTION", parser_class=_Parser)
    kestra_commands.required = True
    render = kestra_commands.add_parser("render", help="write the five Kestra flows (YAML) rendered from a config")
    render.add_argument("--config", default=argparse.SUPPRESS, metavar="FILE",  # SUPPRESS: keeps a global --config
                        help="the modelswap config to render from (default: the built-in one, as shipped in "
                             "modelswap.kestra_templates; ./modelswap.yaml is not read)")
    render.add_argument("--out", default="kestra_flows", metavar="DIR", help="folder to write (default kestra_flows)")
    render.add_argument("--namespace", default="company.ai", metavar="NS", help="Kestra namespace (default company.ai)")
    render.add_argument("--modelswap-spec", metavar="SPEC",
                        help="what the Python tasks pip-install (default modelswap==<this version>)")
    render.add_argument("--check", action="store_true",
                        help="write nothing; list the differences and exit 1 when DIR is not up to date")

    mage = commands.add_parser("mage", help="Mage blocks, block templates and an example pipeline")
    mage_commands = mage.add_subparsers(dest="mage_command", metavar="COMMAND", parser_class=_Parser)
    mage_commands.required = True
    mage_render = mage_commands.add_parser(
        "render", help="write the Mage blocks, custom templates and example pipeline into a Mage project"
    )
    mage_render.add_argument("--out", default=".", metavar="DIR", help="the Mage project root (default: .)")

    serve = commands.add_parser(
        "serve-local", help="serve the local models (Gemma 3 270M, SmolLM2-135M-Instruct) with llama.cpp on 127.0.0.1"
    )
    from ._presets import LOCAL_PORT, SMOLLM2_PORT

    serve.add_argument("--model", choices=["gemma", "smollm2", "both"], default="both",
                       help="which model to serve (default both: what the built-in config's aliases point at)")
    serve.add_argument("--port", type=int, default=LOCAL_PORT, help=f"Gemma's port (default {LOCAL_PORT})")
    serve.add_argument("--smollm2-port", type=int, default=SMOLLM2_PORT,
                       help=f"SmolLM2's port (default {SMOLLM2_PORT})")
    serve.add_argument("--ctx-size", type=int, default=4096, help="context tokens per parallel slot (default 4096)")
    serve.add_argument("--parallel", type=int, default=4, help="parallel request slots (default 4)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exit_:
        if isinstance(exit_.code, str):
            print(exit_.code, file=sys.stderr)
            return EXIT_USAGE
        return int(exit_.code or 0)
    try:
        return _COMMANDS[args.command](args)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ProviderError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_PROVIDER
    except ModelSwapError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_PROVIDER
    except KeyboardInterrupt:
        return 130


def _validate(args: argparse.Namespace) -> int:
    from ._config import load_config

    config = load_config(args.config)
    default = config.default or "(none)"
    print(f"{config.source}: valid. {len(config.providers)} providers, {len(config.models)} models, default {default}.")
    return EXIT_OK


def _schema(args: argparse.Namespace) -> int:
    from ._config import config_schema

    print(json.dumps(config_schema(), indent=2))
    return EXIT_OK


def _models(args: argparse.Namespace) -> int:
    from ._config import load_config

    config = load_config(args.config)
    if args.check:
        return _check_model(config, args.check, args.json)
    rows = []
    for alias, spec in sorted(config.models.items()):
        price = spec.price
        rows.append({
            "alias": alias,
            "default": alias == config.default,
            "provider": spec.provider.name,
            "kind": spec.provider.kind,
            "model_id": spec.model_id,
            "weights": spec.weights,
            "license": spec.license,
            "context_window": spec.context_window,
            "price_input_per_mtok": price.input_per_mtok if price else None,
            "price_output_per_mtok": price.output_per_mtok if price else None,
            "price_checked": price.checked if price else None,
        })
    if args.json:
        print(json.dumps({"source": config.source, "default": config.default, "models": rows}, indent=2))
        return EXIT_OK
    table = [["ALIAS", "PROVIDER", "MODEL ID", "WEIGHTS", "LICENSE", "PRICE IN/OUT PER 1M", "CHECKED"]]
    for row in rows:
        price = (
            f"{row['price_input_per_mtok']:g}/{row['price_output_per_mtok']:g}"
            if row["price_input_per_mtok"] is not None else "-"
        )
        table.append([
            row["alias"] + (" *" if row["default"] else ""), row["provider"], row["model_id"], row["weights"] or "-",
            row["license"] or "-", price, row["price_checked"] or "-",
        ])
    widths = [max(len(str(r[i])) for r in table) for i in range(len(table[0]))]
    for r in table:
        print("  ".join(str(cell).ljust(w) for cell, w in zip(r, widths)).rstrip())
    print(f"\n* default ({config.source})")
    return EXIT_OK


def _check_model(config: Any, model: str, as_json: bool) -> int:
    from ._client import GENERIC_PARAMS
    from ._provider import load_adapter

    spec = config.resolve(None if model == "-" else model)
    adapter = load_adapter(spec.provider.kind)
    params = {
        name: "yes" if name in adapter.supported_params else ("dropped" if spec.dropped(name) else "no (error)")
        for name in sorted(GENERIC_PARAMS)
    }
    report = {
        "alias": spec.alias,
        "provider": spec.provider.name,
        "kind": spec.provider.kind,
        "profile": spec.provider.profile,
        "base_url": spec.provider.base_url,
        "model_id": spec.model_id,
        "streaming": "yes (" + adapter.stream_format + ")",
        "json_schema": "native" if adapter.native_schema else "prompt instructions, validated",
        "params": params,
        "prompt_format": spec.prompt_format if spec.provider.kind == "completion" else None,
        "context_window": spec.context_window,
        "api_key_env": spec.provider.api_key_env,
    }
    if as_json:
        print(json.dumps(report, indent=2))
        return EXIT_OK
    for key, value in report.items():
        if key == "params":
            for name, answer in value.items():
                print(f"{'param ' + name:<18} {answer}")
        else:
            print(f"{key:<18} {value if value is not None else '-'}")
    return EXIT_OK


def _call(args: argparse.Namespace) -> int:
    from ._client import Client

    params = dict(_param(p) for p in args.param)
    prompt = sys.stdin.read() if args.prompt == "-" else args.prompt
    model = None if args.model == "-" else args.model
    with Client(args.config) as client:
        try:
            if args.stream:
                completion = None
                for piece in client.stream(prompt, model=model, system=args.system, **params):
                    if isinstance(piece, str):
                        if not args.json:
                            sys.stdout.write(piece)
                            sys.stdout.flush()
                    else:
                        completion = piece
            else:
                completion = client.complete(prompt, model=model, system=args.system, **params)
        except TypeError as exc:
            raise ConfigError(f"--param: {exc}. Generic params: temperature, top_p, max_tokens, stop, seed.") from None
    if args.json:
        print(json.dumps(completion.to_dict(), indent=2, ensure_ascii=False))
    elif args.stream:
        print()
    else:
        print(completion.text)
    return EXIT_OK


def _param(text: str) -> tuple[str, Any]:
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--param {text!r}: write it as KEY=VALUE, for example --param temperature=0.2.", field="--param")
    try:
        value = json.loads(raw)
    except ValueError:
        value = raw
    return key.strip(), value


def _batch(args: argparse.Namespace) -> int:
    from ._client import Client
    from .batch import BatchSummary, run_batch

    if args.concurrency < 1:
        raise ConfigError("--concurrency must be at least 1.", field="--concurrency")
    template = args.template
    if template and template.startswith("@"):
        try:
            template = open(template[1:], encoding="utf-8").read()
        except OSError as exc:
            raise ConfigError(f"--template {args.template}: {exc.strerror}.", file=template[1:]) from None
    show = not args.quiet and sys.stderr.isatty()

    def progress(summary: BatchSummary) -> None:
        if show:
            sys.stderr.write(
                f"\r{summary.skipped + summary.done:>9,} done  {summary.failed:,} failed  "
                f"{summary.records_per_s:,.1f}/s  {summary.output_tokens:,} tokens out "
            )
            sys.stderr.flush()

    Client(args.config).resolve(args.model)  # a wrong alias fails here, before the input is read
    summary = run_batch(
        args.input, args.output, model=args.model, template=template, concurrency=args.concurrency,
        params=dict(_param(p) for p in args.param), config=args.config, progress=progress,
        retry_errors=args.retry_errors,
    )
    if show:
        sys.stderr.write("\n")
    if args.json:
        print(json.dumps(summary.to_dict(), indent=2))
    else:
        print(
            f"{args.output}: {summary.succeeded:,} answered, {summary.failed:,} failed"
            + (f" ({summary.retried:,} asked again)" if args.retry_errors else "")
            + f", {summary.skipped:,} already "
            f"done; {summary.input_tokens:,} tokens in, {summary.output_tokens:,} out, cost {summary.cost:.4f}; "
            f"{summary.wall_s:.1f}s ({summary.records_per_s:,.1f} records/s)."
        )
        for name, count in sorted(summary.errors.items()):
            print(f"  {name}: {count:,}")
    return EXIT_PROVIDER if summary.failed else EXIT_OK


_THRESHOLDS = ("max_accuracy_drop", "latency_sla_ms", "max_error_rate", "max_error_increase", "max_cost_increase",
               "alpha", "min_cases")


def _checked_thresholds(args: argparse.Namespace, suite: Any) -> dict[str, Any]:
    """The flags' thresholds, checked with the suite's before any request (a typo such as
    ``--max-accuracy-drop 2`` must not cost a whole run)."""
    from .regress import normalize_thresholds

    flags = {name: getattr(args, name, None) for name in _THRESHOLDS}
    flags = {name: value for name, value in flags.items() if value is not None}
    for name, value in flags.items():
        try:
            normalize_thresholds({name: value})
        except ValueError as exc:
            flag = "--" + name.replace("_", "-")
            raise ConfigError(f"{flag} {value:g}: {exc}.", field=flag) from None
    try:
        normalize_thresholds({**(getattr(suite, "thresholds", None) or {}), **flags})
    except ValueError as exc:
        raise ConfigError(f"{suite.source}: thresholds: {exc}.", file=str(suite.source), field="thresholds") from None
    return flags


def _checked_rate(flag: str, value: float | None, upper: float = 1.0) -> None:
    """A fraction flag, checked before any work (``--max-error-rate 5`` is a typo for 0.05)."""
    if value is not None and not (0.0 < value < upper if upper < 1.0 else 0.0 <= value <= 1.0):
        allowed = f"strictly between 0 and {upper:g}" if upper < 1.0 else "between 0 and 1"
        raise ConfigError(f"{flag} {value:g}: a fraction {allowed} (write 5% as 0.05).", field=flag)


def _regress(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ._client import Client
    from .evals import load_suite

    suite = load_suite(args.suite, strict=args.strict)
    thresholds = _checked_thresholds(args, suite)  # flags win over the suite's own thresholds
    if suite.notes:
        # Said before any request, so nobody reads a verdict without knowing what it left out.
        print(f"{suite.source}: {len(suite.notes)} thing{'s' if len(suite.notes) != 1 else ''} not carried over "
              "(--strict makes this an error):", file=sys.stderr)
        for note in suite.notes:
            print(f"  - {note}", file=sys.stderr)
    client = Client(args.config)
    baseline, candidates = _models_to_compare(args, suite, client.config)
    if len(candidates) > 1 or (not args.baseline or not args.candidate):
        print(f"comparing {baseline} with {', '.join(candidates)} (from the config's providers)", file=sys.stderr)
    # Flags win over the suite's own license policy, too.
    policy = dict(getattr(suite, "license_policy", None) or {})
    if args.license_allow:
        policy["allow"] = [x.strip() for x in args.license_allow.split(",") if x.strip()]
    if args.license_deny:
        policy["deny"] = [x.strip() for x in args.license_deny.split(",") if x.strip()]
    reports = []
    for candidate in candidates:
        out = Path(args.out) if args.out else None
        if out is not None and len(candidates) > 1:
            out = out / candidate.replace("/", "_")
        reports.append(_regress_one(args, suite, client, baseline, candidate, out, thresholds, policy))
    if args.json:
        print(json.dumps(reports[0] if len(reports) == 1 else reports, indent=2, default=str))
    else:
        for report in reports:
            _print_verdict(report, False)
    return EXIT_OK if all(r["verdict"] == "promote" for r in reports) else EXIT_PROVIDER


def _models_to_compare(args: argparse.Namespace, suite: Any, config: Any) -> tuple[str, list[str]]:
    """The baseline and the candidates: the flags, else a promptfoo config's providers mapped to aliases."""
    if args.baseline and args.candidate:
        return args.baseline, [args.candidate]
    providers = getattr(suite, "providers", None) or []
    if not providers:
        missing = " and ".join(f"--{r}" for r in ("baseline", "candidate") if not getattr(args, r))
        raise ConfigError(f"regress needs {missing}: the suite names no providers to compare.", field=missing)
    mapped = [_alias_for_provider(p, config) for p in providers]
    baseline = args.baseline or mapped[0]
    candidates = [args.candidate] if args.candidate else [m for m in dict.fromkeys(mapped) if m != baseline]
    if not candidates:
        raise ConfigError(
            f"the config's providers give no candidate besides the baseline {baseline!r}: pass --candidate MODEL.",
            field="candidate",
        )
    return baseline, candidates


def _alias_for_provider(provider: dict[str, Any], config: Any) -> str:
    """The configured alias a promptfoo provider stands for: one named like its label, else the one alias
    whose model id is the provider's."""
    label = provider.get("label")
    if isinstance(label, str) and label in config.models:
        return label
    matches = sorted(a for a, m in config.models.items() if m.model_id == provider["model_id"])
    if len(matches) == 1:
        return matches[0]
    known = ", ".join(f"{a} ({m.model_id})" for a, m in sorted(config.models.items())) or "none"
    where = f"{provider.get('where')}: " if provider.get("where") else ""
    if matches:
        raise ConfigError(
            f"{where}provider {provider['id']} (model id {provider['model_id']}) matches several aliases: "
            f"{', '.join(matches)}. Give the provider a `label:` naming one, or pass --baseline and --candidate.",
            field="providers",
        )
    raise ConfigError(
        f"{where}provider {provider['id']} (model id {provider['model_id']}) matches no configured alias. "
        f"Configured: {known}. Add an alias with model_id: {provider['model_id']}, give the provider a `label:` "
        "naming an alias, or pass --baseline and --candidate.",
        field="providers",
    )


def _regress_one(args: argparse.Namespace, suite: Any, client: Any, baseline: str, candidate: str,
                 out: Any, thresholds: dict[str, Any], policy: dict[str, list[str]]) -> dict[str, Any]:
    """One baseline/candidate comparison: pre-flight, then the run and its reports (a hold when pre-flight fails)."""
    from .regress import compare, preflight

    client.resolve(baseline)
    checks = preflight(client, candidate, suite, license_policy=policy or None)
    failed = [c for c in checks if not c["passed"]]
    if failed and not args.skip_preflight:
        report = {
            "verdict": "hold",
            "reasons": [f"pre-flight {c['name']}: {c['detail']}" for c in failed],
            "preflight": checks,
            "baseline": baseline,
            "candidate": candidate,
        }
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            (out / "report.json").write_text(json.dumps(report, indent=2))
        return report
    show = not args.json and sys.stderr.isatty()

    def progress(done: int, total: int) -> None:
        if show:
            sys.stderr.write(f"\r{done:,}/{total:,} runs")
            sys.stderr.flush()

    report = compare(
        suite, baseline, candidate, thresholds=thresholds, repeat=args.repeat, out_dir=out, seed=args.seed,
        preflight=checks, concurrency=args.concurrency, client=client, judge=args.judge, progress=progress,
    )
    if show:
        sys.stderr.write("\n")
    return report


def _print_verdict(report: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(report, indent=2, default=str))
        return
    print(f"verdict: {report['verdict'].upper()}  ({report.get('baseline', '')} -> {report.get('candidate', '')})")
    for reason in report.get("reasons") or []:
        print(f"  - {reason}")
    from .regress import accuracy_evidence, cases_needed

    ni = (report.get("comparison") or {}).get("noninferiority")
    if ni:
        print(f"  accuracy: {accuracy_evidence(ni)}")
    needed = cases_needed(report)
    if needed:
        print(f"  to decide: about {needed:,} paired cases (80% power at what was observed)")
    models = report.get("models") or {}
    for role in ("baseline", "candidate"):
        m = models.get(role)
        if m:
            print(
                f"  {role:<9} {m.get('alias', ''):<20} "
                + (f"({m['provider']}/{m['model_id']})  " if m.get("model_id") else "")
                + f"accuracy {m.get('accuracy', 0):.1%}  p95 "
                f"{m.get('latency_p95_ms') or 0:,.0f} ms  errors {m.get('error_rate', 0):.1%}  cost {m.get('cost') or 0:.4f}"
            )
    for name, path in (report.get("files") or {}).items():
        print(f"  {name}: {path}")


def _plan(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .regress import plan_cases, plan_from_report

    options: dict[str, Any] = {"power": args.power}
    if args.max_accuracy_drop is not None:
        options["margin"] = args.max_accuracy_drop
    if args.alpha is not None:
        options["alpha"] = args.alpha
    if args.error_rate is not None or args.max_error_rate is not None:
        if args.error_rate is None or args.max_error_rate is None:
            raise ConfigError("plan: give both --error-rate and --max-error-rate, or neither.", field="--error-rate")
        options.update(error_rate=args.error_rate, max_error_rate=args.max_error_rate)
    try:
        if args.from_report:
            path = Path(args.from_report)
            try:
                report = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise ConfigError(f"{path}: cannot read the pilot report ({exc}); give a report.json written by "
                                  "`modelswap regress --out DIR`.", file=str(path)) from None
            result = plan_from_report(report, **options)
        elif args.baseline_accuracy is not None:
            result = plan_cases(
                baseline_accuracy=args.baseline_accuracy,
                candidate_accuracy=args.candidate_accuracy if args.candidate_accuracy is not None
                else args.baseline_accuracy,
                disagreement=args.disagreement, **options,
            )
        else:
            raise ConfigError("plan needs --baseline-accuracy X (and --candidate-accuracy Y), or --from report.json "
                              "of a pilot run.", field="--baseline-accuracy")
    except ValueError as exc:
        raise ConfigError(f"plan: {exc}.") from None
    if args.json:
        print(json.dumps(result, indent=2))
        return EXIT_OK
    margin = f"{result['margin'] * 100:g}-point margin"
    print(f"plan ({result['source']}): baseline {result['baseline_accuracy']:.1%}, candidate "
          f"{result['candidate_accuracy']:.1%} ({result['difference'] * 100:+.1f} points), disagreement "
          f"{result['disagreement']:.1%}; {margin}, one-sided {1 - result['alpha']:.0%}, power {result['power']:.0%}")
    if result["cases"] is None:
        print(f"  the candidate sits exactly at the margin: no number of cases is likely to decide; the suite "
              f"needs at least {result['least_cases'] or 10:,} cases for any verdict")
    else:
        print(f"  about {result['cases']:,} paired cases to {result['verdict_sought'].upper()} "
              f"(at least {result['least_cases'] or 10:,} for any verdict at this margin)")
    if "error_calls" in result:
        calls = result["error_calls"]
        print(f"  error rate {result['error_rate']:.1%} against {result['max_error_rate']:.1%}: "
              + (f"about {calls:,} calls to decide" if calls else "no number of calls decides at the limit"))
    return EXIT_OK


def _shadow(args: argparse.Namespace) -> int:
    from .shadow import iter_traffic, run_replay, verdict_line

    _checked_rate("--min-agreement", args.min_agreement)
    _checked_rate("--alpha", args.alpha, upper=0.5)
    report = run_replay(
        iter_traffic(args.traffic), args.candidate, config=args.config, concurrency=args.concurrency,
        assertion=args.assertion, threshold=args.threshold, limit=args.limit, min_agreement=args.min_agreement,
        alpha=args.alpha, state=args.state,
    )
    if args.out:
        from pathlib import Path

        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(report, indent=2, default=str))
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        print(verdict_line(report))
        for side in ("recorded", "shadow"):
            m = report[side]
            p95 = f"{m['latency_p95_ms']:,.0f} ms" if m["latency_p95_ms"] is not None else "-"
            print(f"  {side:<9} p95 {p95}  errors {m['error_rate']:.1%}  cost {m['cost'] if m['cost'] is not None else '-'}")
        split = report["sample_ratio"]
        print(f"  answered  recorded {split['recorded_answered']}, candidate {split['candidate_answered']}"
              + (" (sample ratio mismatch: one side lost calls)" if split["mismatch"] else ""))
    return EXIT_OK if report["passed"] else EXIT_PROVIDER


def _watch(args: argparse.Namespace) -> int:
    from .rollout import evaluate_triggers, parse_target, promoted_at, switch, traffic_split

    _checked_rate("--alpha", args.alpha, upper=0.5)
    for flag in ("--max-error-rate", "--max-accuracy-drop", "--expected-share"):
        _checked_rate(flag, getattr(args, flag[2:].replace("-", "_")))
    target = parse_target(args.target)
    live = args.live or target.current()
    if not live:
        raise ConfigError(f"{target.describe()} points at no model yet; give --live MODEL.", field="--live")
    since = _since(args.since) if args.since else None
    if since is None and args.window_min is None:
        since = promoted_at(args.audit, live)  # the monitors count from the promotion on
    traffic: list[dict[str, Any]] = []
    if args.traffic:
        from .shadow import iter_traffic

        traffic = list(iter_traffic(args.traffic))
    passed = cases = reference = None
    if args.suite:
        reference = args.reference_accuracy
        if reference is None and args.reference_report:
            report = json.loads(open(args.reference_report, encoding="utf-8").read())
            reference = (report.get("models") or {}).get("candidate", {}).get("accuracy")
        if reference is None:
            raise ConfigError("--suite needs --reference-accuracy or --reference-report to compare with.", field="--suite")
        from .evals import load_suite
        from .regress import run_regression

        suite = load_suite(args.suite)
        # The live model answers the rolling eval; it is its own baseline here, so each case runs once.
        results = [r for r in run_regression(suite, live, live, config=args.config) if r["role"] == "candidate"]
        passed, cases = sum(bool(r["passed"]) for r in results), len(results)
    triggers = evaluate_triggers(
        live=live, traffic=traffic, since=since, window_s=args.window_min * 60 if args.window_min else None,
        latency_sla_ms=args.latency_sla_ms, max_error_rate=args.max_error_rate, eval_passed=passed, eval_cases=cases,
        reference_accuracy=reference, max_accuracy_drop=args.max_accuracy_drop if args.suite else None,
        min_requests=args.min_requests, alpha=args.alpha,
    )
    split = traffic_split(traffic, live, since=since, expected_share=args.expected_share) if traffic else None
    tripped = [t for t in triggers if t["tripped"]]
    record = None
    if tripped:
        record = switch(
            target, args.fallback, action="rollback", trigger=", ".join(t["name"] for t in tripped),
            evidence=args.traffic or args.suite, audit=args.audit, dry_run=args.dry_run, previous=live,
        )
    result = {"live": live, "fallback": args.fallback, "since": since, "triggers": triggers, "sample_ratio": split,
              "rolled_back": bool(tripped), "audit": record}
    if args.json:
        print(json.dumps(result, indent=2, default=str))
    else:
        if since is not None:
            print(f"counting {live}'s calls since {_dt_text(since)}")
        for t in triggers:
            print(f"{'TRIPPED' if t['tripped'] else 'ok':<8} {t['name']:<14} {t['detail']}")
        if not triggers:
            print("no triggers configured: give --traffic with --latency-sla-ms/--max-error-rate, or --suite")
        if split and split.get("mismatch"):
            print(f"warning: sample ratio mismatch: {live} has {split['share']:.1%} of the calls, expected "
                  f"{split['expected_share']:.1%} (p = {split['p_value']:.2g}); calls are lost or mis-routed")
        if record:
            verb = "would roll back" if args.dry_run else "rolled back"
            print(f"{verb} {live} -> {args.fallback} on {target.describe()} (audit: {args.audit})")
    return EXIT_PROVIDER if tripped else EXIT_OK


def _since(text: str) -> float:
    import datetime as dt

    try:
        return float(text)
    except ValueError:
        pass
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"--since {text!r}: give an ISO time (2026-12-05T09:00:00+00:00) or epoch seconds.",
                          field="--since") from None
    return (when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)).timestamp()


def _dt_text(epoch: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).isoformat(timespec="seconds")


def _promote(args: argparse.Namespace) -> int:
    from ._client import Client
    from .rollout import parse_target, switch

    Client(args.config).resolve(args.model)  # promote only what the config can call
    target = parse_target(args.target)
    record = switch(target, args.model, action="promote", trigger="manual", evidence=args.evidence,
                    audit=args.audit, dry_run=args.dry_run)
    if args.json:
        print(json.dumps(record, indent=2))
    else:
        verb = "would point" if args.dry_run else "pointed"
        print(f"{verb} {target.describe()} from {record['from']} to {record['to']} (audit: {args.audit})")
    return EXIT_OK


def _audit(args: argparse.Namespace) -> int:
    from .audit import run_audit

    # Exit code 1 means hard-coded findings exist, as a linter's does, so CI can gate on it.
    options = {"respect_gitignore": not args.no_gitignore, "jobs": args.jobs}
    if args.output:
        with open(args.output, "w", encoding="utf-8") as out:
            return run_audit(args.path, args.format, out, **options)
    return run_audit(args.path, args.format, **options)


def _cost(args: argparse.Namespace) -> int:
    from .migrate import run_cost

    return run_cost(args.file, fmt=args.format, chart=args.chart)


def _select(args: argparse.Namespace) -> int:
    from .migrate import run_select

    return run_select(config=args.config, policy=args.policy, need_context=args.need_context,
                      max_params=args.max_params, task=args.task, top=args.top, as_json=args.json,
                      catalog=args.catalog)


def _inventory(args: argparse.Namespace) -> int:
    from .migrate import run_inventory

    configs = args.configs or ([args.config] if args.config else [])
    return run_inventory(configs, audit=args.audit, usage=args.usage, as_json=args.json, catalog=args.catalog)


def _kestra(args: argparse.Namespace) -> int:
    from .kestra import check_drift, write_flows

    options = {"config": args.config, "namespace": args.namespace, "modelswap_spec": args.modelswap_spec}
    try:
        if args.check:
            problems = check_drift(args.out, **options)
            for problem in problems:
                print(problem)
            return EXIT_PROVIDER if problems else EXIT_OK
        paths = write_flows(args.out, **options)
    except ValueError as exc:
        raise ConfigError(str(exc), field="--namespace" if "namespace" in str(exc) else "--modelswap-spec") from None
    for path in paths:
        print(path)
    return EXIT_OK


def _mage(args: argparse.Namespace) -> int:
    from .mage import write_blocks

    for path in write_blocks(args.out):
        print(path)
    return EXIT_OK


def _serve_local(args: argparse.Namespace) -> int:
    from .local import serve_local

    models = ["gemma", "smollm2"] if args.model == "both" else [args.model]
    return serve_local(models=models, ports={"gemma": args.port, "smollm2": args.smollm2_port},
                       ctx_size=args.ctx_size, parallel=args.parallel)


_COMMANDS = {
    "validate": _validate,
    "schema": _schema,
    "models": _models,
    "call": _call,
    "batch": _batch,
    "regress": _regress,
    "plan": _plan,
    "shadow": _shadow,
    "watch": _watch,
    "promote": _promote,
    "audit": _audit,
    "cost": _cost,
    "select": _select,
    "inventory": _inventory,
    "kestra": _kestra,
    "mage": _mage,
    "serve-local": _serve_local,
}


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
