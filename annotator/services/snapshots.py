"""Snapshots: freeze a project's aggregated data into an immutable, numbered release, and export it.

``snapshot_create`` records a pending snapshot and enqueues ``snapshot_build_task`` once the transaction commits.
``snapshot_build`` (what the task runs) moves the snapshot pending → building → ready | failed, each step a
conditional UPDATE on the current status, so a task delivered twice builds once. It makes one pass over the
project in chunks of ``CHUNK_SIZE`` comparison ids: per
chunk it reads the comparisons' texts and the annotations'
numbers and justifications (raw cursors, no model instances), aggregates them with the snapshot's rule
(``annotator.stats.aggregation``, vectorised; the rule looks at one comparison at a time), adds them to the card's
agreement counts (``AgreementAccumulator``), builds the chunk's items as Arrow columns and writes them, under
``MEDIA_ROOT/snapshots/<project>/<number>/``:

* ``items.parquet`` — the canonical items (:mod:`annotator.exports.canonical`), one row group per chunk; the
  snapshot's ``content_hash`` is the SHA-256 of the file (deterministic for a given pyarrow version). Written once;
  every export is made from it, never from the database again, so a later annotation cannot change a ready
  snapshot. Memory holds one chunk and the running counts, whatever the project's size.
* ``README.md`` (the dataset card) and ``LICENSE``.

Exports (``snapshot_export_file``) are written lazily from the canonical file on first request, Parquet straight from
its Arrow columns (:mod:`annotator.exports.columnar`), each into a temporary file renamed into place, and are then
served as they are.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import shutil
import traceback
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from annotator.error_codes import ErrorCode
from annotator.errors import Conflict, NotFound, ValidationFailed
from annotator.exports.bundle import write_bundle
from annotator.exports.canonical import ItemColumns, ItemsWriter, read_items
from annotator.exports.card import AgreementFigure, AttributeCard, license_notice, render_dataset_card
from annotator.exports.formats import EXPORT_FORMATS
from annotator.exports.items import KeptPreference, SnapshotItem, split_justification
from annotator.exports.sinks import release_freed_memory
from annotator.exports.write import (
    ALL_SPLITS_STEM,
    SPLITS,
    ExportTarget,
    FileType,
    write_exports_from_canonical,
)
from annotator.models import AggregationKind, AggregationRule, Project, Snapshot, SnapshotStatus
from annotator.selectors.annotations import REVIEW_REJECTED, annotation_frame
from annotator.selectors.projects import project_attribute_list, project_attribute_names
from annotator.selectors.snapshots import (
    ComparisonChunk,
    annotation_justifications,
    annotator_ids_with_annotations,
    not_ratable_annotations,
    prompt_source_splits,
    snapshot_comparison_chunks,
    source_annotator_ids,
    source_labels_by_comparison,
)
from annotator.stats import aggregation
from annotator.stats.agreement import AgreementAccumulator
from annotator.text import check_text

logger = logging.getLogger(__name__)

ITEMS_FILE = "items.parquet"
# Comparisons read, labelled and written (as one row group) at a time: the build holds one chunk.
CHUNK_SIZE = 5_000
CARD_FILE = "README.md"
LICENSE_FILE = "LICENSE"
EXPORTS_FOLDER = "exports"
BUNDLE_FILE = "bundle.zip"
FILE_TYPES: tuple[FileType, ...] = ("parquet", "jsonl", "jsonl.gz")
DEFAULT_RULE_NAME = "helpsteer2"
# Bootstrap resamples for the agreement intervals printed on the card (cost is independent of the data size).
AGREEMENT_RESAMPLES = 200

FloatArray = npt.NDArray[np.float64]


class SnapshotNotReady(Conflict):
    code = ErrorCode.SNAPSHOT_NOT_READY


# ---------------------------------------------------------------------------------------------------------------
# Create
# ---------------------------------------------------------------------------------------------------------------


def _default_rule() -> AggregationRule:
    rule = AggregationRule.objects.filter(name=DEFAULT_RULE_NAME).order_by("-version").first()
    if rule is None:
        rule = AggregationRule.objects.create(
            name=DEFAULT_RULE_NAME,
            version=1,
            kind=AggregationKind.HELPSTEER2,
            params={},
            description="HelpSteer2: the three most agreeing annotations, mean rounded, spread filter.",
        )
    return rule


@transaction.atomic
def snapshot_create(
    *,
    project: Project,
    user: User | None,
    rule: AggregationRule | None = None,
    name: str = "",
    split_seed: int = 0,
    validation_fraction: float = 0.05,
) -> Snapshot:
    """Record a pending snapshot of ``project`` (next number) and enqueue its build after commit.

    Parameters
    ----------
    rule
        The aggregation rule; default: the newest version of ``helpsteer2`` (created on first use).
    split_seed, validation_fraction
        For comparisons whose source gave no split: prompts go to validation with this probability, by a
        seeded hash of the prompt id, so a prompt never spans both splits.
    """
    check_text(name, field="name", label="snapshot name")
    if not 0.0 <= validation_fraction < 1.0:
        raise ValidationFailed(
            "validation_fraction must lie in [0, 1).", extra={"fields": {"validation_fraction": "0 <= x < 1"}}
        )
    if split_seed < 0:
        raise ValidationFailed("split_seed must not be negative.", extra={"fields": {"split_seed": ">= 0"}})
    rule = rule if rule is not None else _default_rule()
    # Lock the project row so two concurrent creates cannot take the same number.
    Project.objects.select_for_update().filter(pk=project.pk).first()
    number = (Snapshot.objects.filter(project=project).aggregate(n=Max("number"))["n"] or 0) + 1
    snapshot = Snapshot.objects.create(
        project=project,
        number=number,
        name=name or f"{project.slug} v{number}",
        rule=rule,
        rule_params={"name": rule.name, "version": rule.version, "kind": rule.kind, "params": rule.params},
        split_seed=split_seed,
        validation_fraction=validation_fraction,
        created_by=user,
        folder=f"snapshots/{project.slug}/{number}",
    )
    from annotator.tasks import snapshot_build_task  # the task module imports this one

    snapshot_id = snapshot.id
    transaction.on_commit(lambda: snapshot_build_task.delay(snapshot_id))
    return snapshot


# ---------------------------------------------------------------------------------------------------------------
# Build
# ---------------------------------------------------------------------------------------------------------------


def snapshot_folder(snapshot: Snapshot) -> Path:
    return Path(settings.MEDIA_ROOT) / snapshot.folder


def _set_progress(snapshot_id: int, progress: float) -> None:
    Snapshot.objects.filter(id=snapshot_id, status=SnapshotStatus.BUILDING).update(progress=min(max(progress, 0), 1))


def snapshot_build(*, snapshot_id: int) -> Snapshot:
    """Build a pending snapshot; a snapshot in any other state is returned untouched (a repeated delivery).

    A failure is recorded on the snapshot (status ``failed``, the error and its traceback) and logged; the partial
    folder is removed. The snapshot is returned in its final state.
    """
    claimed = Snapshot.objects.filter(id=snapshot_id, status=SnapshotStatus.PENDING).update(
        status=SnapshotStatus.BUILDING, started_at=timezone.now(), progress=0.0
    )
    if not claimed:
        snapshot = Snapshot.objects.filter(id=snapshot_id).first()
        if snapshot is None:
            raise NotFound(f"No snapshot {snapshot_id}.")
        logger.info("snapshot %s is %s, not pending: nothing to build", snapshot_id, snapshot.status)
        return snapshot
    snapshot = Snapshot.objects.select_related("project", "rule").get(id=snapshot_id)
    final = snapshot_folder(snapshot)
    work = final.with_name(f".{final.name}.building-{uuid.uuid4().hex[:8]}")
    try:
        result = _build_into(snapshot, work, lambda p: _set_progress(snapshot_id, p))
        if final.exists():
            # Left by a build whose status update never happened (a killed worker); this build replaces it.
            shutil.rmtree(final)
        os.replace(work, final)
        done = Snapshot.objects.filter(id=snapshot_id, status=SnapshotStatus.BUILDING).update(
            status=SnapshotStatus.READY,
            progress=1.0,
            counts=result.counts,
            agreement=result.agreement,
            content_hash=result.content_hash,
            finished_at=timezone.now(),
        )
        if not done:  # pragma: no cover - someone else moved it on meanwhile
            logger.warning("snapshot %s left the building state during its build", snapshot_id)
    except Exception as error:
        logger.exception("snapshot %s failed to build", snapshot_id)
        shutil.rmtree(work, ignore_errors=True)
        Snapshot.objects.filter(id=snapshot_id, status=SnapshotStatus.BUILDING).update(
            status=SnapshotStatus.FAILED,
            error=f"{type(error).__name__}: {error}\n\n{traceback.format_exc(limit=8)}",
            finished_at=timezone.now(),
        )
    return Snapshot.objects.select_related("project", "rule").get(id=snapshot_id)


@dataclass(frozen=True)
class _BuildResult:
    counts: dict[str, Any]
    agreement: dict[str, Any]
    content_hash: str


@dataclass(frozen=True)
class _Labels:
    """Aggregated labels of the comparisons the rule kept, arrays of shape (c,) aligned on ``comparison_ids``
    (ascending)."""

    comparison_ids: npt.NDArray[np.int64]
    ratings_1: dict[str, FloatArray]  # attribute -> rating (NaN = none)
    ratings_2: dict[str, FloatArray]
    strength: FloatArray  # NaN = none
    justification_from: npt.NDArray[np.int64]  # the annotation whose justification was chosen (-1 = none)
    kept_preference_ids: npt.NDArray[np.int64]  # annotations kept for the preference part (any comparison)
    kept_rating_ids: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]  # ... for response 1's, 2's ratings
    dropped_by_reason: dict[str, int]


def _rule_from_params(rule_params: dict[str, Any]) -> aggregation.AggregationRule:
    """The pure rule a snapshot's copied ``rule_params`` ({"kind", "params", ...}) describe."""
    try:
        return aggregation.rule_for_kind(str(rule_params.get("kind", "")), rule_params.get("params") or {})
    except (TypeError, ValueError) as error:
        raise ValidationFailed(f"Bad aggregation rule: {error}") from error


def _aggregate_block(
    frame: pd.DataFrame, rule_params: dict[str, Any], attributes: Sequence[str]
) -> tuple[_Labels, pd.DataFrame]:
    """Apply the snapshot's rule (annotator.stats.aggregation): the labels it kept, and the annotation table as it
    left it (for agreement "after").

    The rule picks each comparison's justification by position among its annotations; it is handed the annotation
    ids (as text) in place of the texts, so it names the annotation whose text the build then reads with its chunk.
    """
    ids_as_text = frame.assign(justification=frame["annotation_id"].astype(np.int64).astype(str))
    result = aggregation.aggregate(ids_as_text, _rule_from_params(rule_params), attributes)
    table = result.comparisons
    kept = table[table["kept"].to_numpy(dtype=bool)].sort_index()
    reasons = table.loc[~table["kept"].to_numpy(dtype=bool), "drop_reason"].value_counts()
    parts = result.kept_annotations.groupby("part")["annotation_id"]
    kept_ids = {part: np.unique(ids.to_numpy(dtype=np.int64)) for part, ids in parts}
    none = np.array([], dtype=np.int64)
    chosen = pd.to_numeric(kept["justification"].replace("", "-1"), errors="raise")
    labels = _Labels(
        comparison_ids=kept.index.to_numpy(dtype=np.int64),
        # Released labels are integers on the scale: a rule that does not round is rounded half away from zero.
        ratings_1={a: aggregation.round_half_away_from_zero(kept[f"r1_{a}"]) for a in attributes},
        ratings_2={a: aggregation.round_half_away_from_zero(kept[f"r2_{a}"]) for a in attributes},
        strength=aggregation.round_half_away_from_zero(kept["strength"]),
        justification_from=chosen.to_numpy(dtype=np.int64),
        kept_preference_ids=kept_ids.get("preference", none),
        kept_rating_ids=(kept_ids.get("r1", none), kept_ids.get("r2", none)),
        dropped_by_reason={str(k): int(v) for k, v in reasons.items()},
    )
    return labels, aggregation.retained_annotations(frame, result)


def _split_of(prompt_id: int, seed: int, fraction: float) -> str:
    """Seeded, stable split of a prompt: validation with probability ``fraction`` (BLAKE2b of seed and prompt id)."""
    digest = hashlib.blake2b(f"{seed}:{prompt_id}".encode(), digest_size=8).digest()
    return "validation" if int.from_bytes(digest, "big") / 2**64 < fraction else "train"


def _int_or_none(x: float) -> int | None:
    return None if math.isnan(x) else int(x)


def _json_number(x: Any) -> Any:
    if isinstance(x, float | np.floating):
        return None if math.isnan(float(x)) else float(x)
    if isinstance(x, np.integer):
        return int(x)
    return x


def _agreement_summary(accumulator: AgreementAccumulator, seed: int, resamples: int) -> dict[str, Any]:
    """Agreement per measure (alpha, its bootstrap interval when ``resamples`` > 0, pooled kappa), JSON-ready."""
    if not accumulator.n_annotations:
        return {}
    table = accumulator.overview(n_resamples=resamples, seed=seed)
    return {
        str(measure): {str(k): _json_number(v) for k, v in row.items()}
        for measure, row in table.to_dict("index").items()
    }


def snapshot_items(snapshot: Snapshot) -> Iterator[SnapshotItem]:
    """Stream a ready snapshot's items from its canonical file, a batch of rows at a time."""
    return read_items(snapshot_folder(snapshot) / ITEMS_FILE)


def _build_into(snapshot: Snapshot, work: Path, progress: Callable[[float], None]) -> _BuildResult:
    """One pass over the project, a chunk of ``CHUNK_SIZE`` comparisons at a time: read the chunk's annotations
    (numbers, then justifications), aggregate them with the rule, count them for the card's agreement, and write
    the chunk's items. Nothing but the chunk and the running counts is held, so memory does not grow with the
    project."""
    project = snapshot.project
    attributes = project_attribute_names(project=project)
    work.mkdir(parents=True)
    annotator_ids = np.asarray(annotator_ids_with_annotations(project=project), dtype=np.int64)
    build = _Build(
        attributes=tuple(attributes),
        rule_params=snapshot.rule_params,
        source_annotators=np.asarray(sorted(source_annotator_ids()), dtype=np.int64),
        annotator_ids=annotator_ids,
        annotator_codes=np.array([f"a{i + 1}" for i in range(len(annotator_ids))], dtype=object),
        split_seed=snapshot.split_seed,
        validation_fraction=snapshot.validation_fraction,
    )
    released, everything = AgreementAccumulator(attributes), AgreementAccumulator(attributes)
    counts: dict[str, Any] = {
        "comparisons": 0,
        "included": 0,
        "unlabelled": 0,
        "filtered_by_rule": 0,
        "dropped_by_reason": {},
        "annotations": 0,
        "not_ratable_annotations": 0,
        "rejected_annotations": 0,
        "annotators": 0,
        "splits": dict.fromkeys(SPLITS, 0),
        "with_preference": dict.fromkeys(SPLITS, 0),
        "with_ratings": dict.fromkeys(SPLITS, 0),
    }
    annotators_seen = np.zeros(len(annotator_ids), dtype=bool)
    total = project.comparisons.count()
    progress(0.05)
    writer = ItemsWriter(work / ITEMS_FILE, attributes)
    try:
        for chunk in snapshot_comparison_chunks(project=project, chunk_size=CHUNK_SIZE):
            id_range = (chunk.ids[0], chunk.ids[-1])
            frame = annotation_frame(project=project, attributes=attributes, comparison_id_range=id_range)
            rejected = (frame["review_status"] == REVIEW_REJECTED).to_numpy()
            if rejected.any():
                frame = frame[~rejected].reset_index(drop=True)
            basis = _deciding_annotations(frame, build.source_annotators)
            labels, retained = _aggregate_block(basis, build.rule_params, attributes)
            released.add(retained)
            everything.add(basis)
            not_ratable = not_ratable_annotations(
                project=project, first_comparison_id=id_range[0], last_comparison_id=id_range[1]
            )
            table = _annotation_table(frame, build, labels, not_ratable)
            texts = annotation_justifications(
                project=project, first_comparison_id=id_range[0], last_comparison_id=id_range[1]
            )
            sources = source_labels_by_comparison(
                project=project, first_comparison_id=id_range[0], last_comparison_id=id_range[1]
            )
            # A comparison without a split of its own takes its prompt's, where another comparison's source gave one.
            unsplit = {prompt for prompt, split in zip(chunk.prompt_ids, chunk.split, strict=True) if not split}
            prompt_splits = prompt_source_splits(project=project, prompt_ids=unsplit)
            people = _decided_by_people(frame, build.source_annotators)
            context = _ChunkContext(build, labels, table, sources, prompt_splits, people)
            columns = _chunk_columns(chunk, texts, context)
            writer.write(columns)
            _count(counts, columns, len(chunk), attributes)
            counts["annotations"] += len(frame)
            counts["not_ratable_annotations"] += len(not_ratable)
            counts["rejected_annotations"] += int(rejected.sum())
            for reason, n in labels.dropped_by_reason.items():
                counts["dropped_by_reason"][reason] = counts["dropped_by_reason"].get(reason, 0) + n
            annotators_seen[table.annotator_index] = True
            del frame, basis, retained, table, texts, sources, prompt_splits, columns, context
            release_freed_memory()
            progress(0.05 + 0.85 * counts["comparisons"] / max(total, 1))
    finally:
        content_hash = writer.close()
    counts["filtered_by_rule"] = sum(counts["dropped_by_reason"].values())
    counts["annotators"] = int(annotators_seen.sum())
    agreement = {
        "released": _agreement_summary(released, snapshot.split_seed, AGREEMENT_RESAMPLES),
        "all_annotations": _agreement_summary(everything, snapshot.split_seed, 0),
    }

    (work / LICENSE_FILE).write_text(license_notice(_attribution(snapshot), year=timezone.now().year), encoding="utf-8")
    (work / CARD_FILE).write_text(_card(snapshot, counts, agreement, content_hash), encoding="utf-8")
    return _BuildResult(counts=counts, agreement=agreement, content_hash=content_hash)


def _decided_by_people(frame: pd.DataFrame, source_annotators: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Ids of the comparisons that someone here annotated (not only a dataset's imported annotators), ascending."""
    people = ~np.isin(frame["annotator_id"].to_numpy(), source_annotators)
    return np.unique(frame["comparison_id"].to_numpy(dtype=np.int64)[people])


def _deciding_annotations(frame: pd.DataFrame, source_annotators: npt.NDArray[np.int64]) -> pd.DataFrame:
    """The annotations that decide each comparison's labels: where people annotated a comparison, theirs;
    annotations that came with an imported dataset decide only comparisons nobody here annotated."""
    imported = np.isin(frame["annotator_id"].to_numpy(), source_annotators)
    if not imported.any():
        return frame
    has_people = pd.Series(~imported).groupby(frame["comparison_id"].to_numpy()).transform("any").to_numpy()
    return frame[~imported | ~has_people].reset_index(drop=True)


def _count(counts: dict[str, Any], columns: ItemColumns, n_comparisons: int, attributes: Sequence[str]) -> None:
    """Add a chunk's comparisons and items to the snapshot's counts."""
    included = len(columns)
    counts["comparisons"] += n_comparisons
    counts["included"] += included
    counts["unlabelled"] += n_comparisons - included
    split = np.asarray(columns.split, dtype=object)
    rated = np.zeros(included, dtype=bool)
    for a in attributes:
        rated |= ~np.isnan(columns.ratings_1[a]) | ~np.isnan(columns.ratings_2[a])
    with_strength = ~np.isnan(columns.preference_strength)
    for name in SPLITS:
        in_split = split == name
        counts["splits"][name] += int(in_split.sum())
        counts["with_preference"][name] += int((in_split & with_strength).sum())
        counts["with_ratings"][name] += int((in_split & rated).sum())


@dataclass(frozen=True)
class _Build:
    """What every chunk of one snapshot build shares."""

    attributes: tuple[str, ...]
    rule_params: dict[str, Any]
    source_annotators: npt.NDArray[np.int64]  # ids of the imports' anonymous annotators, ascending
    annotator_ids: npt.NDArray[np.int64]  # every annotator of the project, ascending ...
    annotator_codes: npt.NDArray[np.object_]  # ... and their anonymised codes "a1", "a2", ... in that order
    split_seed: int
    validation_fraction: float


@dataclass(frozen=True)
class _AnnotationTable:
    """A chunk's non-rejected annotations as arrays of shape (m,), sorted by comparison id (stable, so each
    comparison's annotations keep the frame's order and form one contiguous slice)."""

    comparison_ids: npt.NDArray[np.int64]
    annotation_ids: npt.NDArray[np.int64]
    annotator: npt.NDArray[np.object_]  # the anonymised code
    annotator_index: npt.NDArray[np.int64]  # position of the annotator in ``_Build.annotator_ids``
    ratings_1: dict[str, FloatArray]
    ratings_2: dict[str, FloatArray]
    strength: FloatArray
    not_ratable: npt.NDArray[np.bool_]
    kept: npt.NDArray[np.bool_]  # kept by the rule for the preference part, with a strength
    kept_1: npt.NDArray[np.bool_]  # kept by the rule for response 1's ratings
    kept_2: npt.NDArray[np.bool_]  # ... for response 2's


def _annotation_table(
    frame: pd.DataFrame, build: _Build, labels: _Labels, not_ratable: Sequence[tuple[int, int, int]]
) -> _AnnotationTable:
    """The chunk's annotations, the not-ratable ones (``(comparison, annotator, annotation)`` ids, which the rule
    never sees) among them, sorted by comparison then annotation id."""
    extra = np.asarray(not_ratable, dtype=np.int64).reshape(-1, 3)
    comparison_ids = np.concatenate([frame["comparison_id"].to_numpy(dtype=np.int64), extra[:, 0]])
    annotation_ids = np.concatenate([frame["annotation_id"].to_numpy(dtype=np.int64), extra[:, 2]])
    order = np.lexsort((annotation_ids, comparison_ids))
    annotator_ids = np.concatenate([frame["annotator_id"].to_numpy(dtype=np.int64), extra[:, 1]])[order]
    annotator_index = np.searchsorted(build.annotator_ids, annotator_ids)
    missing = np.full(len(extra), np.nan)

    def column(name: str) -> FloatArray:
        return np.concatenate([frame[name].to_numpy(dtype=np.float64), missing])[order]

    strength = column("strength")
    annotation_ids = annotation_ids[order]
    return _AnnotationTable(
        comparison_ids=comparison_ids[order],
        annotation_ids=annotation_ids,
        annotator=build.annotator_codes[annotator_index] if len(order) else np.array([], dtype=object),
        annotator_index=annotator_index.astype(np.int64),
        ratings_1={a: column(f"r1_{a}") for a in build.attributes},
        ratings_2={a: column(f"r2_{a}") for a in build.attributes},
        strength=strength,
        not_ratable=np.concatenate([np.zeros(len(frame), dtype=bool), np.ones(len(extra), dtype=bool)])[order],
        kept=np.isin(annotation_ids, labels.kept_preference_ids) & ~np.isnan(strength),
        kept_1=np.isin(annotation_ids, labels.kept_rating_ids[0]),
        kept_2=np.isin(annotation_ids, labels.kept_rating_ids[1]),
    )


@dataclass(frozen=True)
class _ChunkContext:
    """What one chunk's items are made of: the build's shared data, the chunk's aggregated labels and annotations,
    and the labels its imported comparisons came with."""

    build: _Build
    labels: _Labels
    table: _AnnotationTable
    source_labels: dict[int, tuple[dict[str, Any], int | None, str]]
    prompt_splits: dict[int, str]  # split of the chunk's prompts that have one from a source
    decided_by_people: npt.NDArray[np.int64]  # comparisons someone here annotated, ascending


def _positions(sorted_ids: npt.NDArray[np.int64], ids: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Index of each of ``ids`` in ``sorted_ids``, -1 where absent."""
    at = np.searchsorted(sorted_ids, ids)
    found = at < len(sorted_ids)
    found[found] = sorted_ids[at[found]] == ids[found]
    return np.where(found, at, -1).astype(np.int64)


def _offsets(owner: npt.NDArray[np.int64], n: int) -> npt.NDArray[np.int32]:
    """List offsets (n + 1,) for values whose owning item positions ``owner`` are sorted."""
    return np.concatenate([[0], np.cumsum(np.bincount(owner, minlength=n))]).astype(np.int32)


def _chunk_columns(chunk: ComparisonChunk, texts: dict[int, str], context: _ChunkContext) -> ItemColumns:
    """The items of one chunk of comparisons, as columns: those with an aggregated label, else an imported one.

    A comparison that came with released labels and that nobody here annotated keeps the released labels (its
    imported annotations are exported as they came, every one counting as used); the others take the rule's. A
    comparison is left out when it has neither a preference strength nor any rating.
    """
    build, labels, table = context.build, context.labels, context.table
    attributes = build.attributes
    ids = np.asarray(chunk.ids, dtype=np.int64)
    n = len(ids)
    at = _positions(labels.comparison_ids, ids)
    released = np.fromiter((i in context.source_labels for i in chunk.ids), dtype=bool, count=n)
    labelled = (at >= 0) & ~(released & (_positions(context.decided_by_people, ids) < 0))
    take = np.maximum(at, 0)

    def from_labels(values: npt.NDArray[Any], missing: float) -> npt.NDArray[Any]:
        if not len(values):
            return np.full(n, missing, dtype=values.dtype)
        return np.where(labelled, values[take], missing)

    ratings_1 = {a: from_labels(labels.ratings_1[a], np.nan).astype(np.float64) for a in attributes}
    ratings_2 = {a: from_labels(labels.ratings_2[a], np.nan).astype(np.float64) for a in attributes}
    strength = from_labels(labels.strength, np.nan).astype(np.float64)
    chosen = from_labels(labels.justification_from, -1)
    justification: list[str | None] = [
        (texts.get(a) or None) if a >= 0 and s == s else None  # s == s: not NaN
        for a, s in zip(chosen.tolist(), strength.tolist(), strict=True)
    ]
    # Comparisons nobody's annotations decided keep the labels their dataset came with.
    source_kept: list[tuple[int, KeptPreference]] = []
    listed_kept = np.zeros(n, dtype=bool)  # the source listed its kept preferences (HelpSteer2-Preference)
    for i in np.flatnonzero(~labelled).tolist():
        source = context.source_labels.get(chunk.ids[i])
        if source is None:
            continue
        ratings, source_strength, source_justification = source
        for a in attributes:
            ratings_1[a][i] = _number(ratings.get("1", {}).get(a))
            ratings_2[a][i] = _number(ratings.get("2", {}).get(a))
        strength[i] = _number(source_strength)
        justification[i] = source_justification or None
        listed_kept[i] = "three_most_similar_preferences" in chunk.metadata[i]
        for entry in chunk.metadata[i].get("three_most_similar_preferences") or []:
            if isinstance(entry, dict) and isinstance(entry.get("strength"), int):
                kept = KeptPreference(
                    entry["strength"], str(entry.get("statement", "")), str(entry.get("elaboration", ""))
                )
                source_kept.append((i, kept))
    included = ~np.isnan(strength)
    for a in attributes:
        included |= ~np.isnan(ratings_1[a]) | ~np.isnan(ratings_2[a])
    rows = np.flatnonzero(included)
    position = np.cumsum(included) - 1  # item position of each comparison of the chunk (where included)
    n_items = len(rows)

    # The chunk's annotations: one contiguous slice of the table, each row's comparison in the chunk.
    lo = int(np.searchsorted(table.comparison_ids, ids[0], side="left"))
    hi = int(np.searchsorted(table.comparison_ids, ids[-1], side="right"))
    owner = np.searchsorted(ids, table.comparison_ids[lo:hi])  # chunk position of each annotation's comparison
    in_items = included[owner]
    mine = lo + np.flatnonzero(in_items)  # table rows of the included comparisons' annotations
    note_owner = position[owner[in_items]]
    note_texts = [texts.get(a) or "" for a in table.annotation_ids[mine].tolist()]
    # Which parts of each annotation the labels used: the rule's choice, or all of an imported comparison's.
    by_rule = labelled[owner[in_items]]
    not_ratable = table.not_ratable[mine]
    used_1 = np.where(by_rule, table.kept_1[mine], ~not_ratable)
    used_2 = np.where(by_rule, table.kept_2[mine], ~not_ratable)
    has_strength = ~np.isnan(table.strength[mine])
    used_preference = np.where(by_rule, table.kept[mine], has_strength)
    # Kept preferences of comparisons the rule labelled; imported labels bring theirs in the metadata, or else
    # (HelpSteer3, which releases only the preferences that agree most) are all the imported ones.
    kept_rows = used_preference & (by_rule | ~listed_kept[owner[in_items]])
    kept_owner = note_owner[kept_rows]
    kept_strength = table.strength[mine][kept_rows]
    kept_texts = [t for t, k in zip(note_texts, kept_rows.tolist(), strict=True) if k]
    kept_parts = [split_justification(t) for t in kept_texts]
    if source_kept:
        extra = [(position[i], k) for i, k in source_kept if included[i]]
        kept_owner = np.concatenate([kept_owner, np.array([p for p, _ in extra], dtype=np.int64)])
        kept_strength = np.concatenate([kept_strength, np.array([k.strength for _, k in extra], dtype=np.float64)])
        kept_parts += [(k.statement, k.elaboration) for _, k in extra]
        order = np.argsort(kept_owner, kind="stable")
        kept_owner, kept_strength = kept_owner[order], kept_strength[order]
        kept_parts = [kept_parts[j] for j in order.tolist()]

    turn_role: list[str] = []
    turn_content: list[str] = []
    turn_counts = np.zeros(n_items, dtype=np.int64)
    splits: list[str] = []
    domains: list[str | None] = []
    languages: list[str | None] = []
    for item, i in enumerate(rows.tolist()):
        turns = chunk.turns[i]
        turn_counts[item] = len(turns)
        for turn in turns:
            turn_role.append(turn["role"])
            turn_content.append(turn["content"])
        prompt_id = chunk.prompt_ids[i]
        splits.append(
            chunk.split[i]
            or context.prompt_splits.get(prompt_id)
            or _split_of(prompt_id, build.split_seed, build.validation_fraction)
        )
        metadata = chunk.metadata[i]
        domains.append(_str_or_none(metadata.get("domain")))
        languages.append(_str_or_none(metadata.get("language")))
    return ItemColumns(
        comparison_id=[str(chunk.ids[i]) for i in rows.tolist()],
        split=splits,
        turn_offsets=np.concatenate([[0], np.cumsum(turn_counts)]).astype(np.int32),
        turn_role=turn_role,
        turn_content=turn_content,
        response_1=[chunk.response_1[i] for i in rows.tolist()],
        response_2=[chunk.response_2[i] for i in rows.tolist()],
        ratings_1={a: ratings_1[a][rows] for a in attributes},
        ratings_2={a: ratings_2[a][rows] for a in attributes},
        preference_strength=strength[rows],
        justification=[justification[i] for i in rows.tolist()],
        kept_offsets=_offsets(kept_owner, n_items),
        kept_strength=kept_strength,
        kept_statement=[s for s, _ in kept_parts],
        kept_elaboration=[e for _, e in kept_parts],
        annotation_offsets=_offsets(note_owner, n_items),
        annotator=table.annotator[mine].tolist(),
        annotation_ratings_1={a: table.ratings_1[a][mine] for a in attributes},
        annotation_ratings_2={a: table.ratings_2[a][mine] for a in attributes},
        annotation_strength=table.strength[mine],
        annotation_not_ratable=not_ratable,
        annotation_justification=note_texts,
        annotation_used_1=used_1,
        annotation_used_2=used_2,
        annotation_used_preference=used_preference,
        domain=domains,
        language=languages,
    )


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else np.nan


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _attribution(snapshot: Snapshot) -> str:
    return f'the annotators and maintainers of the Prefstack project "{snapshot.project.name}", snapshot v{snapshot.number}'


_STATISTICS = {"ordinal": "Krippendorff's alpha (ordinal)", "nominal": "Krippendorff's alpha (nominal)"}


def _card(snapshot: Snapshot, counts: dict[str, Any], agreement: dict[str, Any], content_hash: str) -> str:
    project = snapshot.project
    attributes = [
        AttributeCard(name=a.name, description=a.description, levels=dict(a.levels))
        for a in project_attribute_list(project=project)
    ]
    figures = []
    for measure, row in agreement.get("released", {}).items():
        if row.get("alpha") is None:
            continue
        interval = (row["ci_low"], row["ci_high"]) if row.get("ci_low") is not None else None
        quantity = measure.replace("_", " ")
        figures.append(
            AgreementFigure(
                quantity,
                _STATISTICS.get(row.get("level", ""), "Krippendorff's alpha"),
                row["alpha"],
                interval,
                units=row.get("n_units"),
            )
        )
        if row.get("kappa") is not None:
            statistic = "Cohen's kappa (pooled pairs, " + (
                "unweighted)" if row.get("level") == "nominal" else "quadratic)"
            )
            figures.append(AgreementFigure(quantity, statistic, row["kappa"]))
    rule = snapshot.rule_params
    summary = (
        f"Pairs of LLM responses to the same prompt, rated by people on {len(attributes)} Likert attributes and "
        f"compared with a preference strength and a written justification, from the Prefstack project "
        f'"{project.name}". Snapshot v{snapshot.number} ({snapshot.name}) holds {counts["included"]:,} '
        f"comparisons. Canonical items SHA-256: `{content_hash}`."
    )
    collection = (
        f"Each comparison was shown to {project.overlap} annotators (more where their helpfulness ratings spread by "
        f"more than {project.adaptive_overlap_threshold} points), who rated both responses, stated a preference "
        f"strength and justified it. Leads reviewed annotations; {counts['rejected_annotations']:,} rejected ones are "
        f"left out. {counts['annotations']:,} annotations by {counts['annotators']:,} annotators went in, and "
        f"{counts.get('not_ratable_annotations', 0):,} judged their pair not ratable (released as strength -100 in "
        "HelpSteer2-Preference's all_preferences_unprocessed; they take no part in the labels or the agreement "
        "figures). Comparisons "
        "imported with released labels keep those labels where nobody here annotated them. The train/validation "
        "split is the source's where it had one; otherwise prompts were split by a seeded hash "
        f"(seed {snapshot.split_seed}, validation fraction {snapshot.validation_fraction}), so a prompt never spans "
        "both splits."
    )
    limitations = [
        f"{counts['unlabelled']:,} comparisons of the project had no usable label and are not included; "
        f"{counts['filtered_by_rule']:,} were dropped by the aggregation rule.",
        "Agreement is measured on the annotations the rule retained; intervals are percentile bootstrap intervals "
        "over units "
        f"({AGREEMENT_RESAMPLES} resamples); imported annotators are anonymous per comparison.",
        "Complexity and verbosity describe the response; higher is not better.",
        "Annotator ids (a1, a2, ...) are stable within this snapshot only.",
    ]
    return render_dataset_card(
        title=f"{project.name} — Prefstack snapshot",
        summary=summary,
        collection=collection,
        attributes=attributes,
        aggregation_rule=f"{rule.get('name')} v{rule.get('version')} ({rule.get('kind')})",
        aggregation_parameters=rule.get("params") or {},
        agreement=figures,
        counts=counts["splits"],
        attribution=_attribution(snapshot),
        limitations=limitations,
        version=f"v{snapshot.number}",
    )


# ---------------------------------------------------------------------------------------------------------------
# Export
# ---------------------------------------------------------------------------------------------------------------


def _require_ready(snapshot: Snapshot) -> None:
    if snapshot.status != SnapshotStatus.READY:
        raise SnapshotNotReady(
            f"Snapshot {snapshot.number} is {snapshot.status}; files exist once it is ready.",
            extra={"status": snapshot.status},
        )


def snapshot_export_file(*, snapshot: Snapshot, fmt: str, file_type: str = "parquet", split: str | None = None) -> Path:
    """The file of one export format of a ready snapshot, written from its items on first request.

    ``split`` None gives one file of every split with a ``split`` column; "train" / "validation" that split's file.
    """
    _require_ready(snapshot)
    if fmt not in EXPORT_FORMATS:
        raise ValidationFailed(
            f"Unknown export format {fmt!r}.", extra={"fields": {"format": f"one of {', '.join(EXPORT_FORMATS)}"}}
        )
    if file_type not in FILE_TYPES:
        raise ValidationFailed(
            f"Unknown file type {file_type!r}.", extra={"fields": {"file_type": f"one of {', '.join(FILE_TYPES)}"}}
        )
    if split is not None and split not in SPLITS:
        raise ValidationFailed(f"Unknown split {split!r}.", extra={"fields": {"split": "train or validation"}})
    mode = "split" if split else "all"
    root = snapshot_folder(snapshot) / EXPORTS_FOLDER / mode
    target = root / fmt / f"{split or ALL_SPLITS_STEM}.{file_type}"
    if not target.exists():
        tmp = root / f".tmp-{uuid.uuid4().hex[:8]}"
        try:
            written = write_exports_from_canonical(
                snapshot_folder(snapshot) / ITEMS_FILE,
                tmp,
                targets=[ExportTarget(fmt, file_type)],  # type: ignore[arg-type]
                split_files=split is not None,
            )
            for file in written:
                destination = root / file.relative_path
                destination.parent.mkdir(parents=True, exist_ok=True)
                os.replace(file.path, destination)  # atomic: a concurrent reader sees the old or the whole file
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def snapshot_card(*, snapshot: Snapshot) -> str:
    _require_ready(snapshot)
    return (snapshot_folder(snapshot) / CARD_FILE).read_text(encoding="utf-8")


def snapshot_plain_file(*, snapshot: Snapshot, name: str) -> Path:
    """The card, the licence or the canonical items file of a ready snapshot."""
    _require_ready(snapshot)
    if name not in (CARD_FILE, LICENSE_FILE, ITEMS_FILE):
        raise NotFound(f"A snapshot has no file {name!r}.")
    return snapshot_folder(snapshot) / name


def snapshot_bundle_file(*, snapshot: Snapshot) -> Path:
    """The zip bundle of a ready snapshot (every format, card, LICENSE, MANIFEST), written on first request."""
    _require_ready(snapshot)
    folder = snapshot_folder(snapshot)
    target = folder / EXPORTS_FOLDER / BUNDLE_FILE
    if not target.exists():
        attributes = project_attribute_names(project=snapshot.project)
        # write_bundle writes a partial file and renames it into place.
        write_bundle(
            snapshot_items(snapshot),
            target,
            card=(folder / CARD_FILE).read_text(encoding="utf-8"),
            license_text=(folder / LICENSE_FILE).read_text(encoding="utf-8"),
            attributes=attributes,
        )
    return target
