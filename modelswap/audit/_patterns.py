"""What the audit looks for, compiled from ``patterns.json``: detectors, and the prefilter that finds their lines.

A *detector* is one regular expression of one kind (``model_id``, ``model_path``, ``endpoint``,
``prompt_format``, ``api_key``) with the provider or family it stands for, and *needles*: lower-case literals, one
of which every match contains. The prefilter finds the needles in a file's lower-cased bytes with a handful of
regular expressions, one per first byte (each a literal first byte then a trie of the rest, which ``re``
searches for with a tight C loop), so a file without any needle costs a few passes at memory speed and no Python
per byte. Only the lines around a needle are decoded and matched with the detectors that needle stands for.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = [
    "KINDS",
    "PATTERNS_PATH",
    "Detector",
    "Patterns",
    "load_patterns",
    "mask",
]

PATTERNS_PATH = Path(__file__).with_name("patterns.json")

#: The finding kinds, in the order overlapping matches of equal length are preferred.
KINDS = ("api_key", "model_path", "endpoint", "model_id", "prompt_format")

_MACRO = re.compile(r"%([A-Z_]+)%")


def mask(secret: str) -> str:
    """A key as findings show it: its first 4 characters, then ``***``."""
    return secret[:4] + "***"


@dataclass(frozen=True)
class Detector:
    index: int
    kind: str               # one of KINDS
    label: str              # provider (model ids from an API, endpoints, keys) or family (open weights, formats)
    label_field: str        # "provider" or "family"
    regex: re.Pattern[str]
    needles: tuple[bytes, ...]
    context: str            # "any", or "model": only right after a model-ish key
    source: str
    examples: tuple[str, ...] = ()
    counter_examples: tuple[str, ...] = ()
    example_prefix: str = ""


@dataclass(frozen=True)
class _Group:
    regex: re.Pattern[bytes]
    detectors: dict[bytes, tuple[int, ...]]


@dataclass
class Patterns:
    updated: str
    detectors: list[Detector]
    groups: list[_Group]
    model_context: re.Pattern[str]
    family_detectors: list[Detector] = field(default_factory=list)
    excluded_tokens: tuple[str, ...] = ()

    _family_cache: dict[str, str | None] = field(default_factory=dict, repr=False)

    def family_of(self, text: str) -> str | None:
        """The open-weight family a model id or weight file name belongs to (None when none matches)."""
        if text not in self._family_cache:
            if len(self._family_cache) > 4096:
                self._family_cache.clear()
            self._family_cache[text] = self._family_of(text)
        return self._family_cache[text]

    def _family_of(self, text: str) -> str | None:
        for detector in self.family_detectors:
            if detector.regex.search(text):
                return detector.label
        low = text.lower()
        for detector in self.family_detectors:
            if detector.label.replace("-", "") in low.replace("-", ""):
                return detector.label
        return None


def _expand(text: str, macros: dict[str, str], depth: int = 0) -> str:
    if depth > 10:
        raise ValueError(f"patterns.json: macro loop in {text!r}")
    expanded = _MACRO.sub(lambda m: macros[m.group(1)], text)
    return expanded if expanded == text else _expand(expanded, macros, depth + 1)


def _trie(words: list[bytes]) -> bytes:
    """A regular expression matching any of ``words`` (none a prefix of another), written as a trie."""
    root: dict[Any, Any] = {}
    for word in words:
        node = root
        for byte in word:
            node = node.setdefault(byte, {})
        node[None] = {}

    def emit(node: dict[Any, Any]) -> bytes:
        branches = [re.escape(bytes([b])) + emit(child) for b, child in sorted((k, v) for k, v in node.items() if k is not None)]
        if not branches:
            return b""
        body = branches[0] if len(branches) == 1 else b"(?:" + b"|".join(branches) + b")"
        if None in node:
            return b"(?:" + body + b")?"
        return body

    return emit(root)


def _build_groups(detectors: list[Detector]) -> list[_Group]:
    by_needle: dict[bytes, set[int]] = {}
    for detector in detectors:
        for needle in detector.needles:
            by_needle.setdefault(needle, set()).add(detector.index)
    # A needle containing a shorter needle is found through the shorter one: merge its detectors there, so the
    # trie never has to report two needles at one position.
    needles = sorted(by_needle, key=len)
    kept: list[bytes] = []
    for needle in needles:
        host = next((k for k in kept if k in needle), None)
        if host is None:
            kept.append(needle)
        else:
            by_needle[host] |= by_needle[needle]
    groups: dict[int, list[bytes]] = {}
    for needle in kept:
        groups.setdefault(needle[0], []).append(needle)
    out = []
    for _, words in sorted(groups.items()):
        out.append(_Group(re.compile(_trie(words)), {w: tuple(sorted(by_needle[w])) for w in words}))
    return out


def _detector(index: int, kind: str, label: str, label_field: str, spec: dict[str, Any], macros: dict[str, str],
              source: str, *, regex: str | None = None) -> Detector:
    pattern = _expand(regex if regex is not None else spec["regex"], macros)
    flags = re.IGNORECASE if spec.get("ignore_case") else 0
    needles = tuple(n.lower().encode("utf-8") for n in spec["needles"])
    if not needles or any(not n for n in needles):
        raise ValueError(f"patterns.json: {kind} {label}: every pattern needs non-empty needles")
    return Detector(
        index=index, kind=kind, label=label, label_field=label_field, regex=re.compile(pattern, flags),
        needles=needles, context=spec.get("context", "any"), source=spec.get("source", source),
        examples=tuple(spec.get("examples", ())), counter_examples=tuple(spec.get("not", ())),
        example_prefix=spec.get("prefix", ""),
    )


def _token_needle(token: str) -> str:
    """The needle of a literal special token: its first few characters, lower-cased (``<|...|>`` tokens: ``<|``)."""
    if token.startswith("<|"):
        return "<|"
    if token.startswith("<｜"):
        return "<｜"
    return token[: min(len(token), 7)].lower()


@lru_cache(maxsize=4)
def load_patterns(path: str | None = None) -> Patterns:
    """Compile ``patterns.json`` (or another file of the same shape)."""
    data = json.loads(Path(path or PATTERNS_PATH).read_text(encoding="utf-8"))
    macros: dict[str, str] = data.get("macros", {})
    detectors: list[Detector] = []

    def add(kind: str, label: str, label_field: str, spec: dict[str, Any], source: str, regex: str | None = None) -> Detector:
        detector = _detector(len(detectors), kind, label, label_field, spec, macros, source, regex=regex)
        detectors.append(detector)
        return detector

    # Keys first: on equal spans the earlier detector wins, and the specific key shapes come before `sk-...`.
    for label, spec in data["key_shapes"].items():
        if label.startswith("_"):
            continue
        add("api_key", label, "provider", spec, spec.get("source", ""))
    for label, entry in data.get("model_paths", {}).items():
        for spec in entry["patterns"]:
            add("model_path", label, "family", spec, entry["source"])
    for label, entry in data["endpoints"].items():
        for spec in entry["patterns"]:
            add("endpoint", label, "provider", spec, entry["source"])
    for label, entry in data["providers"].items():
        for spec in entry["patterns"]:
            add("model_id", label, "provider", spec, entry["source"])
    families = []
    for label, entry in data["open_weight_families"].items():
        for spec in entry["patterns"]:
            detector = add("model_id", label, "family", spec, entry["source"])
            if detector.context == "any":
                families.append(detector)
    for label, entry in data["prompt_formats"].items():
        tokens = entry.get("tokens", [])
        if tokens:
            spec = {"needles": sorted({_token_needle(t) for t in tokens}), "examples": tokens}
            alternation = "|".join(re.escape(t) for t in sorted(tokens, key=len, reverse=True))
            add("prompt_format", label, "family", spec, entry["source"], regex=alternation)
        for spec in entry.get("patterns", []):
            add("prompt_format", label, "family", spec, entry["source"])

    return Patterns(
        updated=data["updated"],
        detectors=detectors,
        groups=_build_groups(detectors),
        model_context=re.compile(data["model_context"]),
        family_detectors=families,
        excluded_tokens=tuple(data.get("excluded_tokens", {}).get("tokens", ())),
    )
