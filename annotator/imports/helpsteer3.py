"""HelpSteer3 preference files -> :class:`ComparisonRecord`.

Columns (nvidia/HelpSteer3 dataset card, ``preference`` config): ``domain``, ``language``, ``context`` (a list of
``{"role", "content"}`` messages ending with the user turn), ``response1``, ``response2``, ``overall_preference``
(-3..3, negative: response 1 better) and ``individual_preference`` (``[{"score", "reasoning"}]``, the up to three
released annotations).

``overall_preference`` becomes the source's :class:`SourceLabels`; each ``individual_preference`` entry becomes an
anonymous :class:`AnnotationRecord` (score -> preference strength, reasoning -> justification); ``domain`` and
``language`` become the record's own fields (the prompt's columns). HelpSteer3 ships one file per split, so the split comes from the caller.
"""

from __future__ import annotations

from collections.abc import Iterator

from annotator.imports.fields import FieldReader, Row
from annotator.imports.records import AnnotationRecord, ComparisonRecord, SourceLabels, Split, Turn


def parse_helpsteer3(
    rows: Iterator[tuple[int, Row]], fields: FieldReader, *, split: Split | None
) -> Iterator[ComparisonRecord]:
    """One comparison per row; see the module docstring for the mapping."""
    for position, row in rows:
        domain = fields.scope(position, row, "domain")
        language = fields.scope(position, row, "language")
        turns = parse_messages(position, fields.items(position, row, "context"), "context", fields)
        response_1 = fields.string(position, row, "response1")
        response_2 = fields.string(position, row, "response2")
        overall = fields.strength(position, fields.get(position, row, "overall_preference"), "overall_preference")
        annotations = tuple(
            AnnotationRecord(
                annotator_index=index,
                preference_strength=fields.strength(position, item.get("score"), "individual_preference.score"),
                justification=_reasoning(position, item, fields),
            )
            for index, item in enumerate(fields.items(position, row, "individual_preference"), 1)
        )
        yield ComparisonRecord(
            line=position,
            turns=turns,
            response_1=response_1,
            response_2=response_2,
            split=split,
            domain=domain,
            language=language,
            source_labels=SourceLabels(preference_strength=overall),
            annotations=annotations,
        )


def parse_messages(
    position: int, messages: list[dict[str, object]], column: str, fields: FieldReader
) -> tuple[Turn, ...]:
    """Turn a ``[{"role", "content"}]`` list into turns; it must be non-empty and end with a user turn."""
    if not messages:
        raise fields.error(position, "an empty conversation", column=column, expected="at least one user message")
    turns = []
    for message in messages:
        content = message.get("content")
        if type(content) is not str:
            raise fields.error(position, f"{content!r} is not text", column=f"{column}.content", expected="a string")
        turns.append(Turn(fields.role(position, message.get("role"), f"{column}.role"), content))
    if turns[-1].role != "user":
        raise fields.error(
            position,
            f"the last message is from {turns[-1].role!r}",
            column=column,
            expected="a last message from the user",
        )
    return tuple(turns)


def _reasoning(position: int, item: dict[str, object], fields: FieldReader) -> str:
    value = item.get("reasoning", "")
    if type(value) is not str:
        raise fields.error(
            position, f"{value!r} is not text", column="individual_preference.reasoning", expected="a string"
        )
    return value
