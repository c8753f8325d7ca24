"""The background writer: order kept, errors surface, memory bounded."""

from __future__ import annotations

import threading

import pytest

from annotator.exports.sinks import BackgroundWriter


def test_jobs_run_in_submission_order_on_another_thread() -> None:
    done: list[tuple[int, bool]] = []
    writer = BackgroundWriter(max_pending=2)
    for index in range(20):
        writer.submit(lambda index=index: done.append((index, threading.current_thread() is threading.main_thread())))
    writer.close()
    assert done == [(index, False) for index in range(20)]


def test_an_error_in_a_job_is_raised_to_the_caller() -> None:
    writer = BackgroundWriter(max_pending=1)

    def fail() -> None:
        raise OSError("disk full")

    writer.submit(fail)
    with pytest.raises(OSError, match="disk full"):
        writer.submit(lambda: None)  # waits for the failed job before queueing
    writer.close()


def test_close_raises_an_error_still_pending() -> None:
    writer = BackgroundWriter()

    def fail() -> None:
        raise ValueError("bad row")

    writer.submit(fail)
    with pytest.raises(ValueError, match="bad row"):
        writer.close()
