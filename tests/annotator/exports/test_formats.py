"""Each writer on the two sample items (conftest.py), with the exact expected JSON lines."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import replace
from pathlib import Path

import pytest

from annotator.exports import (
    EXPORT_FORMATS,
    FORMAT_SPECS,
    ExportFormat,
    IndividualAnnotation,
    SnapshotItem,
    format_rows,
    write_export,
)
from annotator.exports.items import JudgeDraftValues
from annotator.exports.judge_columns import JUDGE_COLUMN_PREFIX, judge_pair_column_names, judge_response_column_names
from tests.annotator.exports.conftest import ATTRIBUTES

PROMPT = "Hi\n<extra_id_1>Assistant\nHello!\n<extra_id_1>User\nc#"
CONTEXT = [
    {"role": "user", "content": "Hi"},
    {"role": "assistant", "content": "Hello!"},
    {"role": "user", "content": "c#"},
]
RATINGS = {
    "c1.1": {"helpfulness": 4, "correctness": 4, "coherence": 4, "complexity": 2, "verbosity": 1},
    "c1.2": {"helpfulness": 1, "correctness": 2, "coherence": 4, "complexity": 1, "verbosity": None},
    "c2.1": {"helpfulness": 3, "correctness": 4, "coherence": 4, "complexity": 0, "verbosity": 0},
    "c2.2": {"helpfulness": 3, "correctness": 4, "coherence": 4, "complexity": 0, "verbosity": 1},
}

# The trainer-ready formats carry the prompt's domain and language (None = unknown).
C1_SCOPE = {"domain": "general", "language": "english"}
C2_SCOPE = {"domain": None, "language": None}
EXPECTED: dict[ExportFormat, dict[str, list[dict[str, object]]]] = {
    "helpsteer2": {
        "train": [
            {"prompt": PROMPT, "response": "C# is a language.", **RATINGS["c1.1"]},
            {"prompt": PROMPT, "response": "A note.", **RATINGS["c1.2"]},
        ],
        "validation": [
            {"prompt": "2+2?", "response": "4", **RATINGS["c2.1"]},
            {"prompt": "2+2?", "response": "Four", **RATINGS["c2.2"]},
        ],
    },
    "helpsteer2-disagreements": {
        "train": [
            {
                "prompt": PROMPT,
                "response": "C# is a language.",
                "helpfulness": [4, 3],
                "correctness": [4, 4],
                "coherence": [4, 4],
                "complexity": [2, 2],
                "verbosity": [1, 2],
            },
            {
                "prompt": PROMPT,
                "response": "A note.",
                "helpfulness": [1],
                "correctness": [2],
                "coherence": [4],
                "complexity": [1],
                "verbosity": [0],
            },
        ],
        "validation": [],  # nobody rated c2's responses individually
    },
    "helpsteer2-preference": {
        "train": [
            {
                "split": "train",
                "prompt": PROMPT,
                "response_1": "C# is a language.",
                "response_2": "A note.",
                "preference_strength": -2,
                "preference_statement": "@Response 1 is better.",
                "preference_elaboration": "It answers the question.",
                "three_most_similar_preferences": [
                    {"statement": "@Response 1 is better.", "elaboration": "It answers the question.", "strength": -2},
                    {"statement": "@Response 1 is much better.", "elaboration": "", "strength": -3},
                ],
                "all_preferences_unprocessed": [
                    {"strength": -2, "justification": "@Response 1 is better."},
                    {"strength": -3, "justification": "@Response 1 is much better."},
                    {"strength": -100, "justification": "Not English."},
                ],
            }
        ],
        "validation": [
            {
                "split": "val",
                "prompt": "2+2?",
                "response_1": "4",
                "response_2": "Four",
                "preference_strength": 0,
                "preference_statement": "@Response 1 is about the same as @Response 2.",
                "preference_elaboration": "",
                "three_most_similar_preferences": [
                    {"statement": "@Response 1 is about the same as @Response 2.", "elaboration": "", "strength": 0}
                ],
                "all_preferences_unprocessed": [{"strength": 0, "justification": "Same."}],
            }
        ],
    },
    "helpsteer3": {
        "train": [
            {
                "domain": "general",
                "language": "english",
                "context": CONTEXT,
                "response1": "C# is a language.",
                "response2": "A note.",
                "overall_preference": -2,
                "individual_preference": [
                    {"score": -2, "reasoning": "@Response 1 is better."},
                    {"score": -3, "reasoning": "@Response 1 is much better."},
                ],
            }
        ],
        "validation": [
            {
                "domain": None,
                "language": None,
                "context": [{"role": "user", "content": "2+2?"}],
                "response1": "4",
                "response2": "Four",
                "overall_preference": 0,
                "individual_preference": [{"score": 0, "reasoning": "Same."}],
            }
        ],
    },
    "trl-preference": {
        "train": [
            {
                "id": "c1",
                "split": "train",
                "prompt": PROMPT,
                "chosen": "C# is a language.",
                "rejected": "A note.",
                "margin": 2.0,
                **C1_SCOPE,
            }
        ],
        "validation": [],  # c2 is a tie: no chosen response
    },
    "trl-preference-conversational": {
        "train": [
            {
                "id": "c1",
                "split": "train",
                "prompt": CONTEXT,
                "chosen": [{"role": "assistant", "content": "C# is a language."}],
                "rejected": [{"role": "assistant", "content": "A note."}],
                "margin": 2.0,
                **C1_SCOPE,
            }
        ],
        "validation": [],
    },
    "regression": {
        "train": [
            {"id": "c1", "prompt": PROMPT, "response": "C# is a language.", **RATINGS["c1.1"], **C1_SCOPE},
            {"id": "c1", "prompt": PROMPT, "response": "A note.", **RATINGS["c1.2"], **C1_SCOPE},
        ],
        "validation": [
            {"id": "c2", "prompt": "2+2?", "response": "4", **RATINGS["c2.1"], **C2_SCOPE},
            {"id": "c2", "prompt": "2+2?", "response": "Four", **RATINGS["c2.2"], **C2_SCOPE},
        ],
    },
}


# The samples' rule used every annotation: the opt-in full list is the same file.
EXPECTED["helpsteer2-disagreements-all"] = EXPECTED["helpsteer2-disagreements"]


def _lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_every_format_has_an_expectation() -> None:
    assert set(EXPECTED) == set(EXPORT_FORMATS)


@pytest.mark.parametrize("fmt", EXPORT_FORMATS)
def test_jsonl_per_split_is_exactly_the_documented_rows(
    fmt: ExportFormat, items: list[SnapshotItem], tmp_path: Path
) -> None:
    written = write_export(items, fmt, tmp_path, file_type="jsonl")
    assert [f.relative_path for f in written] == [f"{fmt}/train.jsonl", f"{fmt}/validation.jsonl"]
    for f in written:
        assert f.split is not None
        assert _lines(f.path) == EXPECTED[fmt][f.split]
        assert f.rows == len(EXPECTED[fmt][f.split])
        # Column order is part of the format.
        for row, expected in zip(_lines(f.path), EXPECTED[fmt][f.split], strict=True):
            assert list(row) == list(expected)


def test_a_shared_file_gets_a_split_column_where_the_format_has_none(items: list[SnapshotItem], tmp_path: Path) -> None:
    (written,) = write_export(items, "helpsteer2", tmp_path, file_type="jsonl", split_files=False)
    assert written.relative_path == "helpsteer2/data.jsonl"
    assert [row["split"] for row in _lines(written.path)] == ["train", "train", "validation", "validation"]
    (preference,) = write_export(items, "helpsteer2-preference", tmp_path, file_type="jsonl", split_files=False)
    rows = _lines(preference.path)
    assert [row["split"] for row in rows] == ["train", "val"]
    assert list(rows[0]) == list(EXPECTED["helpsteer2-preference"]["train"][0])


def test_an_item_without_ratings_is_left_out_of_the_rating_formats(items: list[SnapshotItem], tmp_path: Path) -> None:
    unrated = replace(items[0], ratings_1={}, ratings_2={}, preference_strength=None)
    (train, _) = write_export([unrated], "helpsteer2", tmp_path, file_type="jsonl")
    assert train.rows == 0
    (train, _) = write_export([unrated], "helpsteer2-preference", tmp_path, file_type="jsonl")
    assert train.rows == 0


def _outlier_item(items: list[SnapshotItem]) -> SnapshotItem:
    """Four raters of response 1's helpfulness, [4, 4, 3, 0]: the rule kept the first three (released label 4);
    the fourth's preference was left out too, and a not-ratable judgement is not a preference."""
    a1 = items[0].annotations[0]
    raters = [
        replace(
            a1, annotator=f"a{i}", ratings_1={**a1.ratings_1, "helpfulness": h}, ratings_2={}, preference_strength=s
        )
        for i, (h, s) in enumerate([(4, -2), (4, -2), (3, -1), (0, 3)], 1)
    ]
    raters[3] = replace(raters[3], used_1=False, used_preference=False)
    not_ratable = IndividualAnnotation("a5", {}, {}, None, True, "Cannot tell.", used_preference=False)
    return replace(items[0], annotations=(*raters, not_ratable))


def test_disagreements_hold_only_the_annotations_the_rule_used(items: list[SnapshotItem], tmp_path: Path) -> None:
    item = _outlier_item(items)
    (train, _) = write_export([item], "helpsteer2-disagreements", tmp_path / "used", file_type="jsonl")
    assert [row["helpfulness"] for row in _lines(train.path)] == [[4, 4, 3], []]  # response 2: nobody rated it
    (train, _) = write_export([item], "helpsteer2-disagreements-all", tmp_path / "all", file_type="jsonl")
    assert [row["helpfulness"] for row in _lines(train.path)] == [[4, 4, 3, 0], []]


def test_helpsteer3_individual_preference_holds_the_preferences_the_rule_used(
    items: list[SnapshotItem], tmp_path: Path
) -> None:
    (train, _) = write_export([_outlier_item(items)], "helpsteer3", tmp_path, file_type="jsonl")
    (row,) = _lines(train.path)
    assert [p["score"] for p in row["individual_preference"]] == [-2, -2, -1]
    (hs2p, _) = write_export([_outlier_item(items)], "helpsteer2-preference", tmp_path, file_type="jsonl")
    (row,) = _lines(hs2p.path)
    # HelpSteer2-Preference's unprocessed list keeps everything, the not-ratable judgement as -100.
    assert [p["strength"] for p in row["all_preferences_unprocessed"]] == [-2, -2, -1, 3, -100]


# --- the LLM judge's model-made columns (a snapshot cut with judge drafts) ---------------------------------------


def _judged(item: SnapshotItem, strength: int | None = 1) -> SnapshotItem:
    draft = JudgeDraftValues(
        model="judge-7b", preference_strength=strength, confidence=0.75,
        ratings_1=dict.fromkeys(ATTRIBUTES, 1), ratings_2=dict.fromkeys(ATTRIBUTES, 3),
    )  # fmt: skip
    return dataclasses.replace(item, judge=draft)


def test_trl_pairs_carry_the_judge_in_chosen_and_rejected_terms(items: list[SnapshotItem]) -> None:
    """c1: the people chose response 1 (−2); the judge prefers response 2 (+1), so it disagrees: margin −1."""
    item = _judged(items[0])
    for fmt in ("trl-preference", "trl-preference-conversational"):
        (row,) = format_rows(item, fmt, ATTRIBUTES, judge=True)
        assert list(row)[-len(judge_pair_column_names(ATTRIBUTES)) :] == judge_pair_column_names(ATTRIBUTES)
        assert (row["judge_model"], row["judge_margin"], row["judge_confidence"]) == ("judge-7b", -1.0, 0.75)
        assert (row["judge_helpfulness_chosen"], row["judge_helpfulness_rejected"]) == (1, 3)
        assert row["margin"] == 2.0  # the people's, untouched
        assert format_rows(item, fmt, ATTRIBUTES) == [{k: v for k, v in row.items() if not k.startswith("judge_")}]
    flipped = dataclasses.replace(item, preference_strength=2)  # the people chose response 2: the judge agrees
    (row,) = format_rows(flipped, "trl-preference", ATTRIBUTES, judge=True)
    assert (row["judge_margin"], row["judge_helpfulness_chosen"], row["judge_helpfulness_rejected"]) == (1.0, 3, 1)


def test_regression_rows_carry_the_judges_rating_of_their_own_response(items: list[SnapshotItem]) -> None:
    first, second = format_rows(_judged(items[0]), "regression", ATTRIBUTES, judge=True)
    assert list(first)[-len(ATTRIBUTES) - 1 :] == judge_response_column_names(ATTRIBUTES)
    assert (first["response"], first["judge_model"], first["judge_correctness"]) == ("C# is a language.", "judge-7b", 1)
    assert (second["response"], second["judge_correctness"]) == ("A note.", 3)
    assert (first["correctness"], second["correctness"]) == (4, 2)  # the people's ratings, untouched


def test_an_item_the_judge_did_not_draft_gets_nulls(items: list[SnapshotItem]) -> None:
    (row,) = format_rows(items[0], "trl-preference", ATTRIBUTES, judge=True)
    assert all(row[name] is None for name in judge_pair_column_names(ATTRIBUTES))


def test_only_the_trainer_ready_formats_carry_judge_columns() -> None:
    carrying = {fmt for fmt, spec in FORMAT_SPECS.items() if spec.judge_columns is not None}
    assert carrying == {"trl-preference", "trl-preference-conversational", "regression"}
    for fmt, spec in FORMAT_SPECS.items():
        plain = spec.schema(ATTRIBUTES, split_column=False)
        judged = spec.schema(ATTRIBUTES, split_column=True, judge=True)
        extra = [n for n in judged.names if n not in plain.names and n != "split"]
        assert all(n.startswith(JUDGE_COLUMN_PREFIX) for n in extra) and bool(extra) == (fmt in carrying)
