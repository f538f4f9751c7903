"""Provider kind ``completion``: raw-text endpoints, with chat messages rendered client-side.

Three dialects, chosen by the provider's ``profile``:

* ``llamacpp``: llama-server's native ``POST /completion`` (``prompt``, ``n_predict``; ``json_schema`` for
  structured output; streams end with ``stop: true`` and no ``[DONE]``). ``base_url`` is the server root.
* ``tgi``: Text Generation Inference ``POST /generate`` and ``/generate_stream`` (``inputs``,
  ``parameters.max_new_tokens``; no prompt token count unless asked for details).
* anything else: OpenAI-style ``POST /completions`` (vLLM, Together, OpenAI's instruct models).

Messages are rendered with the model's ``prompt_format`` (:mod:`modelswap.prompts`), byte for byte what the
family's official chat template produces, *without* BOS: every one of these servers adds BOS when it tokenizes,
and a doubled BOS quietly degrades answers. A single user message under the ``plain`` format (the default) is
sent verbatim, which is what few-shot prompting of a base model wants. The family's end-of-turn strings are added
to ``stop`` so generation ends where the template says a turn ends.

``schema=`` is native where the server has a JSON-Schema mode (llama.cpp ``json_schema``, TGI ``grammar``, vLLM
``guided_json``) and instructions in the prompt elsewhere. Extra keyword arguments pass through: top level for
llama.cpp and ``/completions``, under ``parameters`` for TGI.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, ClassVar, Mapping

from modelswap.hookspecs import ErrorInfo, InBandError, Message, Parsed

if TYPE_CHECKING:
    from modelswap._config import ModelSpec

__all__ = ["RawCompletion", "RawCompletionStream", "render_prompt"]

_DEFAULT_FORMAT = "plain"
_GENERIC = frozenset({"temperature", "top_p", "max_tokens", "stop", "seed"})
# Whether to stream is the caller's choice of method (complete or stream), never an extra's.
_NOT_EXTRAS = _GENERIC | {"stream", "stream_options"}
# Profiles whose server constrains decoding to a JSON Schema itself; the others get the schema as instructions.
_NATIVE_SCHEMA_PROFILES = frozenset({"llamacpp", "tgi", "vllm"})
# TGI error types that no retry will fix (its 422s); they also arrive as events inside a 200 stream.
_TGI_REJECTED = frozenset({"validation", "template_error", "tool_error"})


def render_prompt(model: ModelSpec, messages: list[Message]) -> tuple[str, list[str]]:
    """The prompt text for ``messages`` and the stop strings the model's family ends a turn with."""
    fmt = model.prompt_format or _DEFAULT_FORMAT
    if fmt == "plain" and len(messages) == 1 and messages[0].get("role") == "user":
        return str(messages[0]["content"]), []
    try:
        from modelswap import prompts
    except ImportError:
        from modelswap._errors import ConfigError

        raise ConfigError(
            f"models.{model.alias}.prompt_format {fmt!r} needs modelswap.prompts, which this version does not "
            "have yet. Use prompt_format: plain with a single prompt string.",
            field=f"models.{model.alias}.prompt_format",
        ) from None
    text = prompts.render(fmt, list(messages), add_generation_prompt=True, include_bos=False)
    return text, list(getattr(prompts.family(fmt), "stop", ()) or ())


class RawCompletion:
    """Wire translation for raw-text completion endpoints."""

    kind: ClassVar[str] = "completion"
    stream_format: ClassVar[str] = "sse"
    supported_params: ClassVar[frozenset[str]] = frozenset({"temperature", "top_p", "max_tokens", "stop", "seed"})
    native_schema: ClassVar[bool] = True

    def auth_headers(self, api_key: str | None) -> dict[str, str]:
        return {"authorization": f"Bearer {api_key}"} if api_key else {}

    def build_request(
        self,
        model: ModelSpec,
        messages: list[Message],
        params: Mapping[str, Any],
        *,
        stream: bool = False,
        schema: Mapping[str, Any] | None = None,
    ) -> tuple[str, dict[str, Any]]:
        profile = model.provider.profile
        if schema is not None and profile not in _NATIVE_SCHEMA_PROFILES:
            # OpenAI's and Together's /completions have no JSON-Schema mode: without this the schema was dropped
            # silently (native_schema is True for the kind, so the client added no instructions either).
            from modelswap._structured import instruction

            messages = [{"role": "system", "content": instruction(schema)}, *messages]
            schema = None
        prompt, family_stop = render_prompt(model, messages)
        stop = params.get("stop")
        stops = [stop] if isinstance(stop, str) else list(stop or [])
        # Compared with the list, not with `stop` itself: `s not in "<|im_end|>\n"` is a substring test, and
        # dropped the family's "<|im_end|>" when the caller's stop string merely contained it.
        stops += [s for s in family_stop if s not in stops]
        extras = {k: v for k, v in params.items() if k not in _NOT_EXTRAS}
        if profile == "llamacpp":
            return self._llamacpp(prompt, params, extras, stops, stream, schema)
        if profile == "tgi":
            return self._tgi(prompt, params, extras, stops, stream, schema)
        return self._openai(model, prompt, params, extras, stops, stream, schema)

    @staticmethod
    def _llamacpp(
        prompt: str,
        params: Mapping[str, Any],
        extras: Mapping[str, Any],
        stops: list[str],
        stream: bool,
        schema: Mapping[str, Any] | None,
    ) -> tuple[str, dict[str, Any]]:
        # Provider-specific extras (cache_prompt, top_k, ...) pass through, as the client promises; they were
        # dropped silently. The adapter's own fields are set after them and win.
        body: dict[str, Any] = {**extras, "prompt": prompt}
        for name in ("temperature", "top_p", "seed"):
            if name in params:
                body[name] = params[name]
        if "max_tokens" in params:
            body["n_predict"] = params["max_tokens"]
        if stops:
            body["stop"] = stops
        if schema is not None:
            body["json_schema"] = dict(schema)
        if stream:
            body["stream"] = True
        return "completion", body

    @staticmethod
    def _tgi(
        prompt: str,
        params: Mapping[str, Any],
        extras: Mapping[str, Any],
        stops: list[str],
        stream: bool,
        schema: Mapping[str, Any] | None,
    ) -> tuple[str, dict[str, Any]]:
        # Extras are generation parameters (top_k, repetition_penalty, truncate, ...): GenerateRequest has only
        # `inputs` and `parameters`. `details` stays true: the finish reason and token count live there.
        parameters: dict[str, Any] = {**extras, "details": True}
        for name in ("temperature", "top_p", "seed"):
            if name in params:
                parameters[name] = params[name]
        # TGI's validation wants temperature > 0 and 0 < top_p < 1: greedy is do_sample false, and top_p 1 is no top_p.
        if parameters.get("temperature") == 0:
            del parameters["temperature"]
            # TGI samples whenever a warper is set (`sampling = do_sample or has_warpers` in its tokens.py), so a
            # top_p < 1, top_k or typical_p left in would quietly turn the greedy request back into sampling.
            for warper in ("top_p", "top_k", "typical_p"):
                parameters.pop(warper, None)
            parameters["do_sample"] = False
        if parameters.get("top_p") == 1:
            del parameters["top_p"]
        if "max_tokens" in params:
            parameters["max_new_tokens"] = params["max_tokens"]
        if stops:
            # TGI takes at most four (--max-stop-sequences, default 4; more is a 422). The caller's come first.
            parameters["stop"] = stops[:4]
        if schema is not None:
            parameters["grammar"] = {"type": "json", "value": dict(schema)}
        return ("generate_stream" if stream else "generate"), {"inputs": prompt, "parameters": parameters}

    @staticmethod
    def _openai(
        model: ModelSpec,
        prompt: str,
        params: Mapping[str, Any],
        extras: Mapping[str, Any],
        stops: list[str],
        stream: bool,
        schema: Mapping[str, Any] | None,
    ) -> tuple[str, dict[str, Any]]:
        body: dict[str, Any] = {**extras, "model": model.model_id, "prompt": prompt}
        for name in ("temperature", "top_p", "max_tokens", "seed"):
            if name in params:
                body[name] = params[name]
        if stops:
            body["stop"] = stops[:4]  # the API takes at most four
        if schema is not None and model.provider.profile == "vllm":
            body["guided_json"] = dict(schema)
        if stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        return "completions", body

    def parse_response(self, body: Any) -> Parsed:
        if not isinstance(body, dict):
            raise ValueError("expected a JSON object")
        if "content" in body:  # llama.cpp
            return Parsed(body["content"], body.get("stop_type"), body.get("tokens_evaluated"), body.get("tokens_predicted"))
        if "generated_text" in body:  # TGI
            details = body.get("details") or {}
            prefill = details.get("prefill")
            return Parsed(
                body["generated_text"], details.get("finish_reason"), len(prefill) if prefill else None,
                details.get("generated_tokens"),
            )
        if isinstance(body.get("choices"), list):  # OpenAI-style
            choice = body["choices"][0] if body["choices"] else {}
            usage = body.get("usage") or {}
            return Parsed(choice.get("text") or "", choice.get("finish_reason"), usage.get("prompt_tokens"),
                          usage.get("completion_tokens"))
        raise ValueError("expected llama.cpp `content`, TGI `generated_text` or OpenAI `choices`")

    def parse_error(self, status: int, body: Any, headers: Mapping[str, str]) -> ErrorInfo:
        if isinstance(body, dict):
            error = body.get("error")
            if isinstance(error, dict):
                return ErrorInfo(str(error.get("message") or ""), error.get("type"), error.get("code"))
            if isinstance(error, str):  # TGI
                error_type = body.get("error_type")
                return ErrorInfo(error, error_type, transient=False if error_type in _TGI_REJECTED else None)
        return ErrorInfo(str(body)[:300])

    def stream_decoder(self) -> RawCompletionStream:
        return RawCompletionStream(self)


class RawCompletionStream:
    """Decodes any of the three dialects' streams, telling them apart by shape."""

    def __init__(self, adapter: RawCompletion) -> None:
        self._adapter = adapter
        self._parts: list[str] = []
        self._finish_reason: str | None = None
        self._input_tokens: int | None = None
        self._output_tokens: int | None = None
        self.done = False

    def feed(self, data: str, event: str) -> str | None:
        if data == "[DONE]":
            self.done = True
            return None
        chunk = json.loads(data)
        if not isinstance(chunk, dict):
            raise ValueError("a stream chunk is not a JSON object")
        if "error" in chunk:
            info = self._adapter.parse_error(200, chunk, {})
            code = info.code if isinstance(info.code, int) else 500
            transient = code == 429 or code >= 500 or info.error_type == "overloaded"
            # TGI reports a validation error of /generate_stream as an event in a 200 stream, with no code: it was
            # taken for a 500 and retried, then surfaced as transient.
            raise InBandError(info, transient=transient if info.transient is None else info.transient)
        if "content" in chunk:  # llama.cpp: the final chunk has stop: true and the counts
            if chunk.get("stop"):
                self.done = True
                self._finish_reason = chunk.get("stop_type")
                self._input_tokens = chunk.get("tokens_evaluated")
                self._output_tokens = chunk.get("tokens_predicted")
            return self._add(chunk.get("content"))
        if "token" in chunk:  # TGI: the final event carries generated_text and details
            token = chunk["token"] or {}
            details = chunk.get("details")
            if details:
                self.done = True
                self._finish_reason = details.get("finish_reason")
                self._output_tokens = details.get("generated_tokens")
            return None if token.get("special") else self._add(token.get("text"))
        usage = chunk.get("usage")
        if usage:
            self._input_tokens = usage.get("prompt_tokens")
            self._output_tokens = usage.get("completion_tokens")
        choices = chunk.get("choices")
        if choices:
            if choices[0].get("finish_reason"):
                self._finish_reason = choices[0]["finish_reason"]
            return self._add(choices[0].get("text"))
        return None

    def _add(self, text: str | None) -> str | None:
        if text:
            self._parts.append(text)
            return text
        return None

    def finish(self) -> Parsed:
        if not self.done and self._finish_reason is None:
            raise ValueError("the stream ended before its final event (truncated)")
        return Parsed("".join(self._parts), self._finish_reason, self._input_tokens, self._output_tokens)
