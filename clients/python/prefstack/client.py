"""The Prefstack API client: one ``Client`` with a method per task, answers as dataclasses, errors as exceptions.

    >>> from prefstack import Client
    >>> client = Client("https://prefstack.example.org", token="…")      # or Client.login(url, user, password)
    >>> snapshot = client.create_snapshot("my-project", wait=True)
    >>> frame = client.to_pandas(snapshot.id, export="helpsteer2-preference")

Authentication is a token (``Authorization: Token <key>``), from the server's API token page or
:meth:`Client.login`. Downloads follow redirects (a server may answer with a presigned object-storage URL); the
token is never sent to another origin (httpx drops the header when a redirect leaves the origin).
"""

from __future__ import annotations

import io
import json
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeVar

import httpx2

from prefstack import models
from prefstack.errors import PrefstackError, RunFailed
from prefstack.operations import OPERATIONS, Operation

if TYPE_CHECKING:
    import pandas as pd

__version__ = "0.1.0"
T = TypeVar("T")
Prompt = str | Sequence[Mapping[str, str]]
"""A prompt: a string, or turns ``[{"role": "user", "content": "…"}, …]``."""

PAGE_SIZE = 200
SCORE_BATCH = 64
"""Responses per scoring request (the server's PREFSTACK_SCORE_MAX_ITEMS default)."""


def _error(response: httpx2.Response) -> PrefstackError:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and "message" in body and "code" in body:
        extra = body.get("extra")
        return PrefstackError(
            str(body["message"]),
            status_code=response.status_code,
            code=str(body["code"]),
            extra=extra if isinstance(extra, dict) else {},
        )
    # Not the API's answer (a proxy's error page, say): keep the status and the start of the text.
    return PrefstackError(
        response.text[:500] or response.reason_phrase or "HTTP error",
        status_code=response.status_code,
        code="error",
        extra={},
    )


def _prompt_key(prompt: Prompt) -> str:
    return prompt if isinstance(prompt, str) else json.dumps([dict(t) for t in prompt], sort_keys=True)


class Client:
    """A session with one Prefstack server.

    ``base_url`` is the site's root (``https://host`` or ``https://host/prefix``); ``token`` defaults to the
    ``PREFSTACK_TOKEN`` environment variable. Use it as a context manager, or call :meth:`close`."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout: float = 60.0,
        transport: httpx2.BaseTransport | None = None,
    ) -> None:
        token = token if token is not None else os.environ.get("PREFSTACK_TOKEN")
        headers = {"User-Agent": f"prefstack-client/{__version__}", "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Token {token}"
        self.base_url = base_url.rstrip("/")
        self._http = httpx2.Client(
            base_url=self.base_url, headers=headers, timeout=timeout, transport=transport, follow_redirects=False
        )

    @classmethod
    def login(cls, base_url: str, username: str, password: str, **kwargs: Any) -> Client:
        """A client holding the user's API token, obtained with their username and password."""
        client = cls(base_url, token="", **kwargs)
        try:
            token: models.Token = client._one("auth_token_obtain", json={"username": username, "password": password})
        except BaseException:
            client.close()
            raise
        client._http.headers["Authorization"] = f"Token {token.token}"
        return client

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- plumbing ----------------------------------------------------------------------------------------------

    def _request(
        self,
        key: str,
        *,
        path: Mapping[str, object] | None = None,
        query: Mapping[str, object] | None = None,
        json: Mapping[str, object] | None = None,
        data: Mapping[str, object] | None = None,
        files: Mapping[str, tuple[str, IO[bytes]]] | None = None,
        stream: bool = False,
    ) -> httpx2.Response:
        """Send operation ``key`` of :data:`OPERATIONS`; None values are left out; an error answer raises."""
        operation = OPERATIONS[key]
        params: dict[str, Any] = {k: v for k, v in (query or {}).items() if v is not None}
        body = {k: v for k, v in (json or {}).items() if v is not None}
        form = {k: str(v) for k, v in (data or {}).items() if v is not None}
        _check(key, operation, params, {**body, **form, **(files or {})})
        url = operation.path.format(**{k: str(v) for k, v in (path or {}).items()})
        request = self._http.build_request(
            operation.method,
            url,
            params=params or None,
            json=body if operation.encoding == "json" else None,
            data=form or None,
            files=files,
        )
        response = self._http.send(request, stream=stream, follow_redirects=stream)
        if response.status_code >= 400:
            if stream:
                response.read()
                response.close()
            raise _error(response)
        return response

    def _one(self, key: str, **kwargs: Any) -> Any:
        operation = OPERATIONS[key]
        response = self._request(key, **kwargs)
        if operation.result is None:
            return None
        return models.load(operation.result, response.json())

    def _all(self, key: str, *, path: Mapping[str, object] | None = None, **query: object) -> list[Any]:
        """Every item of a paginated list, page after page (by offset, not by the absolute ``next`` URL)."""
        operation = OPERATIONS[key]
        assert operation.result is not None
        assert operation.many == "page"
        items: list[Any] = []
        while True:
            page = self._request(key, path=path, query={**query, "limit": PAGE_SIZE, "offset": len(items)}).json()
            items += [models.load(operation.result, row) for row in page["results"]]
            if not page["results"] or len(items) >= page["count"]:
                return items

    @staticmethod
    def _wait(
        fetch: Callable[[], T], *, timeout: float | None, poll_interval: float, what: str, raise_on_failure: bool
    ) -> T:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            run = fetch()
            if getattr(run, "done", False):
                if raise_on_failure and run.status not in ("ready", "succeeded"):  # type: ignore[attr-defined]
                    error = getattr(run, "error", "") or "no error text"
                    raise RunFailed(f"{what} ended {run.status}: {error}", run=run)  # type: ignore[attr-defined]
                return run
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"{what} is still {getattr(run, 'status', '?')} after {timeout} s")
            time.sleep(poll_interval)

    # --- projects ----------------------------------------------------------------------------------------------

    def projects(self) -> list[models.Project]:
        """The projects you belong to, with your roles."""
        return self._all("projects_list")

    # --- snapshots and exports ---------------------------------------------------------------------------------

    def snapshots(self, project: str, *, status: str | None = None) -> list[models.Snapshot]:
        """The project's snapshots, newest first (only those in ``status`` when given)."""
        return self._all("snapshots_list", path={"slug": project}, status=status)

    def snapshot(self, snapshot_id: int) -> models.Snapshot:
        return self._one("snapshots_retrieve", path={"snapshot_id": snapshot_id})  # type: ignore[no-any-return]

    def create_snapshot(
        self,
        project: str,
        *,
        rule: str | None = None,
        name: str | None = None,
        split_seed: int | None = None,
        validation_fraction: float | None = None,
        include_judge_drafts: bool | None = None,
        wait: bool = False,
        timeout: float | None = 600,
    ) -> models.Snapshot:
        """Cut a snapshot (it builds on the server's worker); ``wait=True`` returns it built (RunFailed if not).
        ``include_judge_drafts`` adds the LLM judge's drafts as separate, model-made columns of the items file."""
        body = {
            "rule": rule,
            "name": name,
            "split_seed": split_seed,
            "validation_fraction": validation_fraction,
            "include_judge_drafts": include_judge_drafts,
        }
        snapshot: models.Snapshot = self._one("snapshots_create", path={"slug": project}, json=body)
        return self.wait_for_snapshot(snapshot.id, timeout=timeout) if wait else snapshot

    def wait_for_snapshot(
        self,
        snapshot_id: int,
        *,
        timeout: float | None = 600,
        poll_interval: float = 1.0,
        raise_on_failure: bool = True,
    ) -> models.Snapshot:
        return self._wait(
            lambda: self.snapshot(snapshot_id),
            timeout=timeout,
            poll_interval=poll_interval,
            what=f"snapshot {snapshot_id}",
            raise_on_failure=raise_on_failure,
        )

    def download(
        self,
        snapshot_id: int,
        *,
        export: str = "bundle",
        file_type: str = "parquet",
        split: str | None = None,
        to: str | os.PathLike[str] | IO[bytes] | None = None,
    ) -> bytes | None:
        """One export of a ready snapshot (``export`` = a format name, or ``bundle``: the zip of all).

        Written to ``to`` (a path or a binary file) in chunks when given, else returned as bytes. A redirect (to
        object storage) is followed without the token."""
        query = {"export": export, "file_type": file_type, "split": split}
        response = self._request("snapshots_download", path={"snapshot_id": snapshot_id}, query=query, stream=True)
        try:
            if to is None:
                return response.read()
            if isinstance(to, str | os.PathLike):
                with open(to, "wb") as out:
                    for chunk in response.iter_bytes():
                        out.write(chunk)
            else:
                for chunk in response.iter_bytes():
                    to.write(chunk)
            return None
        finally:
            response.close()

    def to_pandas(self, snapshot_id: int, *, export: str, split: str | None = None) -> pd.DataFrame:
        """An export of a ready snapshot as a pandas DataFrame (read from its Parquet file)."""
        import pandas as pd

        content = self.download(snapshot_id, export=export, file_type="parquet", split=split)
        assert content is not None
        return pd.read_parquet(io.BytesIO(content))

    def to_dataset(self, snapshot_id: int, *, export: str, split: str | None = None) -> Any:
        """An export as a Hugging Face ``datasets.Dataset`` (``pip install "prefstack-client[datasets]"``)."""
        try:
            import datasets
        except ImportError as missing:  # pragma: no cover - depends on the environment
            raise ImportError(
                'to_dataset needs the datasets package: pip install "prefstack-client[datasets]"'
            ) from missing
        return datasets.Dataset.from_pandas(
            self.to_pandas(snapshot_id, export=export, split=split), preserve_index=False
        )

    # --- imports -----------------------------------------------------------------------------------------------

    def import_file(
        self, project: str, file: str | os.PathLike[str], *, format: str, split: str | None = None
    ) -> models.ImportResult:
        """Import a file of comparisons (all or nothing); its type comes from its name (.jsonl, .csv, .parquet …)."""
        path = Path(file)
        with path.open("rb") as handle:
            return self._one(  # type: ignore[no-any-return]
                "comparisons_import",
                path={"slug": project},
                data={"format": format, "split": split},
                files={"file": (path.name, handle)},
            )

    # --- training jobs -----------------------------------------------------------------------------------------

    def training_jobs(self, project: str, *, status: str | None = None) -> list[models.TrainingJob]:
        return self._all("training_jobs_list", path={"slug": project}, status=status)

    def create_training_job(
        self,
        project: str,
        *,
        snapshot: int,
        objective: str,
        base_model: str | None = None,
        queue: str | None = None,
        gpus: int | None = None,
        strategy: str | None = None,
        hyperparameters: Mapping[str, Any] | None = None,
    ) -> models.TrainingJob:
        """Launch a training job on a ready snapshot of the project; it runs on a worker of ``queue``."""
        body = {
            "snapshot": snapshot,
            "objective": objective,
            "base_model": base_model,
            "queue": queue,
            "gpus": gpus,
            "strategy": strategy,
            "hyperparameters": dict(hyperparameters) if hyperparameters else None,
        }
        return self._one("training_jobs_create", path={"slug": project}, json=body)  # type: ignore[no-any-return]

    def training_job(self, job_id: int) -> models.TrainingJob:
        return self._one("training_jobs_retrieve", path={"job_id": job_id})  # type: ignore[no-any-return]

    def training_metrics(self, job_id: int) -> models.TrainingMetrics:
        return self._one("training_jobs_metrics", path={"job_id": job_id})  # type: ignore[no-any-return]

    def stream_metrics(
        self, job_id: int, *, poll_interval: float = 1.0, progress: bool = True, timeout: float | None = None
    ) -> Iterator[tuple[str, models.MetricPoint]]:
        """Yield ``(series, point)`` for each new metric point (series: loss, accuracy, val_loss, val_accuracy)
        until the job ends, with a tqdm bar of its steps (``progress=False``: none)."""
        from tqdm.auto import tqdm

        seen: dict[str, int] = {}
        deadline = None if timeout is None else time.monotonic() + timeout
        bar = tqdm(total=None, unit="step", desc=f"job {job_id}", disable=not progress)
        try:
            while True:
                metrics = self.training_metrics(job_id)
                for name in ("loss", "accuracy", "val_loss", "val_accuracy"):
                    points: list[models.MetricPoint] = getattr(metrics.series, name)
                    for point in points[seen.get(name, 0) :]:
                        yield name, point
                    seen[name] = len(points)
                if metrics.total_steps and bar.total != metrics.total_steps:
                    bar.total = metrics.total_steps
                    bar.refresh()
                bar.update(max(metrics.step - bar.n, 0))
                if metrics.series.loss:
                    bar.set_postfix(loss=f"{metrics.series.loss[-1].y:.4f}", status=metrics.status)
                if metrics.status in ("succeeded", "failed", "cancelled"):
                    return
                if deadline is not None and time.monotonic() > deadline:
                    raise TimeoutError(f"training job {job_id} is still {metrics.status} after {timeout} s")
                time.sleep(poll_interval)
        finally:
            bar.close()

    def wait_for_training_job(
        self,
        job_id: int,
        *,
        progress: bool = True,
        timeout: float | None = None,
        poll_interval: float = 1.0,
        raise_on_failure: bool = True,
    ) -> models.TrainingJob:
        """Follow the job's metrics (a tqdm bar) until it ends; RunFailed when it failed or was cancelled."""
        for _ in self.stream_metrics(job_id, poll_interval=poll_interval, progress=progress, timeout=timeout):
            pass
        return self._wait(
            lambda: self.training_job(job_id),
            timeout=timeout,
            poll_interval=poll_interval,
            what=f"training job {job_id}",
            raise_on_failure=raise_on_failure,
        )

    # --- evaluations and scoring -------------------------------------------------------------------------------

    def evaluate(
        self,
        job_id: int,
        *,
        snapshot: int | None = None,
        file: str | os.PathLike[str] | None = None,
        benchmark: str | None = None,
        wait: bool = False,
        timeout: float | None = 600,
    ) -> models.Evaluation:
        """Evaluate a succeeded job on a snapshot's validation split, or on a benchmark file (RewardBench, RM-Bench,
        JudgeBench …; ``benchmark`` = its name, default: told by the layout)."""
        if (snapshot is None) == (file is None):
            raise ValueError("give snapshot or file (one of the two)")
        if file is not None:
            path = Path(file)
            with path.open("rb") as handle:
                evaluation: models.Evaluation = self._one(
                    "evaluations_create_file",
                    path={"job_id": job_id},
                    data={"benchmark": benchmark},
                    files={"file": (path.name, handle)},
                )
        else:
            evaluation = self._one("evaluations_create", path={"job_id": job_id}, json={"snapshot": snapshot})
        return self.wait_for_evaluation(evaluation.id, timeout=timeout) if wait else evaluation

    def evaluation(self, evaluation_id: int) -> models.Evaluation:
        return self._one("evaluations_retrieve", path={"evaluation_id": evaluation_id})  # type: ignore[no-any-return]

    def wait_for_evaluation(
        self,
        evaluation_id: int,
        *,
        timeout: float | None = 600,
        poll_interval: float = 1.0,
        raise_on_failure: bool = True,
    ) -> models.Evaluation:
        return self._wait(
            lambda: self.evaluation(evaluation_id),
            timeout=timeout,
            poll_interval=poll_interval,
            what=f"evaluation {evaluation_id}",
            raise_on_failure=raise_on_failure,
        )

    def score(self, job_id: int, prompt: Prompt, responses: Sequence[str]) -> models.Scores:
        """Rewards of ``responses`` to one ``prompt`` from a succeeded job's model (one request)."""
        body = {
            "prompt": prompt if isinstance(prompt, str) else [dict(t) for t in prompt],
            "responses": list(responses),
        }
        return self._one("reward_models_score", path={"job_id": job_id}, json=body)  # type: ignore[no-any-return]

    def score_pairs(self, job_id: int, pairs: Iterable[tuple[Prompt, str]]) -> list[float]:
        """The reward of each ``(prompt, response)`` pair, in order; responses to the same prompt share a request."""
        pairs = list(pairs)
        rewards: list[float | None] = [None] * len(pairs)
        groups: dict[str, list[int]] = {}
        for index, (prompt, _) in enumerate(pairs):
            groups.setdefault(_prompt_key(prompt), []).append(index)
        for indexes in groups.values():
            for start in range(0, len(indexes), SCORE_BATCH):
                batch = indexes[start : start + SCORE_BATCH]
                scores = self.score(job_id, pairs[batch[0]][0], [pairs[i][1] for i in batch])
                for i, reward in zip(batch, scores.rewards, strict=True):
                    rewards[i] = reward
        return [r for r in rewards if r is not None]

    # --- webhooks (leads) --------------------------------------------------------------------------------------

    def webhooks(self, project: str) -> list[models.Webhook]:
        return self._all("webhooks_list", path={"slug": project})

    def create_webhook(self, project: str, *, url: str, events: Sequence[str]) -> models.WebhookWithSecret:
        """Add a webhook; the answer's ``secret`` (for checking signatures) is shown only here and on rotation."""
        return self._one(  # type: ignore[no-any-return]
            "webhooks_create", path={"slug": project}, json={"url": url, "events": list(events)}
        )

    def update_webhook(
        self,
        project: str,
        webhook_id: int,
        *,
        url: str | None = None,
        events: Sequence[str] | None = None,
        is_active: bool | None = None,
    ) -> models.Webhook:
        body = {"url": url, "events": list(events) if events is not None else None, "is_active": is_active}
        return self._one(  # type: ignore[no-any-return]
            "webhooks_update", path={"slug": project, "webhook_id": webhook_id}, json=body
        )

    def rotate_webhook_secret(self, project: str, webhook_id: int) -> models.WebhookWithSecret:
        return self._one(  # type: ignore[no-any-return]
            "webhooks_rotate_secret", path={"slug": project, "webhook_id": webhook_id}
        )

    def delete_webhook(self, project: str, webhook_id: int) -> None:
        self._request("webhooks_delete", path={"slug": project, "webhook_id": webhook_id})

    def send_webhook_test(self, project: str, webhook_id: int) -> models.WebhookDelivery:
        return self._one(  # type: ignore[no-any-return]
            "webhooks_send_test", path={"slug": project, "webhook_id": webhook_id}
        )

    def webhook_deliveries(self, project: str, *, webhook: int | None = None) -> list[models.WebhookDelivery]:
        """The delivery log, newest first (one webhook's when given)."""
        return self._all("webhook_deliveries_list", path={"slug": project}, webhook=webhook)

    def redeliver(self, project: str, delivery_id: int) -> models.WebhookDelivery:
        return self._one(  # type: ignore[no-any-return]
            "webhook_deliveries_redeliver", path={"slug": project, "delivery_id": delivery_id}
        )


def _check(key: str, operation: Operation, query: Mapping[str, object], body: Mapping[str, object]) -> None:
    """Refuse a request outside the operation table (so that the table, checked against the schema, is complete)."""
    unknown_query = set(query) - operation.query
    unknown_body = set(body) - operation.body
    if unknown_query or unknown_body:
        raise AssertionError(f"{key}: not in the operation table: {sorted(unknown_query | unknown_body)}")
