"""Trainer-ready rows in, padded tensors out.

Input files come from the export step: JSONL or Parquet, one row per pair (``prompt``, ``chosen``, ``rejected``,
``margin`` = |preference strength|, optional ``split`` / ``id``) or per rated response (``prompt``, ``response``,
one integer column per attribute, null = not rated). ``prompt`` is a string or a list of ``{role, content}`` turns.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from transformers import PreTrainedTokenizerBase

from annotator.imports.turns import parse_helpsteer2_prompt

Row = Mapping[str, Any]
VALIDATION_SPLITS = frozenset({"validation", "val", "valid", "dev", "test", "eval"})


# --- files -------------------------------------------------------------------------------------------------------
def load_rows(path: str | Path) -> list[dict[str, Any]]:
    """Read a trainer-ready ``.jsonl`` / ``.json`` (JSON lines) or ``.parquet`` file into a list of dicts."""
    path = Path(path)
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        rows: list[dict[str, Any]] = pq.read_table(path).to_pylist()
        return rows
    if path.suffix in (".jsonl", ".json", ".ndjson"):
        with path.open(encoding="utf-8") as handle:
            return [json.loads(line) for line in handle if line.strip()]
    raise ValueError(f"unsupported file type {path.suffix!r} (expected .jsonl or .parquet): {path}")


def split_rows(rows: Iterable[Row]) -> tuple[list[Row], list[Row]]:
    """Partition rows by their ``split`` column into (train, validation); rows without one are training rows."""
    train: list[Row] = []
    validation: list[Row] = []
    for row in rows:
        (validation if str(row.get("split") or "train").lower() in VALIDATION_SPLITS else train).append(row)
    return train, validation


def drop_ties(rows: Iterable[Row]) -> list[Row]:
    """Pairs whose preference strength is 0 say nothing about direction; the BT family skips them."""
    return [row for row in rows if row.get("margin") is None or float(row["margin"]) != 0.0]


# --- text ---------------------------------------------------------------------------------------------------------
def render_prompt(prompt: str | Sequence[Mapping[str, str]], tokenizer: PreTrainedTokenizerBase) -> str:
    """Prompt text. With a chat template (instruct decoders) the conversation goes through it, with the generation
    prompt so that the response follows as the assistant's turn: a turns list as is, a string as HelpSteer2's
    encoding (``<extra_id_1>User`` / ``<extra_id_1>Assistant`` markers split it into turns; a plain string is one
    user turn). Without one a string stays as is and turns become ``"User: …\nAssistant: …"`` lines."""
    template = getattr(tokenizer, "chat_template", None)
    if isinstance(prompt, str):
        if not template:
            return prompt
        turns = [{"role": turn.role, "content": turn.content} for turn in parse_helpsteer2_prompt(prompt)]
    else:
        turns = [{"role": str(turn["role"]), "content": str(turn["content"])} for turn in prompt]
    if template:
        rendered = tokenizer.apply_chat_template(turns, tokenize=False, add_generation_prompt=True)
        return str(rendered)
    return "\n".join(f"{turn['role'].capitalize()}: {turn['content']}" for turn in turns)


@dataclass(frozen=True)
class PairTemplate:
    """Where a tokenizer puts its special tokens around a text pair, learnt once by encoding a probe pair.

    This keeps the tokenizer's own post-processing (``[CLS] a [SEP] b [SEP]`` for BERT, ``<s> a </s></s> b </s>``
    for RoBERTa …) while letting us truncate the prompt side first, which tokenizers cannot do by themselves.
    """

    prefix: tuple[int, ...]
    middle: tuple[int, ...]
    suffix: tuple[int, ...]
    type_a: int | None
    type_b: int | None

    @property
    def num_special(self) -> int:
        return len(self.prefix) + len(self.middle) + len(self.suffix)

    @classmethod
    def probe(cls, tokenizer: PreTrainedTokenizerBase) -> PairTemplate:
        first = tokenizer("first", add_special_tokens=False)["input_ids"]
        second = tokenizer("second", add_special_tokens=False)["input_ids"]
        both = tokenizer("first", "second")
        ids = list(both["input_ids"])
        start_a = _find(ids, first, 0)
        start_b = _find(ids, second, start_a + len(first))
        types = both.get("token_type_ids")
        return cls(
            prefix=tuple(ids[:start_a]),
            middle=tuple(ids[start_a + len(first) : start_b]),
            suffix=tuple(ids[start_b + len(second) :]),
            type_a=None if types is None else int(types[start_a]),
            type_b=None if types is None else int(types[start_b]),
        )

    def join(self, prompt_ids: Sequence[int], response_ids: Sequence[int], max_length: int) -> Encoded:
        """Truncate the prompt from its start first (the turns nearest the response stay), then the response's end.

        >>> t = PairTemplate(prefix=(101,), middle=(102,), suffix=(102,), type_a=0, type_b=1)
        >>> t.join([1, 2, 3], [4, 5], max_length=6)
        Encoded(input_ids=(101, 3, 102, 4, 5, 102), token_type_ids=(0, 0, 0, 1, 1, 1))
        """
        budget = max_length - self.num_special
        response = list(response_ids[:budget])
        keep_prompt = max(0, budget - len(response))
        prompt = list(prompt_ids[len(prompt_ids) - keep_prompt :]) if keep_prompt else []
        first = [*self.prefix, *prompt, *self.middle]
        second = [*response, *self.suffix]
        types = None
        if self.type_a is not None and self.type_b is not None:
            types = (self.type_a,) * len(first) + (self.type_b,) * len(second)
        return Encoded(tuple(first + second), types)


def _find(haystack: Sequence[int], needle: Sequence[int], start: int) -> int:
    for index in range(start, len(haystack) - len(needle) + 1):
        if list(haystack[index : index + len(needle)]) == list(needle):
            return index
    raise ValueError("could not locate the probe text in the tokenizer's pair encoding")


@dataclass(frozen=True)
class Encoded:
    """One tokenized (prompt, response) sequence, unpadded."""

    input_ids: tuple[int, ...]
    token_type_ids: tuple[int, ...] | None


def encode_pairs(
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[str],
    responses: Sequence[str],
    max_length: int,
) -> list[Encoded]:
    """Tokenize ``(prompt, response)`` text pairs in two batched calls and join them with :class:`PairTemplate`."""
    template = PairTemplate.probe(tokenizer)
    prompt_ids = tokenizer(list(prompts), add_special_tokens=False)["input_ids"] if prompts else []
    response_ids = tokenizer(list(responses), add_special_tokens=False)["input_ids"] if responses else []
    if template.prefix:  # a chat template that writes BOS itself (Llama 3) must not get a second one
        n = len(template.prefix)
        prompt_ids = [p[n:] if tuple(p[:n]) == template.prefix else p for p in prompt_ids]
    return [template.join(p, r, max_length) for p, r in zip(prompt_ids, response_ids, strict=True)]


# --- examples -----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PairExample:
    """A tokenized preference pair; ``strength`` = |preference strength| (1.0 when the file has no margin)."""

    chosen: Encoded
    rejected: Encoded
    strength: float

    @property
    def length(self) -> int:
        return max(len(self.chosen.input_ids), len(self.rejected.input_ids))

    @property
    def num_tokens(self) -> int:
        return len(self.chosen.input_ids) + len(self.rejected.input_ids)


@dataclass(frozen=True)
class RatedExample:
    """A tokenized response with its attribute ratings; ``mask[i]`` is False where attribute i was not rated."""

    sequence: Encoded
    ratings: tuple[float, ...]
    mask: tuple[bool, ...]

    @property
    def length(self) -> int:
        return len(self.sequence.input_ids)

    @property
    def num_tokens(self) -> int:
        return len(self.sequence.input_ids)


Example = PairExample | RatedExample


def build_pair_examples(
    rows: Sequence[Row], tokenizer: PreTrainedTokenizerBase, max_length: int, *, keep_ties: bool = False
) -> list[PairExample]:
    """Tokenize preference rows (ties dropped unless ``keep_ties``)."""
    if not keep_ties:
        rows = drop_ties(rows)
    prompts = [render_prompt(row["prompt"], tokenizer) for row in rows]
    chosen = encode_pairs(tokenizer, prompts, [str(row["chosen"]) for row in rows], max_length)
    rejected = encode_pairs(tokenizer, prompts, [str(row["rejected"]) for row in rows], max_length)
    strengths = [1.0 if row.get("margin") is None else abs(float(row["margin"])) for row in rows]
    return [PairExample(c, r, s) for c, r, s in zip(chosen, rejected, strengths, strict=True)]


def build_rated_examples(
    rows: Sequence[Row], tokenizer: PreTrainedTokenizerBase, max_length: int, attributes: Sequence[str]
) -> list[RatedExample]:
    """Tokenize regression rows; rows with no rated attribute at all are skipped (they carry no signal)."""
    kept = [row for row in rows if any(_rated(row.get(name)) for name in attributes)]
    prompts = [render_prompt(row["prompt"], tokenizer) for row in kept]
    sequences = encode_pairs(tokenizer, prompts, [str(row["response"]) for row in kept], max_length)
    examples = []
    for row, sequence in zip(kept, sequences, strict=True):
        mask = tuple(_rated(row.get(name)) for name in attributes)
        ratings = tuple(float(row[name]) if rated else 0.0 for name, rated in zip(attributes, mask, strict=True))
        examples.append(RatedExample(sequence, ratings, mask))
    return examples


def _rated(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


# --- order --------------------------------------------------------------------------------------------------------
def batch_plan(
    lengths: Sequence[int],
    batch_size: int,
    *,
    seed: int,
    epoch: int,
    group_by_length: bool,
    length_group_factor: int = 50,
) -> list[list[int]]:
    """Example indices of every batch of one epoch; a pure function of (seed, epoch), so resuming replays it.

    With ``group_by_length`` the shuffled indices are cut into mega-batches of ``length_group_factor x
    batch_size``, each sorted by length (longest first) and cut into batches, and the batch order is shuffled
    again, as in transformers' ``LengthGroupedSampler`` but with shuffled batch order.

    >>> batch_plan([5, 1, 4, 2], 2, seed=0, epoch=0, group_by_length=True)
    [[0, 2], [3, 1]]
    """
    generator = random.Random(seed * 1_000_003 + epoch)
    order = list(range(len(lengths)))
    generator.shuffle(order)
    if not group_by_length:
        return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    mega = batch_size * max(1, length_group_factor)
    batches: list[list[int]] = []
    for start in range(0, len(order), mega):
        chunk = sorted(order[start : start + mega], key=lambda index: -lengths[index])
        batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
    generator.shuffle(batches)
    return batches


# --- collation ----------------------------------------------------------------------------------------------------
@dataclass
class Batch:
    """Padded model inputs. Pairwise: rows ``[:B]`` are chosen, ``[B:]`` rejected, so one forward scores both."""

    input_ids: Tensor  # (N, L) int64
    attention_mask: Tensor  # (N, L) int64, 1 = real token
    token_type_ids: Tensor | None  # (N, L) int64
    strength: Tensor | None  # (B,) float32, pairwise only
    targets: Tensor | None  # (N, A) float32, regression only
    target_mask: Tensor | None  # (N, A) bool, regression only
    num_tokens: int  # real (non-pad) tokens in the batch

    def to(self, device: torch.device) -> Batch:
        def move(tensor: Tensor | None) -> Tensor | None:
            return None if tensor is None else tensor.to(device, non_blocking=True)

        return Batch(
            self.input_ids.to(device, non_blocking=True),
            self.attention_mask.to(device, non_blocking=True),
            move(self.token_type_ids),
            move(self.strength),
            move(self.targets),
            move(self.target_mask),
            self.num_tokens,
        )


def pad_sequences(sequences: Sequence[Encoded], pad_token_id: int) -> tuple[Tensor, Tensor, Tensor | None]:
    """Right-pad to the longest sequence of this batch (dynamic padding).

    >>> ids, mask, types = pad_sequences([Encoded((7, 8, 9), None), Encoded((7,), None)], pad_token_id=0)
    >>> ids.tolist(), mask.tolist(), types
    ([[7, 8, 9], [7, 0, 0]], [[1, 1, 1], [1, 0, 0]], None)
    """
    width = max(len(sequence.input_ids) for sequence in sequences)
    ids = torch.full((len(sequences), width), pad_token_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    has_types = sequences[0].token_type_ids is not None
    types = torch.zeros((len(sequences), width), dtype=torch.long) if has_types else None
    for row, sequence in enumerate(sequences):
        n = len(sequence.input_ids)
        ids[row, :n] = torch.tensor(sequence.input_ids)
        mask[row, :n] = 1
        if types is not None and sequence.token_type_ids is not None:
            types[row, :n] = torch.tensor(sequence.token_type_ids)
    return ids, mask, types


def collate(examples: Sequence[Example], pad_token_id: int) -> Batch:
    """Pad a list of pair or rated examples into a :class:`Batch`."""
    if isinstance(examples[0], PairExample):
        pairs = [e for e in examples if isinstance(e, PairExample)]
        sequences = [p.chosen for p in pairs] + [p.rejected for p in pairs]
        ids, mask, types = pad_sequences(sequences, pad_token_id)
        strength = torch.tensor([p.strength for p in pairs], dtype=torch.float32)
        return Batch(ids, mask, types, strength, None, None, int(mask.sum()))
    rated = [e for e in examples if isinstance(e, RatedExample)]
    ids, mask, types = pad_sequences([r.sequence for r in rated], pad_token_id)
    targets = torch.tensor([r.ratings for r in rated], dtype=torch.float32)
    target_mask = torch.tensor([r.mask for r in rated], dtype=torch.bool)
    return Batch(ids, mask, types, None, targets, target_mask, int(mask.sum()))
