"""The torchrun supervisor with stand-in commands (no torch in the child): live progress, SIGTERM on stop, the group
killed when it ignores it, a failure reported with its log, and the command lines it builds."""

from __future__ import annotations

import sys
import textwrap
import time
from pathlib import Path

from rm_jobs.training.evaluation import PairMetrics
from rm_jobs.training.launcher import (
    Rendezvous,
    progress_from_line,
    progress_line,
    supervise,
    torchrun_command,
)
from rm_jobs.training.loop import Progress


def _progress(step: int) -> Progress:
    return Progress(step, 3, 0.5, 0.69, 0.5, 100.0, 4.0, 1e-4, validation=PairMetrics(0.7, 0.5, 0.1, 8))


def _script(body: str) -> list[str]:
    return [sys.executable, "-c", textwrap.dedent(body)]


def test_progress_lines_round_trip() -> None:
    assert progress_from_line(progress_line(_progress(2))) == _progress(2)


def test_live_progress_reaches_the_supervisor_and_a_failing_group_reports_its_log(tmp_path: Path) -> None:
    lines = "".join(progress_line(_progress(step)) for step in (1, 2))
    command = _script(f"""
        import sys
        with open({str(tmp_path / "progress.jsonl")!r}, "a") as f:
            f.write({lines!r})
        print("rank 1 died", flush=True)
        sys.exit(3)
    """)
    seen: list[int] = []
    outcome = supervise(command, tmp_path, on_progress=lambda p: seen.append(p.step), poll_s=0.05)
    assert seen == [1, 2]
    assert (outcome.returncode, outcome.result, outcome.stopped) == (3, None, False)
    assert "rank 1 died" in outcome.log_tail


def test_stop_sends_sigterm_to_the_group_and_kills_it_when_it_does_not_end(tmp_path: Path) -> None:
    polite = _script("""
        import signal, sys, time
        signal.signal(signal.SIGTERM, lambda *a: (print("checkpoint written", flush=True), sys.exit(0)))
        print("ready", flush=True)
        time.sleep(60)
    """)
    polite_log = tmp_path / "polite" / "torchrun.log"
    outcome = supervise(polite, polite_log.parent, should_stop=lambda: "ready" in polite_log.read_text(), poll_s=0.05)
    assert outcome.stopped and outcome.returncode == 0
    assert "checkpoint written" in outcome.log_tail

    stubborn = _script("""
        import signal, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("ready", flush=True)
        time.sleep(60)
    """)
    log = tmp_path / "stubborn" / "torchrun.log"
    started = time.monotonic()
    outcome = supervise(
        stubborn, log.parent, should_stop=lambda: "ready" in log.read_text(), poll_s=0.05, shutdown_timeout_s=1
    )
    assert outcome.stopped and outcome.returncode == -9
    assert time.monotonic() - started < 30


def test_torchrun_command_lines() -> None:
    single = torchrun_command(4, ["--train", "x.jsonl"])
    assert single[1:] == [
        "-m", "torch.distributed.run", "--nproc-per-node", "4", "--standalone", "--max-restarts", "0",
        "--shutdown-timeout", "120", "-m", "rm_jobs.training", "train", "--train", "x.jsonl",
    ]  # fmt: skip
    nodes = torchrun_command(8, [], rendezvous=Rendezvous(nnodes=2, endpoint="10.0.0.1:29400", run_id="job-7"))
    assert nodes[nodes.index("--nnodes") : nodes.index("--max-restarts")] == [
        "--nnodes", "2", "--rdzv-backend", "c10d", "--rdzv-endpoint", "10.0.0.1:29400", "--rdzv-id", "job-7",
    ]  # fmt: skip
