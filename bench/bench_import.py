"""Import time: ``python -c "import modelswap"`` vs ``import httpx`` (and ``openai``, ``litellm`` when installed).

    python bench/bench_import.py [--runs 20] [--warmup 2] [--no-importtime]

Each sample is the wall time of a fresh interpreter (``sys.executable -c "import X"``), started from a scratch
directory so the repo's own folder is not on ``sys.path``. The statements take turns (the order rotates every
run) so machine noise hits all alike; the table gives the median wall ms, the ratio to ``import httpx``, and the
median minus a bare interpreter (``-c pass``), which is what the import itself costs.

``import modelswap`` is lazy: it does not load httpx, YAML or JSON Schema. So two more rows show what a program
pays on the way to its first call: ``from modelswap import Client`` (the config and client modules) and
``import modelswap._provider`` (adds httpx and the provider machinery; YAML and JSON Schema still load only when
a config is read). With ``-X importtime`` the modules that cost most are listed.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _env import busy_builds, environment

# See bench_call.py: LiteLLM would otherwise try to fetch its price map from the network while importing.
ENV = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_TELEMETRY": "False"}
ENV.pop("PYTHONDONTWRITEBYTECODE", None)
ENV.pop("PYTHONPROFILEIMPORTTIME", None)


def statements() -> list[tuple[str, str, str]]:
    """(label, top-level package, statement) for each contender."""
    out = [
        ("python -c pass", "", "pass"),
        ("import httpx", "httpx", "import httpx"),
        ("import modelswap", "modelswap", "import modelswap"),
        ("from modelswap import Client", "modelswap", "from modelswap import Client"),
        ("import modelswap._provider", "modelswap", "import modelswap._provider"),
        ("import openai", "openai", "import openai"),
        ("import litellm", "litellm", "import litellm"),
    ]
    return out


def installed(package: str) -> bool:
    return not package or importlib.util.find_spec(package) is not None


def time_once(statement: str, cwd: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", statement], cwd=cwd, env=ENV, check=True,
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    return (time.perf_counter() - start) * 1e3


def importtime(statement: str, cwd: str) -> dict[str, Any]:
    """Every module ``-X importtime`` reports for ``statement``: self and cumulative µs, nesting depth."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", statement], cwd=cwd, env=ENV, check=True,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True)
    rows = []
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cumulative_us, name = line[len("import time:"):].split("|")
        depth = (len(name) - 1 - len(name.lstrip())) // 2  # one space after the bar, then two per level
        rows.append({"module": name.strip(), "self_us": int(self_us), "cumulative_us": int(cumulative_us),
                     "depth": depth})
    last_at_depth: dict[int, str] = {}
    for row in reversed(rows):  # -X importtime prints a module after everything it imported
        row["parent"] = last_at_depth.get(row["depth"] - 1)
        last_at_depth[row["depth"]] = row["module"]
    return {"statement": statement, "total_self_us": sum(r["self_us"] for r in rows), "modules": rows}


def print_importtime(report: dict[str, Any], top: int) -> None:
    rows = report["modules"]
    print(f"`python -X importtime -c \"{report['statement']}\"`: {len(rows)} modules, "
          f"{report['total_self_us'] / 1e3:.1f} ms of self time in all (interpreter startup included).")
    print()
    print("| module (depth ≤ 1, largest cumulative first) | imported by | cumulative ms | self ms |")
    print("| --- | --- | ---: | ---: |")
    shallow = sorted((r for r in rows if r["depth"] <= 1), key=lambda r: r["cumulative_us"], reverse=True)
    for r in shallow[:top]:
        print(f"| {r['module']} | {r['parent'] or '(top level)'} | {r['cumulative_us'] / 1e3:.2f} | "
              f"{r['self_us'] / 1e3:.2f} |")
    by_self = sorted(rows, key=lambda r: r["self_us"], reverse=True)[:8]
    print()
    print("Largest self times: " + ", ".join(f"{r['module']} {r['self_us'] / 1e3:.1f} ms" for r in by_self) + ".")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="timed runs per statement (default 20)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed runs per statement first (default 2)")
    parser.add_argument("--no-importtime", action="store_true", help="skip the -X importtime breakdown")
    parser.add_argument("--top", type=int, default=12, help="modules to list from -X importtime")
    parser.add_argument("--out", default=str(HERE / "results"), help="folder for the JSON result")
    args = parser.parse_args(argv)
    if busy_builds():
        print(f"warning: build processes are running ({', '.join(busy_builds())}); the numbers will be noisy",
              file=sys.stderr)

    all_statements = statements()
    active = [s for s in all_statements if installed(s[1])]
    samples: dict[str, list[float]] = {label: [] for label, _, _ in active}
    with tempfile.TemporaryDirectory(prefix="modelswap-bench-import-") as cwd:
        for _ in range(args.warmup):  # also writes any missing .pyc files
            for _, _, statement in active:
                time_once(statement, cwd)
        for r in range(args.runs):
            for label, _, statement in active[r % len(active):] + active[: r % len(active)]:
                samples[label].append(time_once(statement, cwd))
        breakdowns = {}
        if not args.no_importtime:
            for statement in ("import modelswap", "from modelswap import Client", "import modelswap._provider"):
                breakdowns[statement] = importtime(statement, cwd)

    bare = statistics.median(samples["python -c pass"])
    httpx_ms = statistics.median(samples["import httpx"]) if "import httpx" in samples else None
    rows = []
    for label, package, _ in all_statements:
        if label not in samples:
            rows.append({"statement": label, "installed": False})
            continue
        median = statistics.median(samples[label])
        rows.append({
            "statement": label,
            "installed": True,
            "median_ms": median,
            "min_ms": min(samples[label]),
            "max_ms": max(samples[label]),
            "ratio_to_httpx": median / httpx_ms if httpx_ms else None,
            "minus_bare_ms": median - bare,
            "samples_ms": samples[label],
        })

    print(f"**Import time, {args.runs} fresh interpreters per statement, interleaved (after {args.warmup} warm-up)**")
    print()
    print("| statement | median wall ms | ratio to `import httpx` | minus bare interpreter ms | min–max ms |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for row in rows:
        if not row["installed"]:
            print(f"| `{row['statement']}` | not installed | – | – | – |")
            continue
        ratio = f"{row['ratio_to_httpx']:.2f}x" if row["ratio_to_httpx"] else "–"
        print(f"| `{row['statement']}` | {row['median_ms']:.1f} | {ratio} | {row['minus_bare_ms']:.1f} | "
              f"{row['min_ms']:.1f}–{row['max_ms']:.1f} |")

    for report in breakdowns.values():
        print()
        print_importtime(report, args.top)

    result = {
        "benchmark": "import",
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "argv": [sys.executable, *sys.argv],
        **environment(),
        "runs": args.runs,
        "warmup": args.warmup,
        "rows": rows,
        "importtime": breakdowns,
        "loadavg_at_end": os.getloadavg(),
        "builds_running_at_end": busy_builds(),
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"import-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(result, indent=2))
    print(f"\nJSON: {path}")
    modelswap_row = next(r for r in rows if r["statement"] == "import modelswap")
    if modelswap_row.get("ratio_to_httpx"):
        verdict = "meets" if modelswap_row["ratio_to_httpx"] <= 1.5 else "MISSES"
        print(f"import modelswap: {modelswap_row['ratio_to_httpx']:.2f}x import httpx ({verdict} the 1.5x target)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
