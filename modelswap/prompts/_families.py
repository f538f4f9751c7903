"""Facts about each prompt-format family: its tokens, its stop strings, and the names it answers to.

Nothing here renders anything; :mod:`modelswap.prompts._render` does. The facts come from the official chat
templates and tokenizer configurations the renderers reproduce (``bos_token``/``eos_token`` as the templates
receive them from ``tokenizer_config.json``, and the tokenizer's control tokens).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from modelswap._errors import PromptFormatError

__all__ = ["ALIASES", "CANONICAL", "PLAIN", "Family", "formats", "resolve", "special_token_regex"]


@dataclass(frozen=True)
class Family:
    """What a raw-completion caller needs to know about one prompt format.

    Attributes:
        name: the canonical format name (``"llama3.1"``), also when the family was looked up by an alias.
        bos: the beginning-of-sequence text the official template writes first, or ``""`` when it writes none
            (Qwen, SmolLM2, GLM and ChatML have no BOS; GLM's ``[gMASK]<sop>`` prefix is template text, not a
            BOS, and is always rendered).
        eos: the template's ``eos_token`` (what ends an assistant turn, or the sequence).
        stop: the end-of-turn strings a raw-completion caller should stop generation on, so a model that
            keeps going after its turn does not write the next user turn too.
        special_tokens: the family's control tokens (the turn and sequence markers a server's tokenizer turns
            into control tokens when they appear inside a prompt string). Message text containing one is
            refused by :func:`modelswap.prompts.render` unless the caller asks for ``special_tokens="escape"``
            or ``"allow"``. Numbered reserved tokens (``<|reserved_special_token_7|>``, ``<unused3>``,
            ``<SPECIAL_20>``) are matched by pattern as well; see :func:`special_token_regex`.
        system_role: whether the official template accepts a leading system message (Gemma 3 and Mistral Nemo
            do, by folding it into a user turn; Gemma 2 and Mistral v0.2 refuse it).
        aliases: other names that resolve to this family (``"llama"`` for ``"llama3.1"``).
        model: the model whose official template this family reproduces.
    """

    name: str
    bos: str
    eos: str
    stop: tuple[str, ...]
    special_tokens: tuple[str, ...]
    system_role: bool
    aliases: tuple[str, ...] = ()
    model: str = ""


# -- token lists --------------------------------------------------------------------------------------------------
# Llama 3.0 named only these; 3.1 turned three reserved slots into <|eom_id|>, <|python_tag|> and a pad token.
_LLAMA3 = ("<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>")
_LLAMA31 = (*_LLAMA3, "<|eom_id|>", "<|python_tag|>", "<|finetune_right_pad_id|>")
_GEMMA2 = ("<bos>", "<eos>", "<pad>", "<unk>", "<mask>", "[@BOS@]", "<start_of_turn>", "<end_of_turn>")
_GEMMA3 = (*_GEMMA2, "<start_of_image>", "<end_of_image>", "<image_soft_token>")
_CHATML = ("<|im_start|>", "<|im_end|>", "<|endoftext|>")
# Qwen2.5's `special: true` added tokens. <tool_call> and </tool_call> are ordinary added tokens
# (`special: false`) that the template itself writes as text, so they are not in the list.
_QWEN25 = (
    *_CHATML,
    "<|object_ref_start|>", "<|object_ref_end|>", "<|box_start|>", "<|box_end|>", "<|quad_start|>",
    "<|quad_end|>", "<|vision_start|>", "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>",
    "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>",
)
# v0.2's sentencepiece vocabulary has only <unk>, <s>, </s> as control tokens; [INST] and [/INST] are plain text
# there, but they delimit turns all the same, so text containing them forges a turn just as well.
_MISTRAL = ("<s>", "</s>", "<unk>", "[INST]", "[/INST]")
# Tekken (v3) control tokens.
_NEMO = (
    *_MISTRAL, "<pad>", "[AVAILABLE_TOOLS]", "[/AVAILABLE_TOOLS]", "[TOOL_RESULTS]", "[/TOOL_RESULTS]",
    "[TOOL_CALLS]", "[IMG]", "[IMG_BREAK]", "[IMG_END]", "[PREFIX]", "[MIDDLE]", "[SUFFIX]",
)
# GLM's `special: true` tokens. GLM-4.6's <think>, </think>, <tool_call>, <arg_key>, ... are reasoning and tool
# markup that assistant turns legitimately carry (the template parses </think> out of assistant content), and
# `/nothink` is a user-typed switch the template looks for, so none of those is refused.
_GLM = (
    "[MASK]", "[gMASK]", "[sMASK]", "<sop>", "<eop>", "<|system|>", "<|user|>", "<|assistant|>",
    "<|observation|>", "<|endoftext|>", "<|begin_of_image|>", "<|end_of_image|>", "<|begin_of_video|>",
    "<|end_of_video|>",
)

# Numbered reserved tokens, matched by pattern rather than listed one by one.
_RESERVED: dict[str, str] = {
    "llama": r"<\|reserved_special_token_\d+\|>",
    "gemma": r"<unused\d+>",
    "tekken": r"<SPECIAL_\d+>",
}

# -- the families ---------------------------------------------------------------------------------------------------
# GLM's generation config ends a turn on any of <|endoftext|>, <|user|> and <|observation|>.
_GLM_STOP = ("<|endoftext|>", "<|user|>", "<|observation|>")

CANONICAL: dict[str, Family] = {
    f.name: f
    for f in (
        Family("llama3", "<|begin_of_text|>", "<|eot_id|>", ("<|eot_id|>", "<|end_of_text|>"), _LLAMA3, True,
               (), "meta-llama/Meta-Llama-3-8B-Instruct"),
        Family("llama3.1", "<|begin_of_text|>", "<|eot_id|>", ("<|eot_id|>", "<|eom_id|>", "<|end_of_text|>"),
               _LLAMA31, True, ("llama", "llama3.3"), "meta-llama/Llama-3.1-8B-Instruct (= Llama-3.3-70B-Instruct)"),
        Family("llama3.2", "<|begin_of_text|>", "<|eot_id|>", ("<|eot_id|>", "<|eom_id|>", "<|end_of_text|>"),
               _LLAMA31, True, (), "meta-llama/Llama-3.2-3B-Instruct"),
        Family("gemma2", "<bos>", "<eos>", ("<end_of_turn>", "<eos>"), _GEMMA2, False, (), "google/gemma-2-2b-it"),
        Family("gemma3", "<bos>", "<eos>", ("<end_of_turn>", "<eos>"), _GEMMA3, True, ("gemma",),
               "google/gemma-3-*-it"),
        Family("qwen2.5", "", "<|im_end|>", ("<|im_end|>", "<|endoftext|>"), _QWEN25, True, (),
               "Qwen/Qwen2.5-7B-Instruct"),
        # [INST] as a stop string: v0.2 sometimes writes the next user turn instead of ending with </s>.
        Family("mistral-v0.2", "<s>", "</s>", ("</s>", "[INST]"), _MISTRAL, False, ("mistral",),
               "mistralai/Mistral-7B-Instruct-v0.2"),
        Family("mistral-nemo", "<s>", "</s>", ("</s>", "[INST]"), _NEMO, True, (),
               "mistralai/Mistral-Nemo-Instruct-2407"),
        Family("glm4", "", "<|endoftext|>", _GLM_STOP, _GLM, True, ("glm",), "THUDM/glm-4-9b-chat"),
        Family("glm4.6", "", "<|endoftext|>", _GLM_STOP, _GLM, True, (), "zai-org/GLM-4.6"),
        # Plain ChatML, for models trained on it without Qwen's default system prompt.
        Family("chatml", "", "<|im_end|>", ("<|im_end|>", "<|endoftext|>"), _CHATML, True, (), "ChatML"),
        # ChatML with SmolLM's own default system prompt; the GGUF adds no BOS (add_bos_token false).
        Family("smollm2", "", "<|im_end|>", ("<|im_end|>", "<|endoftext|>"), _CHATML, True,
               ("smollm", "smollm2-instruct"), "HuggingFaceTB/SmolLM2-135M-Instruct"),
    )
}

#: Not a chat template: one user message verbatim, otherwise a ``User:``/``Assistant:`` transcript.
PLAIN = Family("plain", "", "", ("\nUser:",), (), True, (), "any base (non-chat) model")

ALIASES: dict[str, str] = {alias: f.name for f in CANONICAL.values() for alias in f.aliases}

_RESERVED_OF: dict[str, str] = {
    "llama3": "llama", "llama3.1": "llama", "llama3.2": "llama",
    "gemma2": "gemma", "gemma3": "gemma",
    "mistral-nemo": "tekken",
}


def formats() -> list[str]:
    """Every name :func:`resolve` accepts: the canonical formats, then the aliases, then ``plain``."""
    return [*CANONICAL, *ALIASES, PLAIN.name]


def resolve(name: str) -> Family:
    """The family a format name or alias stands for (case and surrounding spaces do not matter).

    Raises:
        PromptFormatError: the name is not a known format; the message suggests the closest one.
    """
    if not isinstance(name, str):
        raise PromptFormatError(
            f"The prompt format must be a name such as 'llama3.1', not {type(name).__name__} {name!r}. "
            f"Known formats: {', '.join(formats())}.",
            format=repr(name),
            index=None,
        )
    key = name.strip().lower()
    if key == PLAIN.name:
        return PLAIN
    if key in CANONICAL:
        return CANONICAL[key]
    if key in ALIASES:
        return CANONICAL[ALIASES[key]]
    import difflib  # only on the error path, to keep the import cheap

    known = formats()
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.5)
    hint = f"Did you mean {close[0]!r}? " if close else ""
    raise PromptFormatError(
        f"Unknown prompt format {name!r}. {hint}Known formats: {', '.join(known)}.",
        format=str(name),
        index=None,
    )


_REGEX_CACHE: dict[str, re.Pattern[str] | None] = {}


def special_token_regex(family: Family) -> re.Pattern[str] | None:
    """One compiled pattern matching any of ``family``'s special tokens (or None when it has none).

    Longer tokens come first in the alternation so ``</s>`` is never reported as ``<s>``-adjacent noise, and
    the numbered reserved tokens are matched by pattern.
    """
    if family.name not in _REGEX_CACHE:
        parts = [re.escape(t) for t in sorted(family.special_tokens, key=len, reverse=True)]
        reserved = _RESERVED.get(_RESERVED_OF.get(family.name, ""))
        if reserved:
            parts.append(reserved)
        _REGEX_CACHE[family.name] = re.compile("|".join(parts)) if parts else None
    return _REGEX_CACHE[family.name]
