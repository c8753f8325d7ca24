"""Snapshots: freeze a project's aggregated data into an immutable, numbered release, and export it.

``snapshot_create`` records a pending snapshot and enqueues ``snapshot_build_task`` once the transaction commits.
``snapshot_build`` (what the task runs) moves the snapshot pending → building → ready | failed, each step a
conditional UPDATE on the current status, so a task delivered twice builds once. It streams the comparisons out of
the database, aggregates the annotations with the snapshot's rule (``annotator.stats.aggregation``) and writes, under
``MEDIA_ROOT/snapshots/<project>/<number>/``:

* ``items.jsonl.gz`` — the canonical items, one :class:`~annotator.exports.items.SnapshotItem` per line; the
  snapshot's ``content_hash`` is the SHA-256 of its uncompressed bytes. Written once; every export is made from it,
  never from the database again, so a later annotation cannot change a ready snapshot.
* ``README.md`` (the dataset card) and ``LICENSE``.

Exports (``snapshot_export_file``) are written lazily from the items on first request, each into a temporary file
renamed into place, and are then served as they are.
"""

from __future__ import annotations

import gzip
import hashlib
import json
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
import pandas as pd
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from annotator.errors import Conflict, NotFound, ValidationFailed
from annotator.exports.bundle import write_bundle
from annotator.exports.card import AgreementFigure, AttributeCard, license_notice, render_dataset_card
from annotator.exports.formats import EXPORT_FORMATS
from annotator.exports.items import IndividualAnnotation, KeptPreference, SnapshotItem, split_justification
from annotator.exports.write import ALL_SPLITS_STEM, SPLITS, FileType, write_export
from annotator.imports.records import Turn
from annotator.models import AggregationKind, AggregationRule, Project, Snapshot, SnapshotStatus
from annotator.selectors.annotations import REVIEW_REJECTED, annotation_frame
from annotator.selectors.snapshots import (
    ComparisonRow,
    annotation_justifications,
    prompt_source_splits,
    snapshot_comparison_batches,
    source_annotator_ids,
    source_labels_by_comparison,
)
from annotator.stats import aggregation
from annotator.stats.agreement import agreement_overview

logger = logging.getLogger(__name__)

ITEMS_FILE = "items.jsonl.gz"
CARD_FILE = "README.md"
LICENSE_FILE = "LICENSE"
EXPORTS_FOLDER = "exports"
BUNDLE_FILE = "bundle.zip"
FILE_TYPES: tuple[FileType, ...] = ("parquet", "jsonl", "jsonl.gz")
DEFAULT_RULE_NAME = "helpsteer2"
# Bootstrap resamples for the agreement intervals printed on the card (cost is independent of the data size).
AGREEMENT_RESAMPLES = 200


class SnapshotNotReady(Conflict):
    code = "snapshot_not_ready"


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
    user: AbstractBaseUser | None,
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
    """Aggregated labels of the comparisons the rule kept, arrays aligned on ``comparison_ids``."""

    comparison_ids: np.ndarray
    ratings_1: dict[str, np.ndarray]  # attribute -> float (NaN = none)
    ratings_2: dict[str, np.ndarray]
    strength: np.ndarray  # float, NaN = none
    justification: np.ndarray  # object: the chosen justification ("" = none)
    kept_preference_ids: frozenset[int]  # annotations kept for the preference part
    dropped_by_reason: dict[str, int]
    retained: pd.DataFrame  # the annotation table as the rule left it (for agreement "after")


_RULE_CLASSES: dict[str, type[aggregation.AggregationRule]] = {  # type: ignore[valid-type]
    AggregationKind.HELPSTEER2: aggregation.HelpSteer2Rule,
    AggregationKind.MEAN: aggregation.MeanRule,
    AggregationKind.MEDIAN: aggregation.MedianRule,
}


def stats_rule(rule_params: dict[str, Any]) -> aggregation.AggregationRule:
    """The pure rule a snapshot's copied ``rule_params`` ({"kind", "params", ...}) describe."""
    cls = _RULE_CLASSES.get(rule_params.get("kind", ""))
    if cls is None:
        raise ValidationFailed(f"Unknown aggregation rule kind {rule_params.get('kind')!r}.")
    try:
        return aggregation.rule_from_dict(
            {"name": cls.name, "version": cls.version, "params": rule_params.get("params") or {}}
        )
    except (TypeError, ValueError) as error:
        raise ValidationFailed(f"Bad aggregation rule parameters: {error}") from error


def _aggregate(frame: pd.DataFrame, rule_params: dict[str, Any], attributes: Sequence[str]) -> _Labels:
    """Apply the snapshot's rule (annotator.stats.aggregation) and keep what it kept."""
    result = aggregation.aggregate(frame, stats_rule(rule_params), attributes)
    table = result.comparisons
    kept = table[table["kept"].to_numpy(dtype=bool)]
    reasons = table.loc[~table["kept"].to_numpy(dtype=bool), "drop_reason"].value_counts()
    preference = result.kept_annotations[result.kept_annotations["part"] == "preference"]["annotation_id"]
    return _Labels(
        comparison_ids=kept.index.to_numpy(dtype=np.int64),
        # Released labels are integers on the scale: a rule that does not round is rounded half away from zero.
        ratings_1={a: aggregation.round_half_away_from_zero(kept[f"r1_{a}"]) for a in attributes},
        ratings_2={a: aggregation.round_half_away_from_zero(kept[f"r2_{a}"]) for a in attributes},
        strength=aggregation.round_half_away_from_zero(kept["strength"]),
        justification=kept["justification"].to_numpy(dtype=object),
        kept_preference_ids=frozenset(int(x) for x in preference.tolist()),
        dropped_by_reason={str(k): int(v) for k, v in reasons.items()},
        retained=aggregation.retained_annotations(frame, result),
    )


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


def _agreement_summary(frame: pd.DataFrame, attributes: Sequence[str], seed: int, resamples: int) -> dict[str, Any]:
    """Agreement per measure (alpha, its bootstrap interval when ``resamples`` > 0, pooled kappa), JSON-ready."""
    if frame.empty:
        return {}
    table = agreement_overview(frame, attributes, n_resamples=resamples, seed=seed)
    return {
        str(measure): {str(k): _json_number(v) for k, v in row.items()}
        for measure, row in table.to_dict("index").items()
    }


ITEMS_HEADER = {"format": "prefstack-snapshot-items", "version": 1}


class _ItemsWriter:
    """Writes the canonical items file and hashes its uncompressed bytes as it goes.

    Line 1 is a header naming the attributes; every further line is one item as a compact JSON array (ratings as
    lists in attribute order), see :func:`item_to_json`.
    """

    def __init__(self, path: Path, attributes: Sequence[str]) -> None:
        self._raw = open(path, "wb")  # noqa: SIM115 - closed in close()
        self._gzip = gzip.GzipFile(filename="", mode="wb", fileobj=self._raw, mtime=0, compresslevel=3)
        self._hash = hashlib.sha256()
        self._attributes = tuple(attributes)
        self.rows = 0
        self._emit({**ITEMS_HEADER, "attributes": list(attributes)})

    def _emit(self, data: Any) -> None:
        line = (json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
        self._hash.update(line)
        self._gzip.write(line)

    def write(self, item: SnapshotItem) -> None:
        self._emit(item_to_json(item, self._attributes))
        self.rows += 1

    def close(self) -> str:
        self._gzip.close()
        self._raw.close()
        return self._hash.hexdigest()


def item_to_json(item: SnapshotItem, attributes: Sequence[str]) -> list[Any]:
    """A snapshot item as a compact JSON array (one line of the canonical items file)."""
    return [
        item.comparison_id,
        item.split,
        [[t.role, t.content] for t in item.turns],
        item.response_1,
        item.response_2,
        [item.ratings_1.get(a) for a in attributes],
        [item.ratings_2.get(a) for a in attributes],
        item.preference_strength,
        item.justification,
        [[k.strength, k.statement, k.elaboration] for k in item.kept_preferences],
        [
            [
                a.annotator,
                [a.ratings_1.get(x) for x in attributes],
                [a.ratings_2.get(x) for x in attributes],
                a.preference_strength,
                a.not_ratable,
                a.justification,
            ]
            for a in item.annotations
        ],
        item.domain,
        item.language,
    ]


def item_from_json(data: list[Any], attributes: Sequence[str]) -> SnapshotItem:
    """The inverse of :func:`item_to_json`."""
    cid, split, turns, response_1, response_2, r1, r2, strength, justification, kept, annotations, domain, language = (
        data
    )
    return SnapshotItem(
        comparison_id=cid,
        split=split,
        turns=tuple(Turn(role, content) for role, content in turns),
        response_1=response_1,
        response_2=response_2,
        ratings_1=dict(zip(attributes, r1, strict=True)),
        ratings_2=dict(zip(attributes, r2, strict=True)),
        preference_strength=strength,
        justification=justification,
        kept_preferences=tuple(KeptPreference(s, st, el) for s, st, el in kept),
        annotations=tuple(
            IndividualAnnotation(
                code, dict(zip(attributes, a1, strict=True)), dict(zip(attributes, a2, strict=True)), s, nr, text
            )
            for code, a1, a2, s, nr, text in annotations
        ),
        domain=domain,
        language=language,
    )


def snapshot_items(snapshot: Snapshot) -> Iterator[SnapshotItem]:
    """Stream a ready snapshot's items from its canonical file."""
    path = snapshot_folder(snapshot) / ITEMS_FILE
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        header = json.loads(handle.readline())
        if header.get("format") != ITEMS_HEADER["format"] or header.get("version") != ITEMS_HEADER["version"]:
            raise ValueError(f"{path} is not a version-1 Prefstack items file.")
        attributes = tuple(header["attributes"])
        for line in handle:
            yield item_from_json(json.loads(line), attributes)


def _build_into(snapshot: Snapshot, work: Path, progress: Callable[[float], None]) -> _BuildResult:
    project = snapshot.project
    attributes = list(project.attributes.order_by("position", "id").values_list("name", flat=True))
    work.mkdir(parents=True)

    frame = annotation_frame(project=project, attributes=attributes)
    justifications = annotation_justifications(project=project)
    frame["justification"] = justifications.reindex(frame["annotation_id"].to_numpy()).fillna("").to_numpy()
    n_rejected = int((frame["review_status"] == REVIEW_REJECTED).sum())
    frame = frame[frame["review_status"] != REVIEW_REJECTED]
    # Where people annotated a comparison, their annotations decide; annotations that came with an imported
    # dataset decide only comparisons nobody here annotated.
    imported = frame["annotator_id"].isin(source_annotator_ids()).to_numpy()
    has_people = pd.Series(~imported).groupby(frame["comparison_id"].to_numpy()).transform("any").to_numpy()
    basis = frame[~imported | ~has_people].reset_index(drop=True)
    progress(0.15)

    labels = _aggregate(basis, snapshot.rule_params, attributes)
    agreement = {
        "released": _agreement_summary(labels.retained, attributes, snapshot.split_seed, AGREEMENT_RESAMPLES),
        "all_annotations": _agreement_summary(basis, attributes, snapshot.split_seed, 0),
    }
    progress(0.3)

    source_labels = source_labels_by_comparison(project=project)
    prompt_splits = prompt_source_splits(project=project)
    annotator_codes = {aid: f"a{i + 1}" for i, aid in enumerate(sorted(frame["annotator_id"].unique().tolist()))}
    table = _annotation_table(frame, attributes, annotator_codes, labels.kept_preference_ids)
    label_lists = _label_lists(labels, attributes)
    progress(0.35)

    counts: dict[str, Any] = {
        "comparisons": 0,
        "included": 0,
        "unlabelled": 0,
        "filtered_by_rule": sum(labels.dropped_by_reason.values()),
        "dropped_by_reason": labels.dropped_by_reason,
        "annotations": len(frame),
        "rejected_annotations": n_rejected,
        "annotators": len(annotator_codes),
        "splits": dict.fromkeys(SPLITS, 0),
        "with_preference": dict.fromkeys(SPLITS, 0),
        "with_ratings": dict.fromkeys(SPLITS, 0),
    }
    total = project.comparisons.count()
    writer = _ItemsWriter(work / ITEMS_FILE, attributes)
    try:
        for batch in snapshot_comparison_batches(project=project):
            ids = np.fromiter((row.id for row in batch), dtype=np.int64, count=len(batch))
            lows = np.searchsorted(table.comparison_ids, ids, side="left").tolist()
            highs = np.searchsorted(table.comparison_ids, ids, side="right").tolist()
            for row, lo, hi in zip(batch, lows, highs, strict=True):
                counts["comparisons"] += 1
                item = _item(row, lo, hi, attributes, label_lists, source_labels, table, snapshot, prompt_splits)
                if item is None:
                    counts["unlabelled"] += 1
                    continue
                writer.write(item)
                counts["included"] += 1
                counts["splits"][item.split] += 1
                if item.preference_strength is not None:
                    counts["with_preference"][item.split] += 1
                if any(v is not None for v in (*item.ratings_1.values(), *item.ratings_2.values())):
                    counts["with_ratings"][item.split] += 1
            progress(0.35 + 0.6 * counts["comparisons"] / max(total, 1))
    finally:
        content_hash = writer.close()

    (work / LICENSE_FILE).write_text(license_notice(_attribution(snapshot), year=timezone.now().year), encoding="utf-8")
    (work / CARD_FILE).write_text(_card(snapshot, counts, agreement, content_hash), encoding="utf-8")
    return _BuildResult(counts=counts, agreement=agreement, content_hash=content_hash)


@dataclass(frozen=True)
class _AnnotationTable:
    """Every annotation as ready-made objects, sorted by comparison id (one comparison = one contiguous slice)."""

    comparison_ids: np.ndarray
    annotations: list[IndividualAnnotation]
    kept: list[KeptPreference | None]  # the annotation as a kept preference, when the rule kept it


def _python_ints(values: np.ndarray) -> list[int | None]:
    return [None if v != v else int(v) for v in values.tolist()]  # v != v: NaN


def _annotation_table(
    frame: pd.DataFrame, attributes: Sequence[str], codes: dict[Any, str], kept_ids: frozenset[int]
) -> _AnnotationTable:
    # Column-wise conversion to Python values once, instead of numpy scalar access per annotation.
    order = np.argsort(frame["comparison_id"].to_numpy(dtype=np.int64), kind="stable")
    n = len(order)
    r1 = (
        list(zip(*[_python_ints(frame[f"r1_{a}"].to_numpy(np.float64)[order]) for a in attributes], strict=True))
        or [()] * n
    )
    r2 = (
        list(zip(*[_python_ints(frame[f"r2_{a}"].to_numpy(np.float64)[order]) for a in attributes], strict=True))
        or [()] * n
    )
    strengths = _python_ints(frame["strength"].to_numpy(np.float64)[order])
    texts = [t or "" for t in frame["justification"].to_numpy(object)[order].tolist()]
    annotators = [codes[a] for a in frame["annotator_id"].to_numpy()[order].tolist()]
    kept_mask = np.isin(frame["annotation_id"].to_numpy(np.int64)[order], np.fromiter(kept_ids, np.int64)).tolist()
    annotations = [
        IndividualAnnotation(code, dict(zip(attributes, a1, strict=True)), dict(zip(attributes, a2, strict=True)), s, False, t)
        for code, a1, a2, s, t in zip(annotators, r1, r2, strengths, texts, strict=True)
    ]  # fmt: skip
    kept = [
        KeptPreference(s, *split_justification(t)) if k and s is not None else None
        for k, s, t in zip(kept_mask, strengths, texts, strict=True)
    ]
    return _AnnotationTable(frame["comparison_id"].to_numpy(np.int64)[order], annotations, kept)


@dataclass(frozen=True)
class _LabelLists:
    index: dict[int, int]
    ratings_1: list[tuple[int | None, ...]]
    ratings_2: list[tuple[int | None, ...]]
    strength: list[int | None]
    justification: list[str]


def _label_lists(labels: _Labels, attributes: Sequence[str]) -> _LabelLists:
    n = len(labels.comparison_ids)
    return _LabelLists(
        index={cid: i for i, cid in enumerate(labels.comparison_ids.tolist())},
        ratings_1=list(zip(*[_python_ints(labels.ratings_1[a]) for a in attributes], strict=True)) or [()] * n,
        ratings_2=list(zip(*[_python_ints(labels.ratings_2[a]) for a in attributes], strict=True)) or [()] * n,
        strength=_python_ints(labels.strength),
        justification=[str(t or "") for t in labels.justification.tolist()],
    )


def _item(
    row: ComparisonRow,
    lo: int,
    hi: int,
    attributes: Sequence[str],
    labels: _LabelLists,
    source_labels: dict[int, tuple[dict[str, Any], int | None, str]],
    table: _AnnotationTable,
    snapshot: Snapshot,
    prompt_splits: dict[int, str],
) -> SnapshotItem | None:
    """One comparison as a snapshot item, or None when it has no label to release."""
    ratings_1: dict[str, int | None] = {}
    ratings_2: dict[str, int | None] = {}
    strength: int | None = None
    justification: str | None = None
    kept: list[KeptPreference] = []
    li = labels.index.get(row.id)
    if li is not None:
        ratings_1 = dict(zip(attributes, labels.ratings_1[li], strict=True))
        ratings_2 = dict(zip(attributes, labels.ratings_2[li], strict=True))
        strength = labels.strength[li]
        justification = (labels.justification[li] or None) if strength is not None else None
        kept = [k for k in table.kept[lo:hi] if k is not None]
    elif row.id in source_labels:
        ratings, source_strength, source_justification = source_labels[row.id]
        ratings_1 = {a: ratings.get("1", {}).get(a) for a in attributes}
        ratings_2 = {a: ratings.get("2", {}).get(a) for a in attributes}
        strength = source_strength
        justification = source_justification or None
        for entry in row.metadata.get("three_most_similar_preferences") or []:
            if isinstance(entry, dict) and isinstance(entry.get("strength"), int):
                kept.append(
                    KeptPreference(
                        entry["strength"], str(entry.get("statement", "")), str(entry.get("elaboration", ""))
                    )
                )
    if strength is None and all(v is None for v in (*ratings_1.values(), *ratings_2.values())):
        return None
    split = (
        row.split
        or prompt_splits.get(row.prompt_id)
        or _split_of(row.prompt_id, snapshot.split_seed, snapshot.validation_fraction)
    )
    return SnapshotItem(
        comparison_id=str(row.id),
        split=split,  # type: ignore[arg-type]
        turns=tuple(Turn(t["role"], t["content"]) for t in row.turns),  # type: ignore[arg-type]
        response_1=row.response_1,
        response_2=row.response_2,
        ratings_1=ratings_1,
        ratings_2=ratings_2,
        preference_strength=strength,
        justification=justification,
        kept_preferences=tuple(kept),
        annotations=tuple(table.annotations[lo:hi]),
        domain=_str_or_none(row.metadata.get("domain")),
        language=_str_or_none(row.metadata.get("language")),
    )


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _attribution(snapshot: Snapshot) -> str:
    return f'the annotators and maintainers of the Prefstack project "{snapshot.project.name}", snapshot v{snapshot.number}'


_STATISTICS = {"ordinal": "Krippendorff's alpha (ordinal)", "nominal": "Krippendorff's alpha (nominal)"}


def _card(snapshot: Snapshot, counts: dict[str, Any], agreement: dict[str, Any], content_hash: str) -> str:
    project = snapshot.project
    attributes = [
        AttributeCard(name=a.name, description=a.description, levels=dict(a.levels))
        for a in project.attributes.order_by("position", "id")
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
        f"left out. {counts['annotations']:,} annotations by {counts['annotators']:,} annotators went in. Comparisons "
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
        attributes = list(snapshot.project.attributes.order_by("position", "id").values_list("name", flat=True))
        tmp = root / f".tmp-{uuid.uuid4().hex[:8]}"
        try:
            written = write_export(
                snapshot_items(snapshot),
                fmt,  # type: ignore[arg-type]
                tmp,
                file_type=file_type,  # type: ignore[arg-type]
                split_files=split is not None,
                attributes=attributes,
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
        attributes = list(snapshot.project.attributes.order_by("position", "id").values_list("name", flat=True))
        # write_bundle writes a partial file and renames it into place.
        write_bundle(
            snapshot_items(snapshot),
            target,
            card=(folder / CARD_FILE).read_text(encoding="utf-8"),
            license_text=(folder / LICENSE_FILE).read_text(encoding="utf-8"),
            attributes=attributes,
        )
    return target
