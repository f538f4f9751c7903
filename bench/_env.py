"""What the benchmark results record about the machine and the code measured."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def git_state() -> dict[str, Any]:
    """The commit measured and the files changed on top of it (product code edited mid-run shows here)."""
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return ""

    return {"commit": git("rev-parse", "HEAD"), "changed": git("status", "--porcelain").splitlines()}


def busy_builds() -> list[str]:
    """Compiler or build processes running now: their CPU use would distort the numbers on a small machine."""
    found = []
    for entry in Path("/proc").glob("[0-9]*/comm"):
        try:
            name = entry.read_text().strip()
        except OSError:
            continue
        if name in ("cc1plus", "cc1", "cmake", "ninja", "make", "ld", "rustc", "cargo"):
            found.append(f"{name}[{entry.parent.name}]")
    return found


def environment() -> dict[str, Any]:
    return {
        "executable": sys.executable,
        "python": sys.version,
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "cpus": os.cpu_count(),
        "git": git_state(),
        "loadavg_at_start": os.getloadavg(),
        "builds_running_at_start": busy_builds(),
    }
