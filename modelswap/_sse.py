"""A Server-Sent Events parser that works on the body's bytes.

Why not httpx-sse: on a long stream its per-event objects, two decoder passes and generator layers were about
three quarters of modelswap's overhead over a raw httpx loop (bench/bench_stream.py); this parser keeps the
WHATWG rules that matter for LLM streams and decodes only each event's data. Lines break at CR, LF or CRLF,
split on bytes (a line break never falls inside a UTF-8 character, and U+2028 inside the data is no break);
``id`` and ``retry`` are ignored; comments are skipped; an event cut off by the end of the body is dropped, as
the spec says. tests/unit/test_sse.py checks it against httpx-sse on inputs cut at random points.
"""

from __future__ import annotations

__all__ = ["SSEParser"]


class SSEParser:
    """Feed it chunks of bytes; it returns the completed events as ``(data, event name)`` pairs."""

    __slots__ = ("_data", "_event", "_pending")

    def __init__(self) -> None:
        self._pending = b""
        self._data: list[bytes] = []
        self._event = b""

    def feed(self, chunk: bytes) -> list[tuple[str, str]]:
        if self._pending:
            chunk = self._pending + chunk
        if b"\r" in chunk:
            held = b"\r" if chunk[-1:] == b"\r" else b""  # maybe half of a CRLF: keep it for the next chunk
            if held:
                chunk = chunk[:-1]
            lines = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
            self._pending = lines.pop() + held
        else:
            lines = chunk.split(b"\n")
            self._pending = lines.pop()
        out: list[tuple[str, str]] = []
        data = self._data
        for line in lines:
            if line[:6] == b"data: ":  # the common case first
                data.append(line[6:])
            elif not line:
                if data or self._event:
                    out.append((b"\n".join(data).decode("utf-8", "replace"), self._event.decode("utf-8", "replace") or "message"))
                    data.clear()
                    self._event = b""
            elif line[:1] != b":":
                name, _, value = line.partition(b":")
                if value[:1] == b" ":
                    value = value[1:]
                if name == b"data":
                    data.append(value)
                elif name == b"event":
                    self._event = value
        return out

    def end(self) -> list[tuple[str, str]]:
        """Events completed by the end of the body (a held CR that ended the last line)."""
        if self._pending[-1:] == b"\r":
            pending, self._pending = self._pending, b""
            return self.feed(pending[:-1] + b"\n")
        return []
