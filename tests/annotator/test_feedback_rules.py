"""The feedback checker (annotator.feedback_rules): HelpSteer3's defaults, each rule named, the opening's level."""

from __future__ import annotations

import pytest

from annotator.feedback_rules import FeedbackRules, check_feedback, count_sentences, opening_helpfulness
from tests.factories import good_feedback

HS3 = FeedbackRules()


@pytest.mark.parametrize(
    ("word", "level"), [("not", 0), ("slightly", 1), ("partially", 2), ("mostly", 3), ("perfectly", 4)]
)
def test_a_feedback_within_the_rules_passes_and_its_opening_gives_the_level(word: str, level: int) -> None:
    checked = check_feedback(good_feedback(word), HS3)
    assert checked.ok and checked.problems == ()
    assert checked.helpfulness == level
    assert 50 <= checked.words <= 250 and 2 <= checked.sentences <= 10


def test_every_broken_rule_is_named() -> None:
    checked = check_feedback("Nice answer.", HS3)
    assert not checked.ok
    assert checked.helpfulness is None
    assert [p.split(" ")[0] for p in checked.problems] == ["Begin", "Write", "Write"]
    assert "at least 50 words (now 2)" in checked.problems[1]
    assert "at least 2 sentences (now 1)" in checked.problems[2]


def test_upper_bounds() -> None:
    long = "The response is not helpful. " + "It is wrong here. " * 20
    checked = check_feedback(long, HS3)
    assert "at most 10 sentences" in " ".join(checked.problems)
    words = "The response is not helpful. " + "word " * 300 + "end."
    assert "at most 250 words" in " ".join(check_feedback(words, HS3).problems)


def test_the_opening_is_only_required_when_the_project_says_so() -> None:
    text = good_feedback().replace("The response is mostly helpful.", "Fine overall.")
    assert not check_feedback(text, HS3).ok
    assert check_feedback(text, FeedbackRules(require_opening=False)).ok


@pytest.mark.parametrize(
    ("text", "level"),
    [("THE RESPONSE IS SLIGHTLY HELPFUL.", 1), ("The response is  mostly\nhelpful", 3), ("The response is helpful.", None),
     ("The response is mostly unhelpful.", None), ("  The response is perfectly helpful", 4)],
)  # fmt: skip
def test_opening_levels(text: str, level: int | None) -> None:
    assert opening_helpfulness(text) == level


def test_sentence_counting_ignores_decimal_points_and_counts_an_unfinished_last_sentence() -> None:
    assert count_sentences("Pi is 3.14 here. And e is 2.71") == 2
    assert count_sentences("") == 0
    assert count_sentences("Is it? Yes!! “Quoted.” Done") == 4
