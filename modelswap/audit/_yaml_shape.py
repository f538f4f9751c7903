"""What a YAML file is and where each line sits in it, read from indentation alone.

:func:`yaml_info` gives every line its key path (``spec.containers.env.value``), its document, and each document's
top-level keys and ``kind:``; it never parses, so templated YAML (Helm, Jinja, Kestra's Pebble) that a parser
would refuse reads just as well. :func:`yaml_type` tells a modelswap config, a Kubernetes manifest, a Kestra
flow and a compose file from other YAML.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["YamlInfo", "yaml_info", "yaml_type"]

_YAML_KEY = re.compile(r"""^(?:"((?:[^"\\]|\\.)*)"|'([^']*)'|([^\s#'"{\[\]][^#]*?))\s*:(?:\s|$)""")
_BLOCK_SCALAR = re.compile(r"^[|>][-+0-9]*\s*(?:#.*)?$")


@dataclass
class YamlInfo:
    """The shape of one YAML file."""

    paths: list[tuple[str, ...]]     # per line (0-based): the keys above it
    docs: list[int]                  # per line: the document it is in
    kinds: dict[int, str]            # document -> its top-level `kind:`
    top_keys: dict[int, set[str]]    # document -> its top-level keys


def yaml_info(lines: list[str]) -> YamlInfo:
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
    return YamlInfo(paths, docs, kinds, top_keys)


def yaml_type(rel: str, info: YamlInfo) -> str:
    """``modelswap_config``, ``kubernetes``, ``kestra``, ``compose`` or ``yaml``, by file name and top-level keys."""
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
