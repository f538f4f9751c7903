"""Client-side chat prompt formats: render messages exactly as a model family's official chat template does.

Raw-completion endpoints (llama.cpp ``/completion``, TGI ``/generate``, ``/v1/completions``) take one string, so
the chat template has to be applied here. :func:`render` reproduces the official templates byte for byte, in
pure Python (no Jinja at runtime), and is checked against golden renders made with transformers::

    >>> from modelswap import prompts
    >>> prompts.render("llama3.1", [{"role": "user", "content": "Hi"}], include_bos=False)[:44]
    '<|start_header_id|>system<|end_header_id|>\\n\\n'
    >>> prompts.family("gemma").stop
    ('<end_of_turn>', '<eos>')

Formats (:func:`formats`): ``llama3``, ``llama3.1``, ``llama3.2``, ``gemma2``, ``gemma3``, ``qwen2.5``,
``mistral-v0.2``, ``mistral-nemo``, ``glm4``, ``glm4.6``, ``chatml``, ``smollm2`` and ``plain``, plus these
aliases:

* ``llama`` and ``llama3.3`` -> ``llama3.1`` (Llama 3.3's template is identical to 3.1's; 3.2 differs only in
  defaulting the date to today);
* ``gemma`` -> ``gemma3``;
* ``mistral`` -> ``mistral-v0.2`` (Mistral 7B Instruct, ``[INST] ... [/INST]`` with spaces, no system role).
  Mistral Nemo's format (no spaces, the system prompt merged into the last user turn) must be asked for by
  name, ``mistral-nemo``;
* ``glm`` -> ``glm4``;
* ``smollm`` and ``smollm2-instruct`` -> ``smollm2``.

``chatml`` is its own format, not an alias of ``qwen2.5``: plain ChatML (``<|im_start|>role\\ncontent<|im_end|>
\\n`` per message), without the default system prompt Qwen 2.5 injects when a conversation has none. With a
system message first the two render the same. ``smollm2`` (SmolLM2-135M-Instruct, the model ``modelswap
serve-local`` runs) is ChatML too, with SmolLM's own default system prompt ("You are a helpful AI assistant
named SmolLM, trained by Hugging Face") in place of Qwen's, and no BOS.

``plain`` is for base models: a single user message (after optional system messages) is sent verbatim, system
texts first, separated by blank lines; anything else becomes a ``User:``/``Assistant:`` transcript.

**Special tokens in message text** (``<|eot_id|>``, ``<start_of_turn>``, ``[INST]``, ...) would be read as
control tokens by the server's tokenizer and could forge a turn. The official templates pass them through;
modelswap does not by default: ``special_tokens="refuse"`` raises :class:`~modelswap.PromptFormatError` naming
the token and the message index, ``"escape"`` inserts a zero-width space (U+200B) after the token's first
character, and ``"allow"`` reproduces the templates' pass-through for trusted text.
"""

from __future__ import annotations

from modelswap._errors import PromptFormatError
from modelswap.prompts._families import Family
from modelswap.prompts._families import formats as _formats
from modelswap.prompts._families import resolve as _resolve
from modelswap.prompts._render import ZERO_WIDTH_SPACE, SpecialTokens, render

__all__ = ["ZERO_WIDTH_SPACE", "Family", "PromptFormatError", "SpecialTokens", "family", "formats", "render"]


def family(name: str) -> Family:
    """The facts of a prompt format: BOS, EOS, stop strings, special tokens, system-role support, aliases.

    Args:
        name: a format name or alias (``"llama"`` gives the ``llama3.1`` family). Case-insensitive.

    Returns:
        The frozen :class:`Family`; its ``name`` is the canonical one.

    Raises:
        PromptFormatError: an unknown name (the message lists the known ones and suggests the closest).
    """
    return _resolve(name)


def formats() -> list[str]:
    """Every accepted format name: the canonical ones, then the aliases, then ``plain``."""
    return _formats()
