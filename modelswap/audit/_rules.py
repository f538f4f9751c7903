"""Hard-coded or configurable: the rules that judge each match, and the fix each finding suggests.

**hard-coded or configurable.** A value is *configurable* when changing it needs no edit to code, an image or a
workload manifest:

* it sits in the configuration that is meant to change: a modelswap config file (``modelswap.yaml``: its models
  are THE configuration), a Kubernetes ConfigMap's ``data``, a ``.env`` file;
* it is the *default* of something read at run time: the literal comes after an environment or variable lookup
  on the same statement (``os.environ.get("MODEL_ID", "gpt-4o")``, ``os.getenv``, Prefect ``Variable.get``,
  Mage ``kwargs.get`` and ``get_secret_value``), or inside a template expression (``${MODEL:-gpt-4o}``,
  ``{{ inputs.model ?? 'gpt-4o' }}``), or it is a Kestra flow input's ``defaults``, or it sits under ``valueFrom``.
  The lookup wins whenever the variable is set, so the swap is one configuration change; the finding is still
  listed (with the lookup as its ``note``) because the default is what runs wherever the variable is missing.

Everything else is *hard-coded*: literals in Python, notebooks and Mage blocks, ``ENV``/``ARG``/``CMD`` in a
Dockerfile (baked into the image), literal ``env[].value`` or ``args`` in a Deployment, literal values in a Kestra
flow (``variables:`` included), and in any other YAML, JSON or TOML. An API key is hard-coded wherever it is,
``.env`` and ConfigMaps included: a committed key is a leak whatever reads it.

Chat-template tokens are hard-coded wherever code holds them (a Jinja ``{{ }}`` around them is the template
itself, not a lookup); only modelswap configs, ConfigMaps and ``.env`` files make them configurable.

Model ids, endpoints and template tokens in full-line or trailing comments, and in YAML/JSON ``description``-like
fields, are not reported (they configure nothing); keys there are. Bare family names that double as prompt-format
names (``llama3.1``, ``gemma3``, ``qwen2.5``, ``o1``) count only as the value of a model-ish key (``model=``,
``MODEL_ID:``, ``ollama run``).
"""

from __future__ import annotations

import re

from ._match import WINDOW, RawMatch

__all__ = ["comment_start", "fix_for", "logical_prefix", "status_of"]

_LOOKUP = re.compile(
    r"""(?:\bos\.environ\.get\b|\bos\.getenv\b|\bgetenv\s*\(|\benviron\.get\b|\benviron\.setdefault\b|\benviron\s*\[
        |\bVariable\.get\b|\bkwargs\.get\b|\bkwargs\s*\[|\bget_secret_value\b|\bget_global_variable\b|\benv_var\s*\(
        |\bSystem\.getenv\b|\bprocess\.env\b|\bENV\.fetch\b)""",
    re.VERBOSE,
)
_ENV_ASSIGN = re.compile(r"\benviron\s*\[[^\]]*\]\s*=(?!=)")
#: YAML keys (and JSON members) whose values are prose: a model named there documents, it configures nothing.
_PROSE_KEYS = frozenset({"description", "summary", "title", "help", "doc", "docs", "comment", "comments", "notes",
                         "displayname", "display_name"})
_JSON_PROSE = re.compile(r'"(?:description|summary|title|help|comment|notes|displayName)"\s*:\s*"[^"]*$')
_CONTINUES = ("(", ",", "[", "{", "\\", "=")


def comment_start(line: str, ftype: str) -> int | None:
    """Index where a comment starts on ``line`` (outside quotes), or None. JSON has no comments."""
    if ftype in ("json", "text"):
        return None
    stripped = line.lstrip()
    if stripped.startswith("#"):
        return len(line) - len(stripped)
    if ftype == "dockerfile":
        return None  # an inline '#' is not a comment in a Dockerfile
    quote: str | None = None
    escaped = False
    for i, ch in enumerate(line):
        if escaped:
            escaped = False
            continue
        if ch == "\\" and quote == '"':
            escaped = True
            continue
        if quote:
            if ch == quote:
                quote = None
            continue
        if ch in "\"'":
            quote = ch
        elif ch == "#":
            if ftype in ("yaml", "dotenv") and i > 0 and not line[i - 1].isspace():
                continue
            return i
    return None


def _inside_template(prefix: str) -> str | None:
    """The expression a match starting after ``prefix`` is the default of: ``${...}`` or ``{{ ... }}``."""
    shell = prefix.rfind("${")
    if shell != -1 and "}" not in prefix[shell:]:
        expression = prefix[shell:]
        closer = "}}" if expression.startswith("${{") else "}"
    else:
        jinja = prefix.rfind("{{")
        if jinja == -1 or "}}" in prefix[jinja:]:
            return None
        expression, closer = prefix[jinja:], "}}"
    expression = expression.strip()
    return (expression if len(expression) <= 40 else expression[:37] + "...") + "..." + closer


def _lookup_before(prefix: str) -> str | None:
    if _ENV_ASSIGN.search(prefix):
        return None
    found = None
    for m in _LOOKUP.finditer(prefix):
        found = m.group().strip()
    return found


_HARD_FIX = {
    "python": "read the model from MODELSWAP_MODEL / a modelswap alias: call modelswap.complete(...) with no model "
              "(or model='<alias>') and define the alias once in modelswap.yaml",
    "mage": "read it from a pipeline variable (kwargs.get('model')) or MODELSWAP_MODEL, and name a modelswap alias "
            "defined in modelswap.yaml",
    "dockerfile": "do not bake the model into the image: drop it from the Dockerfile and set MODELSWAP_MODEL (or "
                  "MODEL_PROVIDER + MODEL_ID) at run time, e.g. from the Kubernetes ConfigMap",
    "kubernetes": "move it to the ConfigMap's data (MODELSWAP_MODEL, or MODEL_PROVIDER + MODEL_ID) and reference it "
                  "with env[].valueFrom.configMapKeyRef (in args: $(MODEL_ID))",
    "kestra": "make it a flow input (inputs: - id: model) or {{ kv('MODELSWAP_MODEL') }} and pass it to the task as "
              "MODELSWAP_MODEL; name a modelswap alias, not a vendor id",
    "default": "name a modelswap alias here (defined once in modelswap.yaml), or read it from MODELSWAP_MODEL",
}
_ENDPOINT_FIX = ("drop the hard-coded URL: name a provider (a preset, or base_url in modelswap.yaml) and let "
                 "INFERENCE_ENDPOINT override it per deployment")
_PATH_FIX = ("do not point pipelines at a weight file: serve it behind llama.cpp or Ollama (modelswap serve-local "
             "reads MODELSWAP_LOCAL_GGUF) and name it as a modelswap alias")
_FORMAT_FIX = ("do not hand-write the chat template: use modelswap.prompts.render(format, messages) and set "
               "prompt_format on the model in modelswap.yaml")
_KEY_FIX = {
    "dotenv": "do not commit .env: rotate this key, add the file to .gitignore, keep the key in a secret manager "
              "and reference it via api_key_env",
    "kubernetes": "rotate this key; keys never belong in a manifest or ConfigMap: create the Secret out of band "
                  "(kubectl create secret, sealed-secrets, external-secrets) and read it via secretKeyRef",
    "modelswap_config": "rotate this key; modelswap refuses literal keys: write api_key_env: NAME and set NAME in "
                        "the environment",
    "default": "rotate this key; move it to a secret (environment / secret manager) and reference it via "
               "api_key_env in modelswap.yaml",
}


def fix_for(kind: str, ftype: str, status: str, note: str) -> str:
    if kind == "api_key":
        return _KEY_FIX.get(ftype, _KEY_FIX["default"])
    if status == "configurable":
        if ftype == "modelswap_config":
            return "none needed: modelswap.yaml is the swap point"
        if note.startswith("ConfigMap"):
            return "none needed: the ConfigMap is the swap point"
        if ftype == "dotenv":
            return "none needed: set per environment (keep .env files out of git)"
        return "none needed to swap: a value read at run time overrides this default; make the default a modelswap alias"
    if kind == "endpoint":
        return _ENDPOINT_FIX
    if kind == "model_path":
        return _PATH_FIX
    if kind == "prompt_format":
        return _FORMAT_FIX
    return _HARD_FIX.get("python" if ftype == "notebook" else ftype, _HARD_FIX["default"])


def status_of(raw: RawMatch, ftype: str, prefix: str, yaml_path: tuple[str, ...] = (), yaml_kind: str = "",
            comment: int | None = None) -> tuple[str, str] | None:
    """(status, note) of one match, or None when it is commented out (``comment``: where the line's comment
    starts)."""
    kind = raw.detector.kind
    if kind == "api_key":
        return "hard_coded", "a literal key"
    if comment is not None and comment <= raw.column:
        return None
    if yaml_path and yaml_path[-1].lower() in _PROSE_KEYS or ftype == "json" and _JSON_PROSE.search(prefix):
        return None  # documentation (a flow input's description, an annotation): it configures nothing
    if ftype == "dotenv":
        return "configurable", ".env file: set per environment"
    if ftype == "modelswap_config":
        return "configurable", "modelswap config"
    if ftype == "kubernetes":
        if yaml_kind == "ConfigMap" and yaml_path[:1] in (("data",), ("binaryData",)):
            return "configurable", "ConfigMap data"
        if "valueFrom" in yaml_path:
            return "configurable", "valueFrom reference"
        if yaml_kind == "Secret":
            return "configurable", "Secret data"
    if ftype == "kestra" and yaml_path[:1] == ("inputs",) and yaml_path[-1:] in (("defaults",), ("default",)):
        return "configurable", "Kestra flow input default"
    if kind == "prompt_format":
        # A template token is a format detail, not a value a lookup swaps; inside {{ }} it is a Jinja template.
        return "hard_coded", ""
    template = _inside_template(prefix)
    if template:
        return "configurable", f"default inside {template}"
    lookup = _lookup_before(prefix)
    if lookup:
        return "configurable", f"default of the {lookup} lookup"
    return "hard_coded", ""


def logical_prefix(lines: list[str], index: int, column: int) -> str:
    """The statement text before a match (at most WINDOW characters): its own line up to the match, plus up to
    three lines above when they end with an open bracket, a comma, a backslash or '=' (a call split across lines)."""
    prefix = lines[index][max(0, column - WINDOW):column]
    k = index
    while k > 0 and index - k < 3 and len(prefix) < WINDOW and lines[k - 1].rstrip().endswith(_CONTINUES):
        k -= 1
        prefix = lines[k][-WINDOW:] + " " + prefix
    return prefix
