"""HelpSteer2-Preference (``preference/preference.jsonl.gz``) -> :class:`ComparisonRecord`.

Columns (nvidia/HelpSteer2 dataset card, "Preferences"): ``split`` ("train" / "val"), ``prompt`` (HelpSteer2 string
form), ``response_1``, ``response_2``, ``preference_strength`` (-3..3, negative: response 1 better),
``preference_statement``, ``preference_elaboration``, ``three_most_similar_preferences`` [{statement, elaboration,
strength}], ``all_preferences_unprocessed`` [{strength, justification}].

* ``preference_strength`` and statement + " " + elaboration become the source's :class:`SourceLabels`.
* Each entry of ``all_preferences_unprocessed`` becomes an anonymous :class:`AnnotationRecord`; strength -100 is the
  release's not-ratable sentinel (Wang et al. 2024, arXiv 2410.01257) and becomes ``preference_strength=None,
  not_ratable=True`` — it is never a point of the -3..3 scale.
* ``three_most_similar_preferences``, ``preference_statement`` and ``preference_elaboration`` are kept verbatim in
  ``metadata``.
"""

from __future__ import annotations

from collections.abc import Iterator

from annotator.imports.fields import FieldReader, Row
from annotator.imports.records import NOT_RATABLE_STRENGTH, AnnotationRecord, ComparisonRecord, SourceLabels
from annotator.imports.turns import parse_helpsteer2_prompt


def join_justification(statement: str, elaboration: str) -> str:
    """Rejoin HelpSteer2-Preference's statement and elaboration into one justification text."""
    statement, elaboration = statement.strip(), elaboration.strip()
    return f"{statement} {elaboration}" if statement and elaboration else statement or elaboration


def parse_helpsteer2_preference(rows: Iterator[tuple[int, Row]], fields: FieldReader) -> Iterator[ComparisonRecord]:
    """One comparison per row; see the module docstring for the mapping."""
    for position, row in rows:
        split = fields.split(position, fields.get(position, row, "split"))
        prompt = fields.string(position, row, "prompt")
        response_1 = fields.string(position, row, "response_1")
        response_2 = fields.string(position, row, "response_2")
        strength = fields.strength(position, fields.get(position, row, "preference_strength"), "preference_strength")
        statement = fields.string(position, row, "preference_statement")
        elaboration = fields.string(position, row, "preference_elaboration")
        kept = [_kept(position, item, fields) for item in fields.items(position, row, "three_most_similar_preferences")]
        annotations = tuple(
            _annotation(position, index, item, fields)
            for index, item in enumerate(fields.items(position, row, "all_preferences_unprocessed"), 1)
        )
        yield ComparisonRecord(
            line=position,
            turns=parse_helpsteer2_prompt(prompt),
            response_1=response_1,
            response_2=response_2,
            split=split,
            metadata={
                "preference_statement": statement,
                "preference_elaboration": elaboration,
                "three_most_similar_preferences": kept,
            },
            source_labels=SourceLabels(
                preference_strength=strength, justification=join_justification(statement, elaboration)
            ),
            annotations=annotations,
        )


def _kept(position: int, item: dict[str, object], fields: FieldReader) -> dict[str, object]:
    column = "three_most_similar_preferences"
    return {
        "statement": _text(position, item, "statement", column, fields),
        "elaboration": _text(position, item, "elaboration", column, fields),
        "strength": fields.strength(position, item.get("strength"), f"{column}.strength"),
    }


def _annotation(position: int, index: int, item: dict[str, object], fields: FieldReader) -> AnnotationRecord:
    column = "all_preferences_unprocessed"
    justification = _text(position, item, "justification", column, fields)
    raw = item.get("strength")
    if raw == NOT_RATABLE_STRENGTH and type(raw) is int:
        return AnnotationRecord(annotator_index=index, not_ratable=True, justification=justification)
    strength = fields.strength(position, raw, f"{column}.strength")
    return AnnotationRecord(annotator_index=index, preference_strength=strength, justification=justification)


def _text(position: int, item: dict[str, object], key: str, column: str, fields: FieldReader) -> str:
    value = item.get(key)
    if type(value) is not str:
        raise fields.error(position, f"{value!r} is not text", column=f"{column}.{key}", expected="a string")
    return value
