"""How fast `modelswap audit` reads source, against ripgrep with the same patterns, on one corpus in one run.

Target: at least 50 MB/s of source on the 2-core test machine.

The corpus (default 200 MB) is real source: the files of the types the audit reads (.py, .json, .yaml, .toml,
.ipynb) from this repository and from the running interpreter's site-packages, copied as many times as needed,
with model dependencies injected into every 97th Python file (a hard-coded model id and endpoint, an
environment-default model id) so that recall is checked on the way. It is built once under
``~/.cache/modelswap-bench/`` (``--corpus DIR`` picks another place) and reused while its manifest matches.

Measured, after one warm-up pass (median of ``--rounds``):

* the floor: walking the tree and reading every file in Python, no matching (where the page cache is small, as on
  the test VMs, this is disk speed and bounds everyone);
* ``modelswap.audit.scan(corpus)`` in-process (``jobs=1``) and with one worker per core;
* ripgrep, 1 thread and all cores: ``rg --pcre2 -f patterns`` with the audit's own regular expressions (PCRE2 has
  the lookarounds); ``rg -f patterns`` with its default engine on the same expressions (positive lookarounds kept
  as text, negative ones dropped, ASCII classes); and ``rg -F -i`` with the audit's needles only, i.e. ripgrep as
  the prefilter alone. ripgrep only finds lines; the audit also decides hard-coded or configurable per finding.

    python bench/bench_audit.py                 # 200 MB, 3 rounds (a few minutes, most of it building the corpus once)
    python bench/bench_audit.py --quick         # 4 MB, 1 round: checks the wiring, the numbers mean nothing

Prints a markdown table; writes the numbers, the machine and the git state to bench/results/audit-*.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from _env import environment  # noqa: E402

from modelswap import audit  # noqa: E402
from modelswap.audit._patterns import load_patterns  # noqa: E402
from modelswap.audit._walk import MAX_FILE_BYTES, SKIP_DIRS, file_type  # noqa: E402

CORPUS_VERSION = 2
INJECT_EVERY = 97
INJECTED = (
    '\nMODELSWAP_BENCH_MODEL = "gpt-4o-mini"\n'
    'MODELSWAP_BENCH_URL = "https://api.groq.com/openai/v1"\n'
    'MODELSWAP_BENCH_DEFAULT = os.environ.get("MODEL_ID", "claude-haiku-4-5")\n'
)
INJECTED_PER_FILE = 3
RG_INSTALL = "ripgrep is not installed: apt-get install ripgrep (Debian, Ubuntu), brew install ripgrep, or cargo install ripgrep"
RG_GLOBS = ["*.py", "*.pyw", "*.ipynb", "*.json", "*.yaml", "*.yml", "*.toml", ".env", ".env.*", "*.env",
            "Dockerfile", "Dockerfile.*", "*.dockerfile", "Containerfile"]


def sources() -> list[Path]:
    """Where the corpus comes from: this repository, then the interpreter's site-packages."""
    paths = [ROOT]
    for key in ("purelib", "platlib"):
        path = Path(sysconfig.get_paths()[key])
        if path.is_dir() and path not in paths:
            paths.append(path)
    return paths


def source_files() -> list[tuple[Path, str]]:
    """(path, name in the corpus) of every file of a type the audit reads, at most 1 MB, text only."""
    out: list[tuple[Path, str]] = []
    for index, base in enumerate(sources()):
        for directory, dirs, files in os.walk(base):
            dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and d not in ("bench", "results", "build", "dist")
                             and not (Path(directory) / d / "pyvenv.cfg").exists())
            for name in sorted(files):
                if file_type(name) is None:
                    continue
                path = Path(directory) / name
                try:
                    size = path.stat().st_size
                except OSError:
                    continue
                if 0 < size <= 1024 * 1024:
                    out.append((path, f"src{index}/{path.relative_to(base).as_posix()}"))
    return out


def build_corpus(target: Path, size_mb: float) -> dict:
    """Copy source files into ``target`` until it holds ``size_mb`` MB; inject findings; return the manifest."""
    files = source_files()
    want = int(size_mb * 1024 * 1024)
    manifest_path = target / "manifest.json"
    key = {"version": CORPUS_VERSION, "size_mb": size_mb, "sources": [str(s) for s in sources()],
           "files": len(files), "checksum": hashlib.sha1("\n".join(n for _, n in files).encode()).hexdigest()}
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text())
        if manifest.get("key") == key:
            return manifest
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    total = count = 0
    injected: list[list] = []  # [file, first injected line]
    copy = 0
    while total < want:
        for path, name in files:
            try:
                data = path.read_bytes()
            except OSError:
                continue
            if b"\x00" in data[:8192]:
                continue
            count += 1
            rel = f"copy{copy:03d}/{name}"
            if name.endswith(".py") and count % INJECT_EVERY == 0:
                if not data.endswith(b"\n"):
                    data += b"\n"
                injected.append([rel, data.count(b"\n") + 2])  # INJECTED starts with an empty line
                data += INJECTED.encode()
            dest = target / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(data)
            total += len(data)
            if total >= want:
                break
        copy += 1
    manifest = {"key": key, "bytes": total, "files": count, "copies": copy, "injected": injected,
                "injected_findings": len(injected) * INJECTED_PER_FILE}
    manifest_path.write_text(json.dumps(manifest, indent=2))
    return manifest


def rg_patterns(pcre2: bool) -> list[str]:
    """The audit's detectors as ripgrep patterns: as written for PCRE2; for the Rust engine (no lookarounds) with
    positive lookarounds kept as plain text, negative ones dropped, and ASCII classes where the pattern is ASCII."""
    out = []
    for detector in load_patterns().detectors:
        pattern = detector.regex.pattern
        if not pcre2:
            pattern = rust_regex(pattern)
        # ripgrep joins the lines with '|' as they are: scoped flags, so none leaks into the next pattern.
        out.append(f"(?i:{pattern})" if detector.regex.flags & re.IGNORECASE else f"(?:{pattern})")
    return out


def rust_regex(pattern: str) -> str:
    out, i = [], 0
    while i < len(pattern):
        for opener in ("(?<!", "(?<=", "(?!", "(?="):
            if pattern.startswith(opener, i):
                break
        else:
            out.append(pattern[i])
            i += 1
            continue
        depth, j = 0, i
        while j < len(pattern):
            if pattern[j] == "\\":
                j += 2
                continue
            if pattern[j] == "[":  # a character class whole (it may hold parentheses)
                j += 1
                if j < len(pattern) and pattern[j] == "]":
                    j += 1
                while j < len(pattern) and pattern[j] != "]":
                    j += 2 if pattern[j] == "\\" else 1
            elif pattern[j] == "(":
                depth += 1
            elif pattern[j] == ")":
                depth -= 1
                if depth == 0:
                    break
            j += 1
        if opener in ("(?<=", "(?="):  # keep what must be there, as text to match
            out.append("(?:" + rust_regex(pattern[i + len(opener):j]) + ")")
        i = j + 1
    converted = "".join(out)
    return f"(?-u:{converted})" if converted.isascii() else converted


def run_rg(rg: str, corpus: Path, patterns_file: Path, threads: int, flags: list[str]) -> tuple[float, int]:
    cmd = [rg, "--no-config", "--no-messages", "--hidden", "--count", "--max-filesize", str(MAX_FILE_BYTES),
           "-j", str(threads), "-f", str(patterns_file), *flags]
    for glob in RG_GLOBS:
        cmd += ["-g", glob]
    cmd.append(str(corpus))
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise RuntimeError(f"rg failed ({done.returncode}): {done.stderr.strip()[:500]}")
    lines = sum(int(line.rsplit(":", 1)[1]) for line in done.stdout.splitlines() if line.rsplit(":", 1)[-1].isdigit())
    return seconds, lines


def page_cache() -> str:
    try:
        info = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
        return f"{int(info['Cached'].split()[0]) // 1024} MB cached of {int(info['MemTotal'].split()[0]) // 1024} MB"
    except (OSError, KeyError, ValueError):
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=float, default=200, help="corpus size (default 200)")
    parser.add_argument("--corpus", type=Path, help="where the corpus lives (default ~/.cache/modelswap-bench/audit-corpus-SIZE)")
    parser.add_argument("--rounds", type=int, default=3, help="timed runs per contender; the median is reported (default 3)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="workers for the parallel runs (default: cores)")
    parser.add_argument("--no-rg", action="store_true", help="skip ripgrep")
    parser.add_argument("--quick", action="store_true", help="4 MB and 1 round: checks the wiring only")
    parser.add_argument("--no-save", action="store_true", help="do not write bench/results/audit-*.json")
    args = parser.parse_args(argv)
    if args.quick:
        args.size_mb, args.rounds = min(args.size_mb, 4), 1
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "modelswap-bench"
    corpus = args.corpus or cache / f"audit-corpus-{args.size_mb:g}"

    print(f"== corpus: {corpus}", file=sys.stderr)
    started = time.perf_counter()
    manifest = build_corpus(corpus, args.size_mb)
    print(f"   {manifest['files']} files, {manifest['bytes'] / 1e6:.1f} MB ({time.perf_counter() - started:.1f} s)",
          file=sys.stderr)

    rows: list[dict] = []
    warm = audit.scan(corpus, jobs=1)  # warm-up: page cache, compiled patterns, imports
    planted = {(rel, line + k) for rel, line in manifest["injected"] for k in range(INJECTED_PER_FILE)}
    injected_found = len(planted & {(f.file, f.line) for f in warm.findings})
    # The floor: walking the tree and reading every file, no matching (on machines whose page cache is small,
    # this is disk speed and bounds every contender).
    times = []
    for _ in range(args.rounds):
        started = time.perf_counter()
        nbytes = 0
        for path, _, _, _ in audit.iter_files(corpus):
            with open(path, "rb") as handle:
                nbytes += len(handle.read())
        times.append(time.perf_counter() - started)
    seconds = statistics.median(times)
    rows.append({"tool": "walk + read every file (Python, no matching)", "workers": 1, "seconds": seconds,
                 "mb": nbytes / 1e6, "mb_per_s": nbytes / 1e6 / seconds, "times": times, "result": "-"})
    contenders = [("modelswap audit scan()", 1), ("modelswap audit scan()", max(args.jobs, 1))]
    if args.jobs == 1:
        contenders = contenders[:1]
    for name, jobs in contenders:
        times = []
        for _ in range(args.rounds):
            report = audit.scan(corpus, jobs=jobs)
            times.append(report.seconds)
        seconds = statistics.median(times)
        rows.append({"tool": name, "workers": jobs, "seconds": seconds, "mb": report.bytes_scanned / 1e6,
                     "mb_per_s": report.bytes_scanned / 1e6 / seconds, "times": times,
                     "result": f"{len(report.findings)} findings ({len(report.hard_coded)} hard-coded)"})
        print(f"   {name} jobs={jobs}: {rows[-1]['mb_per_s']:.1f} MB/s", file=sys.stderr)

    rg = None if args.no_rg else shutil.which("rg")
    rg_version = ""
    if rg is None and not args.no_rg:
        print(RG_INSTALL, file=sys.stderr)
    if rg is not None:
        rg_version = subprocess.run([rg, "--version"], capture_output=True, text=True).stdout.splitlines()[0]
        needles = sorted({n.decode() for g in load_patterns().groups for n in g.detectors})
        variants = [
            (f"{rg_version} --pcre2, the audit's {len(load_patterns().detectors)} regexes", rg_patterns(True), ["--pcre2"]),
            (f"{rg_version}, the same regexes for its own engine (lookarounds approximated)", rg_patterns(False), []),
            (f"{rg_version} -F -i, the audit's needles only (its prefilter, no regexes)", needles, ["-F", "-i"]),
        ]
        with tempfile.TemporaryDirectory() as tmp:
            for number, (label, patterns, flags) in enumerate(variants):
                patterns_file = Path(tmp) / f"patterns-{number}.txt"
                patterns_file.write_text("\n".join(patterns) + "\n")
                for threads in sorted({1, max(args.jobs, 1)}):
                    times, lines = [], 0
                    try:
                        for _ in range(args.rounds):
                            seconds, lines = run_rg(rg, corpus, patterns_file, threads, flags)
                            times.append(seconds)
                            if seconds > 20:  # slow enough that one run says it
                                break
                    except RuntimeError as exc:
                        print(f"   {label}: {exc}", file=sys.stderr)
                        break
                    seconds = statistics.median(times)
                    rows.append({"tool": label, "workers": threads, "seconds": seconds, "mb": manifest["bytes"] / 1e6,
                                 "mb_per_s": manifest["bytes"] / 1e6 / seconds, "times": times,
                                 "result": f"{lines} matching lines" + ("" if len(times) == args.rounds else f" ({len(times)} run)")})
                    print(f"   {label} -j{threads}: {rows[-1]['mb_per_s']:.1f} MB/s", file=sys.stderr)

    env = environment()
    print(f"\n### `modelswap audit` throughput, {manifest['bytes'] / 1e6:.0f} MB corpus ({manifest['files']} files), "
          f"median of {args.rounds}\n")
    print(f"CPU: {env['cpu']}, {env['cpus']} cores; Python {sys.version.split()[0]}; "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n")
    print("| tool | workers | MB/s | seconds | result |")
    print("| --- | ---: | ---: | ---: | --- |")
    for row in rows:
        print(f"| {row['tool']} | {row['workers']} | {row['mb_per_s']:.1f} | {row['seconds']:.2f} | {row['result']} |")
    if rg is None and not args.no_rg:
        print(f"\n{RG_INSTALL}")
    recall_ok = injected_found >= manifest["injected_findings"]
    print(f"\nInjected findings found: {injected_found} of {manifest['injected_findings']}"
          f"{'' if recall_ok else '  <-- MISSED SOME'}.")
    best = max((r["mb_per_s"] for r in rows if r["tool"].startswith("modelswap")), default=0)
    print(f"Page cache on this machine: {page_cache()}.")
    print(f"Target 50 MB/s: {'met' if best >= 50 else 'NOT met'} ({best:.1f} MB/s).")

    if not args.no_save:
        results = HERE / "results"
        results.mkdir(exist_ok=True)
        out = results / f"audit-{time.strftime('%Y%m%dT%H%M%S')}.json"
        out.write_text(json.dumps({"manifest": manifest, "rows": rows, "rg": rg_version, "environment": env,
                                   "injected_found": injected_found}, indent=2, default=str))
        print(f"(numbers written to {out.relative_to(ROOT)})", file=sys.stderr)
    return 0 if recall_ok else 1


if __name__ == "__main__":
    sys.exit(main())
