"""The LLM judge: its configuration, and runs that draft a model's labels for the project's comparisons.

``judge_run_create`` records a queued run (a copy of the judge's template and endpoint) and enqueues
``judge_run_execute_task`` on commit; a key missing from the environment is refused there, at launch
(``endpoint_key_missing``). ``judge_run_execute`` (what the task runs) moves the run queued → running with a
conditional update, so a task delivered twice runs once, then asks the endpoint about each comparison in turn and
writes one :class:`~annotator.models.JudgeDraft` per comparison, each in its own transaction: drafted, or failed
with the reason (the endpoint's error after its retries: timeout, unreachable, an HTTP status, garbage; or an
answer off the schema, :func:`annotator.llm.judge.parse_answer`). The run ends succeeded however many items failed;
it fails only when it cannot go on (the key gone since the launch, an unexpected error), with the error.

A running run beats (``heartbeat_at``) with each draft and, while it waits for an answer, every
:func:`~annotator.services.heartbeats.heartbeat_interval` seconds; the request runs on a helper thread that only
talks HTTP. When its worker dies, ``judge_runs_sweep_stale`` (beat, every minute) queues it again while it has
attempts left, else fails it with the reason; the new attempt drafts only the comparisons not drafted yet. Each draft
is written only by the attempt that owns the run, so an attempt the sweep gave up on writes nothing more.

Drafts are model-made: they live apart from annotations and no annotator page or API reads them.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from annotator.domain import Turn
from annotator.error_codes import ErrorCode
from annotator.errors import ApplicationError, Conflict, ValidationFailed
from annotator.llm.client import ChatClient, ChatError
from annotator.llm.judge import (
    AttributeScale,
    JudgeAnswerError,
    parse_answer,
    render_prompt,
    response_format,
    template_problems,
)
from annotator.models import (
    Comparison,
    Judge,
    JudgeDraft,
    JudgeDraftStatus,
    JudgeRun,
    JudgeRunStatus,
    ModelEndpoint,
    Project,
)
from annotator.selectors.projects import project_attribute_list
from annotator.services.heartbeats import (
    HeartbeatClock,
    ModelRunKind,
    SweepResult,
    model_run_claim,
    model_runs_sweep_stale,
)
from annotator.services.model_endpoints import model_endpoint_api_key, model_endpoint_client

logger = logging.getLogger(__name__)

MAX_ITEMS_PER_RUN = 10_000
RAW_CHARS = 2000
"""How much of a refused answer is kept on the failed draft."""
_ERROR_CHARS = 4000
_CHUNK = 200
WAIT_CHECK_SECONDS = 1.0
"""How often a run waiting for an answer looks whether a heartbeat is due."""


# --- configuration --------------------------------------------------------------------------------------------


@transaction.atomic
def judge_save(*, project: Project, endpoint: ModelEndpoint, template: str) -> Judge:
    """Attach (or change) the project's judge: ``endpoint`` (the project's or the site's) and ``template``."""
    fields: dict[str, str] = {}
    if endpoint.project_id not in (None, project.pk):
        fields["endpoint"] = "That endpoint belongs to another project."
    problems = template_problems(template)
    if problems:
        fields["template"] = "The template has " + "; ".join(problems) + "."
    if fields:
        raise ValidationFailed(" ".join(fields.values()), extra={"fields": fields})
    judge, _ = Judge.objects.update_or_create(project=project, defaults={"endpoint": endpoint, "template": template})
    return judge


# --- launch ---------------------------------------------------------------------------------------------------


@transaction.atomic
def judge_run_create(*, project: Project, user: User | None) -> JudgeRun:
    """A queued run of the project's judge over all its comparisons, enqueued on commit.

    Raises
    ------
    Conflict : ``judge_not_configured`` when the project has no judge.
    ValidationFailed : ``endpoint_key_missing`` when the endpoint's key is not in the environment (named); too many
        comparisons, or none.
    """
    judge = Judge.objects.select_related("endpoint").filter(project=project).first()
    if judge is None:
        raise Conflict("Attach a judge first: an endpoint and a template.", code=ErrorCode.JUDGE_NOT_CONFIGURED)
    model_endpoint_api_key(endpoint=judge.endpoint)  # endpoint_key_missing, naming the variable
    total = Comparison.objects.filter(project=project).count()
    if not 1 <= total <= MAX_ITEMS_PER_RUN:
        message = "The project has no comparisons." if not total else f"At most {MAX_ITEMS_PER_RUN} comparisons."
        raise ValidationFailed(message, extra={"fields": {"comparisons": message}})
    run = JudgeRun.objects.create(
        project=project,
        endpoint=judge.endpoint,
        endpoint_name=judge.endpoint.name,
        model_id=judge.endpoint.model_id,
        template=judge.template,
        items_total=total,
        created_by=user if user is not None and user.is_authenticated else None,
    )
    _enqueue(run.pk)
    return run


def _enqueue(run_id: int) -> None:
    from annotator.tasks import judge_run_execute_task  # the task module imports this one

    transaction.on_commit(lambda: judge_run_execute_task.delay(run_id))


_RUNS = ModelRunKind(
    model=JudgeRun,
    label="judge run",
    running=JudgeRunStatus.RUNNING,
    waiting=JudgeRunStatus.QUEUED,
    failed=JudgeRunStatus.FAILED,
    enqueue=_enqueue,
    records_start=True,
)

# --- execution ------------------------------------------------------------------------------------------------


def _owned(run_id: int, attempt: int) -> Q:
    return Q(pk=run_id, status=JudgeRunStatus.RUNNING, attempt=attempt)


@transaction.atomic
def judge_draft_record(
    *, run: JudgeRun, attempt: int, comparison_id: int, fields: Mapping[str, Any]
) -> JudgeDraft | None:
    """Write one item's draft (drafted or failed), count it on the run and refresh its heartbeat; None (nothing
    written) when ``attempt`` no longer runs the run (the sweep gave it up)."""
    failed = int(fields.get("status") == JudgeDraftStatus.FAILED)
    if not JudgeRun.objects.filter(_owned(run.pk, attempt)).update(
        items_done=F("items_done") + 1, items_failed=F("items_failed") + failed, heartbeat_at=timezone.now()
    ):
        return None
    return JudgeDraft.objects.create(run=run, comparison_id=comparison_id, **fields)


def judge_run_heartbeat(*, run_id: int, attempt: int) -> bool:
    """Refresh the heartbeat of a running attempt; False when the attempt no longer owns the run."""
    return bool(JudgeRun.objects.filter(_owned(run_id, attempt)).update(heartbeat_at=timezone.now()))


def _finish(run_id: int, *, attempt: int, error: str = "") -> None:
    JudgeRun.objects.filter(_owned(run_id, attempt)).update(
        status=JudgeRunStatus.FAILED if error else JudgeRunStatus.SUCCEEDED,
        error=error[:_ERROR_CHARS],
        finished_at=timezone.now(),
        heartbeat_at=None,
    )


def judge_runs_sweep_stale(*, stale_seconds: int | None = None) -> SweepResult:
    """Give up on running runs whose worker stopped beating (:mod:`annotator.services.heartbeats`): queued and
    enqueued again while they have attempts left, else failed with the reason. Run every minute by beat."""
    return model_runs_sweep_stale(_RUNS, stale_seconds=stale_seconds)


def _scales(project: Project) -> list[AttributeScale]:
    return [
        AttributeScale(a.name, a.scale_min, a.scale_max, a.description) for a in project_attribute_list(project=project)
    ]


def _ask(client: ChatClient, run: JudgeRun, endpoint: ModelEndpoint, scales: list[AttributeScale],
         comparison: Comparison) -> dict[str, Any]:  # fmt: skip
    """The draft's fields for one comparison: drafted, or failed with the reason (never raises for the item). The
    answer schema goes as ``response_format`` too when the endpoint accepts it; the answer is checked either way."""
    turns = [Turn(role=t["role"], content=t["content"]) for t in comparison.prompt.turns]
    messages = render_prompt(run.template, attributes=scales, turns=turns,
                             response_1=comparison.response_1.text, response_2=comparison.response_2.text)  # fmt: skip
    try:
        result = client.complete(
            model=run.model_id,
            turns=messages,
            sampling=endpoint.sampling,
            response_format=response_format(scales) if endpoint.json_schema_output else None,
        )
    except ChatError as error:
        return {"status": JudgeDraftStatus.FAILED, "failure": f"{error.kind}: {error}"}
    try:
        answer = parse_answer(result.content, scales)
    except JudgeAnswerError as error:
        return {"status": JudgeDraftStatus.FAILED, "failure": f"schema: {error}", "raw": result.content[:RAW_CHARS]}
    return {
        "status": JudgeDraftStatus.OK,
        "ratings": answer.ratings,
        "preference_strength": answer.preference_strength,
        "confidence": answer.confidence,
        "reason": answer.reason,
    }


def judge_run_execute(*, run_id: int, client_options: Mapping[str, Any] | None = None) -> JudgeRun | None:
    """queued → running (its next attempt) → succeeded | failed; None when it was not queued (a repeated delivery).
    ``client_options`` go to the chat client (a test's transport)."""
    if not model_run_claim(_RUNS, run_id=run_id):  # or taken over, when its pool process died
        return None  # not queued, or its attempt lives: a repeated delivery
    run = JudgeRun.objects.select_related("project", "endpoint").get(pk=run_id)
    attempt = run.attempt
    try:
        if run.endpoint is None:
            raise Conflict("The run's endpoint was deleted.", code=ErrorCode.CONFLICT)
        client = model_endpoint_client(endpoint=run.endpoint, **dict(client_options or {}))
    except ApplicationError as error:  # the key gone from the environment since the launch: said on the run
        _finish(run_id, attempt=attempt, error=error.message)
        return JudgeRun.objects.get(pk=run_id)
    asking = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"judge{run_id}")
    clock = HeartbeatClock()
    try:
        with client:
            scales = _scales(run.project)
            done = set(JudgeDraft.objects.filter(run=run).values_list("comparison_id", flat=True))
            ids = [pk for pk in Comparison.objects.filter(project=run.project).order_by("id").values_list("id", flat=True)
                   if pk not in done]  # fmt: skip
            for start in range(0, len(ids), _CHUNK):
                chunk = Comparison.objects.filter(id__in=ids[start : start + _CHUNK]).select_related(
                    "prompt", "response_1", "response_2"
                )
                for comparison in chunk.order_by("id"):
                    answer = asking.submit(_ask, client, run, run.endpoint, scales, comparison)
                    while not wait([answer], timeout=WAIT_CHECK_SECONDS).done:
                        if clock.due():
                            clock.beaten()
                            if not judge_run_heartbeat(run_id=run_id, attempt=attempt):
                                return JudgeRun.objects.get(pk=run_id)  # given up by the sweep: stop here
                    drafted = judge_draft_record(run=run, attempt=attempt, comparison_id=comparison.pk,
                                                 fields=answer.result())  # fmt: skip
                    clock.beaten()
                    if drafted is None:
                        return JudgeRun.objects.get(pk=run_id)
    except Exception as error:  # recorded on the run, never a crashed task
        logger.exception("judge run %s failed", run_id)
        _finish(run_id, attempt=attempt, error=f"{type(error).__name__}: {error}\n\n{traceback.format_exc(limit=8)}")
        return JudgeRun.objects.get(pk=run_id)
    finally:
        asking.shutdown(wait=False, cancel_futures=True)
    _finish(run_id, attempt=attempt)
    return JudgeRun.objects.get(pk=run_id)
