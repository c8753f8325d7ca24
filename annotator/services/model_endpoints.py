"""Model endpoints: create, update and delete them, and the chat client of one (its key read from the environment).

The API key is never stored, shown or exported: an endpoint names the environment variable of the workers that
holds it (``api_key_env``), and only names starting with :data:`KEY_ENV_PREFIX` are accepted, so a lead cannot make
the workers send another of their secrets (``DJANGO_SECRET_KEY``, a database URL) to a server of the lead's choice.
An endpoint with no variable sends no ``Authorization`` header (a local server). A variable that is not set is a
clear error (``endpoint_key_missing``) when a run is launched, not a failed request later.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from django.db import transaction

from annotator.error_codes import ErrorCode
from annotator.errors import Conflict, ValidationFailed
from annotator.llm.client import ChatClient, RetryPolicy, sampling_problems
from annotator.models import GenerationRunStatus, ModelEndpoint, Project
from annotator.text import check_text, first_text_problem

KEY_ENV_PREFIX = "PREFSTACK_LLM_KEY_"
"""Every ``api_key_env`` starts with this (e.g. ``PREFSTACK_LLM_KEY_OPENAI``)."""
_KEY_ENV_NAME = re.compile(rf"^{KEY_ENV_PREFIX}[A-Z0-9_]+$")
CONCURRENCY_MAX = 64
TIMEOUT_MAX_SECONDS = 3600
ATTEMPTS_MAX = 10
_ACTIVE_RUN_STATUSES = (GenerationRunStatus.PENDING, GenerationRunStatus.RUNNING)


def _refuse(field: str, message: str, code: ErrorCode = ErrorCode.VALIDATION_FAILED) -> ValidationFailed:
    return ValidationFailed(message, code=code, extra={"fields": {field: message}})


def _check_fields(values: Mapping[str, Any]) -> None:
    """Refuse the first field that breaks a rule (only the fields given are checked)."""
    if "name" in values:
        if not str(values["name"]).strip():
            raise _refuse("name", "Give the endpoint a name.")
        check_text(values["name"], field="name")
    if "model_id" in values:
        if not str(values["model_id"]).strip():
            raise _refuse("model_id", "Name the model to ask at the endpoint.")
        check_text(values["model_id"], field="model_id", label="model id")
    if "base_url" in values:
        parts = urlsplit(str(values["base_url"]))
        try:
            parts.port  # noqa: B018 (refuses a port out of range)
        except ValueError:
            raise _refuse("base_url", "The base URL's port is not a valid port.") from None
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
            raise _refuse("base_url", "The base URL starts with http:// or https://, names a host, and has no query.")
    if "sampling" in values:
        sampling = values["sampling"]
        if not isinstance(sampling, Mapping):
            raise _refuse("sampling", "Sampling parameters are an object of name → value.")
        problems = sampling_problems(sampling)
        if problems:
            text = "; ".join(f"{key}: {why}" for key, why in problems.items())
            raise _refuse("sampling", f"Sampling parameters refused: {text}.")
        if first_text_problem(dict(sampling)) is not None:
            raise _refuse("sampling", "A sampling parameter holds text that cannot be stored.")
    for field, high in (("concurrency_limit", CONCURRENCY_MAX), ("timeout_seconds", TIMEOUT_MAX_SECONDS),
                        ("max_attempts", ATTEMPTS_MAX)):  # fmt: skip
        if field in values and (type(values[field]) is not int or not 1 <= values[field] <= high):
            raise _refuse(field, f"The {field.replace('_', ' ')} is a whole number from 1 to {high}.")
    if "json_schema_output" in values and type(values["json_schema_output"]) is not bool:
        raise _refuse("json_schema_output", "Say true or false: whether the server accepts json_schema output.")
    if values.get("api_key_env") and not _KEY_ENV_NAME.match(values["api_key_env"]):
        raise _refuse(
            "api_key_env",
            f"The key's environment variable is named {KEY_ENV_PREFIX}<NAME> (capitals, digits, underscores).",
        )


def _check_name_free(*, project: Project | None, name: str, exclude: int | None = None) -> None:
    """A taken name is a Conflict (the state forbids it), with the field named like a refusal."""
    others = ModelEndpoint.objects.filter(project=project, name=name)
    taken = (others.exclude(pk=exclude) if exclude is not None else others).exists()
    if taken:
        message = f"An endpoint named {name!r} exists already."
        raise Conflict(message, extra={"fields": {"name": message}})


@transaction.atomic
def model_endpoint_create(
    *,
    project: Project | None,
    name: str,
    base_url: str,
    model_id: str,
    sampling: Mapping[str, Any] | None = None,
    concurrency_limit: int = 4,
    timeout_seconds: int = 60,
    max_attempts: int = 4,
    api_key_env: str = "",
    json_schema_output: bool = False,
) -> ModelEndpoint:
    """An endpoint of ``project`` (of the whole site when None). The key's variable need not be set here (the web
    process may not hold the workers' secrets); a run checks it at launch. ``json_schema_output``: the server
    accepts OpenAI's ``response_format`` of type ``json_schema`` (off by default: not every compatible server does),
    so the judge sends its answer schema there as well as in the prompt."""
    values: dict[str, Any] = {
        "name": name.strip(),
        "base_url": base_url.strip(),
        "model_id": model_id.strip(),
        "sampling": sampling if sampling is not None else {},
        "concurrency_limit": concurrency_limit,
        "timeout_seconds": timeout_seconds,
        "max_attempts": max_attempts,
        "api_key_env": api_key_env.strip(),
        "json_schema_output": json_schema_output,
    }
    _check_fields(values)
    values["sampling"] = dict(values["sampling"])
    _check_name_free(project=project, name=values["name"])
    return ModelEndpoint.objects.create(project=project, **values)


@transaction.atomic
def model_endpoint_update(
    *,
    endpoint: ModelEndpoint,
    name: str | None = None,
    base_url: str | None = None,
    model_id: str | None = None,
    sampling: Mapping[str, Any] | None = None,
    concurrency_limit: int | None = None,
    timeout_seconds: int | None = None,
    max_attempts: int | None = None,
    api_key_env: str | None = None,
    json_schema_output: bool | None = None,
) -> ModelEndpoint:
    """Change the fields given (None: unchanged). Runs already launched read the endpoint as it is when they ask."""
    values: dict[str, Any] = {
        key: value.strip() if isinstance(value, str) else value
        for key, value in {
            "name": name,
            "base_url": base_url,
            "model_id": model_id,
            "sampling": sampling,
            "concurrency_limit": concurrency_limit,
            "timeout_seconds": timeout_seconds,
            "max_attempts": max_attempts,
            "api_key_env": api_key_env,
            "json_schema_output": json_schema_output,
        }.items()
        if value is not None
    }
    _check_fields(values)
    if "sampling" in values:
        values["sampling"] = dict(values["sampling"])
    if "name" in values:
        _check_name_free(project=endpoint.project, name=values["name"], exclude=endpoint.pk)
    for key, value in values.items():
        setattr(endpoint, key, value)
    endpoint.save()
    return endpoint


@transaction.atomic
def model_endpoint_delete(*, endpoint: ModelEndpoint) -> None:
    """Delete an endpoint no pending or running run uses (Conflict ``endpoint_in_use`` otherwise). Its responses
    keep their provenance (endpoint name, model id, sampling) without the link."""
    locked = ModelEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    if locked.generation_runs.filter(status__in=_ACTIVE_RUN_STATUSES).exists():
        raise Conflict(
            f"{endpoint.name} is used by a generation run that has not finished; cancel it first.",
            code=ErrorCode.ENDPOINT_IN_USE,
        )
    locked.delete()


def model_endpoint_api_key(*, endpoint: ModelEndpoint) -> str:
    """The endpoint's API key from this process's environment ("" when it names no variable); ValidationFailed
    ``endpoint_key_missing`` when the variable is not set or empty. The key is never logged nor put in a message."""
    if not endpoint.api_key_env:
        return ""
    # The variable's name is data (each endpoint names its own), so it is read here rather than in config/env.py.
    key = os.environ.get(endpoint.api_key_env, "")
    if not key:
        raise _refuse(
            "api_key_env",
            f"The API key of {endpoint.name} is missing: set {endpoint.api_key_env} in the workers' environment.",
            code=ErrorCode.ENDPOINT_KEY_MISSING,
        )
    return key


def model_endpoint_client(*, endpoint: ModelEndpoint, **client_options: Any) -> ChatClient:
    """A chat client for ``endpoint`` with its key, time limit and attempts (close it after use).
    ``client_options`` go to :class:`ChatClient` (a test's ``transport`` or ``sleep``)."""
    policy = RetryPolicy(max_attempts=endpoint.max_attempts, timeout_s=float(endpoint.timeout_seconds))
    return ChatClient(
        base_url=endpoint.base_url, api_key=model_endpoint_api_key(endpoint=endpoint), policy=policy, **client_options
    )
