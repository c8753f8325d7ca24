"""The client's HTTP behaviour without a Prefstack server: a download redirected to another origin (object storage)
is followed without the token; error answers become PrefstackError with message, code and extra; a request outside
the operation table is refused before it is sent."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx2
import pytest
from prefstack import Client, PrefstackError, RunFailed


class _Recorder(BaseHTTPRequestHandler):
    """Answers per the server's ``answer`` callable and records each request's path and headers."""

    def do_GET(self) -> None:
        self.server.seen.append((self.path, dict(self.headers)))  # type: ignore[attr-defined]
        status, headers, body = self.server.answer(self.path)  # type: ignore[attr-defined]
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def servers() -> Iterator[tuple[ThreadingHTTPServer, ThreadingHTTPServer]]:
    """Two servers on two ports of 127.0.0.1: two origins, as Prefstack and its object storage are."""
    started = []
    for _ in range(2):
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
        server.seen = []  # type: ignore[attr-defined]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        started.append(server)
    app, storage = started
    storage_url = f"http://127.0.0.1:{storage.server_port}"
    app.answer = lambda path: (302, {"Location": f"{storage_url}/bucket/export.parquet?X-Amz-Signature=abc"}, b"")  # type: ignore[attr-defined]
    storage.answer = lambda path: (200, {"Content-Type": "application/octet-stream"}, b"the file")  # type: ignore[attr-defined]
    yield app, storage
    for server in started:
        server.shutdown()
        server.server_close()


def test_a_download_redirected_to_another_origin_leaves_the_token_behind(
    servers: tuple[ThreadingHTTPServer, ThreadingHTTPServer], tmp_path: Any
) -> None:
    app, storage = servers
    with Client(f"http://127.0.0.1:{app.server_port}", token="secret-token") as client:
        assert client.download(7, export="regression", split="train") == b"the file"
        client.download(7, export="regression", to=tmp_path / "out.parquet")
    assert (tmp_path / "out.parquet").read_bytes() == b"the file"
    (path, app_headers), _ = app.seen  # type: ignore[attr-defined]
    assert path == "/api/v1/snapshots/7/download/?export=regression&file_type=parquet&split=train"
    assert app_headers["Authorization"] == "Token secret-token"
    storage_paths = [p for p, _ in storage.seen]  # type: ignore[attr-defined]
    assert storage_paths == ["/bucket/export.parquet?X-Amz-Signature=abc"] * 2
    assert all("Authorization" not in headers for _, headers in storage.seen)  # type: ignore[attr-defined]


def _client(handler: Any) -> Client:
    return Client("http://prefstack.test", token="t", transport=httpx2.MockTransport(handler))


def test_an_error_answer_becomes_an_exception_with_message_code_and_extra() -> None:
    body = {
        "message": "events: Unknown events: x.",
        "code": "webhook_event_unknown",
        "extra": {"fields": {"events": "x"}},
    }
    client = _client(lambda request: httpx2.Response(400, json=body))
    with pytest.raises(PrefstackError) as caught:
        client.create_webhook("p", url="https://example.org/hook", events=["x"])
    error = caught.value
    assert (error.status_code, error.code, error.message, error.extra) == (
        400,
        body["code"],
        body["message"],
        body["extra"],
    )
    assert str(error) == "events: Unknown events: x. (400 webhook_event_unknown)"


def test_a_download_error_and_a_non_api_error_page_are_exceptions_too() -> None:
    conflict = {"message": "The snapshot is not ready.", "code": "snapshot_not_ready", "extra": {}}
    with pytest.raises(PrefstackError) as caught:
        _client(lambda request: httpx2.Response(409, json=conflict)).download(1)
    assert (caught.value.status_code, caught.value.code) == (409, "snapshot_not_ready")
    with pytest.raises(PrefstackError) as caught:
        _client(lambda request: httpx2.Response(502, text="<h1>Bad gateway</h1>")).projects()
    assert (caught.value.status_code, caught.value.code, caught.value.message) == (502, "error", "<h1>Bad gateway</h1>")


def test_lists_are_read_page_after_page() -> None:
    rows = [
        {"slug": f"p{i}", "name": "P", "licence": "", "overlap": 3, "roles": ["lead"], "comparisons": i}
        for i in range(5)
    ]
    offsets = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        offset = int(request.url.params["offset"])
        offsets.append(offset)
        return httpx2.Response(
            200, json={"count": 5, "next": None, "previous": None, "results": rows[offset : offset + 2]}
        )

    from prefstack import client as client_module

    page_size, client_module.PAGE_SIZE = client_module.PAGE_SIZE, 2
    try:
        assert [p.slug for p in _client(handler).projects()] == [f"p{i}" for i in range(5)]
    finally:
        client_module.PAGE_SIZE = page_size
    assert offsets == [0, 2, 4]


def test_a_request_outside_the_operation_table_is_refused_before_sending() -> None:
    sent = []
    client = _client(lambda request: sent.append(request) or httpx2.Response(200, json={}))
    with pytest.raises(AssertionError, match="seed"):
        client._request("snapshots_create", path={"slug": "p"}, json={"seed": 1})
    assert sent == []


def test_waiting_for_a_snapshot_that_fails_raises_with_its_error() -> None:
    states = iter(["pending", "building", "failed"])

    def handler(request: httpx2.Request) -> httpx2.Response:
        status = next(states)
        return httpx2.Response(200, json={
            "id": 3, "project": "p", "number": 1, "name": "", "rule": {"name": "helpsteer2", "version": 1, "kind": "k"},
            "split_seed": 0, "validation_fraction": 0.05, "include_judge_drafts": False, "status": status, "progress": 0.5,
            "error": "RuntimeError: disk full" if status == "failed" else "", "counts": {}, "agreement": {},
            "content_hash": "", "created_at": "2026-12-06T10:00:00Z", "finished_at": None,
        })  # fmt: skip

    with pytest.raises(RunFailed, match="snapshot 3 ended failed: RuntimeError: disk full") as caught:
        _client(handler).wait_for_snapshot(3, poll_interval=0)
    assert caught.value.run.status == "failed"
    assert caught.value.run.created_at.tzinfo is not None
