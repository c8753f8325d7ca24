"""Rewards for (prompt, response) pairs from a trained job's model, for the score endpoint.

A loaded model is kept per process (a small LRU keyed by the model directory), so consecutive requests pay the
load once. Input is refused, never silently truncated: a request over the item limit, a prompt + response over the
character limit, or a sequence over the model's ``max_length`` tokens is a ValidationFailed naming the item.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings

from annotator.error_codes import ErrorCode
from annotator.errors import Conflict, ValidationFailed
from annotator.storage import download_dir_to_scratch
from rm_jobs.models import JobStatus, TrainingJob

TURN_ROLES = ("system", "user", "assistant")
"""The roles a conversation prompt's turns may have (``[{"role", "content"}, ...]``)."""

_CACHE_SIZE = 2
_cache: OrderedDict[tuple[str, float], Any] = OrderedDict()
_lock = threading.Lock()


class InputTooLong(ValidationFailed):
    """413: the request is well formed but longer than the model (or the server) takes."""

    code = ErrorCode.INPUT_TOO_LONG
    status = 413


@dataclass(frozen=True)
class ScoreResult:
    """``rewards[i]`` is response i's reward; ``outputs[i]`` maps each head output's label to its value when the
    model has several (a regression head: one per attribute; the reward is helpfulness), else ``outputs`` is []."""

    rewards: list[float]
    num_tokens: list[int]
    max_length: int
    outputs: list[dict[str, float]] = field(default_factory=list)


def _loaded(model_dir: Path) -> Any:
    from rm_jobs.training.evaluation import load_for_inference  # torch: only once a model is scored

    key = (str(model_dir), (model_dir / "config.json").stat().st_mtime)
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    loaded = load_for_inference(model_dir)
    with _lock:
        _cache[key] = loaded
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return loaded


def reward_model_score(
    *, job: TrainingJob, prompt: str | list[dict[str, str]], responses: Sequence[str], batch_size: int = 16
) -> ScoreResult:
    """The reward of each response to ``prompt`` (a string, or a list of ``{role, content}`` turns)."""
    if job.status != JobStatus.SUCCEEDED or not job.checkpoint_path:
        raise Conflict(
            f"Job {job.id} is {job.status}; only a succeeded job's model can score.", code=ErrorCode.MODEL_NOT_READY
        )
    if not responses:
        raise ValidationFailed("Give at least one response.", extra={"fields": {"responses": "Empty."}})
    limit = settings.PREFSTACK_SCORE_MAX_ITEMS
    if len(responses) > limit:
        raise ValidationFailed(
            f"At most {limit} responses per request; send {len(responses)} in several requests.",
            code=ErrorCode.TOO_MANY_ITEMS,
            extra={"fields": {"responses": f"At most {limit}."}, "limit": limit},
        )
    prompt_chars = len(prompt) if isinstance(prompt, str) else sum(len(t.get("content", "")) for t in prompt)
    max_chars = settings.PREFSTACK_SCORE_MAX_CHARS
    for index, response in enumerate(responses):
        if prompt_chars + len(response) > max_chars:
            raise InputTooLong(
                f"Response {index}: prompt + response hold {prompt_chars + len(response)} characters; "
                f"the limit is {max_chars}.",
                extra={"index": index, "characters": prompt_chars + len(response), "max_characters": max_chars},
            )
    import torch

    from rm_jobs.training.data import PairTemplate, encode_pairs, render_prompt
    from rm_jobs.training.evaluation import predict, reward_column

    reward_model, tokenizer, config = _loaded(download_dir_to_scratch(job.checkpoint_path))
    text = render_prompt(prompt, tokenizer)
    prompt_ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    response_ids = tokenizer(list(responses), add_special_tokens=False)["input_ids"]
    specials = PairTemplate.probe(tokenizer).num_special
    for index, ids in enumerate(response_ids):
        tokens = len(prompt_ids) + len(ids) + specials
        if tokens > config.max_length:
            raise InputTooLong(
                f"Response {index}: prompt + response are {tokens} tokens; this model reads at most "
                f"{config.max_length}.",
                extra={"index": index, "tokens": tokens, "max_tokens": config.max_length},
            )
    sequences = encode_pairs(tokenizer, [text] * len(responses), list(responses), config.max_length)
    with torch.inference_mode():
        outputs = predict(reward_model, sequences, pad_token_id=int(tokenizer.pad_token_id), batch_size=batch_size)
    column = reward_column(reward_model)
    labels = reward_model.model.config.id2label or {}
    per_output: list[dict[str, float]] = []
    if outputs.shape[1] > 1:
        names = [str(labels.get(i, f"output_{i}")) for i in range(outputs.shape[1])]
        per_output = [{name: float(v) for name, v in zip(names, row, strict=True)} for row in outputs.tolist()]
    return ScoreResult(
        rewards=[float(v) for v in outputs[:, column]],
        num_tokens=[len(s.input_ids) for s in sequences],
        max_length=config.max_length,
        outputs=per_output,
    )
