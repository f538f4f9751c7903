"""The audit as SARIF 2.1.0, for GitHub code scanning and other SARIF viewers.

One rule per finding kind; a result per finding. Levels: ``error`` for a key (always hard-coded), ``warning``
for a hard-coded model id, weight file, endpoint or chat template, ``note`` for a configurable one. Columns are
counted in Unicode code points (``columnKind``), as the findings count them; URIs are relative to
``%SRCROOT%``, the scanned directory.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ._report import AuditReport, Finding

__all__ = ["INFORMATION_URI", "RULES", "SARIF_SCHEMA", "sarif_log", "to_sarif"]

SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
INFORMATION_URI = "https://github.com/modelswap/modelswap#readme"

#: kind -> (name, short description, help text)
RULES: dict[str, tuple[str, str, str]] = {
    "model_id": (
        "HardCodedModelId",
        "A model id (API model or open-weight model) named in code or configuration.",
        "Pipelines should name a modelswap alias, or nothing (the active model), and let one value pick the model: "
        "MODELSWAP_MODEL, the config's default, or the ConfigMap. A vendor model id written in code, a Dockerfile, "
        "a manifest or a flow has to be found and edited at every swap. Read it from MODELSWAP_MODEL or name an "
        "alias defined once in modelswap.yaml. Literals that are only the default of an environment lookup, and "
        "values inside modelswap.yaml, a ConfigMap or .env, are reported as notes (configurable).",
    ),
    "model_path": (
        "HardCodedModelPath",
        "A path to a model weight file (GGUF, GGML, llamafile).",
        "A weight file wired into a pipeline ties it to one model and one runtime. Serve the weights behind "
        "llama.cpp or Ollama (modelswap serve-local reads MODELSWAP_LOCAL_GGUF) and call them through a modelswap "
        "alias.",
    ),
    "endpoint": (
        "HardCodedEndpoint",
        "An inference endpoint URL (a provider API host, or a local server's well-known port).",
        "Base URLs belong to the provider entry in modelswap.yaml (or a built-in preset); INFERENCE_ENDPOINT "
        "overrides the active model's for one deployment. A URL in code must be edited at every move.",
    ),
    "prompt_format": (
        "HandWrittenChatTemplate",
        "Special tokens of a model family's chat template written by hand.",
        "Chat templates differ per family (Llama 3's header tokens, Gemma's turn markers, Mistral's INST brackets, "
        "ChatML, GLM's gMASK prefix...); a template written by hand breaks silently when the model changes. Use "
        "modelswap.prompts.render(format, messages) and set prompt_format on the model in modelswap.yaml.",
    ),
    "api_key": (
        "LiteralApiKey",
        "A string shaped like a provider API key or bearer token.",
        "A committed key is leaked: rotate it. Keep keys in a secret manager or the environment and name the "
        "variable with api_key_env in modelswap.yaml; on Kubernetes take it from a Secret (secretKeyRef), never "
        "a ConfigMap; never commit .env files holding keys.",
    ),
}
_KIND_WORDS = {
    "model_id": "model id", "model_path": "model weight file", "endpoint": "endpoint", "prompt_format":
    "chat-template token", "api_key": "API key",
}


def _level(finding: Finding) -> str:
    if finding.status != "hard_coded":
        return "note"
    return "error" if finding.kind == "api_key" else "warning"


def _message(finding: Finding) -> str:
    who = finding.provider or finding.family
    what = f"{_KIND_WORDS[finding.kind]} '{finding.match}'" + (f" ({who})" if who else "")
    if finding.status == "hard_coded":
        return f"Hard-coded {what}: {finding.fix}."
    return f"Configurable {what}, {finding.note}: {finding.fix}."


def _uri(path: str) -> str:
    return quote(path, safe="/")


def sarif_log(report: AuditReport) -> dict[str, Any]:
    """The SARIF 2.1.0 log of ``report``, as a dict."""
    from .. import __version__

    kinds = list(RULES)
    rules = []
    for kind in kinds:
        name, short, help_text = RULES[kind]
        rules.append({
            "id": kind,
            "name": name,
            "shortDescription": {"text": short},
            "fullDescription": {"text": help_text},
            "help": {"text": help_text, "markdown": help_text},
            "helpUri": INFORMATION_URI,
            "defaultConfiguration": {"level": "error" if kind == "api_key" else "warning"},
            "properties": {"tags": ["modelswap", "migration", "security" if kind == "api_key" else "portability"]},
        })
    results = []
    for finding in report.findings:
        region: dict[str, Any] = {"startLine": finding.line, "startColumn": finding.column}
        if finding.kind != "api_key" and finding.cell is None:
            region["endColumn"] = finding.column + len(finding.match)
        properties: dict[str, Any] = {"status": finding.status, "fileType": finding.file_type}
        for key, value in (("provider", finding.provider), ("family", finding.family), ("note", finding.note),
                           ("cell", finding.cell), ("cellLine", finding.cell_line)):
            if value:
                properties[key] = value
        results.append({
            "ruleId": finding.kind,
            "ruleIndex": kinds.index(finding.kind),
            "level": _level(finding),
            "message": {"text": _message(finding)},
            "locations": [{
                "physicalLocation": {
                    "artifactLocation": {"uri": _uri(finding.file), "uriBaseId": "%SRCROOT%"},
                    "region": region,
                },
            }],
            "properties": properties,
        })
    root = Path(report.root or ".").resolve().as_uri().rstrip("/") + "/"
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "modelswap-audit",
                "fullName": "modelswap audit: hard-coded model dependencies",
                "version": __version__,
                "semanticVersion": __version__,
                "informationUri": INFORMATION_URI,
                "rules": rules,
            }},
            "originalUriBaseIds": {"%SRCROOT%": {"uri": root}},
            "columnKind": "unicodeCodePoints",
            "invocations": [{"executionSuccessful": True}],
            "results": results,
            "properties": {"summary": report.summary()},
        }],
    }


def to_sarif(report: AuditReport) -> str:
    """The SARIF 2.1.0 log of ``report``, as JSON text."""
    return json.dumps(sarif_log(report), indent=2, ensure_ascii=False) + "\n"
