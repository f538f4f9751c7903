"""The catalog of notable open-weight models shipped as ``catalog.json``, and model-id matching against it.

Every benchmark score carries its ``source`` (model card or paper) and ``verified`` (read from that source when
the catalog was compiled, or recalled from it and still to be checked). Vendors report different settings
(shots, chain of thought, base or instruct), kept per score in ``setting`` and ``variant``.

Matching a model id (``meta-llama/Llama-3.1-8B-Instruct``, ``llama-3.1-8b-instant``, ``llama3.1:8b``) to an entry
compares *keys*: the last path segment, lower-cased, with packaging words (instruct, it, chat, latest, gguf,
quantisation tags ...) dropped and every separator removed. Each entry is reachable by its id, its Hugging Face
repo and its aliases (provider and Ollama names).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from .._errors import ConfigError

__all__ = [
    "CATALOG_PATH",
    "CATALOG_SCHEMA",
    "Catalog",
    "CatalogEntry",
    "Score",
    "family_of",
    "load_catalog",
    "model_key",
]

CATALOG_PATH = Path(__file__).with_name("catalog.json")

_SCORE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["value", "source", "verified"],
    "properties": {
        "value": {"type": "number", "minimum": 0, "maximum": 100},
        "setting": {"type": "string"},
        "variant": {"enum": ["base", "instruct"]},
        "source": {"type": "string", "pattern": "^https://"},
        "verified": {"type": "boolean"},
    },
}

CATALOG_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["updated", "models"],
    "properties": {
        "updated": {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$"},
        "description": {"type": "string"},
        "benchmarks": {"type": "object", "additionalProperties": {"type": "string"}},
        "models": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["id", "name", "family", "params_b", "license", "license_url", "commercial_use",
                             "redistribution", "context_window", "prompt_format", "scores"],
                "properties": {
                    "id": {"type": "string", "pattern": r"^[a-z0-9][a-z0-9.\-]*$"},
                    "name": {"type": "string"},
                    "family": {"type": "string"},
                    "vendor": {"type": "string"},
                    "hf_repo": {"type": "string"},
                    "aliases": {"type": "array", "items": {"type": "string"}},
                    "params_b": {"type": "number", "exclusiveMinimum": 0},
                    "active_params_b": {"type": "number", "exclusiveMinimum": 0},
                    "license": {"type": "string"},
                    "license_url": {"type": "string", "pattern": "^https://"},
                    "commercial_use": {"enum": [True, False, "restricted"]},
                    "commercial_terms": {"type": "string"},
                    "redistribution": {"enum": ["yes", "with-conditions", "no"]},
                    "redistribution_terms": {"type": "string"},
                    "context_window": {"type": "integer", "minimum": 1},
                    "context_note": {"type": "string"},
                    "prompt_format": {"type": ["string", "null"]},
                    "scores": {"type": "object", "additionalProperties": _SCORE},
                    "notes": {"type": "string"},
                },
            },
        },
    },
}

# Words that name a packaging of the same weights rather than other weights.
_NOISE = frozenset({
    "instruct", "it", "chat", "latest", "instant", "versatile", "preview", "hf", "gguf", "ggml", "awq", "gptq",
    "fp8", "fp16", "bf16", "int4", "int8", "k", "m", "s", "l", "mlx", "4bit", "8bit", "turbo", "specdec", "exl2",
    "bnb",
})
_QUANT = re.compile(r"^(q\d|iq\d\w*|\d+bpw)$")
_QUANT_TAG = re.compile(r"(?<![a-z0-9])i?q\d(?:_[a-z0-9]{1,2})*(?![a-z0-9])")

# Families by model-id pattern, open-weight and API-only. Checked in order; the first match wins.
_FAMILIES: tuple[tuple[str, str, str], ...] = (
    ("gpt-oss", r"gpt-?oss", "open"),
    ("openai", r"(^|[/:])(gpt-|o[134](-|$)|chatgpt|text-davinci|davinci|babbage)", "api-gated"),
    ("claude", r"claude", "api-gated"),
    ("gemini", r"gemini", "api-gated"),
    ("command", r"(^|[/:])command", "api-gated"),
    ("llama", r"llama", "open"),
    ("gemma", r"gemma", "open"),
    ("qwen", r"qwen|qwq", "open"),
    ("mixtral", r"mixtral", "open"),
    ("mistral-api", r"mistral-(medium|large-latest)|codestral-latest", "api-gated"),
    ("mistral", r"mistral|ministral|nemo", "open"),
    ("phi", r"(^|[/:\-])phi-?\d", "open"),
    ("deepseek", r"deepseek", "open"),
    ("glm", r"(^|[/:\-])(chat)?glm", "open"),
    ("olmo", r"olmo", "open"),
)


@dataclass(frozen=True, slots=True)
class Score:
    """One public benchmark figure and where it comes from."""

    benchmark: str
    value: float
    source: str
    verified: bool
    setting: str | None = None
    variant: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "setting": self.setting, "variant": self.variant, "source": self.source,
                "verified": self.verified}


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    id: str
    name: str
    family: str
    params_b: float
    license: str
    license_url: str
    commercial_use: bool | str
    redistribution: str
    context_window: int
    prompt_format: str | None
    scores: Mapping[str, Score] = field(default_factory=dict)
    vendor: str | None = None
    hf_repo: str | None = None
    aliases: tuple[str, ...] = ()
    active_params_b: float | None = None
    commercial_terms: str | None = None
    redistribution_terms: str | None = None
    context_note: str | None = None
    notes: str | None = None

    @property
    def keys(self) -> frozenset[str]:
        names = [self.id, *(self.aliases or ())]
        if self.hf_repo:
            names.append(self.hf_repo)
        return frozenset(model_key(n) for n in names)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "name": self.name, "family": self.family, "vendor": self.vendor, "hf_repo": self.hf_repo,
            "params_b": self.params_b, "active_params_b": self.active_params_b, "license": self.license,
            "license_url": self.license_url, "commercial_use": self.commercial_use,
            "commercial_terms": self.commercial_terms, "redistribution": self.redistribution,
            "redistribution_terms": self.redistribution_terms, "context_window": self.context_window,
            "prompt_format": self.prompt_format, "scores": {k: v.to_dict() for k, v in self.scores.items()},
        }


@dataclass(frozen=True, slots=True)
class Catalog:
    updated: str
    entries: tuple[CatalogEntry, ...]
    source: str = str(CATALOG_PATH)

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.entries)

    def get(self, entry_id: str) -> CatalogEntry | None:
        return next((e for e in self.entries if e.id == entry_id), None)

    def find(self, model_id: str | None) -> CatalogEntry | None:
        """The entry whose id, Hugging Face repo or alias names the same weights as ``model_id``, or None."""
        if not model_id:
            return None
        key = model_key(model_id)
        if not key:
            return None
        for entry in self.entries:
            if key in entry.keys:
                return entry
        return None


def model_key(model_id: str) -> str:
    """``model_id`` reduced for matching: ``meta-llama/Llama-3.1-8B-Instruct`` and ``llama3.1:8b`` -> ``llama-3-1-8b``.

    The last path segment, lower-cased, split into words at separators, packaging words dropped, each word split
    where letters meet digits (``llama3`` -> ``llama``, ``3``), joined with ``-``.
    """
    last = model_id.strip().lower().rstrip("/").rsplit("/", 1)[-1]
    last = _QUANT_TAG.sub(" ", last)  # GGUF quantisation tags: Q4_K_M, Q8_0, IQ4_XS
    words = [w for w in re.split(r"[^a-z0-9]+", last) if w]
    kept = [w for w in words if w not in _NOISE and not _QUANT.match(w)] or words
    tokens = [t for w in kept for t in re.findall(r"[a-z]+|\d+[a-z0-9]*", w)]
    return "-".join(tokens)


def family_of(model_id: str | None) -> tuple[str, str] | None:
    """``(family, "open" | "api-gated")`` guessed from the model id, or None when no known family matches."""
    if not model_id:
        return None
    text = model_id.strip().lower()
    for name, pattern, weights in _FAMILIES:
        if re.search(pattern, text):
            return name, weights
    return None


def load_catalog(path: str | Path | None = None) -> Catalog:
    """Load and validate a catalog (the shipped one by default).

    Raises:
        ConfigError: the file cannot be read, is not JSON, or does not match :data:`CATALOG_SCHEMA`.
    """
    where = Path(path) if path is not None else CATALOG_PATH
    try:
        data = json.loads(where.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read the catalog ({exc.strerror or exc}). Check the path given to --catalog.",
                          file=str(where)) from None
    except ValueError as exc:
        line = getattr(exc, "lineno", None)
        raise ConfigError(f"{where}:{line or '?'}: the catalog is not valid JSON ({exc}).", file=str(where),
                          line=line) from None
    import jsonschema

    errors = sorted(jsonschema.Draft202012Validator(CATALOG_SCHEMA).iter_errors(data), key=lambda e: list(map(str, e.path)))
    if errors:
        err = errors[0]
        path_text = ".".join(map(str, err.absolute_path)) or "(top level)"
        raise ConfigError(f"{where}: {path_text}: {err.message}. See CATALOG_SCHEMA in modelswap/migrate/_catalog.py.",
                          file=str(where), field=path_text)
    entries = []
    seen: dict[str, str] = {}
    for raw in data["models"]:
        entry = CatalogEntry(
            id=raw["id"], name=raw["name"], family=raw["family"], params_b=float(raw["params_b"]),
            license=raw["license"], license_url=raw["license_url"], commercial_use=raw["commercial_use"],
            redistribution=raw["redistribution"], context_window=int(raw["context_window"]),
            prompt_format=raw.get("prompt_format"),
            scores={name: Score(benchmark=name, value=float(s["value"]), source=s["source"], verified=bool(s["verified"]),
                                setting=s.get("setting"), variant=s.get("variant"))
                    for name, s in raw["scores"].items()},
            vendor=raw.get("vendor"), hf_repo=raw.get("hf_repo"), aliases=tuple(raw.get("aliases") or ()),
            active_params_b=raw.get("active_params_b"), commercial_terms=raw.get("commercial_terms"),
            redistribution_terms=raw.get("redistribution_terms"), context_note=raw.get("context_note"),
            notes=raw.get("notes"),
        )
        for key in entry.keys:
            if key in seen and seen[key] != entry.id:
                raise ConfigError(f"{where}: models.{entry.id}: the name key {key!r} also matches {seen[key]!r}; "
                                  "make the aliases unambiguous.", file=str(where), field=f"models.{entry.id}")
            seen[key] = entry.id
        entries.append(entry)
    return Catalog(updated=data["updated"], entries=tuple(entries), source=str(where))
