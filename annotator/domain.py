"""The domain's words, defined once: scales, the HelpSteer2 attributes, splits and prompt turns.

Pure (no Django), so models, the pure packages (``annotator.stats``, ``annotator.imports``, ``annotator.exports``,
``rm_jobs.training``), services and ``rm_jobs`` all take their vocabulary from here. The scales follow HelpSteer2
(Wang et al. 2024, arXiv 2406.08673: five attributes rated 0..4) and HelpSteer2-Preference (arXiv 2410.01257:
preference strength -3..+3, negative = response 1 better).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

Role = Literal["system", "user", "assistant"]
"""Who speaks a prompt turn."""
Split = Literal["train", "validation"]
"""The dataset split a comparison belongs to."""

PREFERENCE_STRENGTH_MIN: Final = -3
"""Response 1 much better than response 2."""
PREFERENCE_STRENGTH_MAX: Final = 3
"""Response 2 much better than response 1."""
PREFERENCE_STRENGTH_RANGE: Final[tuple[int, int]] = (PREFERENCE_STRENGTH_MIN, PREFERENCE_STRENGTH_MAX)
"""Inclusive preference-strength range; negative means response 1 is better (HelpSteer2-Preference)."""
PREFERENCE_STRENGTH_TEXT: Final = f"a whole number from {PREFERENCE_STRENGTH_MIN} to {PREFERENCE_STRENGTH_MAX}"
"""How error messages describe a valid strength."""

PREFERENCE_STRENGTH_LABELS: Final[tuple[tuple[int, str], ...]] = (
    (-3, "Response 1 is much better than Response 2"),
    (-2, "Response 1 is better than Response 2"),
    (-1, "Response 1 is slightly better than Response 2"),
    (0, "Response 1 is about the same as Response 2"),
    (1, "Response 2 is slightly better than Response 1"),
    (2, "Response 2 is better than Response 1"),
    (3, "Response 2 is much better than Response 1"),
)
"""Every scale point with HelpSteer2-Preference's wording (its card, "Preference Strength"), lowest first."""

NOT_RATABLE_STRENGTH: Final = -100
"""HelpSteer2-Preference's sentinel for a not-ratable pair in ``all_preferences_unprocessed``; never a scale point."""

# The largest id or integer a 64-bit database column holds: a larger one in a URL, a query or a file is refused or
# not found before it reaches SQL (where it would overflow).
INT64_MAX: Final = 2**63 - 1

# When an annotator quality signal becomes a flag in the lead's table (annotator.stats.quality.QualityThresholds).
QUALITY_POSITION_ALPHA: Final = 0.01
"""Position bias: two-sided binomial test p-value of left-preferred vs 0.5 below this."""
QUALITY_SPEED_FRACTION: Final = 0.33
"""Speed: median time on task below this fraction of the project's median."""
QUALITY_SPEED_FLOOR_S: Final = 10.0
"""Speed: median time on task below this many seconds, whatever the others do."""
QUALITY_STRAIGHT_SHARE: Final = 0.5
"""Straight-lining: at least this share of an annotator's annotations give one rating everywhere."""
QUALITY_GOLD_FLOOR: Final = 0.6
"""Gold: mean accuracy on gold comparisons below this."""
QUALITY_MIN_ANNOTATIONS: Final = 10
"""Fewer annotations (or decisive preferences) than this never raise a flag: too little evidence."""

LIKERT_MIN: Final = 0
LIKERT_MAX: Final = 4
LIKERT_SCALE: Final[tuple[int, int]] = (LIKERT_MIN, LIKERT_MAX)
"""Inclusive Likert range of the HelpSteer2 attributes (and the default of a new attribute)."""

HELPSTEER2_ATTRIBUTES: Final[tuple[str, ...]] = ("helpfulness", "correctness", "coherence", "complexity", "verbosity")
"""HelpSteer2's five attributes, in the released column order."""

HELPFULNESS: Final = "helpfulness"
"""The attribute that drives adaptive overlap and the HelpSteer2 aggregation rule."""

# HelpSteer2's five attributes with the level wording of its guidelines (HelpSteer2 App. G.3, abridged): what a new
# project starts with. Same order as HELPSTEER2_ATTRIBUTES.
HELPSTEER2_ATTRIBUTE_SPECS: Final[tuple[dict[str, object], ...]] = (
    {
        "name": "helpfulness",
        "description": "Overall helpfulness of the response to the prompt.",
        "level_descriptions": [
            "Not helpful at all: misses the essence of the request or is wrong.",
            "Borderline unhelpful: mostly does not capture what the user was looking for.",
            "Partially helpful: misses the overall goal in some way.",
            "Mostly helpful: could be improved in some way.",
            "Perfectly helpful: aligned with the spirit of the prompt.",
        ],
    },
    {
        "name": "correctness",
        "description": "Inclusion of all pertinent facts without errors.",
        "level_descriptions": [
            "Completely incorrect: all information is wrong or missing.",
            "Mostly incorrect: more wrong than right.",
            "Partially incorrect: a mix of correct and incorrect information.",
            "Mostly correct: a small error or missing detail.",
            "Completely correct: accurate and complete.",
        ],
    },
    {
        "name": "coherence",
        "description": "Consistency and clarity of expression.",
        "level_descriptions": [
            "Completely incoherent: impossible to follow.",
            "Mostly incoherent: hard to follow, with contradictions.",
            "A little unclear: some parts need rereading.",
            "Mostly coherent: minor lapses in clarity.",
            "Perfectly coherent and clear.",
        ],
    },
    {
        "name": "complexity",
        "description": "Intellectual depth needed to write the response (higher is more complex, not better).",
        "level_descriptions": [
            "Basic: anyone who can read could write it.",
            "Simple: a schoolchild could write it.",
            "Intermediate: needs a high-school education.",
            "Advanced: needs university-level knowledge.",
            "Expert: needs deep domain expertise.",
        ],
    },
    {
        "name": "verbosity",
        "description": "Amount of detail relative to what the prompt asks for (higher is longer, not better).",
        "level_descriptions": [
            "Succinct: as short as possible.",
            "Pretty short: on the short side.",
            "Average length.",
            "Moderately long: on the longer side.",
            "Verbose: very long and detailed.",
        ],
    },
)


def is_preference_strength(value: object) -> bool:
    """Whether ``value`` is a point of the preference-strength scale (an ``int``, not a ``bool``, in range).

    >>> [is_preference_strength(v) for v in (-3, 3, 4, 1.0, True, None)]
    [True, True, False, False, False, False]
    """
    return type(value) is int and PREFERENCE_STRENGTH_MIN <= value <= PREFERENCE_STRENGTH_MAX


@dataclass(frozen=True, slots=True)
class Turn:
    """One message of a prompt."""

    role: Role
    content: str


# A prompt's domain and language (HelpSteer3's ``domain`` / ``language`` columns). Free text so that any project may
# name its own, at most this long; an empty string means "not given". Code prompts keep the programming language
# HelpSteer3 names (e.g. ``javascript_html_css``), multilingual ones the natural language.
SCOPE_MAX_LENGTH: Final = 64
"""Longest domain or language name."""
SCOPE_PATTERN: Final = "^[^\\x00-\\x1f\\x7f-\\x9f\\u2028\\u2029]*$"
"""A domain or language name is one line of text: no control character, no line or paragraph separator. The same
regular expression in Python and in the API's schema (ECMAScript), so both refuse alike."""
_SCOPE_RE: Final = re.compile(SCOPE_PATTERN)
HELPSTEER3_DOMAINS: Final[tuple[str, ...]] = ("general", "stem", "code", "multilingual")
"""HelpSteer3's four domains (its dataset card), offered as suggestions; other names are allowed."""

GUIDELINE_TASK_TYPES: Final[tuple[tuple[str, str], ...]] = (
    ("preference", "Preference: rate and compare two responses"),
    ("feedback", "Feedback: write a critique of each response"),
    ("edit", "Edit: rewrite a response so that it follows its feedback"),
    ("edit_quality", "Edit quality: pick the edit that follows the feedback"),
)
"""Task types with guidelines of their own (``Project.task_guidelines``), shown on that task's pages: the comparison
task's are keyed ``preference``, the others by their :data:`TaskType`."""

# Qualification (annotator pools): a project may require that an annotator passes a qualification set for a
# domain and/or language before that scope's work reaches them.
QUALIFICATION_PASS_MARK_DEFAULT: Final = 0.8
"""Share of a qualification set's items to answer within tolerance to pass."""
QUALIFICATION_MAX_ATTEMPTS_DEFAULT: Final = 3
"""Attempts an annotator gets at one qualification set."""
QUALIFICATION_COOLDOWN_MINUTES_DEFAULT: Final = 60
"""Wait after a failed attempt before the next one."""


def scope_clean(value: object) -> str:
    """A domain or language as stored: stripped text, "" when none (None or blank).

    >>> [scope_clean(v) for v in (None, "  code ", "")]
    ['', 'code', '']
    """
    return value.strip() if isinstance(value, str) else ""


def scope_valid(value: str) -> bool:
    """Whether ``value`` (cleaned) can be a domain or language name: at most ``SCOPE_MAX_LENGTH`` characters of one line.

    >>> [scope_valid(v) for v in ("code", "x" * 65, "a\\nb", "a\\x00")]
    [True, False, False, False]
    """
    return len(value) <= SCOPE_MAX_LENGTH and _SCOPE_RE.match(value) is not None


def scope_matches(*, scope_domain: str, scope_language: str, domain: str, language: str) -> bool:
    """Whether a prompt of ``domain``/``language`` falls in a scope; an empty scope field matches everything.

    The claim's SQL (``annotator.selectors.hot_path.QUALIFIED_FOR_PROMPT``) states the same rule.

    >>> scope_matches(scope_domain="code", scope_language="", domain="code", language="python")
    True
    >>> scope_matches(scope_domain="code", scope_language="sql", domain="code", language="python")
    False
    """
    return scope_domain in ("", domain) and scope_language in ("", language)


# --- HelpSteer3 task types (Wang et al. 2025, arXiv 2503.04378; docs/task-types.md) ------------------------------

TaskType = Literal["comparison", "feedback", "edit", "edit_quality"]
"""What a project collects: the pairwise rating task (the default), or one of HelpSteer3's three."""

FEEDBACK_HELPFULNESS_WORDS: Final[tuple[str, ...]] = ("not", "slightly", "partially", "mostly", "perfectly")
"""The word after "The response is", lowest first: its index is the helpfulness level 0..4 (HelpSteer2's Likert)."""
FEEDBACK_OPENING_TEMPLATE: Final = "The response is {word} helpful"
"""How a feedback must begin (HelpSteer3's guidelines)."""
FEEDBACK_MIN_SENTENCES: Final = 2
FEEDBACK_MAX_SENTENCES: Final = 10
FEEDBACK_MIN_WORDS: Final = 50
FEEDBACK_MAX_WORDS: Final = 250
"""HelpSteer3's bounds on one feedback: 2-10 sentences, 50-250 words (defaults of a project's settings)."""
FEEDBACK_PER_RESPONSE: Final = 3
"""Feedbacks per response in HelpSteer3 (a feedback project's default overlap)."""
TASK_TEXT_MAX_CHARS: Final = 20_000
"""The longest feedback, edited response or change summary accepted."""
CHANGE_SUMMARY_MAX_CHARS: Final = 2_000
"""The longest change summary of an edit."""

HS3TaskConfig = Literal["feedback", "edit", "edit_quality"]
"""The HelpSteer3 configs of the task types (the ``preference`` config is the comparison's: ``helpsteer3``)."""
HS3_TASK_CONFIGS: Final[tuple[HS3TaskConfig, ...]] = ("feedback", "edit", "edit_quality")
HS3_TASK_COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    "feedback": ("domain", "language", "context", "response1", "response2", "feedback1", "feedback2"),
    "edit": ("domain", "language", "context", "original_response", "edited_response", "feedback", "change_summary"),
    "edit_quality": (
        "domain", "language", "context", "original_response", "good_edited_response", "bad_edited_response", "feedback",
    ),
}  # fmt: skip
"""Each config's released columns, in the dataset's order (nvidia/HelpSteer3 card)."""


@dataclass(frozen=True, slots=True)
class HS3TaskRow:
    """One row of a HelpSteer3 ``feedback``, ``edit`` or ``edit_quality`` file, in its own terms.

    ``response_1`` is ``response1`` (feedback) or ``original_response`` (edit, edit quality); ``feedback_1`` /
    ``feedback_2`` the critiques of each response (feedback); ``feedback`` the critiques an edit follows; ``edited``
    and ``change_summary`` (edit); ``good_edit`` / ``bad_edit`` (edit quality).
    """

    config: HS3TaskConfig
    turns: tuple[Turn, ...]
    response_1: str
    response_2: str = ""
    feedback_1: tuple[str, ...] = ()
    feedback_2: tuple[str, ...] = ()
    feedback: tuple[str, ...] = ()
    edited: str = ""
    change_summary: str = ""
    good_edit: str = ""
    bad_edit: str = ""
    domain: str | None = None
    language: str | None = None
    line: int = 0
