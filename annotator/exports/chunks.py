"""One chunk of a snapshot's canonical items, built as columns from what a build read and aggregated.

A snapshot build (``annotator.services.snapshots.build``) reads the project a chunk of consecutive comparisons at a
time, aggregates their annotations with the snapshot's rule and hands the pieces here, as arrays:

* :class:`ComparisonChunk` — the comparisons (prompt turns, responses, split, metadata), one entry each;
* :class:`AggregatedLabels` — the labels the rule kept, aligned on ascending comparison ids;
* :class:`AnnotationTable` — every annotation of the chunk, sorted by comparison id;
* the labels that imported comparisons came with, and the justification texts by annotation id.

:func:`chunk_columns` turns them into the chunk's :class:`~annotator.exports.canonical.ItemColumns`. A comparison
that came with released labels and that nobody here annotated keeps those labels (its imported annotations are
exported as they came, every one counting as used); the others take the rule's. A comparison with neither a
preference strength nor any rating is left out. Pure: numpy, no Django.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from annotator.exports.canonical import FloatArray, ItemColumns, JudgeColumns, Offsets
from annotator.exports.items import KeptPreference, split_justification

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
# The labels an imported comparison came with: ratings {"1": {attribute: value}, "2": {...}}, strength,
# justification.
SourceLabels = tuple[dict[str, Any], int | None, str]
# The metadata key under which HelpSteer2-Preference lists the preferences its label kept.
LISTED_KEPT_KEY = "three_most_similar_preferences"


@dataclass(frozen=True, slots=True)
class ComparisonChunk:
    """Consecutive comparisons (by id) as columns, read without model instances; each list has one entry per
    comparison. ``turns`` and ``metadata`` are decoded JSON; ``domain`` and ``language`` are the prompt's ("" when
    not given)."""

    ids: list[int]
    prompt_ids: list[int]
    turns: list[list[dict[str, str]]]
    response_1: list[str]
    response_2: list[str]
    split: list[str]
    metadata: list[dict[str, Any]]
    domain: list[str]
    language: list[str]

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class AggregatedLabels:
    """Aggregated labels of the comparisons the rule kept, arrays of shape (c,) aligned on ``comparison_ids``
    (ascending)."""

    comparison_ids: IntArray
    ratings_1: dict[str, FloatArray]  # attribute -> rating (NaN = none)
    ratings_2: dict[str, FloatArray]
    strength: FloatArray  # NaN = none
    justification_from: IntArray  # the annotation whose justification was chosen (-1 = none)
    kept_preference_ids: IntArray  # annotations kept for the preference part (any comparison)
    kept_rating_ids: tuple[IntArray, IntArray]  # ... for response 1's, 2's ratings
    dropped_by_reason: dict[str, int]


@dataclass(frozen=True)
class AnnotationTable:
    """A chunk's non-rejected annotations as arrays of shape (m,), sorted by comparison id (stable, so each
    comparison's annotations keep the frame's order and form one contiguous slice)."""

    comparison_ids: IntArray
    annotation_ids: IntArray
    annotator: npt.NDArray[np.object_]  # the anonymised code
    annotator_index: IntArray  # position of the annotator among the build's annotators
    ratings_1: dict[str, FloatArray]
    ratings_2: dict[str, FloatArray]
    strength: FloatArray
    not_ratable: BoolArray
    kept: BoolArray  # kept by the rule for the preference part, with a strength
    kept_1: BoolArray  # kept by the rule for response 1's ratings
    kept_2: BoolArray  # ... for response 2's


@dataclass(frozen=True)
class JudgeDrafts:
    """The LLM judge's latest successful draft of each of a chunk's drafted comparisons, shape (d,) each, aligned on
    ``comparison_ids`` (ascending). Model-made: they go to their own columns, never into a label."""

    comparison_ids: IntArray
    model: list[str]  # the endpoint's model id of the run that drafted it
    strength: FloatArray  # NaN = none
    confidence: FloatArray  # NaN = none
    ratings_1: dict[str, FloatArray]  # attribute -> rating (NaN = none)
    ratings_2: dict[str, FloatArray]

    def columns(self, item_ids: IntArray, attributes: tuple[str, ...]) -> JudgeColumns:
        """The drafts of the items whose comparison ids are ``item_ids``, None / NaN where there is none."""
        at = _positions(self.comparison_ids, item_ids)
        found = at >= 0
        take = np.maximum(at, 0)

        def pick(values: FloatArray) -> FloatArray:
            if not len(values):
                return np.full(len(item_ids), np.nan)
            return np.where(found, values[take], np.nan)

        return JudgeColumns(
            model=[self.model[i] if i >= 0 else None for i in at.tolist()],
            preference_strength=pick(self.strength),
            confidence=pick(self.confidence),
            ratings_1={a: pick(self.ratings_1[a]) for a in attributes},
            ratings_2={a: pick(self.ratings_2[a]) for a in attributes},
        )


@dataclass(frozen=True)
class ChunkContext:
    """What one chunk's items are made of besides its comparisons: the snapshot's attributes and split settings,
    the chunk's aggregated labels and annotations, and the labels its imported comparisons came with."""

    attributes: tuple[str, ...]
    split_seed: int
    validation_fraction: float
    labels: AggregatedLabels
    table: AnnotationTable
    source_labels: dict[int, SourceLabels]  # comparison id -> the labels it was imported with
    prompt_splits: dict[int, str]  # split of the chunk's prompts that have one from a source
    decided_by_people: IntArray  # comparisons someone here annotated, ascending
    judge: JudgeDrafts | None = None  # the judge's drafts, when the snapshot includes them (own columns only)


def chunk_columns(chunk: ComparisonChunk, texts: dict[int, str], context: ChunkContext) -> ItemColumns:
    """The items of one chunk of comparisons, as columns: those with an aggregated label, else an imported one.

    ``texts`` maps annotation id -> justification text (the chunk's annotations). Items keep the chunk's order.
    """
    attributes = context.attributes
    labels = _rule_labels(chunk, texts, context)
    _take_source_labels(chunk, context, labels)
    included = _has_a_label(labels, attributes)
    rows = np.flatnonzero(included)
    position = np.cumsum(included) - 1  # item position of each comparison of the chunk (where included)
    n_items = len(rows)
    notes = _item_annotations(chunk, texts, context.table, labels, included, position)
    kept = _kept_preferences(notes, context.table, labels, included, position)
    prompts = _item_prompts(chunk, rows, context)
    table, mine = context.table, notes.rows
    return ItemColumns(
        comparison_id=[str(chunk.ids[i]) for i in rows.tolist()],
        split=prompts.split,
        turn_offsets=np.concatenate([[0], np.cumsum(prompts.turn_counts)]).astype(np.int32),
        turn_role=prompts.turn_role,
        turn_content=prompts.turn_content,
        response_1=[chunk.response_1[i] for i in rows.tolist()],
        response_2=[chunk.response_2[i] for i in rows.tolist()],
        ratings_1={a: labels.ratings_1[a][rows] for a in attributes},
        ratings_2={a: labels.ratings_2[a][rows] for a in attributes},
        preference_strength=labels.strength[rows],
        justification=[labels.justification[i] for i in rows.tolist()],
        kept_offsets=_offsets(kept.owner, n_items),
        kept_strength=kept.strength,
        kept_statement=[s for s, _ in kept.parts],
        kept_elaboration=[e for _, e in kept.parts],
        annotation_offsets=_offsets(notes.owner, n_items),
        annotator=table.annotator[mine].tolist(),
        annotation_ratings_1={a: table.ratings_1[a][mine] for a in attributes},
        annotation_ratings_2={a: table.ratings_2[a][mine] for a in attributes},
        annotation_strength=table.strength[mine],
        annotation_not_ratable=notes.not_ratable,
        annotation_justification=notes.texts,
        annotation_used_1=notes.used_1,
        annotation_used_2=notes.used_2,
        annotation_used_preference=notes.used_preference,
        domain=prompts.domain,
        language=prompts.language,
        judge=None if context.judge is None else context.judge.columns(np.asarray(chunk.ids)[rows], attributes),
    )


@dataclass
class _ComparisonLabels:
    """The labels of each of a chunk's ``n`` comparisons, shape (n,): first the rule's, then (filled in by
    :func:`_take_source_labels`) those an imported comparison that nobody here annotated came with."""

    by_rule: BoolArray  # the rule's labels apply (else the source's, if any)
    ratings_1: dict[str, FloatArray]
    ratings_2: dict[str, FloatArray]
    strength: FloatArray
    justification: list[str | None]
    listed_kept: BoolArray  # the source listed its kept preferences (HelpSteer2-Preference)
    source_kept: list[tuple[int, KeptPreference]]  # (chunk position, kept preference) listed by the sources


def _rule_labels(chunk: ComparisonChunk, texts: dict[int, str], context: ChunkContext) -> _ComparisonLabels:
    """The rule's labels of each comparison, NaN / None where the rule kept none or the source's labels apply."""
    labels = context.labels
    ids = np.asarray(chunk.ids, dtype=np.int64)
    n = len(ids)
    at = _positions(labels.comparison_ids, ids)
    released = np.fromiter((i in context.source_labels for i in chunk.ids), dtype=bool, count=n)
    by_rule = (at >= 0) & ~(released & (_positions(context.decided_by_people, ids) < 0))
    take = np.maximum(at, 0)

    def from_labels(values: npt.NDArray[Any], missing: float) -> npt.NDArray[Any]:
        if not len(values):
            return np.full(n, missing, dtype=values.dtype)
        return np.where(by_rule, values[take], missing)

    strength = from_labels(labels.strength, np.nan).astype(np.float64)
    chosen = from_labels(labels.justification_from, -1)
    return _ComparisonLabels(
        by_rule=by_rule,
        ratings_1={a: from_labels(labels.ratings_1[a], np.nan).astype(np.float64) for a in context.attributes},
        ratings_2={a: from_labels(labels.ratings_2[a], np.nan).astype(np.float64) for a in context.attributes},
        strength=strength,
        justification=[
            (texts.get(a) or None) if a >= 0 and s == s else None  # s == s: not NaN
            for a, s in zip(chosen.tolist(), strength.tolist(), strict=True)
        ],
        listed_kept=np.zeros(n, dtype=bool),
        source_kept=[],
    )


def _take_source_labels(chunk: ComparisonChunk, context: ChunkContext, labels: _ComparisonLabels) -> None:
    """Give the comparisons nobody's annotations decided the labels their dataset came with (in place)."""
    for i in np.flatnonzero(~labels.by_rule).tolist():
        source = context.source_labels.get(chunk.ids[i])
        if source is None:
            continue
        ratings, source_strength, source_justification = source
        for a in context.attributes:
            labels.ratings_1[a][i] = _number(ratings.get("1", {}).get(a))
            labels.ratings_2[a][i] = _number(ratings.get("2", {}).get(a))
        labels.strength[i] = _number(source_strength)
        labels.justification[i] = source_justification or None
        metadata = chunk.metadata[i]
        labels.listed_kept[i] = LISTED_KEPT_KEY in metadata
        for entry in metadata.get(LISTED_KEPT_KEY) or []:
            if isinstance(entry, dict) and isinstance(entry.get("strength"), int):
                kept = KeptPreference(
                    entry["strength"], str(entry.get("statement", "")), str(entry.get("elaboration", ""))
                )
                labels.source_kept.append((i, kept))


def _has_a_label(labels: _ComparisonLabels, attributes: tuple[str, ...]) -> BoolArray:
    """Which comparisons become items: those with a preference strength or any rating, shape (n,)."""
    included = ~np.isnan(labels.strength)
    for a in attributes:
        included |= ~np.isnan(labels.ratings_1[a]) | ~np.isnan(labels.ratings_2[a])
    return included


@dataclass(frozen=True)
class _ItemAnnotations:
    """The annotations of the chunk's items, shape (m',) each: rows of the :class:`AnnotationTable`, in its order,
    with which of their parts the labels used (the rule's choice, or all of an imported comparison's)."""

    rows: IntArray  # rows of the annotation table
    owner: IntArray  # item position of each
    texts: list[str]  # justification ("" = none)
    by_rule: BoolArray  # its comparison took the rule's labels
    from_listing_source: BoolArray  # its comparison's source listed its kept preferences
    not_ratable: BoolArray
    used_1: BoolArray
    used_2: BoolArray
    used_preference: BoolArray


def _item_annotations(
    chunk: ComparisonChunk,
    texts: dict[int, str],
    table: AnnotationTable,
    labels: _ComparisonLabels,
    included: BoolArray,
    position: IntArray,
) -> _ItemAnnotations:
    """The included comparisons' annotations: one contiguous slice of the table, each row's comparison in the
    chunk."""
    ids = np.asarray(chunk.ids, dtype=np.int64)
    lo = int(np.searchsorted(table.comparison_ids, ids[0], side="left"))
    hi = int(np.searchsorted(table.comparison_ids, ids[-1], side="right"))
    owner = np.searchsorted(ids, table.comparison_ids[lo:hi])  # chunk position of each annotation's comparison
    in_items = included[owner]
    rows = lo + np.flatnonzero(in_items)
    by_rule = labels.by_rule[owner[in_items]]
    not_ratable = table.not_ratable[rows]
    has_strength = ~np.isnan(table.strength[rows])
    return _ItemAnnotations(
        rows=rows,
        owner=position[owner[in_items]],
        texts=[texts.get(a) or "" for a in table.annotation_ids[rows].tolist()],
        by_rule=by_rule,
        from_listing_source=labels.listed_kept[owner[in_items]],
        not_ratable=not_ratable,
        used_1=np.where(by_rule, table.kept_1[rows], ~not_ratable),
        used_2=np.where(by_rule, table.kept_2[rows], ~not_ratable),
        used_preference=np.where(by_rule, table.kept[rows], has_strength),
    )


@dataclass(frozen=True)
class _KeptPreferences:
    """The items' kept preferences, shape (k,) each, ordered by the item that owns them."""

    owner: IntArray  # item position
    strength: FloatArray
    parts: list[tuple[str, str]]  # (statement, elaboration)


def _kept_preferences(
    notes: _ItemAnnotations,
    table: AnnotationTable,
    labels: _ComparisonLabels,
    included: BoolArray,
    position: IntArray,
) -> _KeptPreferences:
    """Kept preferences of comparisons the rule labelled; imported labels bring theirs in the metadata, or else
    (HelpSteer3, which releases only the preferences that agree most) are all the imported ones."""
    kept_rows = notes.used_preference & (notes.by_rule | ~notes.from_listing_source)
    owner = notes.owner[kept_rows]
    strength = table.strength[notes.rows][kept_rows]
    parts = [split_justification(t) for t, k in zip(notes.texts, kept_rows.tolist(), strict=True) if k]
    if labels.source_kept:
        extra = [(position[i], k) for i, k in labels.source_kept if included[i]]
        owner = np.concatenate([owner, np.array([p for p, _ in extra], dtype=np.int64)])
        strength = np.concatenate([strength, np.array([k.strength for _, k in extra], dtype=np.float64)])
        parts += [(k.statement, k.elaboration) for _, k in extra]
        order = np.argsort(owner, kind="stable")
        owner, strength = owner[order], strength[order]
        parts = [parts[j] for j in order.tolist()]
    return _KeptPreferences(owner=owner, strength=strength, parts=parts)


@dataclass(frozen=True)
class _ItemPrompts:
    """Per item: its prompt's turns (flat, with a count per item), its split, domain and language."""

    turn_counts: IntArray
    turn_role: list[str]
    turn_content: list[str]
    split: list[str]
    domain: list[str | None]
    language: list[str | None]


def _item_prompts(chunk: ComparisonChunk, rows: IntArray, context: ChunkContext) -> _ItemPrompts:
    """The prompts and splits of the comparisons at chunk positions ``rows``. A comparison without a split of its
    own takes its prompt's from a source, else a seeded split of its prompt."""
    prompts = _ItemPrompts(np.zeros(len(rows), dtype=np.int64), [], [], [], [], [])
    for item, i in enumerate(rows.tolist()):
        turns = chunk.turns[i]
        prompts.turn_counts[item] = len(turns)
        for turn in turns:
            prompts.turn_role.append(turn["role"])
            prompts.turn_content.append(turn["content"])
        prompt_id = chunk.prompt_ids[i]
        prompts.split.append(
            chunk.split[i]
            or context.prompt_splits.get(prompt_id)
            or seeded_split(prompt_id, context.split_seed, context.validation_fraction)
        )
        prompts.domain.append(_str_or_none(chunk.domain[i]))
        prompts.language.append(_str_or_none(chunk.language[i]))
    return prompts


def seeded_split(prompt_id: int, seed: int, fraction: float) -> str:
    """Seeded, stable split of a prompt: validation with probability ``fraction`` (BLAKE2b of seed and prompt id)."""
    digest = hashlib.blake2b(f"{seed}:{prompt_id}".encode(), digest_size=8).digest()
    return "validation" if int.from_bytes(digest, "big") / 2**64 < fraction else "train"


def _positions(sorted_ids: IntArray, ids: IntArray) -> IntArray:
    """Index of each of ``ids`` in ``sorted_ids``, -1 where absent."""
    at = np.searchsorted(sorted_ids, ids)
    found = at < len(sorted_ids)
    found[found] = sorted_ids[at[found]] == ids[found]
    return np.where(found, at, -1).astype(np.int64)


def _offsets(owner: IntArray, n: int) -> Offsets:
    """List offsets (n + 1,) for values whose owning item positions ``owner`` are sorted."""
    return np.concatenate([[0], np.cumsum(np.bincount(owner, minlength=n))]).astype(np.int32)


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else np.nan


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
