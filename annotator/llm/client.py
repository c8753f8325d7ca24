"""A small client for OpenAI-compatible chat completions (``POST {base_url}/chat/completions``), no Django.

One call, :meth:`ChatClient.complete`, sends a conversation and returns a typed :class:`ChatResult` (content,
finish reason, token counts, latency, attempts) or raises :class:`ChatError` with a ``kind`` that says why:

* ``unreachable``: no connection (refused, DNS, reset) after every attempt;
* ``timeout``: an attempt, or the whole call, ran past its time limit;
* ``http_status``: an answer other than 2xx that retrying does not help (4xx), or a 429/5xx on the last attempt;
* ``too_long``: the server refused the prompt as longer than the model's context (OpenAI's
  ``context_length_exceeded``, or a 400/413/422 whose message says so);
* ``garbage``: a 2xx answer that is not a chat completion (not JSON, no ``choices[0].message.content``).

Retries: a connection error, a timeout, 408, 429 and 5xx are tried again, up to ``RetryPolicy.max_attempts`` attempts
in all, waiting ``backoff_s × 2^(attempt−1)`` seconds (capped at ``max_backoff_s``), or the server's
``Retry-After`` seconds when it sends them (capped the same way). ``deadline_s`` bounds the whole call, waits
included. Anything else fails at once.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Self, cast

import httpx2

from annotator.domain import Turn

ChatErrorKind = Literal["unreachable", "timeout", "http_status", "too_long", "garbage"]
RETRYABLE_STATUSES: frozenset[int] = frozenset({408, 429, 500, 502, 503, 504})
"""Answers worth another attempt: the server is busy, rate-limits, or failed on its side."""
SAMPLING_KEYS: tuple[str, ...] = (
    "temperature",
    "top_p",
    "max_tokens",
    "seed",
    "presence_penalty",
    "frequency_penalty",
    "stop",
)
"""The sampling parameters an endpoint may set (the OpenAI chat-completions names)."""
_SAMPLING_RANGES: dict[str, tuple[float, float]] = {
    "temperature": (0.0, 2.0),
    "top_p": (0.0, 1.0),
    "presence_penalty": (-2.0, 2.0),
    "frequency_penalty": (-2.0, 2.0),
}
MAX_STOP_SEQUENCES = 4
_TOO_LONG_HINTS = ("context_length", "context length", "maximum context", "too long", "too many tokens")
_ERROR_TEXT_CHARS = 500


def sampling_problems(sampling: Mapping[str, object]) -> dict[str, str]:
    """What is wrong with each sampling parameter (key → message); empty when all are usable.

    >>> sampling_problems({"temperature": 0.7, "max_tokens": 64})
    {}
    >>> sampling_problems({"temperature": 3, "top_k": 5})
    {'temperature': 'a number from 0.0 to 2.0', 'top_k': 'not a sampling parameter (use one of temperature, top_p, max_tokens, seed, presence_penalty, frequency_penalty, stop)'}
    """
    problems: dict[str, str] = {}
    for key, value in sampling.items():
        if key not in SAMPLING_KEYS:
            problems[key] = f"not a sampling parameter (use one of {', '.join(SAMPLING_KEYS)})"
        elif key in _SAMPLING_RANGES:
            low, high = _SAMPLING_RANGES[key]
            if type(value) not in (int, float) or not low <= value <= high:  # type: ignore[operator]
                problems[key] = f"a number from {low} to {high}"
        elif key == "max_tokens" and (type(value) is not int or value < 1):
            problems[key] = "a whole number of at least 1"
        elif key == "seed" and type(value) is not int:
            problems[key] = "a whole number"
        elif key == "stop" and not (
            isinstance(value, str)
            or (isinstance(value, list) and len(value) <= MAX_STOP_SEQUENCES and all(isinstance(v, str) for v in value))
        ):
            problems[key] = f"a text, or a list of at most {MAX_STOP_SEQUENCES} texts"
    return problems


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard one call tries: attempts in all, back-off between them, a limit per attempt and for the call."""

    max_attempts: int = 4
    backoff_s: float = 0.5
    max_backoff_s: float = 30.0
    timeout_s: float = 60.0
    """Per attempt (connect, read, write)."""
    deadline_s: float | None = None
    """The whole call, waits included; ``None``: ``max_attempts × timeout_s`` plus the waits."""

    def wait(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait after failed attempt ``attempt`` (1-based).

        >>> RetryPolicy(backoff_s=0.5, max_backoff_s=3).wait(1, None), RetryPolicy(backoff_s=0.5).wait(3, None)
        (0.5, 2.0)
        >>> RetryPolicy(max_backoff_s=3.0).wait(1, 60.0)
        3.0
        """
        chosen = retry_after if retry_after is not None else self.backoff_s * 2 ** (attempt - 1)
        return max(0.0, min(float(chosen), float(self.max_backoff_s)))


@dataclass(frozen=True, slots=True)
class ChatResult:
    """One completion and its provenance."""

    content: str
    finish_reason: str
    """``stop``, ``length`` ... as the server said; empty when it said nothing."""
    prompt_tokens: int | None
    completion_tokens: int | None
    latency_ms: int
    """Of the successful attempt, from sending to the parsed answer."""
    attempts: int
    model: str
    """The model the server says answered (may differ from the one asked for); empty when it said nothing."""


class ChatError(Exception):
    """A call that gave no completion; ``kind`` says why, ``status`` the last HTTP status if any."""

    def __init__(self, message: str, *, kind: ChatErrorKind, status: int | None = None, attempts: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.kind: ChatErrorKind = kind
        self.status = status
        self.attempts = attempts


class _Retry(Exception):
    def __init__(self, error: ChatError, retry_after: float | None = None) -> None:
        super().__init__(error.message)
        self.error = error
        self.retry_after = retry_after


def _retry_after(response: httpx2.Response) -> float | None:
    raw = response.headers.get("retry-after", "")
    try:
        return float(raw) if raw else None
    except ValueError:  # an HTTP date: fall back to our own back-off
        return None


def _is_too_long(status: int, body: str) -> bool:
    lowered = body.lower()
    return status in (400, 413, 422) and any(hint in lowered for hint in _TOO_LONG_HINTS)


def _token_count(usage: Mapping[str, Any], key: str) -> int | None:
    value = usage.get(key)
    return value if type(value) is int and value >= 0 else None


def parse_completion(payload: object, *, latency_ms: int, attempts: int) -> ChatResult:
    """A :class:`ChatResult` from a chat-completions JSON body; ChatError(``garbage``) when it is not one.

    >>> parse_completion({"choices": [{"message": {"content": "Hi"}, "finish_reason": "stop"}]},
    ...                  latency_ms=5, attempts=1).content
    'Hi'
    """
    choices = payload.get("choices") if isinstance(payload, Mapping) else None
    choice = choices[0] if isinstance(choices, list) and choices else None
    message = choice.get("message") if isinstance(choice, Mapping) else None
    content = message.get("content") if isinstance(message, Mapping) else None
    if not isinstance(content, str):
        raise ChatError(
            "The answer is not a chat completion (no text at choices[0].message.content).",
            kind="garbage",
            attempts=attempts,
        )
    body = cast("Mapping[str, Any]", payload)  # content was found, so both are mappings
    usage = body.get("usage")
    usage = usage if isinstance(usage, Mapping) else {}
    finish = cast("Mapping[str, Any]", choice).get("finish_reason")
    model = body.get("model")
    return ChatResult(
        content=content,
        finish_reason=finish if isinstance(finish, str) else "",
        prompt_tokens=_token_count(usage, "prompt_tokens"),
        completion_tokens=_token_count(usage, "completion_tokens"),
        latency_ms=latency_ms,
        attempts=attempts,
        model=model if isinstance(model, str) else "",
    )


class ChatClient:
    """Chat completions from one OpenAI-compatible server. Thread-safe (one ``httpx2.Client`` underneath); close it,
    or use it as a context manager.

    ``base_url`` ends where the OpenAI paths begin (``https://api.example.com/v1``); ``api_key``, when not empty, is
    sent as ``Authorization: Bearer``. ``transport`` and ``sleep`` are for tests (an ``httpx2.MockTransport``, a
    fake clock).
    """

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str = "",
        policy: RetryPolicy | None = None,
        transport: httpx2.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.policy = policy or RetryPolicy()
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._sleep = sleep
        self._http = httpx2.Client(
            base_url=base_url.rstrip("/") + "/",
            headers=headers,
            timeout=self.policy.timeout_s,
            transport=transport,
            follow_redirects=False,
            trust_env=False,
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def complete(
        self,
        *,
        model: str,
        turns: Sequence[Turn],
        sampling: Mapping[str, Any] | None = None,
        response_format: Mapping[str, Any] | None = None,
    ) -> ChatResult:
        """The next assistant message after ``turns``, asked of ``model`` with ``sampling`` (see SAMPLING_KEYS);
        ``response_format`` is sent as it is (OpenAI's ``{"type": "json_schema", ...}``: structured output, which
        not every OpenAI-compatible server accepts; one that refuses it answers 4xx, an ``http_status`` error)."""
        body: dict[str, Any] = {
            "model": model,
            "messages": [{"role": t.role, "content": t.content} for t in turns],
            "stream": False,
            **{k: v for k, v in (sampling or {}).items() if k in SAMPLING_KEYS},
        }
        if response_format is not None:
            body["response_format"] = dict(response_format)
        policy = self.policy
        deadline = time.monotonic() + (
            policy.deadline_s if policy.deadline_s is not None else policy.max_attempts * (policy.timeout_s + 1)
            + sum(policy.wait(a, None) for a in range(1, policy.max_attempts))
        )  # fmt: skip
        attempt = 0
        while True:
            attempt += 1
            left = deadline - time.monotonic()
            if left <= 0:
                raise ChatError("The call ran past its time limit.", kind="timeout", attempts=attempt - 1)
            try:
                return self._attempt(body, attempt=attempt, timeout=min(policy.timeout_s, left))
            except _Retry as retry:
                if attempt >= policy.max_attempts:
                    raise ChatError(retry.error.message, kind=retry.error.kind, status=retry.error.status,
                                    attempts=attempt) from None  # fmt: skip
                pause = policy.wait(attempt, retry.retry_after)
                if time.monotonic() + pause >= deadline:
                    raise ChatError(f"{retry.error.message} No time left to retry.", kind=retry.error.kind,
                                    status=retry.error.status, attempts=attempt) from None  # fmt: skip
                self._sleep(pause)

    def _attempt(self, body: Mapping[str, Any], *, attempt: int, timeout: float) -> ChatResult:
        started = time.monotonic()
        try:
            response = self._http.post("chat/completions", json=body, timeout=timeout)
        except httpx2.TimeoutException:
            raise _Retry(ChatError(f"No answer within {timeout:.0f} s.", kind="timeout")) from None
        except httpx2.TransportError as exc:
            raise _Retry(ChatError(f"Cannot reach the endpoint: {exc}.", kind="unreachable")) from None
        status = response.status_code
        if status in RETRYABLE_STATUSES:
            error = ChatError(f"The endpoint answered {status}: {response.text[:_ERROR_TEXT_CHARS]}",
                              kind="http_status", status=status)  # fmt: skip
            raise _Retry(error, _retry_after(response))
        if not 200 <= status < 300:
            text = response.text[:_ERROR_TEXT_CHARS]
            kind: ChatErrorKind = "too_long" if _is_too_long(status, text) else "http_status"
            raise ChatError(f"The endpoint answered {status}: {text}", kind=kind, status=status, attempts=attempt)
        try:
            payload = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ChatError("The answer is not JSON.", kind="garbage", status=status, attempts=attempt) from None
        latency_ms = round((time.monotonic() - started) * 1000)
        return parse_completion(payload, latency_ms=latency_ms, attempts=attempt)
