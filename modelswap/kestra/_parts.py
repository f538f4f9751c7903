"""The parts every generated Kestra flow is made of: the names a flow and its operator share (KV keys, the API
key's secret, the config's namespace file, the image), Pebble expressions, and the input, Python task and flow
nodes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = [
    "ALL_FILES",
    "CONFIG_FILE",
    "CONFIG_ONLY",
    "DEFAULT_NAMESPACE",
    "KV_CANDIDATE",
    "KV_ENDPOINT",
    "KV_MODEL",
    "KV_MODEL_ID",
    "PYTHON_IMAGE",
    "REGENERATE_COMMAND",
    "SECRET_API_KEY",
    "flow_input",
    "kv_default",
    "make_flow",
    "optional_input",
    "python_task",
    "secret_env",
]

DEFAULT_NAMESPACE = "company.ai"
#: The modelswap alias (or ``provider/model_id``) the Python flows use: the one parameter, in Kestra.
KV_MODEL = "MODELSWAP_MODEL"
#: The model a regression gate or a migration evaluates against ``MODELSWAP_MODEL``.
KV_CANDIDATE = "MODELSWAP_CANDIDATE"
#: The OpenAI-compatible base URL and model id ``llm_call`` sends to (it has no modelswap to resolve an alias).
KV_ENDPOINT = "MODELSWAP_ENDPOINT"
KV_MODEL_ID = "MODELSWAP_MODEL_ID"
#: The bearer key of ``llm_call``'s endpoint, and ``API_KEY`` in ``llm_call_python``.
SECRET_API_KEY = "MODELSWAP_API_KEY"
#: The namespace file the Python flows read as their modelswap config.
CONFIG_FILE = "modelswap.yaml"
PYTHON_IMAGE = "python:3.12-slim"
REGENERATE_COMMAND = "modelswap kestra render --out kestra_templates"
_PIP = "pip install --quiet --disable-pip-version-check --root-user-action=ignore '{{ vars.modelswap_spec }}'"


# -- Pebble expressions --------------------------------------------------------------------------------------
def _quote(text: str) -> str:
    """A Pebble string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def kv_default(keys: Iterable[str], fallback: str | None) -> str:
    """``{{ kv('A', errorOnMissing=false) ?? kv('B', ...) ?? 'fallback' }}``; strict ``kv('A')`` with no fallback."""
    keys = list(keys)
    if fallback is None:
        lookups = [f"kv('{k}', errorOnMissing=false)" for k in keys[:-1]] + [f"kv('{keys[-1]}')"]
        return "{{ " + " ?? ".join(lookups) + " }}"
    lookups = [f"kv('{k}', errorOnMissing=false)" for k in keys]
    return "{{ " + " ?? ".join([*lookups, _quote(fallback)]) + " }}"


def optional_input(name: str) -> str:
    """An optional input as text for a shell variable: empty when not given."""
    return "{{ inputs." + name + " ?? '' }}"


def secret_env(names: Iterable[str]) -> dict[str, str]:
    """Environment variables of the same names, each read from the Kestra secret of that name."""
    return {name: "{{ secret('" + name + "') }}" for name in names}


# -- nodes --------------------------------------------------------------------------------------------------
def flow_input(id_: str, type_: str, description: str, default: Any = None, *, required: bool = True,
               **extra: Any) -> dict[str, Any]:
    """A flow input; ``default`` becomes its ``defaults``, ``extra`` its other properties (``min``, ...)."""
    node: dict[str, Any] = {"id": id_, "type": type_, "description": description}
    if default is not None:
        node["defaults"] = default
    elif not required:
        node["required"] = False
    node.update(extra)
    return node


def python_task(
    id_: str,
    kind: str,
    description: str,
    code: str | list[str],
    env: dict[str, str],
    *,
    namespace_files: dict[str, Any] | None = None,
    input_files: dict[str, str] | None = None,
    output_files: list[str] | None = None,
) -> dict[str, Any]:
    """A ``Script`` or ``Commands`` task that pip-installs the flow's ``modelswap_spec`` first."""
    task: dict[str, Any] = {
        "id": id_,
        "type": f"io.kestra.plugin.scripts.python.{kind}",
        "description": description,
        "containerImage": PYTHON_IMAGE,
    }
    if namespace_files is not None:
        task["namespaceFiles"] = namespace_files
    if input_files:
        task["inputFiles"] = input_files
    task["beforeCommands"] = [_PIP]
    if env:
        task["env"] = env
    if kind == "Script":
        task["script"] = code
    else:
        task["commands"] = code if isinstance(code, list) else [code]
    if output_files:
        task["outputFiles"] = output_files
    return task


CONFIG_ONLY = {"enabled": True, "include": [CONFIG_FILE]}
ALL_FILES = {"enabled": True}


def make_flow(id_: str, namespace: str, description: str, spec: str | None, inputs: list[dict[str, Any]],
              tasks: list[dict[str, Any]], **rest: Any) -> dict[str, Any]:
    """A flow; ``spec`` (what the Python tasks pip-install) becomes the flow variable ``modelswap_spec``."""
    flow: dict[str, Any] = {
        "id": id_,
        "namespace": namespace,
        "description": description,
        "labels": {"managed-by": "modelswap"},
        "inputs": inputs,
    }
    if spec is not None:
        flow["variables"] = {"modelswap_spec": spec}
    flow["tasks"] = tasks
    flow.update(rest)
    return flow
