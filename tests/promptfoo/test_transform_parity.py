"""``options.transform``: modelswap's ``apply_transform(expression, output)`` against promptfoo's own evaluation.

promptfoo compiles an inline transform with ``new Function('output', 'context', 'process', 'return ' + code)``.
modelswap evaluates a small subset of such expressions itself (it runs no JavaScript): trim, trimStart, trimEnd,
toLowerCase, toUpperCase, replace (a string: first match only; or /regex/flags), split(x)[n], slice, substring,
JSON.parse(output), chained. Each expression below runs in Node (the one promptfoo runs on, so JavaScript's own
semantics) and in modelswap; the values must be equal (a parsed object may come back as the object or as the
compact JSON text promptfoo's string assertions see), or both must fail (promptfoo turns a thrown error or an
``undefined``/``null`` result into an errored case). No model involved.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.promptfoo import pfkit

HERE = Path(__file__).resolve().parent


pytestmark = pytest.mark.promptfoo

SAMPLE = "  The capital of France is Paris.\n"
CASES: list[tuple[str, str]] = [
    ("output.trim()", SAMPLE),
    ("output.trim()", "\u00a0\t x \r\n"),
    ("output.trimStart()", SAMPLE),
    ("output.trimEnd()", SAMPLE),
    ("output.toLowerCase()", "Élan VITAL"),
    ("output.toUpperCase()", "straße"),
    ("output.trim().toLowerCase()", SAMPLE),
    ("output.replace('a', 'A')", "banana"),                    # a string pattern: the first match only
    ("output.replace(/a/g, 'A')", "banana"),
    ("output.replace(/PARIS/i, 'X')", SAMPLE),
    ("output.replace(/[.!]/g, '')", "Yes! Done."),
    ('output.replace(/\\s+/g, " ").trim()', " a \n\n b\tc "),
    ("output.replace('.', '')", "a.b.c"),                       # '.' is text, not a regex
    ("output.split(' ')[0]", "Paris is nice"),
    ("output.split(',')[1]", "a,b,c"),
    ("output.split(',')[1].trim()", "a, b ,c"),
    ("output.split(',')[5]", "a,b,c"),                          # undefined: promptfoo errors
    ("output.split('\\n')[0]", "first\nsecond"),
    ("output.slice(0, 5)", SAMPLE),
    ("output.slice(-7)", "It is Madrid."),
    ("output.slice(2, -1)", "abcdef"),
    ("output.slice(3)", "abcdef"),
    ("output.substring(0, 3)", "abcdef"),
    ("output.substring(3, 1)", "abcdef"),                       # substring swaps its arguments
    ("output.substring(-2, 2)", "abcdef"),                      # and clamps negatives to 0
    ("output.trim().slice(0, 6).toUpperCase()", SAMPLE),
    ("JSON.parse(output)", '{"city": "Paris", "n": [1, 2]}'),
    ("JSON.parse(output)", "Paris"),                            # not JSON: promptfoo errors
    ("JSON.parse(output.trim())", ' {"a": 1}\n'),
    # Beyond that list, as modelswap/evals/_transform.py documents them.
    ("JSON.parse(output).city", '{"city": "Lyon"}'),
    ("JSON.parse(output).missing", '{"city": "Lyon"}'),        # undefined: promptfoo errors
    ("output.replaceAll('a', 'A')", "banana"),
    ("output.replace(/(\\w+) (\\w+)/, '$2 $1')", "hello world"),
    ("output.split(/\\s+/)[1]", "a  \t b c"),
]


def test_apply_transform_matches_promptfoo(promptfoo: Any) -> None:
    import modelswap.evals as evals

    apply_transform = getattr(evals, "apply_transform", None)
    assert apply_transform is not None, "contract: modelswap.evals.apply_transform(expression, output) is missing"
    expected = pfkit.js_transform(promptfoo.node, CASES)
    rows, bad = [], []
    for (expression, output), want in zip(CASES, expected):
        try:
            got, error = apply_transform(expression, output), None
        except Exception as exc:  # noqa: BLE001 - any error is modelswap's "the transform failed"
            got, error = None, exc
        ok = (want["ok"] and error is None and got in (want["value"], want["text"])) or (not want["ok"] and error is not None)
        shown_want = repr(want["value"]) if want["ok"] else f"<error: {want['error']}>"
        shown_got = repr(got) if error is None else f"<{type(error).__name__}: {error}>"
        rows.append(f"{'ok ' if ok else 'BAD'} {expression:45} {output!r:40} node={shown_want}  modelswap={shown_got}")
        if not ok:
            bad.append(expression)
    table = "\n".join(rows)
    print("\n" + table)
    assert not bad, f"apply_transform differs from promptfoo (Node) on {len(bad)} of {len(CASES)}:\n{table}"
