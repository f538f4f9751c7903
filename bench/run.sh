#!/usr/bin/env bash
# Run the per-call, import-time and streaming benchmarks in a venv of their own, outside the repo.
#
#   bench/run.sh            # full run (a few minutes): per call, import, streaming
#   bench/run.sh --quick    # tiny iteration counts: checks the wiring, not a measurement
#   bench/run.sh --setup    # only create/update the venv
#   bench/run.sh --profile  # where modelswap's per-call time goes (bench/profile_call.py)
#   bench/run.sh stream     # only the streaming benchmark (bench/bench_stream.py), about a minute
#   bench/run.sh stream --profile   # the same, then where modelswap's per-chunk time goes
#
# The venv (default ${XDG_CACHE_HOME:-$HOME/.cache}/modelswap-bench/venv, or $MODELSWAP_BENCH_VENV) gets this
# repo installed editable plus openai and litellm, whose dependencies may clash with the project's own venv.
# Extra arguments for the scripts: BENCH_CALL_ARGS="--rounds 10 --calls 300", BENCH_IMPORT_ARGS="--runs 20",
# BENCH_STREAM_ARGS="--rounds 30 --long 2000 --short 50" (also read by `stream`, after its own arguments).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
VENV="${MODELSWAP_BENCH_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/modelswap-bench/venv}"
PYTHON="${PYTHON:-python3}"
MODE="${1:-full}"
case "$MODE" in
    full|--full|--quick|--setup|--profile|stream|--stream) ;;
    *) echo "usage: $0 [--quick|--setup|--profile|stream [bench_stream.py options]]" >&2; exit 2 ;;
esac

if [ ! -x "$VENV/bin/python" ]; then
    echo "== creating $VENV" >&2
    mkdir -p "$(dirname "$VENV")"
    "$PYTHON" -m venv "$VENV"
fi
# Reinstall when pyproject.toml changes (the stamp records which repo and which pyproject it was made for).
STAMP="$VENV/.modelswap-bench-installed"
WANT="$ROOT $(cksum < "$ROOT/pyproject.toml")"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$WANT" ]; then
    echo "== installing modelswap (editable, from $ROOT), openai and litellm into $VENV" >&2
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet -e "$ROOT" openai litellm httpx-sse
    echo "$WANT" > "$STAMP"
fi
BENCH_PY="$VENV/bin/python"

RUN_CALL=1
RUN_IMPORT=1
case "$MODE" in
    --setup) exit 0 ;;
    --profile) exec "$BENCH_PY" "$HERE/profile_call.py" ;;
    --quick)
        CALL_ARGS="--rounds 2 --calls 10 --warmup 3"
        IMPORT_ARGS="--runs 2 --warmup 1 --top 5"
        STREAM_ARGS="--rounds 2 --chunks-per-turn 2000 --warmup 1"
        ;;
    full|--full)
        CALL_ARGS="${BENCH_CALL_ARGS:-}"
        IMPORT_ARGS="${BENCH_IMPORT_ARGS:-}"
        STREAM_ARGS="${BENCH_STREAM_ARGS:-}"
        ;;
    stream|--stream)
        RUN_CALL=0
        RUN_IMPORT=0
        shift
        STREAM_ARGS="$* ${BENCH_STREAM_ARGS:-}"
        ;;
    *) echo "usage: $0 [--quick|--setup|--profile|stream [bench_stream.py options]]" >&2; exit 2 ;;
esac

echo "# modelswap benchmarks, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
echo "- python: $("$BENCH_PY" -c 'import sys; print(sys.version.split()[0])') ($BENCH_PY)"
echo "- CPU: $(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores"
echo "- versions: $("$BENCH_PY" -c '
from importlib.metadata import version
out = []
for name in ("modelswap", "httpx", "httpx-sse", "openai", "litellm"):
    try:
        out.append(f"{name} {version(name)}")
    except Exception:
        out.append(f"{name} not installed")
print(", ".join(out))')"
if [ "$RUN_CALL" = 1 ]; then
    echo
    # shellcheck disable=SC2086
    "$BENCH_PY" "$HERE/bench_call.py" $CALL_ARGS
fi
if [ "$RUN_IMPORT" = 1 ]; then
    echo
    # shellcheck disable=SC2086
    "$BENCH_PY" "$HERE/bench_import.py" $IMPORT_ARGS
fi
echo
# shellcheck disable=SC2086
"$BENCH_PY" "$HERE/bench_stream.py" $STREAM_ARGS
