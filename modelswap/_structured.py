"""Structured output: ask for JSON matching a schema, check the answer, repair it once.

Servers with a native mechanism (OpenAI ``response_format``, llama.cpp ``json_schema``, Gemini
``responseSchema``, Ollama ``format``) get the schema in the request; the others get it in the prompt. Either way
the answer is validated with jsonschema, because even native modes differ in how much of a schema they enforce.
"""

from __future__ import annotations

import json
import re
from typing import Any, Mapping

from .hookspecs import Message

__all__ = ["check", "instruction", "repair_turns"]

_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)


def instruction(schema: Mapping[str, Any]) -> str:
    """The system text that asks for schema-conforming JSON where the server has no native mode."""
    return (
        "Answer with a single JSON value and nothing else (no prose, no code fences). "
        f"It must validate against this JSON Schema:\n{json.dumps(schema, separators=(',', ':'))}"
    )


def check(text: str, schema: Mapping[str, Any]) -> tuple[Any, str | None, str]:
    """Parse and validate ``text``. Return ``(data, problem, json_path)``; ``problem`` is None when valid."""
    import jsonschema

    fenced = _FENCE.match(text)
    candidate = fenced.group(1) if fenced else text.strip()
    try:
        data = json.loads(candidate)
    except ValueError as exc:
        return None, f"not valid JSON ({exc})", "$"
    validator_cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    error = jsonschema.exceptions.best_match(validator_cls(schema).iter_errors(data))
    if error is None:
        return data, None, "$"
    return data, error.message, error.json_path


def repair_turns(messages: list[Message], answer: str, problem: str, json_path: str) -> list[Message]:
    """The conversation plus the failed answer and a request to fix it."""
    return [
        *messages,
        # Several APIs (Anthropic, Gemini) reject an empty turn, which would stop the repair from ever being asked.
        {"role": "assistant", "content": answer if answer.strip() else "(empty answer)"},
        {
            "role": "user",
            "content": f"That answer is invalid at {json_path}: {problem}. Reply with the corrected JSON only.",
        },
    ]
