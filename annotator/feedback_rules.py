"""HelpSteer3's feedback rules as one pure checker: the service refuses with it, the page checks as you type with it.

Pure (no Django). The bounds are a project's settings (defaults in :mod:`annotator.domain`); the opening
"The response is {not / slightly / partially / mostly / perfectly} helpful" also gives the feedback's helpfulness
level, 0..4 (HelpSteer3, Wang et al. 2025, arXiv 2503.04378, §2.2).

>>> rules = FeedbackRules(min_sentences=2, max_sentences=10, min_words=5, max_words=250)
>>> check_feedback("The response is mostly helpful. It misses one case.", rules).helpfulness
3
>>> check_feedback("Good answer.", rules).problems[0]
'Begin with “The response is not / slightly / partially / mostly / perfectly helpful”.'
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from annotator.domain import (
    FEEDBACK_HELPFULNESS_WORDS,
    FEEDBACK_MAX_SENTENCES,
    FEEDBACK_MAX_WORDS,
    FEEDBACK_MIN_SENTENCES,
    FEEDBACK_MIN_WORDS,
    FEEDBACK_OPENING_TEMPLATE,
)

_OPENING = re.compile(
    FEEDBACK_OPENING_TEMPLATE.format(word=f"({'|'.join(FEEDBACK_HELPFULNESS_WORDS)})").replace(" ", r"\s+") + r"\b",
    re.IGNORECASE,
)
# A sentence ends at ., ! or ? (repeated, maybe closed by a quote or bracket) followed by white space or the end.
_SENTENCE_END = re.compile(r"[.!?]+[\"'”’)\]]*(?=\s|$)")
OPENING_TEXT = "“" + FEEDBACK_OPENING_TEMPLATE.format(word=" / ".join(FEEDBACK_HELPFULNESS_WORDS)) + "”"
"""The opening as the messages name it."""


@dataclass(frozen=True, slots=True)
class FeedbackRules:
    """A project's bounds on one feedback (inclusive), and whether the helpfulness opening is required."""

    min_sentences: int = FEEDBACK_MIN_SENTENCES
    max_sentences: int = FEEDBACK_MAX_SENTENCES
    min_words: int = FEEDBACK_MIN_WORDS
    max_words: int = FEEDBACK_MAX_WORDS
    require_opening: bool = True


@dataclass(frozen=True, slots=True)
class FeedbackCheck:
    """What the checker found: the broken rules as sentences (empty: the feedback is fine), the counts, and the
    helpfulness level of the opening word (None without a valid opening)."""

    problems: tuple[str, ...]
    sentences: int
    words: int
    helpfulness: int | None

    @property
    def ok(self) -> bool:
        return not self.problems


def count_words(text: str) -> int:
    """Runs of non-space characters.

    >>> count_words("The response is  not helpful.")
    5
    """
    return len(text.split())


def count_sentences(text: str) -> int:
    """Sentences ending in ., ! or ? before white space or the end; a last one without a full stop counts too.

    >>> count_sentences("One. Two! Three? 3.5 is a number")
    4
    """
    stripped = text.strip()
    if not stripped:
        return 0
    ends = list(_SENTENCE_END.finditer(stripped))
    tail = stripped[ends[-1].end() :].strip() if ends else stripped
    return len(ends) + (1 if tail else 0)


def opening_helpfulness(text: str) -> int | None:
    """The level (0 = not … 4 = perfectly) of the opening "The response is <word> helpful"; None without it.

    >>> opening_helpfulness("the response is Perfectly helpful and clear.")
    4
    >>> opening_helpfulness("The response is not very helpful.") is None
    True
    """
    found = _OPENING.match(text.strip())
    return None if found is None else FEEDBACK_HELPFULNESS_WORDS.index(found.group(1).lower())


def check_feedback(text: str, rules: FeedbackRules) -> FeedbackCheck:
    """Check one feedback against ``rules``; every broken rule is named, in the order the annotator fixes them."""
    sentences, words = count_sentences(text), count_words(text)
    helpfulness = opening_helpfulness(text)
    problems: list[str] = []
    if rules.require_opening and helpfulness is None:
        problems.append(f"Begin with {OPENING_TEXT}.")
    if words < rules.min_words:
        problems.append(f"Write at least {rules.min_words} words (now {words}).")
    elif words > rules.max_words:
        problems.append(f"Write at most {rules.max_words} words (now {words}).")
    if sentences < rules.min_sentences:
        problems.append(f"Write at least {rules.min_sentences} sentences (now {sentences}).")
    elif sentences > rules.max_sentences:
        problems.append(f"Write at most {rules.max_sentences} sentences (now {sentences}).")
    return FeedbackCheck(tuple(problems), sentences, words, helpfulness)
