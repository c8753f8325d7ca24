"""The chat client against httpx2's MockTransport: the request it sends, the typed result, retries with back-off on
429/5xx/timeouts/unreachable, the time limit, and each failure's kind."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import httpx2
import pytest

from annotator.domain import Turn
from annotator.llm.client import ChatClient, ChatError, RetryPolicy, parse_completion, sampling_problems

TURNS = [Turn(role="system", content="Be brief."), Turn(role="user", content="Hello?")]


def completion(content: str = "Hi there.", finish: str = "stop") -> dict[str, object]:
    return {
        "id": "c1",
        "model": "served-model",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15},
    }


def scripted(*answers: httpx2.Response | Exception) -> tuple[httpx2.MockTransport, list[httpx2.Request]]:
    """A transport answering each request with the next of ``answers`` (an exception is raised instead)."""
    seen: list[httpx2.Request] = []
    queue: Iterator[httpx2.Response | Exception] = iter(answers)

    def handle(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        answer = next(queue)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return httpx2.MockTransport(handle), seen


def client(transport: httpx2.MockTransport, sleeps: list[float] | None = None, **policy: float) -> ChatClient:
    record: Callable[[float], None] = sleeps.append if sleeps is not None else lambda s: None
    return ChatClient(base_url="http://llm.test/v1", api_key="sk-test", transport=transport, sleep=record,
                      policy=RetryPolicy(**policy))  # type: ignore[arg-type]  # fmt: skip


def test_a_completion_is_sent_as_openai_chat_and_returned_typed() -> None:
    transport, seen = scripted(httpx2.Response(200, json=completion()))
    with client(transport) as chat:
        result = chat.complete(model="tiny", turns=TURNS, sampling={"temperature": 0.2, "max_tokens": 8, "bogus": 1})
    request = seen[0]
    assert str(request.url) == "http://llm.test/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer sk-test"
    body = json.loads(request.content)
    assert body == {"model": "tiny", "stream": False, "temperature": 0.2, "max_tokens": 8,
                    "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello?"}]}  # fmt: skip
    assert (result.content, result.finish_reason, result.prompt_tokens, result.completion_tokens) == (
        "Hi there.", "stop", 12, 3)  # fmt: skip
    assert result.attempts == 1 and result.model == "served-model" and result.latency_ms >= 0


def test_a_response_format_is_sent_as_given_and_only_when_given() -> None:
    wanted = {"type": "json_schema", "json_schema": {"name": "answer", "schema": {"type": "object"}}}
    transport, seen = scripted(httpx2.Response(200, json=completion()), httpx2.Response(200, json=completion()))
    with client(transport) as chat:
        chat.complete(model="m", turns=TURNS, response_format=wanted)
        chat.complete(model="m", turns=TURNS)
    assert json.loads(seen[0].content)["response_format"] == wanted
    assert "response_format" not in json.loads(seen[1].content)


def test_no_key_sends_no_authorization_header() -> None:
    transport, seen = scripted(httpx2.Response(200, json=completion()))
    ChatClient(base_url="http://llm.test/v1", transport=transport).complete(model="m", turns=TURNS)
    assert "authorization" not in seen[0].headers


def test_429_and_5xx_are_retried_with_exponential_back_off_and_retry_after() -> None:
    transport, seen = scripted(
        httpx2.Response(429, headers={"Retry-After": "2"}, text="slow down"),
        httpx2.Response(503, text="busy"),
        httpx2.Response(500, text="oops"),
        httpx2.Response(200, json=completion()),
    )
    sleeps: list[float] = []
    result = client(transport, sleeps, backoff_s=0.5, max_attempts=4).complete(model="m", turns=TURNS)
    assert result.attempts == 4 and len(seen) == 4
    assert sleeps == [2.0, 1.0, 2.0]  # Retry-After, then 0.5 × 2^(n−1)


def test_timeouts_and_connection_errors_are_retried() -> None:
    transport, _ = scripted(
        httpx2.ReadTimeout("slow"), httpx2.ConnectError("refused"), httpx2.Response(200, json=completion())
    )
    assert client(transport, max_attempts=3).complete(model="m", turns=TURNS).attempts == 3


@pytest.mark.parametrize(
    ("answers", "kind", "status"),
    [
        ([httpx2.ConnectError("refused")] * 2, "unreachable", None),
        ([httpx2.ReadTimeout("slow")] * 2, "timeout", None),
        ([httpx2.Response(502, text="bad gateway")] * 2, "http_status", 502),
    ],
)
def test_the_last_retryable_failure_is_raised_with_its_kind(
    answers: list[object], kind: str, status: int | None
) -> None:
    transport, seen = scripted(*answers)  # type: ignore[arg-type]
    with pytest.raises(ChatError) as caught:
        client(transport, max_attempts=2).complete(model="m", turns=TURNS)
    assert (caught.value.kind, caught.value.status, caught.value.attempts, len(seen)) == (kind, status, 2, 2)


@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        (httpx2.Response(401, json={"error": {"message": "bad key"}}), "http_status"),
        (httpx2.Response(400, json={"error": {"code": "context_length_exceeded", "message": "too many"}}), "too_long"),
        (httpx2.Response(200, text="<html>not json</html>"), "garbage"),
        (httpx2.Response(200, json={"choices": []}), "garbage"),
        (httpx2.Response(200, json={"choices": [{"message": {"content": None}}]}), "garbage"),
    ],
)
def test_answers_retrying_cannot_fix_fail_at_once(answer: httpx2.Response, kind: str) -> None:
    transport, seen = scripted(answer, httpx2.Response(200, json=completion()))
    with pytest.raises(ChatError) as caught:
        client(transport).complete(model="m", turns=TURNS)
    assert caught.value.kind == kind and len(seen) == 1
    assert "sk-test" not in caught.value.message


def test_the_deadline_bounds_the_whole_call_waits_included() -> None:
    transport, seen = scripted(*[httpx2.Response(503)] * 5)
    with pytest.raises(ChatError) as caught:
        client(transport, max_attempts=5, backoff_s=10, deadline_s=5).complete(model="m", turns=TURNS)
    assert len(seen) == 1 and "No time left" in caught.value.message  # a 10 s wait would pass the 5 s deadline


def test_a_real_time_limit_per_attempt() -> None:
    """A server that never answers within the attempt's limit: a timeout, not a hang."""

    def slow(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ReadTimeout("no answer", request=request)

    with pytest.raises(ChatError) as caught:
        client(httpx2.MockTransport(slow), max_attempts=1, timeout_s=0.1).complete(model="m", turns=TURNS)
    assert caught.value.kind == "timeout"


def test_parse_completion_tolerates_missing_usage_and_finish_reason() -> None:
    result = parse_completion({"choices": [{"message": {"content": "x"}}], "usage": {"prompt_tokens": -1}},
                              latency_ms=1, attempts=1)  # fmt: skip
    assert (result.finish_reason, result.prompt_tokens, result.completion_tokens, result.model) == ("", None, None, "")


def test_sampling_problems() -> None:
    assert sampling_problems({"temperature": 0, "top_p": 1, "max_tokens": 1, "seed": 7, "stop": ["\n"]}) == {}
    assert set(sampling_problems({"temperature": True, "max_tokens": 0, "stop": [1], "seed": 1.5})) == {
        "temperature", "max_tokens", "stop", "seed"}  # fmt: skip
