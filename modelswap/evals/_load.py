""":func:`load_suite`, the one entry point for every suite format: it looks at the file and hands it to the
native loader (JSONL or YAML, :mod:`modelswap.evals._suite`) or the promptfoo importer
(:mod:`modelswap.evals._promptfoo`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from .._errors import ConfigError
from ._promptfoo import load_promptfoo
from ._source import gc_paused, parse_yaml, read_text
from ._suite import load_jsonl_suite, suite_from_data
from ._types import Suite

__all__ = ["load_suite"]


def load_suite(path: str | os.PathLike[str], *, template: str | None = None, strict: bool = False) -> Suite:
    """Load a regression suite: JSONL (``.jsonl``/``.ndjson``), YAML (``.yaml``/``.yml``/``.json``), or a
    promptfoo config (a file named ``promptfooconfig.yaml``, a YAML file with top-level ``prompts`` and
    ``tests``, or a directory holding ``promptfooconfig.yaml``).

    Args:
        path: the suite file.
        template: a prompt template for cases given by ``vars``; it takes precedence over the suite's own
            ``prompt``. JSONL suites need it when their cases use ``vars``.
        strict: for a promptfoo config, refuse it when anything cannot be carried over exactly.

    Returns:
        The suite, every case's messages rendered. For a promptfoo config, ``Suite.notes`` lists what could not
        be carried over (see :func:`~modelswap.evals.load_promptfoo`).

    Raises:
        ConfigError: the file is missing or malformed; the message names the file, line and field, and the fix.

    Example:
        >>> suite = load_suite("tests/unit/evals/data/triage.yaml")              # doctest: +SKIP
        >>> suite.cases[0].messages[-1]["content"]                               # doctest: +SKIP
        'Ticket: I was charged twice for my March invoice.\\nQueue:'
    """
    with gc_paused():
        return _load(Path(path), template, strict)


def _load(path: Path, template: str | None, strict: bool) -> Suite:
    if path.is_dir():
        for name in ("promptfooconfig.yaml", "promptfooconfig.yml"):
            if (path / name).is_file():
                return _promptfoo_suite(path / name, strict)
        raise ConfigError(
            f"{path}: is a directory without promptfooconfig.yaml. Give a .jsonl or .yaml suite file.", file=str(path)
        )
    if not path.is_file():
        raise ConfigError(f"{path}: suite file not found. Check the path.", file=str(path))
    suffix = path.suffix.lower()
    if path.name.lower().startswith("promptfooconfig"):
        return _promptfoo_suite(path, strict)
    if suffix in (".jsonl", ".ndjson"):
        return load_jsonl_suite(path, template)
    if suffix in (".yaml", ".yml", ".json"):
        text = read_text(path)
        root, data = parse_yaml(text, str(path))
        if isinstance(data, Mapping) and "prompts" in data and "tests" in data and "cases" not in data:
            return _promptfoo_suite(path, strict)
        return suite_from_data(data, root, str(path), base_dir=path.parent, template=template)
    raise ConfigError(
        f"{path}: unknown suite format {suffix or '(no extension)'!r}. Use .jsonl (one case per line) or .yaml.",
        file=str(path),
    )


def _promptfoo_suite(path: Path, strict: bool) -> Suite:
    suite, _ = load_promptfoo(path, strict=strict)
    return suite
