"""Shape checks for the hand-written demo comparisons (annotator/demo/comparisons.jsonl)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

DEMO_FILE = Path(__file__).resolve().parents[3] / "annotator" / "demo" / "comparisons.jsonl"

ATTRIBUTES = ("helpfulness", "correctness", "coherence", "complexity", "verbosity")
ROLES = {"system", "user", "assistant"}
FENCED_CODE = re.compile(r"^```[a-z]+\s*$", re.MULTILINE)  # an opening fence with a language tag
TABLE_RULE = re.compile(r"^\|(\s*:?-{3,}:?\s*\|)+\s*$", re.MULTILINE)  # a Markdown table's |---|---| line


@pytest.fixture(scope="module")
def rows() -> list[dict[str, Any]]:
    lines = DEMO_FILE.read_text(encoding="utf-8").splitlines()
    parsed = []
    for number, line in enumerate(lines, start=1):
        try:
            parsed.append(json.loads(line))
        except json.JSONDecodeError as exc:
            pytest.fail(f"line {number} is not valid JSON: {exc}")
    return parsed


def _texts(row: dict[str, Any]) -> list[str]:
    prompt = row["prompt"]
    turns = [prompt] if isinstance(prompt, str) else [turn["content"] for turn in prompt]
    return [*turns, row["response_1"], row["response_2"]]


def test_has_enough_rows(rows: list[dict[str, Any]]) -> None:
    assert len(rows) >= 60


def test_every_row_has_the_prefstack_keys(rows: list[dict[str, Any]]) -> None:
    for row in rows:
        where = row.get("source_id")
        assert set(row) == {"source_id", "split", "prompt", "response_1", "response_2", "metadata"}, where
        assert row["split"] in {"train", "validation"}, where
        for key in ("response_1", "response_2"):
            assert isinstance(row[key], str), where
            assert row[key].strip(), where
        metadata = row["metadata"]
        assert isinstance(metadata["domain"], str), where
        assert metadata["domain"], where
        assert metadata["language"] == "en", where


def test_prompts_are_text_or_turns_ending_with_the_user(rows: list[dict[str, Any]]) -> None:
    for row in rows:
        prompt, where = row["prompt"], row["source_id"]
        if isinstance(prompt, str):
            assert prompt.strip(), where
            continue
        assert isinstance(prompt, list), where
        assert 2 <= len(prompt) <= 5, where
        for turn in prompt:
            assert set(turn) == {"role", "content"}, where
            assert turn["role"] in ROLES, where
            assert isinstance(turn["content"], str), where
            assert turn["content"].strip(), where
        assert prompt[-1]["role"] == "user", where
        assert all(turn["role"] != "system" for turn in prompt[1:]), f"{where}: system turn only first"


def test_true_scores_and_preference_are_in_range(rows: list[dict[str, Any]]) -> None:
    for row in rows:
        metadata, where = row["metadata"], row["source_id"]
        scores = metadata["true_scores"]
        assert set(scores) == {"response_1", "response_2"}, where
        for response in ("response_1", "response_2"):
            assert set(scores[response]) == set(ATTRIBUTES), where
            for value in scores[response].values():
                assert type(value) is int, where
                assert 0 <= value <= 4, where
        preference = metadata["true_preference"]
        assert type(preference) is int, where
        assert -3 <= preference <= 3, where


def test_preference_sign_agrees_with_helpfulness(rows: list[dict[str, Any]]) -> None:
    # Negative preference = response 1 better, so it must not contradict which response is more helpful.
    for row in rows:
        scores = row["metadata"]["true_scores"]
        gap = scores["response_2"]["helpfulness"] - scores["response_1"]["helpfulness"]
        assert gap * row["metadata"]["true_preference"] >= 0, row["source_id"]


def test_mix_of_turns_splits_and_sides(rows: list[dict[str, Any]]) -> None:
    multi_turn = [row for row in rows if isinstance(row["prompt"], list)]
    assert len(multi_turn) >= 15
    assert any(turn["role"] == "system" for row in multi_turn for turn in row["prompt"])
    assert {row["split"] for row in rows} == {"train", "validation"}
    preferences = [row["metadata"]["true_preference"] for row in rows]
    assert any(p < 0 for p in preferences), "response 1 is never the better one"
    assert any(p > 0 for p in preferences), "response 2 is never the better one"
    assert 0 in preferences, "no ties"


def test_source_ids_are_unique(rows: list[dict[str, Any]]) -> None:
    ids = [row["source_id"] for row in rows]
    assert len(ids) == len(set(ids))


def test_markdown_is_exercised(rows: list[dict[str, Any]]) -> None:
    texts = [text for row in rows for text in _texts(row)]
    assert any(FENCED_CODE.search(text) for text in texts), "no fenced code block with a language tag"
    assert any(TABLE_RULE.search(text) for text in texts), "no Markdown table"
    for row in rows:
        for text in _texts(row):
            assert text.count("```") % 2 == 0, f"{row['source_id']}: unbalanced code fence"
