"""Generate the Kestra flows that run modelswap, with the model as one input.

Five flows, each a Kestra flow YAML file whose ``model`` input is the swap:

* ``llm_call``: one chat completion through ``io.kestra.plugin.core.http.Request``; nothing to install. It talks
  to any OpenAI-compatible endpoint, so its ``model`` is the id that endpoint knows.
* ``llm_call_python``: the same through ``modelswap.complete()`` in a Python task, so ``model`` is a modelswap
  alias (or ``provider/model_id``) and every provider kind works.
* ``batch_inference``: ``modelswap batch`` over an uploaded JSONL or CSV file; the answers are an output file.
* ``regression_gate``: ``modelswap regress``; the execution fails unless the verdict is promote.
* ``scheduled_migration``: the migration runbook, weekly: audit, inventory, regress, shadow, promote, watch, and
  only then the KV key every flow reads is pointed at the new model (unless ``dry_run``, the default).

Where each value comes from, first match wins: the execution's inputs; the namespace KV store (``MODELSWAP_MODEL``
and friends, read when an execution starts, so a change applies to the next run with no redeploy); the literal
the flow was rendered with (the config's ``default``). Keys are only ever ``{{ secret('NAME') }}``.

The parts: :mod:`modelswap.kestra._flows` builds the five flows out of :mod:`modelswap.kestra._parts` (the
shared names, Pebble expressions, input/task/flow nodes) and :mod:`modelswap.kestra._facts` (what the config
contributes); :mod:`modelswap.kestra._text` writes each as a file (header comment, YAML). This module renders,
writes and checks them.

Example:
    >>> from modelswap.kestra import render_flows
    >>> flows = render_flows(namespace="company.ai")
    >>> sorted(flows)                                  # doctest: +NORMALIZE_WHITESPACE
    ['batch_inference.yaml', 'llm_call.yaml', 'llm_call_python.yaml', 'regression_gate.yaml',
     'scheduled_migration.yaml']
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from .. import __version__
from ._facts import Facts, facts_of
from ._flows import batch_inference, llm_call, llm_call_python, regression_gate, scheduled_migration
from ._parts import (
    CONFIG_FILE,
    DEFAULT_NAMESPACE,
    KV_CANDIDATE,
    KV_ENDPOINT,
    KV_MODEL,
    KV_MODEL_ID,
    PYTHON_IMAGE,
    REGENERATE_COMMAND,
    SECRET_API_KEY,
)
from ._text import dump, is_generated

if TYPE_CHECKING:
    from .._config import Config

__all__ = [
    "CONFIG_FILE",
    "DEFAULT_NAMESPACE",
    "FLOW_IDS",
    "KV_CANDIDATE",
    "KV_ENDPOINT",
    "KV_MODEL",
    "KV_MODEL_ID",
    "PYTHON_IMAGE",
    "REGENERATE_COMMAND",
    "SECRET_API_KEY",
    "check_drift",
    "render_flows",
    "write_flows",
]

FLOW_IDS = ("llm_call", "llm_call_python", "batch_inference", "regression_gate", "scheduled_migration")

_NAMESPACE_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")

_BUILDERS: dict[str, Callable[[str, Facts, str, str], tuple[dict[str, Any], str]]] = {
    "llm_call": llm_call,
    "llm_call_python": llm_call_python,
    "batch_inference": batch_inference,
    "regression_gate": regression_gate,
    "scheduled_migration": scheduled_migration,
}


def render_flows(
    config: Config | str | os.PathLike[str] | None = None,
    *,
    namespace: str = DEFAULT_NAMESPACE,
    modelswap_spec: str | None = None,
) -> dict[str, str]:
    """Render the five Kestra flows.

    Deterministic: the same arguments give the same text, byte for byte (no timestamps, no absolute paths).

    Args:
        config: the modelswap config the flows are rendered from: its ``default`` becomes the literal fallback of
            the ``model`` inputs, its first OpenAI-compatible model that of ``llm_call``'s ``model`` and
            ``endpoint``, and every key its providers read (``api_key_env``, ``${VAR}`` in headers) a
            ``secret()`` of the Python tasks. A path loads that file (its ``${VAR}`` need not be set: only
            their names are used). None: the built-in default (the local Gemma), which is what ships in
            ``modelswap.kestra_templates``; neither the current directory nor the environment is consulted.
        namespace: the Kestra namespace of every flow (lower case, digits, ``.``, ``_``, ``-``).
        modelswap_spec: what the Python tasks pip-install (default ``modelswap==<this version>``); a version
            pin, an extra, a URL or a wheel path.

    Returns:
        File name (``<flow id>.yaml``) to YAML text, in the order of :data:`FLOW_IDS`.

    Raises:
        ValueError: the namespace or the spec cannot be used in a flow.
        ConfigError: ``config`` is a path to a file that does not load.
    """
    if not _NAMESPACE_RE.match(namespace):
        raise ValueError(
            f"namespace {namespace!r}: Kestra namespaces are lower case letters, digits, '.', '_' and '-', "
            "starting with a letter or digit (for example company.ai)."
        )
    spec = modelswap_spec if modelswap_spec is not None else f"modelswap=={__version__}"
    if not spec.strip() or re.search(r"[\s'\"{}%#\\]", spec):
        raise ValueError(
            f"modelswap_spec {spec!r}: give one pip requirement without spaces, quotes or braces, "
            "such as modelswap==0.1.0 or 'modelswap[prefect]>=0.1'."
        )
    facts = facts_of(config)
    rendered: dict[str, str] = {}
    for flow_id in FLOW_IDS:
        flow, header = _BUILDERS[flow_id](namespace, facts, spec, __version__)
        rendered[f"{flow_id}.yaml"] = header + "\n" + dump(flow)
    return rendered


def write_flows(out_dir: str | os.PathLike[str], **kw: Any) -> list[Path]:
    """Render the flows (:func:`render_flows` with ``kw``) into ``out_dir`` and return the written paths.

    Files are only rewritten when their text changes. A ``*.yaml`` file in ``out_dir`` that this generator
    wrote earlier but no longer renders is removed; other files are left alone.

    Args:
        out_dir: the folder; created if missing.
        **kw: ``config``, ``namespace``, ``modelswap_spec``, as for :func:`render_flows`.

    Returns:
        The paths of the rendered files, in the order of :data:`FLOW_IDS`.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    flows = render_flows(**kw)
    paths = []
    for name, text in flows.items():
        path = out / name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
        paths.append(path)
    for stale in sorted(out.glob("*.yaml")):
        if stale.name not in flows and is_generated(stale):
            stale.unlink()
    return paths


def check_drift(committed_dir: str | os.PathLike[str], **kw: Any) -> list[str]:
    """Compare rendered flows in ``committed_dir`` with what :func:`render_flows` gives now.

    Args:
        committed_dir: the folder the flows were written to (``kestra_templates`` in this repository).
        **kw: ``config``, ``namespace``, ``modelswap_spec``, as for :func:`render_flows`.

    Returns:
        One line per problem (a flow missing, different, or generated earlier and no longer rendered); empty
        when the folder is up to date.
    """
    folder = Path(committed_dir)
    flows = render_flows(**kw)
    problems = []
    for name, text in flows.items():
        path = folder / name
        if not path.is_file():
            problems.append(f"{path}: missing")
        elif path.read_text(encoding="utf-8") != text:
            problems.append(f"{path}: differs from the generator (modelswap.kestra.render_flows)")
    for path in sorted(folder.glob("*.yaml")) if folder.is_dir() else []:
        if path.name not in flows and is_generated(path):
            problems.append(f"{path}: generated earlier but no longer rendered")
    return problems
