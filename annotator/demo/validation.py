"""The demo's generated validation split: short, checkable questions (arithmetic, conversions, sorting, dates)
each answered once well and once with a known flaw, with the generator's own ratings as the source labels.

Why: the hand-written set has 8 validation comparisons, so a model's validation accuracy there carries a 95 %
bootstrap interval 0.5 wide (0.5 to 1.0 at an accuracy of 0.75). With :data:`VALIDATION_PAIRS` = 240 more pairs it
is about 0.1 wide (0.70 to 0.80; a binomial proportion's 3.92 · sqrt(p (1 − p) / N) ≈ 0.108), enough to tell apart
objectives whose accuracies differ by 0.1 or more. Importing them adds well under a second to ``load_demo``. Every answer is computed, so the "good" one is right by construction; the flaws are the
hand-written set's kinds (a wrong result, a wrong method, a dropped item, a rude non-answer, padding, no working).

Pure and seeded: the same records on every machine. Records are in Prefstack's import format
(``annotator/imports/prefstack.py``), split ``validation``, with ``ratings`` and ``preference_strength`` (the labels
a snapshot releases for a comparison nobody annotated) and the same values as ``metadata.true_scores`` /
``true_preference`` (what simulated annotators rate around).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any, Final

from annotator.domain import HELPSTEER2_ATTRIBUTES

VALIDATION_PAIRS: Final = 240
SEED: Final = 2024
SOURCE_PREFIX: Final = "demo-val-"

Scores = dict[str, int]
# A question, its good answer, its flawed answer, their ratings, and how much better the good one is (1..3).
Item = tuple[str, str, str, Scores, Scores, int, str]


def _scores(helpfulness: int, correctness: int, coherence: int, complexity: int, verbosity: int) -> Scores:
    return dict(zip(HELPSTEER2_ATTRIBUTES, (helpfulness, correctness, coherence, complexity, verbosity), strict=True))


def _multiply(rng: random.Random) -> Item:
    a, b = rng.randint(12, 99), rng.randint(11, 19)
    ones = b - 10
    right = a * b
    wrong = right + rng.choice([-20, -10, -1, 1, 10, 20])
    prompt = f"What is {a} × {b}?"
    good = f"{a} × {b} = **{right}**.\n\nTo check: {a} × 10 = {a * 10} and {a} × {ones} = {a * ones}; together {right}."
    bad = f"{a} × {b} = **{wrong}**.\n\nTo check: {a} × 10 = {a * 10} and {a} × {ones} = {a * ones}; together {wrong}."
    return prompt, good, bad, _scores(4, 4, 4, 1, 1), _scores(0, 0, 2, 1, 1), 3, "math"


def _minutes(rng: random.Random) -> Item:
    hours = rng.randint(2, 120)
    prompt = f"How many minutes are there in {hours} hours?"
    good = f"{hours} hours × 60 minutes per hour = **{hours * 60} minutes**."
    bad = (
        f"Great question! Time is something we all think about. An hour, as you probably know, is made of minutes, "
        f"and people have divided the hour into sixty parts since ancient Babylon, whose mathematicians counted in "
        f"sixties. So to answer, we take the {hours} hours you mentioned and multiply by sixty, which gives "
        f"{hours * 60} minutes in total. I hope this helps, and do let me know if you have more questions about "
        f"time, calendars or anything else!"
    )
    return prompt, good, bad, _scores(4, 4, 4, 1, 1), _scores(3, 4, 3, 1, 4), 1, "conversion"


def _fahrenheit(rng: random.Random) -> Item:
    celsius = rng.choice([c for c in range(-40, 201) if c])  # at 0 °C both formulas give 32
    right, wrong = round(celsius * 9 / 5 + 32, 1), celsius * 5 / 9 + 32
    prompt = f"Convert {celsius} °C to Fahrenheit."
    good = f"°F = °C × 9/5 + 32, so {celsius} × 9/5 + 32 = **{right:g} °F**."
    bad = f"°F = °C × 5/9 + 32, so {celsius} × 5/9 + 32 ≈ **{wrong:.1f} °F**."
    return prompt, good, bad, _scores(4, 4, 4, 1, 1), _scores(0, 0, 3, 1, 1), 3, "conversion"


def _sort(rng: random.Random) -> Item:
    numbers = rng.sample(range(1, 200), rng.randint(6, 9))
    ordered = sorted(numbers)
    dropped = ordered[:]
    del dropped[rng.randrange(1, len(dropped) - 1)]
    prompt = "Sort these numbers from smallest to largest: " + ", ".join(map(str, numbers)) + "."
    good = ", ".join(map(str, ordered))
    bad = ", ".join(map(str, dropped))
    return prompt, good, bad, _scores(4, 4, 4, 1, 1), _scores(1, 1, 4, 1, 1), 2, "math"


def _weeks(rng: random.Random) -> Item:
    weeks = rng.randint(2, 104)
    prompt = f"How many days are in {weeks} weeks?"
    good = f"{weeks} weeks × 7 days = **{weeks * 7} days**."
    bad = "That is a trivial multiplication. You could have worked it out yourself instead of asking."
    return prompt, good, bad, _scores(4, 4, 4, 1, 1), _scores(0, 2, 2, 0, 1), 3, "math"


def _percent(rng: random.Random) -> Item:
    share, whole = rng.choice([5, 10, 15, 20, 25, 40, 50, 75]), 20 * rng.randint(2, 60)
    answer = share * whole // 100
    prompt = f"What is {share}% of {whole}? Please show how you got it."
    good = f"{share}% of {whole} = {share}/100 × {whole} = **{answer}**."
    bad = f"{answer}"
    return prompt, good, bad, _scores(4, 4, 4, 1, 1), _scores(2, 4, 3, 0, 0), 1, "math"


def _weekday(rng: random.Random) -> Item:
    days = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
    start, later = rng.randrange(7), rng.randint(8, 400)
    right, wrong = days[(start + later) % 7], days[(start + later + rng.choice([1, 6])) % 7]
    prompt = f"If today is {days[start]}, what day of the week will it be in {later} days?"
    rest = later % 7
    good = f"{later} days is {later // 7} weeks and {rest} day{'' if rest == 1 else 's'}, so it will be **{right}**."
    bad = f"{later} days is about {later // 7} weeks, so it will be **{wrong}**."
    return prompt, good, bad, _scores(4, 4, 4, 2, 1), _scores(1, 0, 3, 1, 1), 2, "math"


KINDS: Final[tuple[Callable[[random.Random], Item], ...]] = (
    _multiply,
    _minutes,
    _fahrenheit,
    _sort,
    _weeks,
    _percent,
    _weekday,
)


def validation_records(n: int = VALIDATION_PAIRS, *, seed: int = SEED) -> list[dict[str, Any]]:
    """``n`` distinct validation comparisons (Prefstack import records); the better answer is first in about half.

    Strength follows HelpSteer2-Preference's sign: negative means response 1 is better.
    """
    rng = random.Random(seed)
    records: list[dict[str, Any]] = []
    seen: set[str] = set()
    while len(records) < n:
        prompt, good, bad, good_scores, bad_scores, margin, domain = KINDS[len(records) % len(KINDS)](rng)
        if prompt in seen:
            continue
        seen.add(prompt)
        good_first = rng.random() < 0.5
        r1, r2 = (good, bad) if good_first else (bad, good)
        s1, s2 = (good_scores, bad_scores) if good_first else (bad_scores, good_scores)
        strength = -margin if good_first else margin
        records.append(
            {
                "source_id": f"{SOURCE_PREFIX}{len(records) + 1:03d}",
                "split": "validation",
                "prompt": prompt,
                "response_1": r1,
                "response_2": r2,
                "preference_strength": strength,
                "ratings": {"response_1": s1, "response_2": s2},
                "metadata": {
                    "domain": domain,
                    "language": "en",
                    "generated": True,
                    "true_scores": {"response_1": s1, "response_2": s2},
                    "true_preference": strength,
                },
            }
        )
    return records


def validation_jsonl(n: int = VALIDATION_PAIRS, *, seed: int = SEED) -> bytes:
    """:func:`validation_records` as a JSONL file's bytes (what ``comparisons_import`` reads)."""
    return "".join(
        json.dumps(record, ensure_ascii=False) + "\n" for record in validation_records(n, seed=seed)
    ).encode()
