"""The matches in one file's bytes, before any judgement: where each is, which detector found it, what it names.

The prefilter (:mod:`._patterns`) finds the lines that hold one of the detectors' needles; only those lines are
decoded and matched against the detectors their needles stand for. Detectors whose context is ``model`` count
only right after a model-ish key (``model=``, ``MODEL_ID:``, ``ollama run``). Of overlapping matches, the
longest wins, then the detector order (keys, weight files, endpoints, API ids, open weights, tokens).
"""

from __future__ import annotations

from dataclasses import dataclass

from ._patterns import Detector, Patterns

__all__ = ["WINDOW", "RawMatch", "provider_family", "raw_matches"]

# How far before a match its context is looked for (a lookup it is the default of, a model key): one statement.
WINDOW = 400


@dataclass
class RawMatch:
    """One match in a file, before it is judged hard-coded or configurable."""

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


def raw_matches(data: bytes, patterns: Patterns) -> list[RawMatch]:
    """Every match in ``data``, in line and column order, overlaps resolved."""
    lines = _candidate_lines(data, patterns)
    if not lines:
        return []
    out: list[RawMatch] = []
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
                        line_text[max(0, m.start() - WINDOW):m.start()]):
                    continue
                spans.append((m.start(), m.end(), index, detector, m.group()))
        # Overlaps: the longest match, then the detector order (keys, weight files, endpoints, API ids, open
        # weights, tokens).
        for begin, _, _, detector, matched in _select(spans):
            out.append(RawMatch(lineno, begin, detector, matched, line_text))
    out.sort(key=lambda r: (r.line, r.column))
    return out


def provider_family(raw: RawMatch, patterns: Patterns) -> tuple[str | None, str | None]:
    """The API provider and the model or prompt-format family a match belongs to, when known."""
    detector = raw.detector
    if detector.kind == "api_key" and detector.label == "bearer":
        return None, None  # a bearer token: whose, the string does not say
    if detector.kind == "model_path":
        return None, patterns.family_of(raw.text.rsplit("/", 1)[-1])
    if detector.label_field == "provider":
        family = patterns.family_of(raw.text) if detector.kind == "model_id" else None
        return detector.label, family
    return None, detector.label
