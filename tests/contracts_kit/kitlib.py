"""What check_request.py and check_response.py share: the contract data, schema validation, body framing.

The data is tests/data/contracts (schemas/, examples/, ...), or this folder itself when the scripts sit beside a
schemas/ folder (the layout of the shared contracts folder). Runtime needs: jsonschema, the standard library.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

import jsonschema
from jsonschema.exceptions import best_match

HERE = Path(__file__).resolve().parent
DATA = HERE if (HERE / "schemas").is_dir() else HERE.parent / "data" / "contracts"
SCHEMAS = DATA / "schemas"

def _schemas(base: str, error: str, chunk: str | None = None) -> tuple[str, str, str, str]:
    """(request, response, stream chunk, error body) schema names; a chunk is a response unless named."""
    return f"{base}.request", f"{base}.response", chunk or f"{base}.response", error


# API -> its schemas (files schemas/<name>.schema.json)
APIS = {
    "openai-chat": _schemas("openai_chat", "openai_error", "openai_chat.stream_chunk"),
    "openai-completions": _schemas("openai_completions", "openai_error"),
    "anthropic-messages": _schemas("anthropic_messages", "anthropic_error", "anthropic_messages.stream_event"),
    "gemini-generate": _schemas("gemini_generate", "gemini_error"),
    "vertex-generate": _schemas("vertex_generate", "gemini_error"),
    "ollama-chat": _schemas("ollama_chat", "ollama_error"),
    "ollama-generate": _schemas("ollama_generate", "ollama_error"),
    "llamacpp-completion": _schemas("llamacpp_completion", "llamacpp_error"),
    "tgi-generate": _schemas("tgi_generate", "tgi_error", "tgi_generate_stream.event"),
}
REQ, RESP, CHUNK, ERR = range(4)

# The `anthropic-version` header picks the Anthropic schema generation: 2023-06-01 -> files with that suffix
# (SDK 0.125.0), 2026-10-21 -> the unsuffixed files (SDK 2.12.0).
ANTHROPIC_VERSIONS = {"2023-06-01": ".v2023-06-01", "2026-10-21": ""}
DEFAULT_ANTHROPIC_VERSION = "2023-06-01"

# Error envelopes an OpenAI-compatible server may answer with, tried in this order.
ERROR_SHAPES = ("openai_error", "llamacpp_error", "tgi_error", "ollama_error", "anthropic_error", "gemini_error")
LENIENT_OPENAI_ERROR = {
    "type": "object", "required": ["error"],
    "properties": {"error": {"type": "object", "required": ["message"], "properties": {
        "message": {"type": "string"}, "type": {"type": ["string", "null"]},
        "code": {"type": ["string", "integer", "null"]}, "param": {}, "metadata": {"type": "object"}}}},
}


@cache
def _validator_for_file(path: Path) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(json.loads(path.read_text(encoding="utf-8")))


class Schemas:
    """Validators by schema name, for one Anthropic API version."""

    def __init__(self, anthropic_version: str = DEFAULT_ANTHROPIC_VERSION) -> None:
        self.suffix = ANTHROPIC_VERSIONS[anthropic_version]

    def validator(self, schema: str | dict) -> jsonschema.Draft202012Validator:
        if isinstance(schema, dict):
            return jsonschema.Draft202012Validator(schema)
        if schema.startswith("anthropic_"):
            schema += self.suffix
        return _validator_for_file(SCHEMAS / f"{schema}.schema.json")

    def is_valid(self, schema: str | dict, instance) -> bool:
        return self.validator(schema).is_valid(instance)

    def problems(self, schema: str | dict, instance, limit: int = 25) -> list[tuple[str, str, str, bool]]:
        """(JSON path, message, failing keyword, instance is null), shallowest first, at most `limit`."""
        def order(e):
            return len(e.absolute_path), [str(p) for p in e.absolute_path]

        found = []
        for error in sorted(self.validator(schema).iter_errors(instance), key=order)[:limit]:
            error = _most_relevant(error)
            message = error.message if len(error.message) < 300 else error.message[:300] + "..."
            found.append((json_path(error.absolute_path), message, error.validator, error.instance is None))
        return found

    def top_level_properties(self, schema: str) -> set[str]:
        """The property names a schema declares at its root (through a root $ref into $defs, and allOf)."""
        root = self.validator(schema).schema
        defs, seen = root.get("$defs", {}), set()

        def names(node: dict) -> set[str]:
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                key = ref.rsplit("/", 1)[-1]
                if key in seen:
                    return set()
                seen.add(key)
                return names(defs[key])
            found = set(node.get("properties") or {})
            for sub in node.get("allOf", []):
                found |= names(sub)
            return found

        return names(root)


def _most_relevant(error):
    """Descend anyOf/oneOf failures to the sub-error that explains them, ignoring 'is not of type null'."""
    while error.context:
        candidates = [c for c in error.context
                      if not (c.validator == "type" and c.validator_value in ("null", ["null"]))] or error.context
        better = best_match(candidates)
        if better is None or better is error:
            break
        error = better
    return error


def json_path(parts) -> str:
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)


# -- body framing -------------------------------------------------------------------------------------------------
def sniff(text: str) -> str:
    """'sse' | 'json-array' | 'json' | 'ndjson' | 'unknown'."""
    head = text.lstrip()
    if head.startswith(("data:", "event:", ":")) or "\ndata:" in text:
        return "sse"
    if head.startswith("["):
        return "json-array"
    try:
        json.loads(head)
        return "json"
    except ValueError:
        pass
    lines = [line for line in head.splitlines() if line.strip()]
    return "ndjson" if lines and all(line.lstrip().startswith("{") for line in lines) else "unknown"


def sse_events(text: str) -> tuple[list[dict], int]:
    """Server-sent events per the WHATWG parsing rules (event, data, id; retry ignored) and the comment count.
    An event still open at the end of the text is kept and marked `unterminated`."""
    events, comments = [], 0
    name, data, ident = None, [], None
    for line in re.split(r"\r\n|\r|\n", text):
        if not line:
            if data or name:
                events.append({"event": name, "data": "\n".join(data), "id": ident})
            name, data, ident = None, [], None
        elif line.startswith(":"):
            comments += 1
        else:
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "data":
                data.append(value)
            elif field == "event":
                name = value
            elif field == "id":
                ident = value
    if data or name:
        events.append({"event": name, "data": "\n".join(data), "id": ident, "unterminated": True})
    return events, comments


# -- HTTP headers -------------------------------------------------------------------------------------------------
RATE_LIMIT_HEADER = re.compile(
    r"(retry-after(-ms)?|x-ratelimit-[a-z0-9-]+|anthropic-ratelimit-[a-z0-9-]+|x-should-retry"
    r"|ratelimit(-policy|-limit|-remaining|-reset)?|x-request-id|request-id|openai-processing-ms|x-groq-region)",
    re.IGNORECASE,
)


def parse_headers(text: str) -> dict[str, str]:
    """A JSON object, or raw 'Name: value' lines (a status line is skipped); names lower-cased."""
    text = text.strip()
    if text.startswith("{"):
        return {k.lower(): str(v) for k, v in json.loads(text).items()}
    headers = {}
    for line in text.splitlines():
        if ":" in line and not line.upper().startswith("HTTP/"):
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    return headers


# Go's time.Duration.String() as OpenAI and Groq send it in x-ratelimit-reset-*: '1s', '6m0s', '76ms', '1h2m3.4s'.
_NUMBER = r"(\d+(?:\.\d+)?)"
_GO_DURATION = re.compile(rf"(?:{_NUMBER}h)?(?:{_NUMBER}m(?!s))?(?:{_NUMBER}s)?(?:{_NUMBER}ms)?")


def duration_seconds(value: str | None) -> float | None:
    """A Go duration, or else a plain number of seconds, in seconds; None when it is neither."""
    if value is None:
        return None
    found = _GO_DURATION.fullmatch(value.strip())
    if found and any(found.groups()):
        hours, minutes, seconds, millis = (float(g) if g else 0.0 for g in found.groups())
        return hours * 3600 + minutes * 60 + seconds + millis / 1000.0
    try:
        return float(value)
    except ValueError:
        return None
