#!/usr/bin/env bash
# Build (or refresh) the separate virtualenv the real Mage test runs in, and print where it is.
#
# mage-ai 0.9.80 pins typing_extensions==4.11.0, typer==0.9.0 and pydantic<2.10, so it cannot share an
# environment with Prefect 3. modelswap's core (httpx, pyyaml, jsonschema) installs beside it: this script
# installs mage-ai, then modelswap itself with --no-deps, then only the core dependencies still missing,
# and runs `pip check` so a broken pin fails here rather than in the test.
#
# Idempotent: a venv that already has the pinned mage-ai is reused, and only modelswap is reinstalled.
#
#   MODELSWAP_MAGE_VENV  where the venv lives (default: ${XDG_CACHE_HOME:-$HOME/.cache}/modelswap-mage/venv,
#                        outside the repo, so CI runs and fresh clones reuse it)
#   PYTHON               the interpreter to build it with (default: python3)
set -euo pipefail

MAGE_VERSION="0.9.80"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="${MODELSWAP_MAGE_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/modelswap-mage/venv}"
PY="${PYTHON:-python3}"
start=$(date +%s)

pip_() { "$VENV/bin/python" -m pip --disable-pip-version-check "$@"; }

if [ ! -x "$VENV/bin/python" ]; then
  echo "setup_mage_venv: creating $VENV" >&2
  mkdir -p "$(dirname "$VENV")"
  "$PY" -m venv "$VENV"
fi

installed="$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("mage-ai"))' 2>/dev/null || true)"
if [ "$installed" != "$MAGE_VERSION" ]; then
  echo "setup_mage_venv: installing mage-ai==$MAGE_VERSION (found: ${installed:-none}); this takes a few minutes" >&2
  pip_ install --quiet "mage-ai==$MAGE_VERSION"
fi

# modelswap without its dependencies, so nothing it names can move one of mage-ai's pins.
pip_ install --quiet --no-deps -e "$REPO"

# The core dependencies, from the metadata of the modelswap just installed (its extras left out); install only
# those missing or out of range, so none of mage-ai's pins moves.
mapfile -t missing < <("$VENV/bin/python" - <<'PY'
from importlib.metadata import PackageNotFoundError, requires, version
try:
    from packaging.requirements import Requirement
except ImportError:  # pip vendors it
    from pip._vendor.packaging.requirements import Requirement
for dep in requires("modelswap") or []:
    req = Requirement(dep)
    if req.marker is not None and "extra" in str(req.marker):
        continue
    try:
        ok = req.specifier.contains(version(req.name), prereleases=True)
    except PackageNotFoundError:
        ok = False
    if not ok:
        print(dep)
PY
)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup_mage_venv: installing missing core dependencies: ${missing[*]}" >&2
  pip_ install --quiet "${missing[@]}"
fi

pip_ check
"$VENV/bin/python" -c 'import mage_ai, modelswap, modelswap.batch' 
echo "setup_mage_venv: ready in $(( $(date +%s) - start ))s: $VENV" >&2
echo "$VENV"
