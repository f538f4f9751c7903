#!/usr/bin/env python3
"""Check a provider response as received (JSON body, SSE stream, NDJSON stream, JSON array, error body) and print
the reference normalisation a client's parser should arrive at: text, reasoning, finish reason, usage, tool calls,
error, retry delay.

usage: check_response.py --api API [--profile P] [--status N] [--headers H] [--anthropic-version V] [--json] FILE
  API  openai-chat | openai-completions | anthropic-messages | gemini-generate | vertex-generate |
       ollama-chat | ollama-generate | llamacpp-completion | tgi-generate
  P    for openai-*: openai (default) | groq | together | vllm | llamacpp | ollama | tgi | openrouter
  N    the HTTP status the body came with;  H: the response headers, a JSON object or raw 'Name: value' lines
Prints '== FILE [API] body=KIND: N error(s), M warning(s)', one 'ERROR|WARN <where>: message' line per problem and
'normalized: {...}'; --json prints {"problems": [{level, where, message}], "normalized": {...}} instead.
Response checks are tolerant where servers (and the specs' own examples) are: a missing spec-`required` field or
a null the spec does not allow is a WARN tagged [spec-strict]; wrong types, shapes and enum values are ERRORs.
Exit 0: no ERROR; 1: errors; 2: unreadable input.
"""

from __future__ import annotations

import argparse
import email.utils
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import kitlib
from kitlib import CHUNK, ERR, RESP

LENIENT_KEYWORDS = ("type", "anyOf", "oneOf", "$ref")  # failing on a null: [spec-strict]
NOT_JSON = object()
GEMINI_USAGE = (("input_tokens", "promptTokenCount"), ("output_tokens", "candidatesTokenCount"),
                ("thoughts_tokens", "thoughtsTokenCount"), ("total_tokens", "totalTokenCount"),
                ("cached_tokens", "cachedContentTokenCount"))


def _tool_call(ident, name, arguments) -> dict:
    return {"id": ident, "name": name, "arguments": arguments}


def _openai_usage(u: dict) -> dict:
    return {"input_tokens": u.get("prompt_tokens"), "output_tokens": u.get("completion_tokens"),
            "total_tokens": u.get("total_tokens")}


def _anthropic_usage(u: dict) -> dict:
    return {key: u.get(key) for key in
            ("input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")}


class Response:
    """The problems found in one response and its reference normalisation (`norm`)."""

    def __init__(self, api: str, profile: str, schemas: kitlib.Schemas) -> None:
        self.api, self.profile, self.schemas = api, profile, schemas
        self.items: list[tuple[str, str, str]] = []
        self.norm = {"kind": None, "text": "", "reasoning": "", "finish_reason": None, "usage": None,
                     "tool_calls": [], "error": None, "events": 0}

    def error(self, where: str, message: str) -> None:
        self.items.append(("ERROR", where, message))

    def warn(self, where: str, message: str) -> None:
        self.items.append(("WARN", where, message))

    def schema(self, name: str, instance, where: str = "") -> None:
        for path, message, keyword, is_null in self.schemas.problems(name, instance):
            if keyword == "required" or (is_null and keyword in LENIENT_KEYWORDS):
                self.warn(where + path, message + " [spec-strict]")
            else:
                self.error(where + path, message)

    def schema_of(self, role: int) -> str:
        return kitlib.APIS[self.api][role]

    # -- errors ---------------------------------------------------------------------------------------------------
    def is_error_body(self, body) -> bool:
        if not isinstance(body, dict):
            return False
        if body.get("type") == "error":
            return True
        if self.api == "llamacpp-completion":  # its successful bodies never carry `error`; its errors are objects
            return isinstance(body.get("error"), dict)
        return "error" in body

    def read_error(self, body, where: str = "$") -> dict:
        """Which error envelope `body` is, and its message, type, code and RetryInfo delay."""
        found = {"shape": None, "message": None, "type": None, "code": None, "retry_delay_s": None}
        expected = self.schema_of(ERR)
        compatible = self.api.startswith("openai") and self.profile != "openai"
        if compatible:
            expected = {"llamacpp": "llamacpp_error", "tgi": "tgi_error"}.get(self.profile)
        if expected and self.schemas.is_valid(expected, body):
            found["shape"] = expected
        else:
            found["shape"] = next((s for s in kitlib.ERROR_SHAPES if self.schemas.is_valid(s, body)), None)
            if found["shape"] is None and self.schemas.is_valid(kitlib.LENIENT_OPENAI_ERROR, body):
                found["shape"] = "openai-like (lenient)"
            if expected and compatible and found["shape"]:
                self.warn(where, f"error body is {found['shape']}, not the strict {expected} shape")
            elif expected:
                self.schema(expected, body, "" if where == "$" else where)
                if found["shape"]:
                    self.warn(where, f"error body matches {found['shape']} instead")
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict):
            found.update(message=error.get("message"), type=error.get("type") or error.get("status"),
                         code=error.get("code"))
            for detail in error.get("details") or []:
                if (isinstance(detail, dict) and str(detail.get("@type", "")).endswith("google.rpc.RetryInfo")
                        and detail.get("retryDelay")):
                    found["retry_delay_s"] = kitlib.duration_seconds(detail["retryDelay"])
        elif isinstance(error, str):
            found.update(message=error, type=body.get("error_type"))
        return found

    # -- one complete JSON body -----------------------------------------------------------------------------------
    def body(self, body: dict) -> None:
        n, api = self.norm, self.api
        self.schema(self.schema_of(RESP), body)
        if api == "openai-chat":
            choice = (body.get("choices") or [{}])[0]
            message = choice.get("message") or {}
            n["text"] = message.get("content") or ""
            n["reasoning"] = message.get("reasoning_content") or message.get("reasoning") or ""
            n["finish_reason"] = choice.get("finish_reason")
            n["tool_calls"] = [_tool_call(t.get("id"), (t.get("function") or {}).get("name"),
                                          (t.get("function") or {}).get("arguments"))
                               for t in message.get("tool_calls") or []]
            if body.get("usage"):
                n["usage"] = _openai_usage(body["usage"])
        elif api == "openai-completions":
            choice = (body.get("choices") or [{}])[0]
            n["text"], n["finish_reason"] = choice.get("text") or "", choice.get("finish_reason")
            usage = body.get("usage") or {}
            n["usage"] = _openai_usage(usage) if usage else usage
        elif api == "anthropic-messages":
            for block in body.get("content") or []:
                kind = block.get("type")
                if kind == "text":
                    n["text"] += block.get("text", "")
                elif kind == "thinking":
                    n["reasoning"] += block.get("thinking", "")
                elif kind == "tool_use":
                    n["tool_calls"].append(_tool_call(block.get("id"), block.get("name"), block.get("input")))
            n["finish_reason"] = body.get("stop_reason")
            if body.get("usage"):
                n["usage"] = _anthropic_usage(body["usage"])
        elif api in ("gemini-generate", "vertex-generate"):
            self.gemini_chunk(body)
        elif api in ("ollama-chat", "ollama-generate"):
            self.ollama_chunk(body)
            if not body.get("done"):
                self.error("$.done", "non-stream Ollama body must have done:true (is this one line of a stream?)")
        elif api == "llamacpp-completion":
            self.llamacpp_chunk(body)
        elif api == "tgi-generate":
            self.tgi_chunk(body, streaming=False)

    # -- chunks shared by bodies and streams ----------------------------------------------------------------------
    def gemini_chunk(self, chunk: dict) -> None:
        n = self.norm
        candidates = chunk.get("candidates") or []
        if not candidates and (chunk.get("promptFeedback") or {}).get("blockReason"):
            n["finish_reason"] = "PROMPT_BLOCKED:" + chunk["promptFeedback"]["blockReason"]
        if candidates:
            first = candidates[0]
            for part in (first.get("content") or {}).get("parts") or []:
                if "text" in part:
                    n["reasoning" if part.get("thought") else "text"] += part["text"]
                if "functionCall" in part:
                    call = part["functionCall"]
                    n["tool_calls"].append(_tool_call(call.get("id"), call.get("name"), call.get("args")))
            if first.get("finishReason"):
                n["finish_reason"] = first["finishReason"]
        usage = chunk.get("usageMetadata")
        if usage:
            n["usage"] = {key: usage.get(name) for key, name in GEMINI_USAGE}

    def ollama_chunk(self, chunk: dict) -> None:
        n = self.norm
        source = (chunk.get("message") or {}) if self.api == "ollama-chat" else chunk
        n["text"] += source.get("content" if self.api == "ollama-chat" else "response") or ""
        n["reasoning"] += source.get("thinking") or ""
        for call in source.get("tool_calls") or []:
            function = call.get("function") or {}
            n["tool_calls"].append(_tool_call(call.get("id"), function.get("name"), function.get("arguments")))
        if chunk.get("done"):
            n["finish_reason"] = chunk.get("done_reason")
            n["usage"] = {"input_tokens": chunk.get("prompt_eval_count"), "output_tokens": chunk.get("eval_count"),
                          "total_duration_ns": chunk.get("total_duration")}

    def llamacpp_chunk(self, chunk: dict) -> None:
        n = self.norm
        n["text"] += chunk.get("content") or ""
        if chunk.get("stop"):
            n["finish_reason"] = chunk.get("stop_type")
            timings = chunk.get("timings") or {}
            n["usage"] = {"input_tokens": chunk.get("tokens_evaluated", timings.get("prompt_n")),
                          "output_tokens": chunk.get("tokens_predicted", timings.get("predicted_n")),
                          "cached_tokens": chunk.get("tokens_cached", timings.get("cache_n"))}

    def tgi_chunk(self, chunk: dict, streaming: bool) -> None:
        n = self.norm
        if streaming:
            token = chunk.get("token") or {}
            if not token.get("special"):
                n["text"] += token.get("text", "")
            if chunk.get("generated_text") is not None:
                n["final_text"] = chunk["generated_text"]
        else:
            n["text"] = chunk.get("generated_text", "")
        details = chunk.get("details") or {}
        if details:
            n["finish_reason"] = details.get("finish_reason")
            n["usage"] = {"input_tokens": len(details["prefill"]) if details.get("prefill") else None,
                          "output_tokens": details.get("generated_tokens")}

    # -- streams --------------------------------------------------------------------------------------------------
    def load(self, where: str, data: str, label: str = "not JSON"):
        """`data` parsed, or NOT_JSON after an ERROR."""
        try:
            return json.loads(data)
        except ValueError as exc:
            self.error(where, f"{label}: {exc}")
            return NOT_JSON

    def mid_stream_error(self, obj, where: str) -> bool:
        """An error object inside a stream: recorded as the error; True when `obj` is one."""
        if isinstance(obj, dict) and "error" in obj:
            self.norm["error"] = self.read_error(obj, where)
            return True
        return False

    def openai_stream(self, events: list[dict]) -> None:
        n, done, calls = self.norm, False, {}
        for i, event in enumerate(events):
            where = f"event[{i}]"
            if event["data"].strip() == "[DONE]":
                done = True
                if i != len(events) - 1:
                    self.error(where, "data after [DONE]")
                continue
            chunk = self.load(where, event["data"], "data is not JSON")
            if chunk is NOT_JSON:
                continue
            n["events"] += 1
            if self.mid_stream_error(chunk, where):
                self.warn(where, "error delivered INSIDE a 200 stream (openai-python raises APIError for this)")
                continue
            self.schema(self.schema_of(CHUNK), chunk, where)
            if chunk.get("usage"):
                n["usage"] = _openai_usage(chunk["usage"])
            for choice in chunk.get("choices") or []:
                if choice.get("index", 0) != 0:
                    continue
                if self.api == "openai-completions":
                    n["text"] += choice.get("text") or ""
                else:
                    delta = choice.get("delta") or {}
                    n["text"] += delta.get("content") or ""
                    n["reasoning"] += delta.get("reasoning_content") or delta.get("reasoning") or ""
                    for piece in delta.get("tool_calls") or []:  # accumulated by index
                        call = calls.setdefault(piece.get("index", 0), _tool_call(None, None, ""))
                        function = piece.get("function") or {}
                        call["id"] = piece.get("id") or call["id"]
                        call["name"] = function.get("name") or call["name"]
                        call["arguments"] += function.get("arguments") or ""
                if choice.get("finish_reason"):
                    n["finish_reason"] = choice["finish_reason"]
        n["tool_calls"] = [calls[k] for k in sorted(calls)]
        if not done and n["error"] is None:
            self.error("stream", "no terminating `data: [DONE]` (truncated stream?)")

    def anthropic_stream(self, events: list[dict]) -> None:
        n = self.norm
        blocks, usage, started, stopped = {}, {}, False, False
        deltas = {"text_delta": ("text", "text"), "input_json_delta": ("json", "partial_json"),
                  "thinking_delta": ("thinking", "thinking")}
        for i, event in enumerate(events):
            where = f"event[{i}]"
            obj = self.load(where, event["data"], "data is not JSON")
            if obj is NOT_JSON:
                continue
            n["events"] += 1
            self.schema(self.schema_of(CHUNK), obj, where)
            kind = obj.get("type")
            if event["event"] is not None and event["event"] != kind:
                self.error(where, f"SSE event name {event['event']!r} != data.type {kind!r}")
            if kind == "error":
                n["error"] = self.read_error(obj, where)
            elif kind == "message_start":
                started = True
                usage.update((obj.get("message") or {}).get("usage") or {})
            elif kind == "content_block_start":
                block = obj.get("content_block") or {}
                blocks[obj.get("index")] = {"type": block.get("type"), "text": block.get("text", ""), "json": "",
                                            "id": block.get("id"), "name": block.get("name"),
                                            "thinking": block.get("thinking", "")}
            elif kind == "content_block_delta":
                block = blocks.get(obj.get("index"))
                if block is None:
                    self.error(where, "content_block_delta for an index without content_block_start")
                    continue
                delta = obj.get("delta") or {}
                if delta.get("type") in deltas:
                    field, key = deltas[delta["type"]]
                    block[field] += delta.get(key, "")
            elif kind == "message_delta":
                if (obj.get("delta") or {}).get("stop_reason"):
                    n["finish_reason"] = obj["delta"]["stop_reason"]
                usage.update({k: v for k, v in (obj.get("usage") or {}).items() if v is not None})  # cumulative
            elif kind == "message_stop":
                stopped = True
        for index in sorted(k for k in blocks if k is not None):
            block = blocks[index]
            if block["type"] == "text":
                n["text"] += block["text"]
            elif block["type"] == "thinking":
                n["reasoning"] += block["thinking"]
            elif block["type"] in ("tool_use", "server_tool_use"):
                try:
                    arguments = json.loads(block["json"]) if block["json"] else {}
                except ValueError:
                    arguments = block["json"]
                    self.error(f"block[{index}]", "accumulated input_json_delta is not valid JSON")
                n["tool_calls"].append(_tool_call(block["id"], block["name"], arguments))
        if usage:
            n["usage"] = _anthropic_usage(usage)
        if n["error"] is None:
            if not started:
                self.error("stream", "no message_start event")
            if not stopped:
                self.error("stream", "no message_stop event (truncated stream?)")

    def gemini_stream(self, chunks: list) -> None:
        for i, chunk in enumerate(chunks):
            self.norm["events"] += 1
            if self.mid_stream_error(chunk, f"event[{i}]"):
                continue
            self.schema(self.schema_of(CHUNK), chunk, f"event[{i}]")
            self.gemini_chunk(chunk)
        if self.norm["finish_reason"] is None and self.norm["error"] is None:
            self.warn("stream", "no finishReason in any chunk (truncated stream?)")

    def chunks(self, raws: list[str], label: str, *, error_warning: str | None = None,
               done_warning: str | None = None):
        """``(where, chunk)`` for each JSON chunk of a line or event stream, schema-checked, counted in ``events``.

        Bad JSON is an ERROR and an in-band error object is recorded as the error (with ``error_warning``, if
        given); neither is yielded. With ``done_warning``, a ``[DONE]`` sentinel is warned about and skipped.
        """
        for i, raw in enumerate(raws):
            where = f"{label}[{i}]"
            if done_warning is not None and raw.strip() == "[DONE]":
                self.warn(where, done_warning)
                continue
            chunk = self.load(where, raw)
            if chunk is NOT_JSON:
                continue
            self.norm["events"] += 1
            if self.mid_stream_error(chunk, where):
                if error_warning is not None:
                    self.warn(where, error_warning)
                continue
            self.schema(self.schema_of(CHUNK), chunk, where)
            yield where, chunk

    def ollama_stream(self, lines: list[str]) -> None:
        done = False
        for where, chunk in self.chunks(lines, "line",
                                        error_warning="mid-stream error line (HTTP status stays 200)"):
            if done:
                self.error(where, "data after done:true")
            self.ollama_chunk(chunk)
            done = done or bool(chunk.get("done"))
        if not done and self.norm["error"] is None:
            self.error("stream", "no final object with done:true (truncated stream?)")

    def llamacpp_stream(self, events: list[dict]) -> None:
        stopped = False
        for _, chunk in self.chunks([e["data"] for e in events], "event", done_warning=(
                "[DONE] sentinel: native /completion does not send it (OpenAI-compatible endpoints do)")):
            self.llamacpp_chunk(chunk)
            stopped = stopped or bool(chunk.get("stop"))
        if not stopped and self.norm["error"] is None:
            self.error("stream", "no chunk with stop:true (truncated stream?)")

    def tgi_stream(self, events: list[dict]) -> None:
        final = False
        for _, chunk in self.chunks([e["data"] for e in events], "event"):
            self.tgi_chunk(chunk, streaming=True)
            final = final or chunk.get("generated_text") is not None
        if not final and self.norm["error"] is None:
            self.error("stream", "no final event with generated_text (truncated stream?)")

    def sse(self, text: str) -> None:
        events, comments = kitlib.sse_events(text)
        if comments:
            self.norm["sse_comments"] = comments
        if any(e.get("unterminated") for e in events):
            self.warn("stream", "last SSE event not terminated by a blank line")
        api = self.api
        if api in ("openai-chat", "openai-completions"):
            self.openai_stream(events)
        elif api == "anthropic-messages":
            self.anthropic_stream(events)
        elif api in ("gemini-generate", "vertex-generate"):
            chunks = [self.load(f"event[{i}]", e["data"]) for i, e in enumerate(events)]
            self.gemini_stream([chunk for chunk in chunks if chunk is not NOT_JSON])
        elif api == "llamacpp-completion":
            self.llamacpp_stream(events)
        elif api == "tgi-generate":
            self.tgi_stream(events)
        else:
            self.error("stream", f"{api} does not stream SSE (expected NDJSON)")


def rate_limit(headers: dict[str, str] | None, status: int | None) -> dict | None:
    """Rate-limit headers and the retry delay they ask for (retry-after-ms, then retry-after: seconds or date)."""
    if not headers:
        return None
    delay = None
    if "retry-after-ms" in headers:
        try:
            delay = float(headers["retry-after-ms"]) / 1000.0
        except ValueError:
            pass
    if delay is None and "retry-after" in headers:
        try:
            delay = float(headers["retry-after"])
        except ValueError:
            date = email.utils.parsedate_tz(headers["retry-after"])
            if date:
                delay = max(0.0, email.utils.mktime_tz(date) - time.time())
    resets = {}
    for name, value in headers.items():
        if name.startswith("x-ratelimit-reset"):
            resets[name] = kitlib.duration_seconds(value)  # OpenAI, Groq: Go durations
        if name.startswith("anthropic-ratelimit-") and name.endswith("-reset"):
            resets[name] = value  # RFC 3339
    return {"status": status, "retry_after_s": delay,
            "headers": {k: v for k, v in headers.items() if kitlib.RATE_LIMIT_HEADER.fullmatch(k)},
            "resets": resets, "should_retry_header": headers.get("x-should-retry")}


def check(api: str, text: str, profile: str = "openai", status: int | None = None, headers: dict | None = None,
          anthropic_version: str = kitlib.DEFAULT_ANTHROPIC_VERSION) -> tuple[list[tuple[str, str, str]], dict]:
    """(problems as (level, where, message), reference normalisation) of one response."""
    r = Response(api, profile, kitlib.Schemas(anthropic_version))
    n = r.norm
    kind = n["kind"] = kitlib.sniff(text)
    if kind == "json-array":
        if api in ("gemini-generate", "vertex-generate"):  # streamGenerateContent without alt=sse
            r.gemini_stream(json.loads(text))
        else:
            r.error("$", "top-level JSON array is unexpected for this API")
    elif kind == "json":
        body = json.loads(text)
        if (status is not None and status >= 400) or r.is_error_body(body):
            n["error"] = r.read_error(body)
            if status is not None and status < 400:
                r.warn("$", f"error body with HTTP {status}")
        else:
            r.body(body)
    elif kind == "sse":
        r.sse(text)
    elif kind == "ndjson":
        if api in ("ollama-chat", "ollama-generate"):
            r.ollama_stream([line for line in text.splitlines() if line.strip()])
        else:
            r.error("stream", f"NDJSON body for {api}; expected SSE")
    else:
        r.error("$", "body is neither JSON, SSE nor NDJSON")
    limits = rate_limit(headers, status)
    if limits:
        n["rate_limit"] = limits
        if n["error"] and n["error"]["retry_delay_s"] is None and limits["retry_after_s"] is not None:
            n["error"]["retry_delay_s"] = limits["retry_after_s"]
    return r.items, n


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--api", required=True, choices=sorted(kitlib.APIS))
    ap.add_argument("--profile", default="openai")
    ap.add_argument("--status", type=int)
    ap.add_argument("--headers")
    ap.add_argument("--anthropic-version", default=kitlib.DEFAULT_ANTHROPIC_VERSION,
                    choices=sorted(kitlib.ANTHROPIC_VERSIONS), help="the anthropic-version header of the request")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("file")
    a = ap.parse_args(argv)
    try:
        text = Path(a.file).read_text(encoding="utf-8")
        headers = kitlib.parse_headers(Path(a.headers).read_text(encoding="utf-8")) if a.headers else None
    except (OSError, ValueError) as exc:
        print(f"cannot read input: {exc}", file=sys.stderr)
        return 2
    items, norm = check(a.api, text, a.profile, a.status, headers, a.anthropic_version)
    errors = sum(level == "ERROR" for level, _, _ in items)
    if a.json:
        problems = [{"level": level, "where": where, "message": message} for level, where, message in items]
        print(json.dumps({"problems": problems, "normalized": norm}, indent=1, ensure_ascii=False))
    else:
        print(f"== {a.file} [{a.api}] body={norm['kind']}: {errors} error(s), {len(items) - errors} warning(s)")
        for level, where, message in items:
            print(f"{level} {where}: {message}")
        print("normalized:", json.dumps(norm, ensure_ascii=False))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
