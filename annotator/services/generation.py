"""Generation runs: ask K model endpoints for a response to each selected prompt, then build comparisons from pairs
of responses of different endpoints (HelpSteer3's rule), chosen with the run's seed.

``generation_run_create`` records a pending run with one item per prompt and enqueues ``generation_run_execute_task``
once the transaction commits. ``generation_run_execute`` (what the task runs) moves the run pending → running with a
conditional update, so a task delivered twice runs once, then:

* asks every endpoint for each item's prompt, on one thread pool per endpoint sized by its concurrency limit (the
  threads only talk HTTP; this thread writes to the database);
* writes each response as it arrives, with its provenance (endpoint, model id, sampling, finish reason, tokens,
  latency); a run asks each prompt × endpoint once (a unique constraint), so a resumed run continues where it stopped;
* when every endpoint answered an item, writes its comparisons in one transaction (never half an item); when one
  failed after its retries, marks the item failed with the reason per endpoint, and the other items go on;
* with ``continuation_turns`` T > 0, first continues the prompt for T rounds (see :mod:`annotator.llm.conversation`)
  into a new prompt that the final responses answer;
* checks between answers whether the run was cancelled, and stops (nothing half-written) when it was;
* ends finished (items may have failed: they are listed with their reasons) or, on an unexpected error, failed.

A finished, failed or cancelled run can be resumed: failed and unfinished items go back to pending.

A running run beats (``heartbeat_at``, every :func:`~annotator.services.heartbeats.heartbeat_interval` seconds at
most, when it checks for a cancel). When its worker dies, ``generation_runs_sweep_stale`` (run every minute by beat)
puts it back to pending and enqueues it while it has attempts left, else fails it with the reason; the new attempt
continues where the dead one stopped (each prompt × endpoint is asked once). Every write of the run's own state names
its attempt, so an attempt the sweep gave up on cannot finish the run under a newer one.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from annotator.domain import Turn
from annotator.error_codes import ErrorCode
from annotator.errors import Conflict, ValidationFailed
from annotator.llm.client import ChatClient, ChatError, ChatResult
from annotator.llm.conversation import user_turn_request
from annotator.llm.pairs import choose_context_endpoint, choose_pairs, pairs_possible
from annotator.models import (
    Comparison,
    GenerationItem,
    GenerationItemStatus,
    GenerationRun,
    GenerationRunStatus,
    ModelEndpoint,
    Project,
    Prompt,
    Response,
)
from annotator.services.heartbeats import (
    HeartbeatClock,
    ModelRunKind,
    SweepResult,
    model_run_claim,
    model_run_start,
    model_runs_sweep_stale,
)
from annotator.services.model_endpoints import model_endpoint_api_key, model_endpoint_client
from annotator.text import text_problem

logger = logging.getLogger(__name__)

GENERATION_SOURCE = "generation"
"""``Comparison.source`` of the comparisons a run builds."""
MAX_PROMPTS_PER_RUN = 10_000
MAX_CONTINUATION_TURNS = 5
MAX_ENDPOINTS_PER_RUN = 8
CANCEL_CHECK_SECONDS = 1.0
"""How often a running run looks at its status while it waits for answers."""
_ERROR_CHARS = 4000
RESUMABLE = (GenerationRunStatus.FINISHED, GenerationRunStatus.FAILED, GenerationRunStatus.CANCELLED)
CANCELLABLE = (GenerationRunStatus.PENDING, GenerationRunStatus.RUNNING)


def _turns(prompt: Prompt) -> list[Turn]:
    return [Turn(role=t["role"], content=t["content"]) for t in prompt.turns]


def _enqueue(run_id: int) -> None:
    from annotator.tasks import generation_run_execute_task  # the task module imports this one

    transaction.on_commit(lambda: generation_run_execute_task.delay(run_id))


_RUNS = ModelRunKind(
    model=GenerationRun,
    label="generation run",
    running=GenerationRunStatus.RUNNING,
    waiting=GenerationRunStatus.PENDING,
    failed=GenerationRunStatus.FAILED,
    enqueue=_enqueue,
    records_start=True,
)

# --- launch, cancel, resume -------------------------------------------------------------------------------------


@transaction.atomic
def generation_run_create(
    *,
    project: Project,
    user: User | None,
    endpoints: Sequence[ModelEndpoint],
    prompts: Iterable[Prompt],
    selection: Mapping[str, Any] | None = None,
    seed: int = 0,
    pairs_per_prompt: int = 1,
    continuation_turns: int = 0,
) -> GenerationRun:
    """A pending run of ``endpoints`` (at least two, of the project or the site) over ``prompts`` (of the project),
    enqueued on commit. Every endpoint's key must be in this process's environment (``endpoint_key_missing``):
    the web process and the workers share it in the documented deployments, so a missing key is caught here."""
    chosen = list({e.pk: e for e in endpoints}.values())
    fields: dict[str, str] = {}
    if not 2 <= len(chosen) <= MAX_ENDPOINTS_PER_RUN:
        fields["endpoints"] = f"Choose from 2 to {MAX_ENDPOINTS_PER_RUN} endpoints: a pair needs two different ones."
    elif any(e.project_id not in (None, project.pk) for e in chosen):
        fields["endpoints"] = "An endpoint belongs to another project."
    if not 1 <= pairs_per_prompt <= max(pairs_possible(len(chosen)), 1):
        fields["pairs_per_prompt"] = (
            f"From 1 to {pairs_possible(len(chosen))} pairs per prompt with {len(chosen)} endpoints."
        )
    if not 0 <= continuation_turns <= MAX_CONTINUATION_TURNS:
        fields["continuation_turns"] = f"From 0 to {MAX_CONTINUATION_TURNS} continuation turns."
    if not 0 <= seed < 2**31:
        fields["seed"] = "The seed is a whole number from 0 to 2147483647."
    if isinstance(prompts, QuerySet):  # a selection of a large import: read no more ids than a run may take
        prompts = prompts.only("id", "project_id")[: MAX_PROMPTS_PER_RUN + 1]
    prompt_list = list({p.pk: p for p in prompts}.values())
    if not prompt_list:
        fields["prompts"] = "No prompts selected."
    elif len(prompt_list) > MAX_PROMPTS_PER_RUN:
        fields["prompts"] = f"At most {MAX_PROMPTS_PER_RUN} prompts per run; choose fewer."
    elif any(p.project_id != project.pk for p in prompt_list):
        fields["prompts"] = "A prompt belongs to another project."
    if fields:
        raise ValidationFailed(" ".join(fields.values()), extra={"fields": fields})
    for endpoint in chosen:
        model_endpoint_api_key(endpoint=endpoint)  # endpoint_key_missing, naming the variable
    run = GenerationRun.objects.create(
        project=project,
        created_by=user if user is not None and user.is_authenticated else None,
        selection=dict(selection or {}),
        seed=seed,
        pairs_per_prompt=pairs_per_prompt,
        continuation_turns=continuation_turns,
        items_total=len(prompt_list),
    )
    run.endpoints.set(chosen)
    GenerationItem.objects.bulk_create(GenerationItem(run=run, prompt=p) for p in prompt_list)
    _enqueue(run.pk)
    return run


@transaction.atomic
def generation_run_cancel(*, run: GenerationRun) -> GenerationRun:
    """Cancel a pending or running run (Conflict ``generation_not_resumable`` otherwise). A running run stops at its
    next check; what it wrote stays, and the items it had not finished stay pending."""
    now = timezone.now()
    if not GenerationRun.objects.filter(pk=run.pk, status__in=CANCELLABLE).update(
        status=GenerationRunStatus.CANCELLED, finished_at=now
    ):
        run.refresh_from_db()
        raise Conflict(f"A {run.status} run cannot be cancelled.", code=ErrorCode.GENERATION_NOT_RESUMABLE)
    run.refresh_from_db()
    return run


@transaction.atomic
def generation_run_resume(*, run: GenerationRun) -> GenerationRun:
    """Run a finished, failed or cancelled run again for what it lacks: failed items go back to pending (their
    responses stay, so only the missing prompt × endpoint answers are asked for). Enqueued on commit."""
    for endpoint in run.endpoints.all():
        model_endpoint_api_key(endpoint=endpoint)
    if not GenerationRun.objects.filter(pk=run.pk, status__in=RESUMABLE).update(
        status=GenerationRunStatus.PENDING, error="", finished_at=None, items_failed=0, attempt=0, requeue_reason=""
    ):
        run.refresh_from_db()
        raise Conflict(f"A {run.status} run cannot be resumed.", code=ErrorCode.GENERATION_NOT_RESUMABLE)
    GenerationItem.objects.filter(run=run, status=GenerationItemStatus.FAILED).update(
        status=GenerationItemStatus.PENDING, reason="", finished_at=None
    )
    _enqueue(run.pk)
    run.refresh_from_db()
    return run


# --- what the task writes, one transaction each -----------------------------------------------------------------


@transaction.atomic
def generation_run_start(*, run_id: int) -> GenerationRun | None:
    """pending → running as its next attempt, with a first heartbeat; None when the run is not pending (delivered
    twice, cancelled meanwhile)."""
    return GenerationRun.objects.get(pk=run_id) if model_run_start(_RUNS, run_id=run_id) else None


def _owned(run_id: int, attempt: int) -> Q:
    return Q(pk=run_id, status=GenerationRunStatus.RUNNING, attempt=attempt)


@transaction.atomic
def generation_run_finish(*, run_id: int, attempt: int, error: str = "") -> bool:
    """running → finished (or failed, with ``error``), by ``attempt``; False when it was cancelled meanwhile or the
    sweep gave this attempt up."""
    status = GenerationRunStatus.FAILED if error else GenerationRunStatus.FINISHED
    return bool(
        GenerationRun.objects.filter(_owned(run_id, attempt)).update(
            status=status, error=error[:_ERROR_CHARS], finished_at=timezone.now(), heartbeat_at=None
        )
    )


def generation_run_heartbeat(*, run_id: int, attempt: int) -> bool:
    """Refresh the heartbeat of a running attempt; False when the attempt no longer owns the run (cancelled, or
    given up by the sweep)."""
    return bool(GenerationRun.objects.filter(_owned(run_id, attempt)).update(heartbeat_at=timezone.now()))


def _still_owned(run_id: int, attempt: int, clock: HeartbeatClock) -> bool:
    """Whether ``attempt`` still runs the run; beats when a heartbeat is due (one write every few seconds at most),
    else only reads."""
    if clock.due():
        clock.beaten()
        return generation_run_heartbeat(run_id=run_id, attempt=attempt)
    return GenerationRun.objects.filter(_owned(run_id, attempt)).exists()


def generation_runs_sweep_stale(*, stale_seconds: int | None = None) -> SweepResult:
    """Give up on running runs whose worker stopped beating (:mod:`annotator.services.heartbeats`): back to pending
    and enqueued while they have attempts left, else failed with the reason. Run every minute by beat."""
    return model_runs_sweep_stale(_RUNS, stale_seconds=stale_seconds)


def _provenance(endpoint: ModelEndpoint, result: ChatResult) -> dict[str, Any]:
    return {
        "endpoint": endpoint.name,
        "model": endpoint.model_id,
        "served_model": result.model,
        "sampling": endpoint.sampling,
        "finish_reason": result.finish_reason,
        "prompt_tokens": result.prompt_tokens,
        "completion_tokens": result.completion_tokens,
        "latency_ms": result.latency_ms,
        "attempts": result.attempts,
    }


@transaction.atomic
def generation_context_record(
    *, item_id: int, endpoint: ModelEndpoint, turns: Sequence[Turn], results: Sequence[ChatResult]
) -> GenerationItem:
    """Store the continued conversation of a pending item as a new prompt of the project (the one its final pair
    answers), with the provenance of each generated turn."""
    item = GenerationItem.objects.select_for_update().select_related("run").get(pk=item_id)
    if item.context_prompt_id is None:
        prompt = Prompt.objects.create(
            project_id=item.run.project_id, turns=[{"role": t.role, "content": t.content} for t in turns]
        )
        item.context_prompt = prompt
        item.details = {**item.details, "context": [_provenance(endpoint, r) for r in results]}
        item.save(update_fields=["context_prompt", "details"])
    return item


@transaction.atomic
def generation_response_record(
    *, run: GenerationRun, prompt_id: int, endpoint: ModelEndpoint, result: ChatResult
) -> Response:
    """The response of ``endpoint`` to prompt ``prompt_id`` in ``run``, with its provenance (the one already written
    when the run asked before)."""
    try:
        with transaction.atomic():
            return Response.objects.create(
                prompt_id=prompt_id,
                text=result.content,
                model_name=endpoint.model_id,
                generation_run=run,
                endpoint=endpoint,
                endpoint_name=endpoint.name,
                sampling=endpoint.sampling,
                finish_reason=result.finish_reason[:32],
                prompt_tokens=result.prompt_tokens,
                completion_tokens=result.completion_tokens,
                latency_ms=result.latency_ms,
            )
    except IntegrityError:
        return Response.objects.get(generation_run=run, prompt_id=prompt_id, endpoint=endpoint)


@transaction.atomic
def generation_item_fail(*, item_id: int, failures: Mapping[str, Mapping[str, Any]]) -> bool:
    """pending → failed with the reason of each endpoint that failed (``failures``: endpoint name → ``{"kind",
    "message", "attempts"}``); counts it on the run. False when the item was no longer pending."""
    reason = "; ".join(f"{name}: {failure['message']}" for name, failure in failures.items())
    item = GenerationItem.objects.select_for_update().filter(pk=item_id, status=GenerationItemStatus.PENDING).first()
    if item is None:
        return False
    item.status = GenerationItemStatus.FAILED
    item.reason = reason[:_ERROR_CHARS]
    item.details = {**item.details, "failures": dict(failures)}
    item.finished_at = timezone.now()
    item.save(update_fields=["status", "reason", "details", "finished_at"])
    GenerationRun.objects.filter(pk=item.run_id).update(items_failed=F("items_failed") + 1)
    return True


@transaction.atomic
def generation_item_finish(*, item_id: int) -> list[Comparison]:
    """pending → done: the item's comparisons, from the seeded pairs of its responses of different endpoints, all
    written or none. Empty when the item was no longer pending."""
    item = (
        GenerationItem.objects.select_for_update()
        .select_related("run")
        .filter(pk=item_id, status=GenerationItemStatus.PENDING)
        .first()
    )
    if item is None:
        return []
    run = item.run
    prompt_id = item.context_prompt_id or item.prompt_id
    responses = {
        r.endpoint_id: r
        for r in Response.objects.filter(generation_run=run, prompt_id=prompt_id)
        if r.endpoint_id is not None
    }
    pairs = choose_pairs(list(responses), count=run.pairs_per_prompt, seed=run.seed, key=item.prompt_id)
    comparisons = Comparison.objects.bulk_create(
        Comparison(
            project_id=run.project_id,
            prompt_id=prompt_id,
            response_1=responses[first],
            response_2=responses[second],
            source=GENERATION_SOURCE,
            source_id=f"run-{run.pk}-prompt-{item.prompt_id}-{index}",
            metadata={
                "generation_run": run.pk,
                "endpoints": [responses[first].endpoint_name, responses[second].endpoint_name],
                "seed": run.seed,
            },
        )
        for index, (first, second) in enumerate(pairs)
    )
    item.status = GenerationItemStatus.DONE
    item.comparisons_created = len(comparisons)
    item.finished_at = timezone.now()
    item.save(update_fields=["status", "comparisons_created", "finished_at"])
    GenerationRun.objects.filter(pk=run.pk).update(
        items_done=F("items_done") + 1, comparisons_created=F("comparisons_created") + len(comparisons)
    )
    return comparisons


# --- the run ----------------------------------------------------------------------------------------------------


def _failure(error: ChatError | ValidationFailed) -> dict[str, Any]:
    if isinstance(error, ChatError):
        return {"kind": error.kind, "message": error.message, "attempts": error.attempts}
    return {"kind": "invalid", "message": error.message, "attempts": 1}


def _ask(client: ChatClient, endpoint: ModelEndpoint, turns: Sequence[Turn]) -> ChatResult:
    """One completion, refused as ``garbage`` when its text is empty or cannot be stored (the text rule)."""
    result = client.complete(model=endpoint.model_id, turns=turns, sampling=endpoint.sampling)
    problem = text_problem(result.content)
    if problem is not None or not result.content.strip():
        raise ChatError(f"The response {problem or 'is empty'}.", kind="garbage", attempts=result.attempts)
    return result


def _continue(
    client: ChatClient, endpoint: ModelEndpoint, turns: Sequence[Turn], rounds: int
) -> tuple[list[Turn], list[ChatResult]]:
    """``rounds`` × (assistant answer, simulated user turn) after ``turns``, all by ``endpoint``."""
    conversation = list(turns)
    results: list[ChatResult] = []
    for _ in range(rounds):
        answer = _ask(client, endpoint, conversation)
        conversation.append(Turn(role="assistant", content=answer.content))
        follow_up = _ask(client, endpoint, user_turn_request(conversation))
        conversation.append(Turn(role="user", content=follow_up.content))
        results += [answer, follow_up]
    return conversation, results


@dataclass
class _ItemState:
    item_id: int
    prompt_id: int
    waiting: set[int] = field(default_factory=set)
    failures: dict[str, dict[str, Any]] = field(default_factory=dict)


def generation_run_execute(*, run_id: int, client_options: Mapping[str, Any] | None = None) -> GenerationRun:
    """Run ``run_id`` if it is pending (see the module's docstring); returns it as it ends. ``client_options`` go to
    each endpoint's :class:`~annotator.llm.client.ChatClient` (tests: a transport)."""
    claimed = model_run_claim(_RUNS, run_id=run_id)  # or taken over, when its pool process died
    run = GenerationRun.objects.get(pk=run_id)
    if not claimed:
        return run
    attempt = run.attempt
    clients: dict[int, ChatClient] = {}
    pools: dict[int, ThreadPoolExecutor] = {}
    try:
        endpoints = {e.pk: e for e in run.endpoints.order_by("id")}
        for pk, endpoint in endpoints.items():
            clients[pk] = model_endpoint_client(endpoint=endpoint, **(client_options or {}))
            pools[pk] = ThreadPoolExecutor(max_workers=endpoint.concurrency_limit, thread_name_prefix=f"ep{pk}")
        _run_items(run, endpoints, clients, pools)
    except ValidationFailed as exc:  # a key gone from the environment since the launch
        generation_run_finish(run_id=run_id, attempt=attempt, error=exc.message)
    except Exception:
        logger.exception("generation run %s failed", run_id)
        generation_run_finish(run_id=run_id, attempt=attempt, error=traceback.format_exc())
    else:
        generation_run_finish(run_id=run_id, attempt=attempt)
    finally:
        for pool in pools.values():
            pool.shutdown(wait=True, cancel_futures=True)
        for client in clients.values():
            client.close()
    return GenerationRun.objects.get(pk=run_id)


def _run_items(
    run: GenerationRun,
    endpoints: Mapping[int, ModelEndpoint],
    clients: Mapping[int, ChatClient],
    pools: Mapping[int, ThreadPoolExecutor],
) -> None:
    endpoint_ids = list(endpoints)
    asked = {
        (prompt_id, endpoint_id)
        for prompt_id, endpoint_id in Response.objects.filter(generation_run=run, endpoint__isnull=False).values_list(
            "prompt_id", "endpoint_id"
        )
    }
    futures: dict[Future[Any], tuple[str, _ItemState, int]] = {}
    clock = HeartbeatClock()

    def submit(kind: str, state: _ItemState, endpoint_id: int, work: Callable[[], Any]) -> None:
        futures[pools[endpoint_id].submit(work)] = (kind, state, endpoint_id)

    def ask_finals(state: _ItemState) -> None:
        state.waiting = {pk for pk in endpoint_ids if (state.prompt_id, pk) not in asked}
        if not state.waiting:
            generation_item_finish(item_id=state.item_id)
        for pk in sorted(state.waiting):
            submit("final", state, pk, partial(_ask, clients[pk], endpoints[pk], state_turns[state.item_id]))

    state_turns: dict[int, list[Turn]] = {}
    items = GenerationItem.objects.filter(run=run, status=GenerationItemStatus.PENDING).select_related(
        "prompt", "context_prompt"
    )
    for item in items.order_by("id"):
        if clock.due() and not _still_owned(run.pk, run.attempt, clock):
            break  # cancelled, or given up by the sweep: the futures submitted so far are cancelled below
        state = _ItemState(item_id=item.pk, prompt_id=item.context_prompt_id or item.prompt_id)
        if run.continuation_turns and item.context_prompt is None:
            pk = choose_context_endpoint(endpoint_ids, seed=run.seed, key=item.prompt_id)
            original = _turns(item.prompt)
            submit(
                "context", state, pk, partial(_continue, clients[pk], endpoints[pk], original, run.continuation_turns)
            )
        else:
            state_turns[item.pk] = _turns(item.context_prompt or item.prompt)
            ask_finals(state)

    while futures:
        done, _ = wait(list(futures), timeout=CANCEL_CHECK_SECONDS, return_when=FIRST_COMPLETED)
        if not _still_owned(run.pk, run.attempt, clock):
            for future in futures:
                future.cancel()
            return
        for future in done:
            kind, state, endpoint_id = futures.pop(future)
            endpoint = endpoints[endpoint_id]
            error = future.exception()
            if error is not None and not isinstance(error, ChatError | ValidationFailed):
                raise error
            if kind == "context":
                if error is not None:
                    generation_item_fail(item_id=state.item_id, failures={endpoint.name: _failure(error)})
                    continue
                turns, results = future.result()
                item = generation_context_record(item_id=state.item_id, endpoint=endpoint, turns=turns,
                                                 results=results)  # fmt: skip
                state.prompt_id = item.context_prompt_id or state.prompt_id
                state_turns[state.item_id] = turns
                ask_finals(state)
                continue
            state.waiting.discard(endpoint_id)
            if error is not None:
                state.failures[endpoint.name] = _failure(error)
            else:
                generation_response_record(run=run, prompt_id=state.prompt_id, endpoint=endpoint,
                                           result=future.result())  # fmt: skip
                asked.add((state.prompt_id, endpoint_id))
            if not state.waiting:
                if state.failures:
                    generation_item_fail(item_id=state.item_id, failures=state.failures)
                else:
                    generation_item_finish(item_id=state.item_id)
