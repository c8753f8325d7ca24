"""Prefstack's own JSONL import format -> :class:`ComparisonRecord`.

One JSON object per line (or a JSON array / Parquet file of such objects)::

    {
      "prompt": "What is 2+2?",                     # a string (one user turn, verbatim) or
                                                    # [{"role": "user"|"assistant"|"system", "content": str}, ...]
                                                    #   ending with a user turn
      "response_1": "4",
      "response_2": "Four.",
      "split": "train",                             # optional: "train" | "validation"
      "source_id": "my-set/000123",                 # optional: your identifier, kept for traceability
      "domain": "code",                             # optional: the prompt's domain (HelpSteer3: general, stem,
                                                    #   code, multilingual; any name up to 64 characters)
      "language": "python",                         # optional: its (natural or programming) language
      "metadata": {"topic": "arithmetic"},          # optional: any JSON object, kept verbatim
      "preference_strength": -1,                    # optional: -3..3, negative = response 1 better
      "justification": "@Response 1 is ...",        # optional
      "ratings": {                                  # optional: attribute -> rating on the project's scale
        "response_1": {"helpfulness": 4, "correctness": 4},
        "response_2": {"helpfulness": 3}
      }
    }

Only ``prompt``, ``response_1`` and ``response_2`` are required. Labels given here (ratings, preference strength,
justification) are the *source's* labels (:class:`SourceLabels`), not any annotator's. Attribute names must be
among the project's attributes and ratings within its scale. In CSV only the flat columns can be used (prompt as a
string, response_1, response_2, split, source_id, domain, language, preference_strength, justification).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from annotator.imports.fields import FieldReader, Row
from annotator.imports.helpsteer3 import parse_messages
from annotator.imports.records import ComparisonRecord, SourceLabels, Turn

_NESTED = ("metadata", "ratings")


def parse_prefstack(
    rows: Iterator[tuple[int, Row]], fields: FieldReader, *, attributes: Sequence[str]
) -> Iterator[ComparisonRecord]:
    """One comparison per row; see the module docstring for the format."""
    known = frozenset(attributes)
    for position, row in rows:
        prompt = fields.get(position, row, "prompt")
        if type(prompt) is str:
            turns: tuple[Turn, ...] = (Turn("user", prompt),)
        elif isinstance(prompt, list) and all(isinstance(item, dict) for item in prompt):
            turns = parse_messages(position, prompt, "prompt", fields)
        else:
            raise fields.error(
                position,
                "the prompt is neither text nor a list of messages",
                column="prompt",
                expected='a string or [{"role", "content"}, ...]',
            )
        response_1 = fields.string(position, row, "response_1")
        response_2 = fields.string(position, row, "response_2")
        split_value = row.get("split")
        split = None if split_value in (None, "") else fields.split(position, split_value)
        source_id = fields.source_id(position, row.get("source_id"))
        if fields.text_cells and any(row.get(name) not in (None, "") for name in _NESTED):
            raise fields.error(
                position,
                "nested columns cannot be read from CSV",
                column="ratings/metadata",
                expected="JSONL, JSON or Parquet for ratings and metadata",
            )
        metadata = fields.metadata(position, row.get("metadata"))
        raw_strength = row.get("preference_strength")
        strength = (
            None if raw_strength in (None, "") else fields.strength(position, raw_strength, "preference_strength")
        )
        justification = fields.optional_string(position, row, "justification")
        ratings_1, ratings_2 = _ratings(position, row.get("ratings"), fields, known)
        labels = None
        if strength is not None or justification is not None or ratings_1 or ratings_2:
            labels = SourceLabels(ratings_1, ratings_2, strength, justification)
        yield ComparisonRecord(
            line=position,
            turns=turns,
            response_1=response_1,
            response_2=response_2,
            split=split,
            source_id=source_id,
            domain=fields.scope(position, row, "domain"),
            language=fields.scope(position, row, "language"),
            metadata=metadata,
            source_labels=labels,
        )


def _ratings(
    position: int, value: object, fields: FieldReader, known: frozenset[str]
) -> tuple[dict[str, int], dict[str, int]]:
    if value is None or value == "":
        return {}, {}
    if not isinstance(value, dict) or not set(value) <= {"response_1", "response_2"}:
        raise fields.error(
            position,
            "ratings must be keyed by response",
            column="ratings",
            expected='{"response_1": {attribute: rating}, "response_2": {...}}',
        )
    result: list[dict[str, int]] = []
    for response in ("response_1", "response_2"):
        per_attribute = value.get(response) or {}
        if not isinstance(per_attribute, dict):
            raise fields.error(
                position,
                f"{per_attribute!r} is not an object",
                column=f"ratings.{response}",
                expected="{attribute: rating}",
            )
        ratings: dict[str, int] = {}
        for name, rating in per_attribute.items():
            column = f"ratings.{response}.{name}"
            if name not in known:
                raise fields.error(
                    position,
                    f"unknown attribute {name!r}",
                    column=column,
                    expected=f"one of {', '.join(sorted(known))}",
                )
            ratings[name] = fields.rating(position, rating, column)
        result.append(ratings)
    return result[0], result[1]
