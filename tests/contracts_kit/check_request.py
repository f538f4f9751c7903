#!/usr/bin/env python3
"""Check a request body an LLM client sent against the provider's official schema and known provider rules.

usage: check_request.py --api API [--profile P] [--strict] [--anthropic-version V] [--json] FILE [FILE ...]
  API  openai-chat | openai-completions | anthropic-messages | gemini-generate | vertex-generate |
       ollama-chat | ollama-generate | llamacpp-completion | tgi-generate
  P    the OpenAI-compatible server an openai-* body goes to:
       openai (default) | groq | together | vllm | llamacpp | ollama | tgi | openrouter
  V    anthropic-version the request is sent with: 2023-06-01 (default) | 2026-10-21
Prints, per file, '== FILE [API/P]: N error(s), M warning(s)' and one 'ERROR|WARN <json-path>: message' line per
problem; --json prints {FILE: [{level, path, message}]} instead.
Exit 0: no ERROR (and no WARN under --strict); 1: problems; 2: usage error or a file that is not JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import kitlib

# Top-level fields each OpenAI-compatible server documents beyond OpenAI's own schema. llama.cpp's list is its
# /completion schema plus the chat extras below; TGI's chat requests are checked against TGI's own ChatRequest.
OPENAI_EXTENSIONS = {
    "openai": frozenset(),
    "groq": frozenset({
        "reasoning_format", "reasoning_effort", "include_reasoning", "search_settings", "compound_custom",
        "documents", "citation_options", "disable_tool_validation", "exclude_domains", "include_domains"
    }),
    "together": frozenset({
        "top_k", "repetition_penalty", "min_p", "echo", "safety_model", "context_length_exceeded_behavior",
        "reasoning", "chat_template_kwargs"
    }),
    "vllm": frozenset({
        "best_of", "use_beam_search", "top_k", "min_p", "repetition_penalty", "length_penalty",
        "stop_token_ids", "include_stop_str_in_output", "ignore_eos", "min_tokens", "skip_special_tokens",
        "spaces_between_special_tokens", "truncate_prompt_tokens", "prompt_logprobs", "allowed_token_ids",
        "bad_words", "echo", "add_generation_prompt", "continue_final_message", "add_special_tokens",
        "documents", "chat_template", "chat_template_kwargs", "mm_processor_kwargs", "guided_json",
        "guided_regex", "guided_choice", "guided_grammar", "structural_tag", "guided_decoding_backend",
        "guided_whitespace_pattern", "structured_outputs", "priority", "request_id", "logits_processors",
        "return_tokens_as_token_ids", "return_token_ids", "cache_salt", "kv_transfer_params", "vllm_xargs",
        "thinking_token_budget", "include_reasoning"
    }),
    "llamacpp": frozenset(),
    "ollama": frozenset(),
    "tgi": frozenset(),
    "openrouter": frozenset({
        "provider", "models", "route", "transforms", "top_k", "top_a", "min_p", "repetition_penalty",
        "reasoning", "usage", "plugins", "debug", "include_reasoning"
    }),
}
LLAMACPP_CHAT_EXTRAS = frozenset({
    "chat_template_kwargs", "reasoning_format", "parse_tool_calls", "parallel_tool_calls",
    "reasoning_control", "generation_prompt", "chat_template", "add_generation_prompt", "id_slot",
    "cache_prompt", "grammar", "json_schema", "n_probs", "mirostat", "mirostat_tau", "mirostat_eta"
})
OLLAMA_TOP_LEVEL_HINTS = {"max_tokens": "options.num_predict", "temperature": "options.temperature",
                          "top_p": "options.top_p", "stop": "options.stop", "seed": "options.seed",
                          "num_ctx": "options.num_ctx", "top_k": "options.top_k"}
TEMPLATE_MARKERS = ("<|start_header_id|>", "<start_of_turn>", "<|im_start|>", "[INST]", "[gMASK]")
BOS_TEXTS = ("<|begin_of_text|>", "<bos>", "<s>")
ANTHROPIC_SAMPLING = ("temperature", "top_p", "top_k")


class Checker:
    """The problems found in one request body."""

    def __init__(self, body: dict, profile: str, schemas: kitlib.Schemas) -> None:
        self.body, self.profile, self.schemas = body, profile, schemas
        self.items: list[tuple[str, str, str]] = []

    def error(self, path: str, message: str) -> None:
        self.items.append(("ERROR", path, message))

    def warn(self, path: str, message: str) -> None:
        self.items.append(("WARN", path, message))

    def schema(self, name: str, ignored_unknown: bool = False) -> None:
        """Every schema violation is an ERROR, except unknown fields for servers that silently ignore them."""
        for path, message, keyword, _ in self.schemas.problems(name, self.body):
            if ignored_unknown and keyword == "additionalProperties":
                self.warn(path, message + " (server ignores unknown fields silently)")
            else:
                self.error(path, message)

    def unknown_fields(self, allowed: set[str], level: str, why: str, skip: tuple[str, ...] = ()) -> None:
        for key in self.body:
            if key not in allowed and key not in skip:
                self.items.append((level, f"$.{key}", f"unknown field ({why})"))

    def messages(self, field: str = "messages") -> list[tuple[int, dict]]:
        value = self.body.get(field) or []
        return [(i, m) for i, m in enumerate(value) if isinstance(m, dict)] if isinstance(value, list) else []


def _function_arguments(message: dict) -> list[tuple[int, object]]:
    """(index, tool_calls[index].function.arguments) for each tool call that has a function object."""
    found = []
    for j, call in enumerate(message.get("tool_calls") or []):
        function = call.get("function") if isinstance(call, dict) else None
        if isinstance(function, dict):
            found.append((j, function.get("arguments")))
    return found


# -- per API ------------------------------------------------------------------------------------------------------
def openai_chat(c: Checker) -> None:
    body, profile = c.body, c.profile
    if profile == "tgi":
        c.schema("tgi_chat.request")
        c.unknown_fields(c.schemas.top_level_properties("tgi_chat.request"), "WARN",
                         "not in TGI docs/openapi.json ChatRequest (may be rejected with 422 or ignored)")
    else:
        c.schema("openai_chat.request")
        allowed = c.schemas.top_level_properties("openai_chat.request")
        if profile == "openai":
            c.unknown_fields(allowed, "ERROR", "OpenAI answers 400 'Unrecognized request argument supplied'")
        else:
            extra = OPENAI_EXTENSIONS.get(profile, frozenset())
            if profile == "llamacpp":
                extra = c.schemas.top_level_properties("llamacpp_completion.request") | LLAMACPP_CHAT_EXTRAS
            c.unknown_fields(allowed | extra, "WARN",
                             f"not in OpenAI spec nor documented {profile} extensions; usually ignored silently")
    for i, m in c.messages():
        where = f"$.messages[{i}]"
        if m.get("role") == "assistant" and m.get("content") is None and not m.get("tool_calls"):
            c.warn(where, "assistant message with null content and no tool_calls")
        for j, args in _function_arguments(m):
            if args is not None and not isinstance(args, str):
                c.error(f"{where}.tool_calls[{j}].function.arguments",
                        "must be a JSON-encoded STRING in OpenAI format (Ollama native uses an object)")
        if m.get("role") == "tool" and "tool_call_id" not in m:
            c.error(where, "tool message without tool_call_id")
        if profile == "groq" and "name" in m:
            c.error(f"{where}.name", "Groq: messages[].name is unsupported (400)")
        if profile in ("ollama", "tgi", "llamacpp") and m.get("role") == "developer":
            c.warn(f"{where}.role", f"'developer' role may not be understood by {profile}'s chat template; "
                                    "prefer 'system' for non-OpenAI servers")
    if "max_tokens" in body and "max_completion_tokens" in body:
        c.warn("$.max_tokens", "both max_tokens and max_completion_tokens set")
    if profile == "openai" and "max_tokens" in body:
        c.warn("$.max_tokens", "deprecated in the OpenAI spec; reasoning models (o-series, gpt-5) reject it - "
                               "use max_completion_tokens")
    if profile in ("tgi", "ollama") and "max_completion_tokens" in body and "max_tokens" not in body:
        c.warn("$.max_completion_tokens", f"{profile} reads max_tokens; max_completion_tokens may be ignored")
    options = body.get("stream_options")
    if options is not None and not body.get("stream"):
        c.error("$.stream_options", "stream_options is only allowed when stream=true (OpenAI 400)")
    if body.get("stream") and not (isinstance(options, dict) and options.get("include_usage")):
        c.warn("$.stream_options",
               "streaming without stream_options.include_usage=true: OpenAI sends no usage at all")
    if profile == "groq":
        for key in ("logprobs", "logit_bias", "top_logprobs"):
            if key in body:
                c.error(f"$.{key}",
                        "Groq: 'not supported and will result in a 400 error' (console.groq.com/docs/openai)")
        if body.get("n", 1) != 1:
            c.error("$.n", "Groq: n must be 1 (400 otherwise)")
        if body.get("temperature") == 0:
            c.warn("$.temperature", "Groq converts temperature 0 to 1e-8")


def openai_completions(c: Checker) -> None:
    c.schema("openai_completions.request")
    allowed = c.schemas.top_level_properties("openai_completions.request")
    if c.profile == "openai":
        c.unknown_fields(allowed, "ERROR", "OpenAI answers 400 for unknown params")
    else:
        extra = OPENAI_EXTENSIONS.get(c.profile, frozenset())
        if c.profile == "llamacpp":
            extra = c.schemas.top_level_properties("llamacpp_completion.request")
        c.unknown_fields(allowed | extra, "WARN", f"not in OpenAI spec nor documented {c.profile} extensions")
    if "max_tokens" not in c.body:
        c.warn("$.max_tokens", "omitted: OpenAI /completions defaults to 16 tokens")


def anthropic_messages(c: Checker) -> None:
    body = c.body
    c.schema("anthropic_messages.request")
    allowed = c.schemas.top_level_properties("anthropic_messages.request")
    for key in body:
        if key in ANTHROPIC_SAMPLING and key not in allowed:
            c.warn(f"$.{key}", "sampling parameter exists for anthropic-version 2023-06-01 (SDK <=0.125.0) "
                               "but was REMOVED from MessageCreateParams in SDK >=1.0 "
                               "(anthropic-version 2026-10-21)")
    c.unknown_fields(allowed, "ERROR",
                     "Anthropic answers 400 invalid_request_error 'Extra inputs are not permitted'",
                     skip=ANTHROPIC_SAMPLING)
    if "stop" in body:
        c.error("$.stop", "Anthropic uses stop_sequences")
    if "max_completion_tokens" in body:
        c.error("$.max_completion_tokens", "Anthropic uses max_tokens (required)")
    temperature = body.get("temperature")
    if isinstance(temperature, (int, float)) and not 0 <= temperature <= 1:
        c.error("$.temperature", "Anthropic temperature range is 0.0-1.0")
    messages = body.get("messages")
    last = len(messages) - 1 if isinstance(messages, list) else -1
    for i, m in c.messages():
        if m.get("role") == "system":
            c.warn(f"$.messages[{i}].role", "system-role message: only very recent API versions accept it "
                                            "(SDK 2.x SystemMessageParam); "
                                            "the documented place is top-level `system`")
        blocks = m.get("content")
        for j, block in enumerate(blocks if isinstance(blocks, list) else []):
            if not isinstance(block, dict):
                continue
            if block.get("type") == "image_url":
                c.error(f"$.messages[{i}].content[{j}]",
                        "OpenAI image_url block; Anthropic uses {type:image, source:{type:base64|url,...}}")
            if block.get("type") == "text" and block.get("text") == "":
                c.error(f"$.messages[{i}].content[{j}]",
                        "empty text block: Anthropic 400 'text content blocks must be non-empty'")
        if blocks == "" and not (i == last and m.get("role") == "assistant"):
            c.error(f"$.messages[{i}].content",
                    "empty string content: Anthropic 400 (only a final assistant prefill may be empty)")
    if last >= 0 and isinstance(messages[-1], dict) and messages[-1].get("role") == "assistant":
        c.warn("$.messages[-1]", "ends with assistant turn (prefill); some newer models reject prefill with 400")
    if "temperature" in body and "top_p" in body:
        c.warn("$.top_p", "temperature and top_p both set: Anthropic recommends altering only one; "
                          "some newer Claude models reject the combination with 400")


def _generate_content(c: Checker, schema: str) -> None:
    body = c.body
    c.schema(schema)
    for i, content in c.messages("contents"):
        if content.get("role") not in (None, "user", "model", "function"):
            c.error(f"$.contents[{i}].role", f"role {content.get('role')!r}: Gemini accepts only 'user' and "
                                             "'model' (system text goes to systemInstruction)")
        if not content.get("parts"):
            c.error(f"$.contents[{i}].parts", "empty/missing parts: 400 'contents.parts must not be empty'")
    config = body.get("generationConfig") or body.get("generation_config") or {}
    if isinstance(config, dict):
        stops = config.get("stopSequences") or config.get("stop_sequences")
        if isinstance(stops, list) and len(stops) > 5:
            c.error("$.generationConfig.stopSequences", "at most 5 stop sequences")
    if "generationConfig" in body and "generation_config" in body:
        c.error("$", "both generationConfig and generation_config given")
    if not body.get("contents"):
        c.error("$.contents", "contents is required and must be non-empty")


def _ollama(c: Checker, schema: str) -> None:
    c.schema(schema, ignored_unknown=True)
    for key, hint in OLLAMA_TOP_LEVEL_HINTS.items():
        if key in c.body:
            c.error(f"$.{key}", f"top-level {key} is silently ignored by Ollama's native API; use {hint}")
    if "stream" not in c.body:
        c.warn("$.stream", "omitted: native Ollama endpoints STREAM by default (application/x-ndjson)")
    for key in c.body.get("options") or {}:
        if key in ("max_tokens", "stop_sequences", "max_new_tokens"):
            c.error(f"$.options.{key}", "not an Ollama option (use num_predict / stop)")


def ollama_chat(c: Checker) -> None:
    _ollama(c, "ollama_chat.request")
    for i, m in c.messages():
        if isinstance(m.get("content"), list):
            c.error(f"$.messages[{i}].content", "Ollama native content must be a string "
                                                "(images go to messages[].images as raw base64)")
        for j, args in _function_arguments(m):
            if isinstance(args, str):
                c.error(f"$.messages[{i}].tool_calls[{j}].function.arguments",
                        "Ollama native expects an OBJECT, not a JSON string")
        for j, image in enumerate(m.get("images") or []):
            if isinstance(image, str) and image.startswith("data:"):
                c.error(f"$.messages[{i}].images[{j}]", "raw base64 expected, not a data: URI")


def ollama_generate(c: Checker) -> None:
    body = c.body
    _ollama(c, "ollama_generate.request")
    if body.get("raw") and (body.get("system") or body.get("template")):
        c.warn("$.raw", "raw=true ignores system/template")
    prompt = body.get("prompt")
    if not body.get("raw") and isinstance(prompt, str) and any(t in prompt for t in TEMPLATE_MARKERS):
        c.warn("$.prompt", "prompt already contains chat-template tokens but raw is not true: "
                           "Ollama will template it AGAIN")


def llamacpp_completion(c: Checker) -> None:
    body = c.body
    c.schema("llamacpp_completion.request", ignored_unknown=True)
    prompt = body.get("prompt")
    for bos in BOS_TEXTS:
        if isinstance(prompt, str) and prompt.startswith(bos):
            c.warn("$.prompt", f"string prompt starts with {bos!r}: llama-server also inserts BOS when the "
                               "model's add_bos_token is true -> double BOS "
                               "(send chat_template_vectors 'expected_without_bos')")
    if "max_tokens" in body and "n_predict" in body:
        c.warn("$.max_tokens", "both max_tokens and n_predict: n_predict wins")
    if not {"n_predict", "max_tokens", "max_completion_tokens"} & set(body):
        c.warn("$.n_predict", "omitted: default -1 = generate until EOS/context full")


def tgi_generate(c: Checker) -> None:
    c.schema("tgi_generate.request")
    parameters = c.body.get("parameters") or {}
    if "max_tokens" in parameters or "max_tokens" in c.body:
        c.error("$.parameters.max_tokens", "TGI /generate uses parameters.max_new_tokens")
    if "stop_sequences" in parameters:
        c.error("$.parameters.stop_sequences", "TGI /generate uses parameters.stop")


CHECKS = {
    "openai-chat": openai_chat,
    "openai-completions": openai_completions,
    "anthropic-messages": anthropic_messages,
    "gemini-generate": lambda c: _generate_content(c, "gemini_generate.request"),
    "vertex-generate": lambda c: _generate_content(c, "vertex_generate.request"),
    "ollama-chat": ollama_chat,
    "ollama-generate": ollama_generate,
    "llamacpp-completion": llamacpp_completion,
    "tgi-generate": tgi_generate,
}


def check(api: str, body, profile: str = "openai",
          anthropic_version: str = kitlib.DEFAULT_ANTHROPIC_VERSION) -> list[tuple[str, str, str]]:
    """(level, JSON path, message) for each distinct problem, in the order found."""
    checker = Checker(body, profile, kitlib.Schemas(anthropic_version))
    if isinstance(body, dict):
        CHECKS[api](checker)
    else:
        checker.error("$", "request body must be a JSON object")
    return list(dict.fromkeys(checker.items))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--api", required=True, choices=sorted(CHECKS))
    ap.add_argument("--profile", default="openai", choices=sorted(OPENAI_EXTENSIONS))
    ap.add_argument("--strict", action="store_true", help="a WARN fails too")
    ap.add_argument("--anthropic-version", default=kitlib.DEFAULT_ANTHROPIC_VERSION,
                    choices=sorted(kitlib.ANTHROPIC_VERSIONS), help="the anthropic-version header of the request")
    ap.add_argument("--json", action="store_true", help="machine-readable output")
    ap.add_argument("files", nargs="+")
    a = ap.parse_args(argv)
    label = a.api + (f"/{a.profile}" if a.api.startswith("openai") else "")
    status, results = 0, {}
    for name in a.files:
        try:
            body = json.loads(Path(name).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            print(f"{name}: cannot parse JSON: {exc}", file=sys.stderr)
            return 2
        items = check(a.api, body, a.profile, a.anthropic_version)
        errors = sum(level == "ERROR" for level, _, _ in items)
        if errors or (a.strict and items):
            status = 1
        results[name] = [{"level": level, "path": path, "message": message} for level, path, message in items]
        if not a.json:
            print(f"== {name} [{label}]: {errors} error(s), {len(items) - errors} warning(s)")
            for level, path, message in items:
                print(f"{level} {path}: {message}")
    if a.json:
        print(json.dumps(results, indent=1))
    return status


if __name__ == "__main__":
    sys.exit(main())
