"""The Prefect tasks: one model call per task run, or one chunk of a batch per task run.

Every task takes ``model`` (None: the Prefect Variable ``modelswap_model``, then the core's default; see
:func:`modelswap.tasks.resolve_model`) and ``config`` (None: ``$MODELSWAP_CONFIG``, ``./modelswap.yaml`` or
the built-in default; or a path, a :class:`modelswap.Config`, a ``ModelSwapConfig`` block).

Defaults, all overridable with ``.with_options()``: 3 retries with exponential backoff (2, 4, 8 s, jittered
by half) **only** for :class:`modelswap.TransientError` (429, 5xx, timeouts, dropped connections; never a
config error or another 4xx), no Prefect timeout (the provider's httpx timeouts govern), and no caching
(``NO_CACHE``; see :data:`modelswap.tasks.MODEL_CALL_CACHE` to opt in).
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from pathlib import Path
from typing import Any, Mapping, Sequence

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.tasks import exponential_backoff

from modelswap._errors import BadResponseError, ConfigError, TransientError
from modelswap._redact import redact
from modelswap._types import Completion
from modelswap.batch import BatchRecord, BatchSummary, count_done, process_records

from ._model import client_for, resolve_model

__all__ = ["classify", "complete", "complete_batch", "extract_json", "retry_on_transient"]

logger = logging.getLogger("modelswap.tasks")


def retry_on_transient(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect ``retry_condition_fn``: retry only when the task failed with a :class:`modelswap.TransientError`.

    Config errors, rejected requests (4xx other than 429), bad responses and any non-modelswap exception end
    the task run at once: retrying them would fail the same way.
    """
    data = getattr(state, "data", None)
    if not isinstance(data, BaseException):
        # A Failed state built elsewhere may hold a result record around the exception.
        data = getattr(data, "result", None)
    return isinstance(data, TransientError)


_DEFAULTS: dict[str, Any] = {
    "retries": 3,
    "retry_delay_seconds": exponential_backoff(backoff_factor=2),
    "retry_jitter_factor": 0.5,
    "retry_condition_fn": retry_on_transient,
    "cache_policy": NO_CACHE,
    "timeout_seconds": None,
}


def _run_logger() -> Any:
    from prefect.exceptions import MissingContextError
    from prefect.logging import get_run_logger

    try:
        return get_run_logger()
    except MissingContextError:
        return logger


def _call(
    prompt: str | Sequence[Mapping[str, Any]],
    model: str | None,
    system: str | None,
    config: Any,
    params: dict[str, Any],
    schema: Mapping[str, Any] | None = None,
) -> Completion:
    resolved = resolve_model(model)
    completion = client_for(config).complete(prompt, model=resolved, system=system, schema=schema, **params)
    _run_logger().info(
        "%s (%s/%s): %s in / %s out tokens, %.3f s, %d attempt(s)",
        completion.alias, completion.provider, completion.model_id, completion.input_tokens,
        completion.output_tokens, completion.latency_s, completion.attempts,
    )
    return completion


@task(name="modelswap-complete", **_DEFAULTS)
def complete(
    prompt: str | list[dict[str, Any]],
    model: str | None = None,
    *,
    system: str | None = None,
    config: Any = None,
    **params: Any,
) -> dict[str, Any]:
    """Complete one prompt (a string) or chat (a list of ``{"role", "content"}`` messages).

    Args:
        prompt: the prompt text, or the chat messages.
        model: an alias or ``provider/model_id``; None for the Prefect Variable ``modelswap_model``, then the
            core's default.
        system: a system prompt put before the messages.
        config: None, a path to a modelswap YAML config, a :class:`modelswap.Config` or a ``ModelSwapConfig``.
        **params: generation params (``temperature``, ``top_p``, ``max_tokens``, ``stop``, ``seed``) and
            provider-specific body fields.

    Returns:
        ``Completion.to_dict()``: ``text``, ``finish_reason``, ``input_tokens``, ``output_tokens``,
        ``latency_s``, ``cost``, ``alias``, ``provider``, ``model_id``, ``attempts``, ``data``.

    Raises:
        modelswap.ConfigError: the model cannot be resolved or its key is missing (not retried).
        modelswap.ProviderError: the endpoint failed; the ``TransientError`` family is retried first.

    Example:
        >>> from prefect import flow
        >>> from modelswap.tasks import complete
        >>> @flow
        ... def summarise(text: str, model: str | None = None) -> str:
        ...     return complete(f"Summarise in one line: {text}", model, max_tokens=64)["text"]
        >>> summarise("modelswap swaps the LLM under a pipeline.", "gemma-raw")   # doctest: +SKIP
    """
    return _call(prompt, model, system, config, params).to_dict()


@task(name="modelswap-extract-json", **_DEFAULTS)
def extract_json(
    prompt: str | list[dict[str, Any]],
    schema: dict[str, Any],
    model: str | None = None,
    *,
    system: str | None = None,
    config: Any = None,
    **params: Any,
) -> Any:
    """Ask for JSON matching ``schema`` and return it parsed and validated.

    The provider's native JSON mode is used where it has one, instructions in the prompt elsewhere; an answer
    that does not match is repaired once by asking the model again.

    Args:
        prompt: the prompt text, or the chat messages.
        schema: a JSON Schema (draft 2020-12) the answer must match.
        model: an alias or ``provider/model_id``; None for the Variable ``modelswap_model``, then the default.
        system: a system prompt put before the messages.
        config: None, a path, a :class:`modelswap.Config` or a ``ModelSwapConfig`` block.
        **params: generation params and provider-specific body fields.

    Returns:
        The parsed JSON (``Completion.data``).

    Raises:
        modelswap.StructuredOutputError: the answer still does not match after the repair (not retried).

    Example:
        >>> from prefect import flow
        >>> from modelswap.tasks import extract_json
        >>> SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
        >>> @flow
        ... def where(text: str) -> str:
        ...     return extract_json(f"Which city is this about? {text}", SCHEMA, temperature=0)["city"]
        >>> where("The Eiffel Tower glowed at night.")                               # doctest: +SKIP
    """
    return _call(prompt, model, system, config, params, schema=schema).data


_DEFAULT_INSTRUCTION = "Classify the text into exactly one of the labels."
_THINKING = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)
_EDGES = " \t\r\n\"'`*_.,;:!?()[]{}<>"
_PREFIX = re.compile(r"^(label|answer|category|class)\s*:\s*", re.IGNORECASE)


def _classify_prompt(text: str, labels: Sequence[str], instruction: str | None) -> str:
    return (
        f"{instruction or _DEFAULT_INSTRUCTION}\n"
        f"Labels: {', '.join(labels)}\n"
        "Answer with one label, exactly as written above, and nothing else.\n\n"
        f"Text: {text}\n"
        "Label:"
    )


def parse_label(answer: str, labels: Sequence[str]) -> str | None:
    """The label ``answer`` names: an exact match, then a case-insensitive one, then the first label mentioned.

    Returns None when the answer names none of them. Reasoning blocks (``<think>...</think>``), quotes,
    markdown emphasis, punctuation and a leading ``Label:`` are ignored.
    """
    text = _THINKING.sub("", answer).strip()
    cleaned = _PREFIX.sub("", text.strip(_EDGES)).strip(_EDGES)
    for candidate in (text, cleaned):
        if candidate in labels:
            return candidate
    folded = {label.casefold(): label for label in labels}
    found = folded.get(cleaned.casefold())
    if found is not None:
        return found
    best: tuple[int, int, str] | None = None
    for label in labels:
        match = re.search(rf"(?<!\w){re.escape(label)}(?!\w)", text, flags=re.IGNORECASE)
        if match is not None:
            rank = (match.start(), -len(label), label)  # earliest, then longest ("very positive" over "positive")
            if best is None or rank < best:
                best = rank
    return best[2] if best is not None else None


@task(name="modelswap-classify", **_DEFAULTS)
def classify(
    text: str,
    labels: list[str],
    model: str | None = None,
    *,
    instruction: str | None = None,
    system: str | None = None,
    config: Any = None,
    **params: Any,
) -> str:
    """Classify ``text`` into exactly one of ``labels``.

    The prompt lists the labels and asks for one, exactly as written. The answer is parsed robustly: an exact
    match, then a case-insensitive one, then the first label mentioned (``"The sentiment is Negative."`` ->
    ``"negative"``). Pass ``temperature=0`` and a small ``max_tokens`` for stable, cheap answers.

    Args:
        text: the text to classify.
        labels: the allowed labels (distinct, non-empty).
        model: an alias or ``provider/model_id``; None for the Variable ``modelswap_model``, then the default.
        instruction: what to classify by (default: "Classify the text into exactly one of the labels.").
        system: a system prompt put before the prompt.
        config: None, a path, a :class:`modelswap.Config` or a ``ModelSwapConfig`` block.
        **params: generation params and provider-specific body fields.

    Returns:
        One of ``labels``, spelled as given.

    Raises:
        ValueError: ``labels`` is empty or has duplicates.
        modelswap.BadResponseError: the answer names none of the labels (its message lists them and the
            answer; not retried).

    Example:
        >>> from prefect import flow
        >>> from modelswap.tasks import classify
        >>> @flow
        ... def triage(ticket: str) -> str:
        ...     return classify(ticket, ["bug", "feature", "question"], temperature=0, max_tokens=8)
        >>> triage("The export button crashes the app.")                             # doctest: +SKIP
    """
    labels = list(labels)
    if not labels or not all(isinstance(label, str) and label.strip() for label in labels):
        raise ValueError(f"classify needs a non-empty list of non-empty string labels, got {labels!r}")
    if len({label.casefold() for label in labels}) != len(labels):
        raise ValueError(f"classify labels must be distinct (ignoring case), got {labels!r}")
    completion = _call(_classify_prompt(text, labels, instruction), model, system, config, params)
    label = parse_label(completion.text, labels)
    if label is None:
        answer = redact(completion.text.strip())
        answer = answer if len(answer) <= 200 else answer[:200] + "..."
        raise BadResponseError(
            f"classify: the answer of {completion.alias} names none of the labels {labels}: {answer!r}. Make the "
            "instruction clearer, pass temperature=0, or use a stronger model.",
            provider=completion.provider,
            text=completion.text,
            labels=labels,
        )
    return label


# -- batch ------------------------------------------------------------------------------------------------------


def _to_record(position: int, item: Any) -> BatchRecord:
    if isinstance(item, BatchRecord):
        return item
    if not isinstance(item, Mapping):
        raise ConfigError(f"records[{position}] must be a mapping with an `id`, got {type(item).__name__}.")
    record_id = item.get("id")
    if record_id is None or record_id == "":
        raise ConfigError(f"records[{position}] has no `id`. Give every record a unique id.", field="id")
    prompt = item.get("messages", item.get("prompt"))
    if isinstance(prompt, str) and prompt:
        messages = [{"role": "user", "content": prompt}]
    elif isinstance(prompt, list) and prompt and all(isinstance(m, Mapping) and "role" in m for m in prompt):
        messages = [dict(m) for m in prompt]
    else:
        raise ConfigError(
            f"records[{position}] (id {record_id!r}) needs a `prompt` (text or chat messages) or `messages`.",
            field="prompt",
        )
    return BatchRecord(str(record_id), messages, position + 1)


def _run_coroutine(coroutine: Any) -> Any:
    """Run a coroutine to completion from sync code, also when this thread already runs an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = asyncio.run(coroutine)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            outcome["error"] = exc

    thread = threading.Thread(target=target, name="modelswap-batch")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


@task(name="modelswap-complete-batch", **_DEFAULTS)
def complete_batch(
    records: list[dict[str, Any]],
    output: str,
    model: str | None = None,
    *,
    concurrency: int = 16,
    config: Any = None,
    params: dict[str, Any] | None = None,
    schema: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Answer one chunk of records into one JSONL part file, in input order, resuming where a crash stopped.

    One task run per chunk, with up to ``concurrency`` requests in flight inside it (never one task per
    record). Line *k* of ``output`` answers record *k*; if ``output`` exists (a re-run after a crash, or a
    Prefect retry), its complete lines are kept, a torn last line is cut off, and only the remaining records
    are sent. A record whose call fails after the provider's retries gets a line with ``error`` set and counts
    as ``failed``; a configuration error stops the chunk.

    Args:
        records: ``{"id", "prompt"}`` mappings (``prompt`` is text or chat messages), or ``{"id", "messages"}``.
        output: the part file to write (its folder is created).
        model: an alias or ``provider/model_id``; None for the Variable ``modelswap_model``, then the default.
        concurrency: requests in flight at once within this chunk (the provider's ``max_concurrency`` still
            caps the whole process).
        config: None, a path, a :class:`modelswap.Config` or a ``ModelSwapConfig`` block.
        params: generation params for every record.
        schema: a JSON Schema every answer must match (the parsed answer goes to ``data``).

    Returns:
        The ``BatchSummary`` as a dict: ``output``, ``model``, ``records`` (sent this run), ``skipped``
        (already answered), ``succeeded``, ``failed``, ``input_tokens``, ``output_tokens``, ``cost``,
        ``wall_s``, ``errors`` (counts by error type) and ``records_per_s``.

    Raises:
        modelswap.ConfigError: a record has no id or prompt, the model cannot be resolved, or ``output`` holds
            results of other records.

    Example:
        >>> from prefect import flow
        >>> from modelswap.tasks import complete_batch
        >>> @flow
        ... def label_reviews(reviews: list[str], model: str | None = None) -> list[dict]:
        ...     records = [{"id": str(i), "prompt": f"Sentiment of: {r}"} for i, r in enumerate(reviews)]
        ...     chunks = [records[i : i + 500] for i in range(0, len(records), 500)]
        ...     futures = [
        ...         complete_batch.submit(chunk, f"out/part-{n:05d}.jsonl", model, concurrency=16)
        ...         for n, chunk in enumerate(chunks)
        ...     ]
        ...     return [future.result() for future in futures]
        >>> label_reviews(["Great!", "Broke in a day."], "gemma-raw")              # doctest: +SKIP
    """
    built = [_to_record(i, item) for i, item in enumerate(records)]
    resolved = resolve_model(model)
    client = client_for(config)
    alias = client.resolve(resolved).alias  # a config error stops the chunk before the file is touched
    path = Path(output)
    path.parent.mkdir(parents=True, exist_ok=True)
    done, last_id = count_done(path)
    if done > len(built):
        raise ConfigError(
            f"{path}: already holds {done} results but this chunk has {len(built)} records. The part file belongs "
            "to another chunk; give a new output path.",
            file=str(path),
        )
    if done and built[done - 1].id != last_id:
        raise ConfigError(
            f"{path}: line {done} answers id {last_id!r}, but record {done} of this chunk is {built[done - 1].id!r}. "
            "The part file belongs to another chunk; give a new output path.",
            file=str(path), line=done,
        )
    summary = BatchSummary(output=str(path), model=alias, skipped=done)
    log = _run_logger()
    if done:
        log.info("%s: %d of %d records already answered; resuming", path, done, len(built))
    summary = _run_coroutine(
        process_records(
            built[done:], path, config=client.config, model=resolved, concurrency=concurrency, params=params,
            schema=schema, summary=summary,
        )
    )
    log.info(
        "%s: %d succeeded, %d failed, %d skipped with %s in %.1f s",
        path, summary.succeeded, summary.failed, summary.skipped, alias, summary.wall_s,
    )
    return summary.to_dict()
