"""The snapshot build pipeline: one pass over a project, a chunk of comparisons at a time, into a folder of files.

``snapshot_build_into`` (run by :func:`annotator.services.snapshots.lifecycle.snapshot_build`) reads the project in
chunks of ``CHUNK_SIZE`` comparison ids: per chunk it reads the comparisons' texts and the annotations' numbers and
justifications (raw cursors, no model instances), aggregates them with the snapshot's rule
(``annotator.stats.aggregation``, vectorised; the rule looks at one comparison at a time), adds them to the card's
agreement counts (``AgreementAccumulator``), builds the chunk's items as Arrow columns
(:func:`annotator.exports.chunks.chunk_columns`) and writes them, into the folder it is given:

* ``items.parquet`` — the canonical items (:mod:`annotator.exports.canonical`), one row group per chunk; the
  snapshot's ``content_hash`` is the SHA-256 of the file (deterministic for a given pyarrow version). Written once;
  every export is made from it (:mod:`annotator.services.snapshots.files`), never from the database again, so a
  later annotation cannot change a ready snapshot. Memory holds one chunk and the running counts, whatever the
  project's size.
  A snapshot cut with ``include_judge_drafts`` adds the LLM judge's latest successful draft of each comparison
  as separate model-made ``judge_*`` columns (read a chunk at a time with the comparisons; they never feed a
  label or the agreement), and the card names them.
* ``helpsteer3-tasks/<config>/<split>.parquet|jsonl.gz`` — a feedback, edit or edit-quality project's task data in
  HelpSteer3's released field names (docs/task-types.md), listed in the card's ``configs``;
* ``README.md`` (the dataset card, :mod:`annotator.services.snapshots.card`) and ``LICENSE``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from django.utils import timezone

from annotator.domain import HS3_TASK_CONFIGS, HS3TaskConfig
from annotator.errors import ValidationFailed
from annotator.exports.canonical import FloatArray, ItemColumns, ItemsWriter
from annotator.exports.card import license_notice
from annotator.exports.chunks import AggregatedLabels, AnnotationTable, ChunkContext, ComparisonChunk, chunk_columns
from annotator.exports.helpsteer3_tasks import TASK_FILE_KINDS, task_file_relative_path, write_task_file
from annotator.exports.sinks import release_freed_memory
from annotator.exports.write import SPLITS
from annotator.models import Project, Snapshot
from annotator.selectors.annotations import REVIEW_REJECTED, annotation_frame
from annotator.selectors.judge import judge_drafts_for_snapshot
from annotator.selectors.projects import project_attribute_names
from annotator.selectors.snapshots import (
    annotation_justifications,
    annotator_ids_with_annotations,
    not_ratable_annotations,
    prompt_source_splits,
    snapshot_comparison_chunks,
    source_annotator_ids,
    source_labels_by_comparison,
)
from annotator.selectors.task_exports import task_rows_for_export
from annotator.services.snapshots.card import AGREEMENT_RESAMPLES, snapshot_attribution, snapshot_dataset_card
from annotator.services.snapshots.files import CARD_FILE, ITEMS_FILE, LICENSE_FILE
from annotator.stats import aggregation
from annotator.stats.agreement import AgreementAccumulator

# Comparisons read, labelled and written (as one row group) at a time: the build holds one chunk.
CHUNK_SIZE = 5_000


@dataclass(frozen=True)
class BuildResult:
    """What a build measured, stored on the snapshot when it becomes ready."""

    counts: dict[str, Any]
    agreement: dict[str, Any]
    content_hash: str


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
    judge: bool = False  # add the judge's drafts as model-made columns


def _build_settings(snapshot: Snapshot, attributes: Sequence[str]) -> _Build:
    project = snapshot.project
    annotator_ids = np.asarray(annotator_ids_with_annotations(project=project), dtype=np.int64)
    return _Build(
        attributes=tuple(attributes),
        rule_params=snapshot.rule_params,
        source_annotators=np.asarray(sorted(source_annotator_ids()), dtype=np.int64),
        annotator_ids=annotator_ids,
        annotator_codes=np.array([f"a{i + 1}" for i in range(len(annotator_ids))], dtype=object),
        split_seed=snapshot.split_seed,
        validation_fraction=snapshot.validation_fraction,
        judge=snapshot.include_judge_drafts,
    )


def _new_counts() -> dict[str, Any]:
    """The snapshot's counts before the first chunk (stored on the snapshot; the card prints them)."""
    return {
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


def _rule_from_params(rule_params: dict[str, Any]) -> aggregation.AggregationRule:
    """The pure rule a snapshot's copied ``rule_params`` ({"kind", "params", ...}) describe."""
    try:
        return aggregation.rule_for_kind(str(rule_params.get("kind", "")), rule_params.get("params") or {})
    except (TypeError, ValueError) as error:
        raise ValidationFailed(f"Bad aggregation rule: {error}") from error


def _aggregate_block(
    frame: pd.DataFrame, rule_params: dict[str, Any], attributes: Sequence[str]
) -> tuple[AggregatedLabels, pd.DataFrame]:
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
    labels = AggregatedLabels(
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


def snapshot_build_into(snapshot: Snapshot, work: Path, progress: Callable[[float], None]) -> BuildResult:
    """One pass over the project, a chunk of ``CHUNK_SIZE`` comparisons at a time: read the chunk's annotations
    (numbers, then justifications), aggregate them with the rule, count them for the card's agreement, and write
    the chunk's items. Nothing but the chunk and the running counts is held, so memory does not grow with the
    project."""
    project = snapshot.project
    attributes = project_attribute_names(project=project)
    work.mkdir(parents=True)
    build = _build_settings(snapshot, attributes)
    released, everything = AgreementAccumulator(attributes), AgreementAccumulator(attributes)
    counts = _new_counts()
    annotators_seen = np.zeros(len(build.annotator_ids), dtype=bool)
    total = project.comparisons.count()
    progress(0.05)
    if build.judge:
        counts["judge_drafts"] = 0
        counts["judge_models"] = []
    writer = ItemsWriter(work / ITEMS_FILE, attributes, judge=build.judge)
    try:
        for chunk in snapshot_comparison_chunks(project=project, chunk_size=CHUNK_SIZE):
            _build_chunk(chunk, project, build, writer, (released, everything), counts, annotators_seen)
            release_freed_memory()  # the chunk's arrays went when _build_chunk returned
            progress(0.05 + 0.85 * counts["comparisons"] / max(total, 1))
    finally:
        content_hash = writer.close()
    counts["filtered_by_rule"] = sum(counts["dropped_by_reason"].values())
    counts["annotators"] = int(annotators_seen.sum())
    agreement = {
        "released": _agreement_summary(released, snapshot.split_seed, AGREEMENT_RESAMPLES),
        "all_annotations": _agreement_summary(everything, snapshot.split_seed, 0),
    }

    counts["task_rows"] = _write_task_files(project, work)
    (work / LICENSE_FILE).write_text(
        license_notice(snapshot_attribution(snapshot), year=timezone.now().year), encoding="utf-8"
    )
    (work / CARD_FILE).write_text(snapshot_dataset_card(snapshot, counts, agreement, content_hash), encoding="utf-8")
    return BuildResult(counts=counts, agreement=agreement, content_hash=content_hash)


def _write_task_files(project: Project, work: Path) -> dict[str, int]:
    """A feedback, edit or edit-quality project's HelpSteer3 file per split (Parquet and JSONL.gz) under
    ``helpsteer3-tasks/<config>/``; rows per split (empty for a comparison project). Units without a split count as train.
    """
    if project.task_type not in HS3_TASK_CONFIGS:
        return {}
    config: HS3TaskConfig = project.task_type  # type: ignore[assignment]  # checked above
    rows: dict[str, int] = {}
    for split in SPLITS:
        selected = task_rows_for_export(project=project, split=split)
        rows[split] = len(selected)
        for kind in TASK_FILE_KINDS:
            path = work / task_file_relative_path(config, kind, split)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(write_task_file(selected, config, kind))
    return rows


def _build_chunk(
    chunk: ComparisonChunk,
    project: Project,
    build: _Build,
    writer: ItemsWriter,
    agreement: tuple[AgreementAccumulator, AgreementAccumulator],
    counts: dict[str, Any],
    annotators_seen: npt.NDArray[np.bool_],
) -> None:
    """Read one chunk's annotations, aggregate them, add them to the agreement (``released`` and ``everything``)
    and the counts, and write the chunk's items."""
    released, everything = agreement
    id_range = (chunk.ids[0], chunk.ids[-1])
    frame = annotation_frame(project=project, attributes=build.attributes, comparison_id_range=id_range)
    rejected = (frame["review_status"] == REVIEW_REJECTED).to_numpy()
    if rejected.any():
        frame = frame[~rejected].reset_index(drop=True)
    basis = _deciding_annotations(frame, build.source_annotators)
    labels, retained = _aggregate_block(basis, build.rule_params, build.attributes)
    released.add(retained)
    everything.add(basis)
    not_ratable = not_ratable_annotations(
        project=project, first_comparison_id=id_range[0], last_comparison_id=id_range[1]
    )
    table = _annotation_table(frame, build, labels, not_ratable)
    texts = annotation_justifications(project=project, first_comparison_id=id_range[0], last_comparison_id=id_range[1])
    sources = source_labels_by_comparison(
        project=project, first_comparison_id=id_range[0], last_comparison_id=id_range[1]
    )
    # A comparison without a split of its own takes its prompt's, where another comparison's source gave one.
    unsplit = {prompt for prompt, split in zip(chunk.prompt_ids, chunk.split, strict=True) if not split}
    prompt_splits = prompt_source_splits(project=project, prompt_ids=unsplit)
    people = _decided_by_people(frame, build.source_annotators)
    judge = None
    if build.judge:
        judge = judge_drafts_for_snapshot(
            project=project,
            attributes=build.attributes,
            first_comparison_id=id_range[0],
            last_comparison_id=id_range[1],
        )
    context = ChunkContext(
        attributes=build.attributes,
        split_seed=build.split_seed,
        validation_fraction=build.validation_fraction,
        labels=labels,
        table=table,
        source_labels=sources,
        prompt_splits=prompt_splits,
        decided_by_people=people,
        judge=judge,
    )
    columns = chunk_columns(chunk, texts, context)
    writer.write(columns)
    if columns.judge is not None:
        drafted = [m for m in columns.judge.model if m is not None]
        counts["judge_drafts"] += len(drafted)
        counts["judge_models"] = sorted(set(counts["judge_models"]).union(drafted))
    _count(counts, columns, len(chunk), build.attributes)
    counts["annotations"] += len(frame)
    counts["not_ratable_annotations"] += len(not_ratable)
    counts["rejected_annotations"] += int(rejected.sum())
    for reason, n in labels.dropped_by_reason.items():
        counts["dropped_by_reason"][reason] = counts["dropped_by_reason"].get(reason, 0) + n
    annotators_seen[table.annotator_index] = True


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


def _annotation_table(
    frame: pd.DataFrame, build: _Build, labels: AggregatedLabels, not_ratable: Sequence[tuple[int, int, int]]
) -> AnnotationTable:
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
    return AnnotationTable(
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
