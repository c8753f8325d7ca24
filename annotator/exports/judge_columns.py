"""The LLM judge's model-made columns: one prefix, and the names each layout gives them. Pure (no Django).

They appear only in a snapshot cut with ``include_judge_drafts``, and only in the files that can say whose draft a
value is without a join: the canonical items (response 1 / response 2 terms, :func:`judge_column_names`), the
trainer-ready TRL pairs (chosen / rejected terms, :func:`judge_pair_column_names`) and the regression rows (the
row's own response, :func:`judge_response_column_names`). The HelpSteer2- and HelpSteer3-compatible files stay
exactly as released. Every name starts with :data:`JUDGE_COLUMN_PREFIX`; the dataset card lists them all.
"""

from __future__ import annotations

from collections.abc import Sequence

JUDGE_COLUMN_PREFIX = "judge_"
JUDGE_MODEL = f"{JUDGE_COLUMN_PREFIX}model"
"""The judge endpoint's model id (null where the judge drafted nothing for the comparison)."""
JUDGE_PREFERENCE_STRENGTH = f"{JUDGE_COLUMN_PREFIX}preference_strength"
"""−3…+3, negative: response 1 better (as ``preference_strength``)."""
JUDGE_CONFIDENCE = f"{JUDGE_COLUMN_PREFIX}confidence"
"""0…1 that the response the judge prefers is the better one."""
JUDGE_MARGIN = f"{JUDGE_COLUMN_PREFIX}margin"
"""TRL pairs: the judge's preference strength for ``chosen`` over ``rejected`` (−3…+3; positive: the judge agrees
with the people, and then equals what ``margin`` would be)."""


def judge_rating_column(attribute: str, side: str) -> str:
    """The judge's rating of ``attribute`` for one side: "1" / "2" (items), "chosen" / "rejected" (TRL); an empty
    side names the row's own response (regression)."""
    return f"{JUDGE_COLUMN_PREFIX}{attribute}" + (f"_{side}" if side else "")


def judge_column_names(attributes: Sequence[str]) -> list[str]:
    """The model-made columns of a canonical items file cut with judge drafts, in column order."""
    return [
        JUDGE_MODEL,
        JUDGE_PREFERENCE_STRENGTH,
        JUDGE_CONFIDENCE,
        *(judge_rating_column(a, "1") for a in attributes),
        *(judge_rating_column(a, "2") for a in attributes),
    ]


def judge_pair_column_names(attributes: Sequence[str]) -> list[str]:
    """The model-made columns of the TRL preference formats (one row per chosen / rejected pair), in column order.

    >>> judge_pair_column_names(["helpfulness"])
    ['judge_model', 'judge_margin', 'judge_confidence', 'judge_helpfulness_chosen', 'judge_helpfulness_rejected']
    """
    return [
        JUDGE_MODEL,
        JUDGE_MARGIN,
        JUDGE_CONFIDENCE,
        *(judge_rating_column(a, "chosen") for a in attributes),
        *(judge_rating_column(a, "rejected") for a in attributes),
    ]


def judge_response_column_names(attributes: Sequence[str]) -> list[str]:
    """The model-made columns of the regression format (one row per response), in column order.

    >>> judge_response_column_names(["helpfulness", "correctness"])
    ['judge_model', 'judge_helpfulness', 'judge_correctness']
    """
    return [JUDGE_MODEL, *(judge_rating_column(a, "") for a in attributes)]
