"""The ``modelswap`` command line.

Exit codes: 0 success, 1 the provider failed, 2 usage or configuration error. Expected errors print one clear
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
    batch.add_argument("--json", action="store_true", help="print the summary as JSON")
    batch.add_argument("--quiet", "-q", action="store_true", help="no progress line")

    serve = commands.add_parser("serve-local", help="serve the local Gemma model with llama.cpp on 127.0.0.1")
    from ._presets import LOCAL_PORT

    serve.add_argument("--port", type=int, default=LOCAL_PORT, help=f"port (default {LOCAL_PORT})")
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
    )
    if show:
        sys.stderr.write("\n")
    if args.json:
        print(json.dumps(summary.to_dict(), indent=2))
    else:
        print(
            f"{args.output}: {summary.succeeded:,} answered, {summary.failed:,} failed, {summary.skipped:,} already "
            f"done; {summary.input_tokens:,} tokens in, {summary.output_tokens:,} out, cost {summary.cost:.4f}; "
            f"{summary.wall_s:.1f}s ({summary.records_per_s:,.1f} records/s)."
        )
        for name, count in sorted(summary.errors.items()):
            print(f"  {name}: {count:,}")
    return EXIT_PROVIDER if summary.failed else EXIT_OK


def _serve_local(args: argparse.Namespace) -> int:
    from .local import serve_local

    return serve_local(args.port, ctx_size=args.ctx_size, parallel=args.parallel)


_COMMANDS = {
    "validate": _validate,
    "schema": _schema,
    "models": _models,
    "call": _call,
    "batch": _batch,
    "serve-local": _serve_local,
}


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
