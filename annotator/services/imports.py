"""``comparisons_import``: a whole file of comparisons into a project, all or nothing.

The pure parsers (``annotator.imports``) validate and yield records; this service writes them in batches with bulk
inserts inside one transaction, so a bad row anywhere leaves the database as it was.
Individual annotations that come with a dataset (HelpSteer2 disagreements, HelpSteer2-Preference's
``all_preferences_unprocessed``, HelpSteer3's individual preferences) are stored as submitted assignments of
anonymous *source annotators*: inactive users named ``source.<format>.<index>``, one per position in the source's
lists. The index is not a person across comparisons, so per-annotator statistics exclude them.
"""

from __future__ import annotations

import contextlib
import itertools
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import IO, Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from annotator.domain import SCOPE_MAX_LENGTH, scope_clean, scope_valid
from annotator.error_codes import ErrorCode
from annotator.errors import UnprocessableFile, ValidationFailed
from annotator.imports import (
    IMPORT_FORMATS,
    ComparisonRecord,
    FieldLimits,
    ImportFormatError,
    ImportLimitError,
    find_format_errors,
    parse_file,
)
from annotator.models import (
    Annotation,
    Assignment,
    AssignmentStatus,
    Attribute,
    Comparison,
    Project,
    Prompt,
    Response,
    SkipReason,
    SourceLabel,
)
from annotator.selectors.projects import project_attribute_list
from annotator.services.agreement_counts import agreement_counts_refresh
from annotator.services.bulk import BulkTable
from annotator.services.webhooks import import_finished_emit

BATCH_SIZE = 5000
# Errors of a refused file listed at most (the file is read again to find them, only when it is refused).
ERRORS_SHOWN = 20
SOURCE_ANNOTATOR_PREFIX = "source."


@dataclass(frozen=True)
class ImportResult:
    comparisons: int
    annotations: int
    source_labels: int
    skipped_as_not_ratable: int


class ImportFailed(UnprocessableFile):
    """The file was refused; ``extra`` names the line or row, the column and what was expected."""

    code = ErrorCode.IMPORT_FAILED

    @classmethod
    def from_format_errors(cls, first: ImportFormatError, every: Sequence[ImportFormatError]) -> ImportFailed:
        """The first error as the message (and its facts), with up to ``ERRORS_SHOWN`` errors of the file."""
        errors = list(every) or [first]
        return cls(
            str(first),
            extra={
                **first.as_dict(),
                "errors": [e.as_dict() for e in errors],
                "more_errors": len(errors) >= ERRORS_SHOWN,
            },
        )


def _batches(records: Iterable[ComparisonRecord], size: int) -> Iterator[list[ComparisonRecord]]:
    """Batches of ``size`` records, parsed one batch ahead on a helper thread.

    While this thread waits for the database to take a batch (the driver releases the GIL), the helper parses the
    next one; on PostgreSQL that overlap saves about a fifth of an import. A parse error is raised here, in order.
    """
    handoff: queue.Queue[list[ComparisonRecord] | BaseException | None] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def produce() -> None:
        iterator = iter(records)
        try:
            while not stop.is_set() and (batch := list(itertools.islice(iterator, size))):
                handoff.put(batch)
            handoff.put(None)
        except BaseException as error:  # handed to the consuming thread, which re-raises it
            handoff.put(error)

    producer = threading.Thread(target=produce, name="import-parser", daemon=True)
    producer.start()
    try:
        while (item := handoff.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while producer.is_alive():  # unblock a producer waiting on a full queue, then let it finish
            with contextlib.suppress(queue.Empty):
                handoff.get(timeout=0.1)
        producer.join()


def _source_annotators(fmt: str, count: int, cache: dict[int, int]) -> dict[int, int]:
    """User ids of the anonymous source annotators 1..count of ``fmt``, created on first use."""
    missing = [i for i in range(1, count + 1) if i not in cache]
    if missing:
        User = get_user_model()
        for i in missing:
            user, created = User.objects.get_or_create(
                username=f"{SOURCE_ANNOTATOR_PREFIX}{fmt}.{i}", defaults={"is_active": False}
            )
            if created:
                user.set_unusable_password()
                user.save(update_fields=["password"])
            cache[i] = user.pk
    return cache


def field_limits() -> FieldLimits:
    """The per-field text limits of the settings (``PREFSTACK_MAX_*_CHARS``)."""
    return FieldLimits(
        prompt=settings.PREFSTACK_MAX_PROMPT_CHARS,
        response=settings.PREFSTACK_MAX_RESPONSE_CHARS,
        justification=settings.PREFSTACK_MAX_JUSTIFICATION_CHARS,
        metadata=settings.PREFSTACK_MAX_METADATA_CHARS,
    )


def scope_check(value: str | None, *, field: str) -> str:
    """A domain or language given by a person (a form, the API): stripped, at most ``SCOPE_MAX_LENGTH`` characters
    of one line (:func:`annotator.domain.scope_valid`); "" for None. Raises ValidationFailed naming ``field``."""
    clean = scope_clean(value)
    if not scope_valid(clean):
        raise ValidationFailed(
            f"The {field} is a name of at most {SCOPE_MAX_LENGTH} characters on one line, without control characters.",
            extra={"fields": {field: f"At most {SCOPE_MAX_LENGTH} characters, one line, no control characters."}},
        )
    return clean


def _ratings(r1: Any, r2: Any) -> dict[str, dict[str, int]]:
    return {"1": dict(r1), "2": dict(r2)}


@dataclass
class _Tables:
    prompt: BulkTable
    response: BulkTable
    comparison: BulkTable
    source_label: BulkTable
    assignment: BulkTable
    annotation: BulkTable

    @classmethod
    def create(cls) -> _Tables:
        return cls(*(BulkTable(m) for m in (Prompt, Response, Comparison, SourceLabel, Assignment, Annotation)))


@dataclass(frozen=True)
class ScopeDefaults:
    """The domain and language an import gives prompts whose file does not say ("" leaves them empty)."""

    domain: str = ""
    language: str = ""


def _write_batch(
    project: Project,
    fmt: str,
    batch: list[ComparisonRecord],
    annotators: dict[int, int],
    tables: _Tables,
    scope: ScopeDefaults,
    annotated: list[int],
) -> tuple[int, int, int, int]:
    n = len(batch)
    prompt_ids = tables.prompt.reserve_ids(n)
    response_ids = tables.response.reserve_ids(2 * n)
    comparison_ids = tables.comparison.reserve_ids(n)
    tables.prompt.insert(
        {
            "id": pid,
            "project_id": project.pk,
            "turns": [{"role": t.role, "content": t.content} for t in r.turns],
            "domain": r.domain or scope.domain,
            "language": r.language or scope.language,
        }
        for pid, r in zip(prompt_ids, batch, strict=True)
    )
    tables.response.insert(
        {"id": response_ids[2 * i + side], "prompt_id": prompt_ids[i], "text": text}
        for i, r in enumerate(batch)
        for side, text in enumerate((r.response_1, r.response_2))
    )
    tables.comparison.insert(
        {
            "id": comparison_ids[i],
            "project_id": project.pk,
            "prompt_id": prompt_ids[i],
            "response_1_id": response_ids[2 * i],
            "response_2_id": response_ids[2 * i + 1],
            "split": r.split or "",
            "source": fmt,
            "source_id": r.source_id or "",
            "metadata": dict(r.metadata),
        }
        for i, r in enumerate(batch)
    )
    labelled = [(cid, r.source_labels) for cid, r in zip(comparison_ids, batch, strict=True) if r.source_labels]
    label_ids = tables.source_label.reserve_ids(len(labelled))
    tables.source_label.insert(
        {
            "id": lid,
            "comparison_id": cid,
            "source": fmt,
            "ratings": _ratings(labels.ratings_1, labels.ratings_2),
            "preference_strength": labels.preference_strength,
            "justification": labels.justification or "",
        }
        for lid, (cid, labels) in zip(label_ids, labelled, strict=True)
    )

    individual = [(cid, a) for cid, r in zip(comparison_ids, batch, strict=True) for a in r.annotations]
    annotated.extend(cid for cid, r in zip(comparison_ids, batch, strict=True) if r.annotations)
    if individual:
        _source_annotators(fmt, max(a.annotator_index for _, a in individual), annotators)
    assignment_ids = tables.assignment.reserve_ids(len(individual))
    tables.assignment.insert(
        {
            "id": aid,
            "comparison_id": cid,
            "annotator_id": annotators[a.annotator_index],
            "status": AssignmentStatus.SKIPPED if a.not_ratable else AssignmentStatus.SUBMITTED,
            "skip_reason": SkipReason.NOT_RATABLE if a.not_ratable else "",
            "skip_note": a.justification if a.not_ratable else "",
        }
        for aid, (cid, a) in zip(assignment_ids, individual, strict=True)
    )
    # A not-ratable judgement (HelpSteer2-Preference's -100) is kept as an annotation too, flagged and without a
    # strength, so that it is counted and exported as the source wrote it; ids keep the file's order.
    annotation_ids = tables.annotation.reserve_ids(len(individual))
    tables.annotation.insert(
        {
            "id": nid,
            "assignment_id": aid,
            "comparison_id": cid,
            "annotator_id": annotators[a.annotator_index],
            "ratings": _ratings(a.ratings_1, a.ratings_2),
            "preference_strength": None if a.not_ratable else a.preference_strength,
            "not_ratable": a.not_ratable,
            "justification": a.justification,
            "source": fmt,
        }
        for nid, aid, (cid, a) in zip(annotation_ids, assignment_ids, individual, strict=True)
    )
    not_ratable = sum(a.not_ratable for _, a in individual)
    return n, len(individual) - not_ratable, len(labelled), not_ratable


@transaction.atomic
def comparisons_import(
    *,
    project: Project,
    source: str | IO[bytes],
    fmt: str,
    max_bytes: int | None = None,
    split: str | None = None,
    domain: str | None = None,
    language: str | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> ImportResult:
    """Import every comparison of ``source`` (a path or a binary file object) into ``project``, or none.

    ``domain`` and ``language`` fill the prompts' domain and language where the file gives none (a row's own value
    wins); both are checked against :func:`scope_check` (ValidationFailed, nothing read).

    Raises ``ImportFailed`` (HTTP 400) naming the line or row, the column and what was expected: also for text
    no database can store (NUL, lone surrogates), a field over its ``PREFSTACK_MAX_*_CHARS`` limit, and a file over
    ``PREFSTACK_IMPORT_MAX_BYTES`` once decompressed or with a line over ``PREFSTACK_IMPORT_MAX_LINE_BYTES``.
    """
    if fmt not in IMPORT_FORMATS:
        raise ImportFailed(f"Unknown format {fmt!r}.", extra={"expected": ", ".join(IMPORT_FORMATS)})
    scope = ScopeDefaults(domain=scope_check(domain, field="domain"), language=scope_check(language, field="language"))
    attributes = project_attribute_list(project=project)
    if not attributes:
        raise ValidationFailed("The project has no attributes to import ratings into.")
    scales = {(a.scale_min, a.scale_max) for a in attributes}
    scale = (min(lo for lo, _ in scales), max(hi for _, hi in scales))
    limit = settings.PREFSTACK_IMPORT_MAX_BYTES if max_bytes is None else max_bytes
    totals = [0, 0, 0, 0]
    annotators: dict[int, int] = {}
    tables = _Tables.create()
    annotated: list[int] = []  # the comparisons that came with individual annotations
    start = None if isinstance(source, str) else source.tell()
    try:
        records = parse_file(
            source,
            fmt,  # type: ignore[arg-type]
            max_bytes=limit,
            max_line_bytes=settings.PREFSTACK_IMPORT_MAX_LINE_BYTES,
            limits=field_limits(),
            attributes=[a.name for a in attributes],
            scale=scale,
            split=split,  # type: ignore[arg-type]
        )
        for batch in _batches(records, BATCH_SIZE):
            counts = _write_batch(project, fmt, batch, annotators, tables, scope, annotated)
            totals = [t + c for t, c in zip(totals, counts, strict=True)]
            if on_progress is not None:
                on_progress(totals[0])
    except ImportLimitError as error:  # reading it again would only hit the same cap
        raise ImportFailed.from_format_errors(error, [error]) from error
    except ImportFormatError as error:
        raise ImportFailed.from_format_errors(
            error, _every_error(source, start, fmt, limit, attributes, scale, split)
        ) from error
    if annotated:
        agreement_counts_refresh(project=project, comparison_ids=annotated)
    result = ImportResult(
        comparisons=totals[0], annotations=totals[1], source_labels=totals[2], skipped_as_not_ratable=totals[3]
    )
    import_finished_emit(project=project, counts=asdict(result))
    return result


def _every_error(
    source: str | IO[bytes],
    start: int | None,
    fmt: str,
    max_bytes: int | None,
    attributes: Sequence[Attribute],
    scale: tuple[int, int],
    split: str | None,
) -> list[ImportFormatError]:
    """The file's first ``ERRORS_SHOWN`` errors, read again from where the import started (nothing when the file
    cannot be read again)."""
    if start is not None:
        if not source.seekable():  # type: ignore[union-attr]
            return []
        source.seek(start)  # type: ignore[union-attr]
    return find_format_errors(
        source,
        fmt,  # type: ignore[arg-type]
        limit=ERRORS_SHOWN,
        max_bytes=max_bytes,
        max_line_bytes=settings.PREFSTACK_IMPORT_MAX_LINE_BYTES,
        limits=field_limits(),
        attributes=[a.name for a in attributes],
        scale=scale,
        split=split,  # type: ignore[arg-type]
    )
