"""Walk a tree, find every model dependency, and say whether it is hard-coded or already configurable.

The walk honours ``.gitignore`` files (nested), ``.git/info/exclude``, and skips ``.git``, virtualenvs,
``site-packages``, ``node_modules``, caches, binaries and files over 5 MB. Each file is read as bytes; the
prefilter (:mod:`._patterns`) finds the lines that can hold a finding, and only those are decoded and matched.
Large trees are split across worker processes.

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
``MODEL_ID:``, ``ollama run``). A line holding ``modelswap-audit: ignore`` is not reported (a test's fake key, a
documented example), nor is a file holding ``modelswap-audit: ignore-file`` in its first 2 KB.

``.gitignore`` files are honoured inside and outside git work trees (a copied or unpacked tree keeps its rules;
ripgrep, by default, honours them only inside one); symbolic links are not followed.
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

from ._gitignore import IgnoreFile, IgnoreStack, find_repo_root
from ._patterns import KINDS, Detector, Patterns, load_patterns, mask

__all__ = [
    "MAX_FILE_BYTES",
    "AuditReport",
    "Finding",
    "file_type",
    "iter_files",
    "scan",
]

MAX_FILE_BYTES = 5 * 1024 * 1024

#: Directory names never entered: version control, dependencies, virtualenvs, caches, notebook checkpoints.
SKIP_DIRS = frozenset({
    ".git", ".hg", ".svn", "node_modules", ".venv", "site-packages", "dist-packages", "__pycache__", ".tox",
    ".nox", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".ipynb_checkpoints", ".eggs",
})

#: Mage's block folders: a Python file in one (or one level below) that takes ``**kwargs`` is a Mage block; so is any
#: file with a Mage block decorator or a ``mage_ai`` import.
MAGE_DIRS = frozenset({
    "data_loaders", "transformers", "data_exporters", "custom", "sensors", "conditionals", "callbacks",
})
_MAGE_MARKERS = re.compile(rb"(?m)^@(?:data_loader|transformer|data_exporter|custom|sensor|condition)\b|\bmage_ai\b")

# How far before a match its context is looked for (a lookup it is the default of, a model key): one statement.
_WINDOW = 400

# Parallel only when there is enough to share out: below this, starting workers costs more than it saves.
_PARALLEL_MIN_BYTES = 24 * 1024 * 1024


@dataclass(frozen=True)
class Finding:
    """One model dependency.

    Attributes:
        file: path relative to the scanned directory, with ``/`` separators.
        line: 1-based line in the file (for a notebook: the line of the JSON file when the notebook is laid out
            one source line per JSON line, as Jupyter writes it; otherwise the line within the cell).
        column: 1-based column, in characters (for a notebook mapped to its JSON lines: in the JSON text).
        kind: ``model_id``, ``model_path``, ``endpoint``, ``prompt_format`` or ``api_key``.
        match: the text found (a key is masked: its first 4 characters and ``***``).
        status: ``hard_coded`` or ``configurable``.
        fix: what to do about it.
        provider: the API provider the value belongs to, when known (``openai``, ``groq``, ``vllm``...).
        family: the open-weight or prompt-format family, when known (``llama``, ``gemma``, ``chatml``...).
        file_type: ``python``, ``mage``, ``notebook``, ``modelswap_config``, ``kubernetes``, ``kestra``,
            ``compose``, ``yaml``, ``json``, ``toml``, ``dotenv``, ``dockerfile`` or ``text``.
        note: why the status is what it is (the lookup that makes a literal a default, the ConfigMap...).
        cell, cell_line: for notebooks, the 1-based cell (counting every cell) and the line within it.
    """

    file: str
    line: int
    column: int
    kind: str
    match: str
    status: str
    fix: str
    provider: str | None = None
    family: str | None = None
    file_type: str = ""
    note: str = ""
    cell: int | None = None
    cell_line: int | None = None

    @property
    def hard_coded(self) -> bool:
        return self.status == "hard_coded"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "file": self.file, "line": self.line, "column": self.column, "kind": self.kind, "match": self.match,
            "status": self.status, "provider": self.provider, "family": self.family, "file_type": self.file_type,
            "fix": self.fix, "note": self.note,
        }
        if self.cell is not None:
            out["cell"] = self.cell
            out["cell_line"] = self.cell_line
        return out


@dataclass
class AuditReport:
    """What :func:`scan` found, and how much it read."""

    findings: list[Finding]
    files_scanned: int
    bytes_scanned: int
    seconds: float
    root: str = ""
    files_skipped: dict[str, int] = field(default_factory=dict)
    patterns_updated: str = ""

    @property
    def hard_coded(self) -> list[Finding]:
        return [f for f in self.findings if f.status == "hard_coded"]

    @property
    def configurable(self) -> list[Finding]:
        return [f for f in self.findings if f.status == "configurable"]

    def summary(self) -> dict[str, Any]:
        by_kind: dict[str, dict[str, int]] = {}
        for finding in self.findings:
            counts = by_kind.setdefault(finding.kind, {"hard_coded": 0, "configurable": 0})
            counts[finding.status] += 1
        return {
            "root": self.root,
            "findings": len(self.findings),
            "hard_coded": len(self.hard_coded),
            "configurable": len(self.configurable),
            "files_with_findings": len({f.file for f in self.findings}),
            "by_kind": {k: by_kind[k] for k in KINDS if k in by_kind},
            "files_scanned": self.files_scanned,
            "bytes_scanned": self.bytes_scanned,
            "files_skipped": dict(self.files_skipped),
            "seconds": round(self.seconds, 3),
            "patterns_updated": self.patterns_updated,
        }


# -- what a file is -----------------------------------------------------------------------------------------------

def file_type(name: str) -> str | None:
    """The scanner's type for a file name, or None for files it does not read."""
    low = name.lower()
    if low.endswith((".py", ".pyw")):
        return "python"
    if low.endswith(".ipynb"):
        return "notebook"
    if low.endswith((".yaml", ".yml")):
        return "yaml"
    if low.endswith(".json"):
        return "json"
    if low.endswith(".toml"):
        return "toml"
    if low == ".env" or low.startswith(".env.") or low.endswith(".env") or low == ".envrc":
        return "dotenv"
    if (low in ("dockerfile", "containerfile") or low.startswith(("dockerfile.", "containerfile."))
            or low.endswith((".dockerfile", ".containerfile"))):
        return "dockerfile"
    return None


def _is_venv(path: str) -> bool:
    return os.path.isfile(os.path.join(path, "pyvenv.cfg"))


def iter_files(root: str | os.PathLike[str], *, respect_gitignore: bool = True,
               skipped: dict[str, int] | None = None) -> Iterator[tuple[str, str, int, str]]:
    """Yield ``(absolute path, path relative to root with '/', size, file type)`` for every file to scan.

    ``skipped`` (when given) counts what was passed over: ``too_large`` files, ``unreadable`` entries. Ignored
    files and files of other types are not counted.
    """
    root_path = Path(root).resolve()
    if skipped is None:
        skipped = {}
    stack = IgnoreStack()
    # Paths are matched relative to the repository's top, so the ignore files above the scanned directory
    # (up to the repository root) apply too; the scanned directory itself is scanned even if one ignores it.
    top = root_path
    if respect_gitignore:
        repo = find_repo_root(root_path)
        if repo is not None:
            top = repo
            stack = stack.push(IgnoreFile.from_path(repo / ".git" / "info" / "exclude", ""))
            parts = root_path.relative_to(repo).parts
            here = repo
            for depth in range(len(parts)):
                stack = stack.push(IgnoreFile.from_path(here / ".gitignore", "/".join(parts[:depth])))
                here = here / parts[depth]
    base_rel = root_path.relative_to(top).as_posix() if top != root_path else ""

    def walk(directory: str, rel_top: str, rel_root: str, ignores: IgnoreStack) -> Iterator[tuple[str, str, int, str]]:
        if respect_gitignore:
            ignores = ignores.push(IgnoreFile.from_path(os.path.join(directory, ".gitignore"), rel_top))
        try:
            with os.scandir(directory) as listing:
                entries = sorted(listing, key=lambda e: e.name)
        except OSError:
            return
        for entry in entries:
            name = entry.name
            child_top = f"{rel_top}/{name}" if rel_top else name
            child_root = f"{rel_root}/{name}" if rel_root else name
            try:
                if entry.is_dir(follow_symlinks=False):
                    if name in SKIP_DIRS or _is_venv(entry.path):
                        continue
                    if respect_gitignore and ignores.ignored(child_top, True):
                        continue
                    yield from walk(entry.path, child_top, child_root, ignores)
                elif entry.is_file(follow_symlinks=False):
                    kind = file_type(name)
                    if kind is None:
                        continue
                    if respect_gitignore and ignores.ignored(child_top, False):
                        continue
                    size = entry.stat(follow_symlinks=False).st_size
                    if size > MAX_FILE_BYTES:
                        skipped["too_large"] = skipped.get("too_large", 0) + 1
                        continue
                    yield entry.path, child_root, size, kind
            except OSError:
                skipped["unreadable"] = skipped.get("unreadable", 0) + 1

    if root_path.is_file():
        kind = file_type(root_path.name) or "text"
        size = root_path.stat().st_size
        if size > MAX_FILE_BYTES:
            skipped["too_large"] = skipped.get("too_large", 0) + 1
            return
        yield str(root_path), root_path.name, size, kind
        return
    yield from walk(str(root_path), base_rel, "", stack)


# -- finding the matches in one file ------------------------------------------------------------------------------

@dataclass
class _Raw:
    line: int           # 1-based line in the scanned text
    column: int         # 0-based column in that line
    detector: Detector
    text: str           # the whole match
    line_text: str


def _candidate_lines(data: bytes, patterns: Patterns) -> dict[int, set[int]]:
    """Byte offset of each line start that holds a needle -> the detectors its needles stand for."""
    low = data.lower()
    lines: dict[int, set[int]] = {}
    for group in patterns.groups:
        table = group.detectors
        hit: set[int] | None = None
        line_end = -1
        for m in group.regex.finditer(low):
            position = m.start()
            if position >= line_end:  # a new line (hits come in order: each line is looked up once)
                start = low.rfind(b"\n", 0, position) + 1
                end = low.find(b"\n", position)
                line_end = len(low) if end < 0 else end
                hit = lines.get(start)
                if hit is None:
                    hit = lines[start] = set()
            hit.update(table[m.group()])  # type: ignore[union-attr]
    return lines


def _select(spans: list[tuple[int, int, int, Detector, str]]) -> list[tuple[int, int, int, Detector, str]]:
    """Non-overlapping matches: in each run of overlapping ones, the longest first, then the detector order."""
    spans.sort(key=lambda s: (s[0], -(s[1] - s[0])))
    chosen: list[tuple[int, int, int, Detector, str]] = []
    cluster: list[tuple[int, int, int, Detector, str]] = []
    cluster_end = -1

    def flush() -> None:
        taken: list[tuple[int, int]] = []
        for span in sorted(cluster, key=lambda s: (-(s[1] - s[0]), s[2], s[0])):
            if not any(span[0] < end and begin < span[1] for begin, end in taken):
                taken.append((span[0], span[1]))
                chosen.append(span)

    for span in spans:
        if cluster and span[0] >= cluster_end:
            flush()
            cluster, cluster_end = [], -1
        cluster.append(span)
        cluster_end = max(cluster_end, span[1])
    if cluster:
        flush()
    return chosen


def _raw_matches(data: bytes, patterns: Patterns) -> list[_Raw]:
    lines = _candidate_lines(data, patterns)
    if not lines:
        return []
    out: list[_Raw] = []
    lineno, previous = 1, 0
    for start in sorted(lines):
        lineno += data.count(b"\n", previous, start)
        previous = start
        end = data.find(b"\n", start)
        text = data[start:] if end < 0 else data[start:end]
        line_text = text.decode("utf-8", "replace").rstrip("\r")
        spans: list[tuple[int, int, int, Detector, str]] = []
        for index in lines[start]:
            detector = patterns.detectors[index]
            for m in detector.regex.finditer(line_text):
                if not m.group():
                    continue
                if detector.context == "model" and not patterns.model_context.search(
                        line_text[max(0, m.start() - _WINDOW):m.start()]):
                    continue
                spans.append((m.start(), m.end(), index, detector, m.group()))
        # Overlaps: the longest match, then the detector order (keys, weight files, endpoints, API ids, open
        # weights, tokens).
        for begin, _, _, detector, matched in _select(spans):
            out.append(_Raw(lineno, begin, detector, matched, line_text))
    out.sort(key=lambda r: (r.line, r.column))
    return out


# -- hard-coded or configurable -----------------------------------------------------------------------------------

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


def _comment_start(line: str, ftype: str) -> int | None:
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


_YAML_KEY = re.compile(r"""^(?:"((?:[^"\\]|\\.)*)"|'([^']*)'|([^\s#'"{\[\]][^#]*?))\s*:(?:\s|$)""")
_BLOCK_SCALAR = re.compile(r"^[|>][-+0-9]*\s*(?:#.*)?$")


@dataclass
class _YamlInfo:
    paths: list[tuple[str, ...]]     # per line (0-based): the keys above it
    docs: list[int]                  # per line: the document it is in
    kinds: dict[int, str]            # document -> its top-level `kind:`
    top_keys: dict[int, set[str]]    # document -> its top-level keys


def _yaml_info(lines: list[str]) -> _YamlInfo:
    """Key paths per line, from indentation alone (robust to templated YAML that a parser would refuse)."""
    paths: list[tuple[str, ...]] = []
    docs: list[int] = []
    kinds: dict[int, str] = {}
    top_keys: dict[int, set[str]] = {}
    doc = 0
    stack: list[tuple[int, str]] = []
    block: int | None = None
    for line in lines:
        if line.startswith("---") or line.startswith("..."):
            doc += 1
            stack, block = [], None
            paths.append(())
            docs.append(doc)
            continue
        stripped = line.strip()
        indent = len(line) - len(line.lstrip(" "))
        if block is not None and (not stripped or indent > block):
            paths.append(tuple(k for _, k in stack))
            docs.append(doc)
            continue
        block = None
        if not stripped or stripped.startswith("#"):
            paths.append(tuple(k for _, k in stack))
            docs.append(doc)
            continue
        content = line[indent:]
        while content.startswith("- ") or content == "-":
            rest = content[1:]
            pad = len(rest) - len(rest.lstrip(" "))
            indent += 1 + pad
            content = rest.lstrip(" ")
        while stack and stack[-1][0] >= indent:
            stack.pop()
        m = _YAML_KEY.match(content)
        if m:
            key = next(g for g in m.groups() if g is not None).strip()
            stack.append((indent, key))
            value = content[m.end():].strip()
            if _BLOCK_SCALAR.match(value):
                block = indent
            if indent == 0:
                top_keys.setdefault(doc, set()).add(key)
                if key == "kind":
                    kinds[doc] = value.strip("'\" ")
        paths.append(tuple(k for _, k in stack))
        docs.append(doc)
    return _YamlInfo(paths, docs, kinds, top_keys)


def _yaml_type(rel: str, info: _YamlInfo) -> str:
    name = rel.rsplit("/", 1)[-1].lower()
    if re.fullmatch(r"modelswap[\w.\-]*\.ya?ml", name):
        return "modelswap_config"
    all_top = [keys for keys in info.top_keys.values()]
    if any("models" in keys and ("providers" in keys or "default" in keys) for keys in all_top):
        return "modelswap_config"
    if any({"apiVersion", "kind"} <= keys for keys in all_top):
        return "kubernetes"
    if any({"namespace", "tasks"} <= keys and "id" in keys for keys in all_top):
        return "kestra"
    if any("services" in keys for keys in all_top):
        return "compose"
    return "yaml"


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


#: On a line, like `# noqa`: nothing on that line is reported (a test's fake key, a documented example).
_IGNORE_LINE = "modelswap-audit: ignore"


def _fix(kind: str, ftype: str, status: str, note: str) -> str:
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


def _status(raw: _Raw, ftype: str, prefix: str, yaml_path: tuple[str, ...] = (), yaml_kind: str = "",
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


def _logical_prefix(lines: list[str], index: int, column: int) -> str:
    """The statement text before a match (at most _WINDOW characters): its own line up to the match, plus up to
    three lines above when they end with an open bracket, a comma, a backslash or '=' (a call split across lines)."""
    prefix = lines[index][max(0, column - _WINDOW):column]
    k = index
    while k > 0 and index - k < 3 and len(prefix) < _WINDOW and lines[k - 1].rstrip().endswith(_CONTINUES):
        k -= 1
        prefix = lines[k][-_WINDOW:] + " " + prefix
    return prefix


def _provider_family(raw: _Raw, patterns: Patterns) -> tuple[str | None, str | None]:
    detector = raw.detector
    if detector.kind == "api_key" and detector.label == "bearer":
        return None, None  # a bearer token: whose, the string does not say
    if detector.kind == "model_path":
        return None, patterns.family_of(raw.text.rsplit("/", 1)[-1])
    if detector.label_field == "provider":
        family = patterns.family_of(raw.text) if detector.kind == "model_id" else None
        return detector.label, family
    return None, detector.label


def _findings_for_text(data: bytes, rel: str, ftype: str, patterns: Patterns, path: str = "") -> list[Finding]:
    raws = _raw_matches(data, patterns)
    if not raws:
        return []
    # Decided only for files with findings: the marker search is no prefilter.
    if ftype == "python" and (_MAGE_MARKERS.search(data) or (
            MAGE_DIRS.intersection(Path(path or rel).parts[-3:-1]) and b"kwargs" in data)):
        ftype = "mage"
    text = data.decode("utf-8", "replace")
    lines = text.split("\n")
    yaml_info = None
    if ftype == "yaml":
        yaml_info = _yaml_info([ln.rstrip("\r") for ln in lines])
        ftype = _yaml_type(rel, yaml_info)
    syntax = ("python" if ftype in ("mage", "notebook") else
              "yaml" if ftype in ("modelswap_config", "kubernetes", "kestra", "compose") else ftype)
    comments: dict[int, int | None] = {}
    out: list[Finding] = []
    for raw in raws:
        index = raw.line - 1
        if raw.line not in comments:  # once per line: a minified file can hold thousands of matches on one
            comments[raw.line] = (-1 if _IGNORE_LINE in raw.line_text else _comment_start(raw.line_text, syntax))
        if comments[raw.line] == -1:
            continue
        path: tuple[str, ...] = ()
        doc_kind = ""
        if yaml_info is not None and index < len(yaml_info.paths):
            path = yaml_info.paths[index]
            doc_kind = yaml_info.kinds.get(yaml_info.docs[index], "")
        prefix = (_logical_prefix(lines, index, raw.column) if index < len(lines)
                  else raw.line_text[max(0, raw.column - _WINDOW):raw.column])
        got = _status(raw, ftype, prefix, path, doc_kind, comments[raw.line])
        if got is None:
            continue
        status, note = got
        provider, family = _provider_family(raw, patterns)
        matched = mask(raw.text) if raw.detector.kind == "api_key" else raw.text
        out.append(Finding(
            file=rel, line=raw.line, column=raw.column + 1, kind=raw.detector.kind, match=matched, status=status,
            fix=_fix(raw.detector.kind, ftype, status, note), provider=provider, family=family, file_type=ftype,
            note=note,
        ))
    return out


def _notebook_findings(data: bytes, rel: str, patterns: Patterns) -> list[Finding]:
    """Findings in a notebook's code cells, placed on the JSON file's lines when the layout allows it."""
    try:
        notebook = json.loads(data)
    except ValueError:
        return _findings_for_text(data, rel, "json", patterns)
    if not isinstance(notebook, dict):
        return []
    cells = notebook.get("cells")
    source_key = "source"
    if cells is None:  # nbformat 3
        sheets = notebook.get("worksheets") or [{}]
        cells = sheets[0].get("cells", []) if isinstance(sheets[0], dict) else []
        source_key = "input"
    if not isinstance(cells, list):
        return []
    raw_lines = data.decode("utf-8", "replace").split("\n")
    key_lines = [i for i, ln in enumerate(raw_lines) if ln.lstrip().startswith(f'"{source_key}":')]
    positional = len(key_lines) == len(cells)

    virtual: list[str] = []
    where: list[tuple[int, int, int | None]] = []   # per virtual line: cell number, line in cell, JSON line index
    for number, cell in enumerate(cells, 1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get(source_key, "")
        parts = source if isinstance(source, list) else str(source).splitlines(keepends=True)
        pieces = [str(p) for p in parts]
        json_line = None
        if positional and isinstance(source, list):
            first = key_lines[number - 1] + 1
            ok = first + len(pieces) <= len(raw_lines)
            for j, piece in enumerate(pieces):
                if not ok:
                    break
                candidate = raw_lines[first + j].strip().rstrip(",")
                try:
                    ok = json.loads(candidate) == piece
                except ValueError:
                    ok = False
            json_line = first if ok else None
        for j, piece in enumerate("".join(pieces).split("\n")):
            virtual.append(piece)
            where.append((number, j + 1, None if json_line is None or j >= len(pieces) else json_line + j))
    if not virtual:
        return []
    found = _findings_for_text("\n".join(virtual).encode("utf-8"), rel, "notebook", patterns)
    out = []
    for finding in found:
        cell, cell_line, json_index = where[finding.line - 1]
        line, column = cell_line, finding.column
        if json_index is not None:
            raw = raw_lines[json_index]
            piece = virtual[finding.line - 1]
            opening = raw.find('"')
            for ascii_only in (False, True):
                escaped_prefix = json.dumps(piece[:finding.column - 1], ensure_ascii=ascii_only)[1:-1]
                escaped_match = json.dumps(piece[finding.column - 1:finding.column - 1 + len(finding.match)],
                                           ensure_ascii=ascii_only)[1:-1]
                at = opening + 1 + len(escaped_prefix)
                if finding.kind == "api_key" or raw[at:].startswith(escaped_match):
                    line, column = json_index + 1, at + 1
                    break
        out.append(Finding(
            file=finding.file, line=line, column=column, kind=finding.kind, match=finding.match,
            status=finding.status, fix=finding.fix, provider=finding.provider, family=finding.family,
            file_type="notebook", note=finding.note, cell=cell, cell_line=cell_line,
        ))
    return out


_IGNORE_FILE = b"modelswap-audit: ignore-file"   # in a file's first 2 KB: the file is read, nothing reported


def scan_file(path: str, rel: str, ftype: str, patterns: Patterns | None = None) -> tuple[list[Finding], int, str | None]:
    """Findings in one file, the bytes read, and why it was skipped (``binary``, ``unreadable``) if it was."""
    patterns = patterns or load_patterns()
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError:
        return [], 0, "unreadable"
    if len(data) > MAX_FILE_BYTES:
        return [], 0, "too_large"
    if b"\x00" in data[:8192]:
        return [], 0, "binary"
    if _IGNORE_FILE in data[:2048]:
        return [], len(data), None
    if ftype == "notebook":
        return _notebook_findings(data, rel, patterns), len(data), None
    return _findings_for_text(data, rel, ftype, patterns, path), len(data), None


def _scan_batch(batch: list[tuple[str, str, str]]) -> tuple[list[Finding], int, int, dict[str, int]]:
    patterns = load_patterns()
    findings: list[Finding] = []
    nbytes = files = 0
    skipped: dict[str, int] = {}
    for path, rel, ftype in batch:
        found, size, reason = scan_file(path, rel, ftype, patterns)
        if reason:
            skipped[reason] = skipped.get(reason, 0) + 1
            continue
        files += 1
        nbytes += size
        findings.extend(found)
    return findings, nbytes, files, skipped


def _batches(items: list[tuple[str, str, int, str]], count: int) -> list[list[tuple[str, str, str]]]:
    total = sum(size for _, _, size, _ in items) or 1
    target = max(total // count, 1)
    out: list[list[tuple[str, str, str]]] = []
    current: list[tuple[str, str, str]] = []
    weight = 0
    for path, rel, size, ftype in items:
        current.append((path, rel, ftype))
        weight += size + 4096  # per-file overhead counts too
        if weight >= target:
            out.append(current)
            current, weight = [], 0
    if current:
        out.append(current)
    return out


def _pool_context() -> Any:
    import multiprocessing

    methods = multiprocessing.get_all_start_methods()
    # fork starts workers in milliseconds with everything imported; it is only safe while this is the only thread.
    if "fork" in methods and threading.active_count() == 1 and sys.platform != "darwin":
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def scan(path: str | os.PathLike[str], *, respect_gitignore: bool = True, jobs: int | None = None) -> AuditReport:
    """Scan a directory (or one file) for model dependencies.

    Args:
        path: the directory (or file) to scan; findings name files relative to it.
        respect_gitignore: skip what ``.gitignore`` files and ``.git/info/exclude`` ignore (default True).
        jobs: worker processes; None picks one per core for large trees (and none for small ones), 1 scans in
            this process.

    Raises:
        FileNotFoundError: ``path`` does not exist.
    """
    started = time.perf_counter()
    root = Path(path)
    if not root.exists():
        raise FileNotFoundError(f"no such file or directory: {path}")
    patterns = load_patterns()
    skipped: dict[str, int] = {}
    items = list(iter_files(root, respect_gitignore=respect_gitignore, skipped=skipped))
    total = sum(size for _, _, size, _ in items)
    if jobs is None:
        jobs = (os.cpu_count() or 1) if total >= _PARALLEL_MIN_BYTES else 1
    jobs = max(1, min(jobs, len(items) or 1))

    findings: list[Finding] = []
    nbytes = files = 0
    results: Iterable[tuple[list[Finding], int, int, dict[str, int]]]
    if jobs > 1:
        try:
            with ProcessPoolExecutor(max_workers=jobs, mp_context=_pool_context()) as pool:
                results = list(pool.map(_scan_batch, _batches(items, jobs * 6)))
        except (OSError, RuntimeError, ImportError):  # no process support here (sandbox, frozen app): in-process
            results = [_scan_batch([(p, r, t) for p, r, _, t in items])]
    else:
        results = [_scan_batch([(p, r, t) for p, r, _, t in items])]
    for found, size, count, skip in results:
        findings.extend(found)
        nbytes += size
        files += count
        for reason, n in skip.items():
            skipped[reason] = skipped.get(reason, 0) + n
    findings.sort(key=lambda f: (f.file, f.line, f.column))
    return AuditReport(
        findings=findings, files_scanned=files, bytes_scanned=nbytes, seconds=time.perf_counter() - started,
        root=str(root.resolve()), files_skipped=skipped, patterns_updated=patterns.updated,
    )
