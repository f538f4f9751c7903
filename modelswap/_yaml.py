"""YAML with line numbers: the one parser behind configs, eval suites and migration inputs.

Every error about a YAML file names its line, so the text is parsed twice: once into nodes (which keep their
marks) and once into data. Dates become ISO text, as JSON and the schemas want.
"""

from __future__ import annotations

from typing import Any, Sequence

from ._errors import ConfigError

__all__ = ["dates_to_text", "line_of", "parse_yaml"]


def parse_yaml(text: str, source: str) -> tuple[Any, Any]:
    """``(node tree, data)`` of a YAML document; ``source`` names it in the error.

    Raises:
        ConfigError: the text is not YAML; the message gives the line and what to check.
    """
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        root = yaml.compose(text, Loader=loader)
        data = yaml.load(text, Loader=loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(
            f"{source}:{line or '?'}: not valid YAML ({problem}). Check indentation and quoting on that line.",
            file=source,
            line=line,
        ) from None
    return root, dates_to_text(data)


def line_of(node: Any, path: Sequence[Any]) -> int | None:
    """1-based line of the YAML node at ``path`` (a mapping entry's key line), or of its nearest parent."""
    if node is None:
        return None
    line = node.start_mark.line + 1
    for part in path:
        if node.id == "mapping":
            for key_node, value_node in node.value:
                if key_node.value == str(part):
                    line = key_node.start_mark.line + 1
                    node = value_node
                    break
            else:
                return line
        elif node.id == "sequence" and isinstance(part, int) and 0 <= part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def dates_to_text(value: Any) -> Any:
    """YAML reads ``checked: 2026-11-23`` as a date; configs, suites and JSON want the ISO text."""
    if isinstance(value, dict):
        return {k: dates_to_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [dates_to_text(v) for v in value]
    if hasattr(value, "isoformat") and not isinstance(value, str):
        return value.isoformat()
    return value
