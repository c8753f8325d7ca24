"""Running one training stage as a ``torchrun`` process group, and supervising it from the process that asked.

The supervisor (a Celery worker) never trains itself: it starts ``torchrun … -m rm_jobs.training train`` in a new
session (its own process group), and while the group runs it

* reads the live metrics rank 0 appends to ``progress.jsonl`` (one :class:`Progress` per optimizer step) and hands
  them to ``on_progress``;
* polls ``should_stop``; when it turns True, sends SIGTERM to the group. ``torchrun`` forwards it to every rank,
  whose handler (:func:`install_stop_signal`) makes the loop stop at its next step with a checkpoint, on every rank
  at the same step (the stop flag is all-reduced);
* gives the group up to ``shutdown_timeout_s`` for that checkpoint, then kills it.

``torchrun`` runs with ``--max-restarts 0``: a rank that dies makes the agent stop the others and exit non-zero, and
the supervisor reports the failure. The agent also gets SIGTERM when its supervisor dies (``PR_SET_PDEATHSIG``), so a
worker killed with SIGKILL leaves no orphan group: the ranks checkpoint and exit, and the stale-job sweep re-queues
the job from that checkpoint. Rank 0 writes the :class:`TrainResult` to ``result.json`` at the end.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rm_jobs.training.evaluation import PairMetrics, RegressionMetrics
from rm_jobs.training.loop import Progress, TrainResult

PROGRESS_FILE_NAME = "progress.jsonl"
RESULT_FILE_NAME = "result.json"
LOG_FILE_NAME = "torchrun.log"


# --- what rank 0 writes, what the supervisor reads ---------------------------------------------------------------
def _metrics_to_json(metrics: PairMetrics | RegressionMetrics | None) -> dict[str, Any] | None:
    if metrics is None:
        return None
    return {"kind": "pairs" if isinstance(metrics, PairMetrics) else "regression", **dataclasses.asdict(metrics)}


def _metrics_from_json(data: dict[str, Any] | None) -> PairMetrics | RegressionMetrics | None:
    if data is None:
        return None
    fields = {k: v for k, v in data.items() if k != "kind"}
    return PairMetrics(**fields) if data["kind"] == "pairs" else RegressionMetrics(**fields)


def progress_line(progress: Progress) -> str:
    """One JSON line (NaN written as JSON's ``NaN`` literal, which :func:`json.loads` reads back)."""
    data = dataclasses.asdict(progress)
    data["validation"] = _metrics_to_json(progress.validation)
    return json.dumps(data) + "\n"


def progress_from_line(line: str) -> Progress:
    data = json.loads(line)
    data["validation"] = _metrics_from_json(data["validation"])
    return Progress(**data)


def result_to_json(result: TrainResult) -> str:
    data = dataclasses.asdict(result)
    data["model_dir"], data["checkpoint_dir"] = str(result.model_dir), str(result.checkpoint_dir)
    data["validation"] = _metrics_to_json(result.validation)
    return json.dumps(data, indent=2)


def result_from_json(text: str) -> TrainResult:
    data = json.loads(text)
    data["model_dir"], data["checkpoint_dir"] = Path(data["model_dir"]), Path(data["checkpoint_dir"])
    data["validation"] = _metrics_from_json(data["validation"])
    return TrainResult(**data)


class StopSignal:
    """SIGTERM (and SIGINT) set a flag the loop polls through ``should_stop``, instead of killing the rank."""

    def __init__(self) -> None:
        self.received = False

    def __call__(self) -> bool:
        return self.received

    def _handle(self, signum: int, frame: object) -> None:
        self.received = True


def install_stop_signal() -> StopSignal:
    stop = StopSignal()
    signal.signal(signal.SIGTERM, stop._handle)
    signal.signal(signal.SIGINT, stop._handle)
    return stop


# --- the command ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Rendezvous:
    """Multi-node: ``nnodes`` agents (one per machine) meet at ``endpoint`` (host:port of any of them, c10d
    backend) under ``run_id``; see docs/distributed.md."""

    nnodes: int
    endpoint: str
    run_id: str


def torchrun_command(
    nproc_per_node: int,
    train_arguments: Sequence[str],
    *,
    rendezvous: Rendezvous | None = None,
    shutdown_timeout_s: int = 120,
) -> list[str]:
    """``python -m torch.distributed.run … -m rm_jobs.training train <train_arguments>``.

    One machine: ``--standalone`` (a private rendezvous on a free port). Several: ``--nnodes N --rdzv-backend c10d
    --rdzv-endpoint host:port --rdzv-id <run>``. No restarts: a failed rank fails the group.
    """
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(nproc_per_node)]
    if rendezvous is None:
        command.append("--standalone")
    else:
        command += [
            "--nnodes", str(rendezvous.nnodes), "--rdzv-backend", "c10d",
            "--rdzv-endpoint", rendezvous.endpoint, "--rdzv-id", rendezvous.run_id,
        ]  # fmt: skip
    command += ["--max-restarts", "0", "--shutdown-timeout", str(shutdown_timeout_s)]
    return [*command, "-m", "rm_jobs.training", "train", *train_arguments]


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: SIGTERM this process when the process that started it dies (also by SIGKILL)."""
    os.setsid()
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


# --- supervision ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class GroupOutcome:
    """How the group ended: ``result`` is rank 0's TrainResult (None when the group failed before writing it)."""

    returncode: int
    result: TrainResult | None
    stopped: bool  # SIGTERM was sent on should_stop
    log_tail: str


def supervise(
    command: Sequence[str],
    run_dir: Path,
    *,
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    env: dict[str, str] | None = None,
    poll_s: float = 0.2,
    shutdown_timeout_s: float = 150,
) -> GroupOutcome:
    """Run ``command`` (from :func:`torchrun_command`, writing into ``run_dir``) to its end; see the module doc."""
    run_dir.mkdir(parents=True, exist_ok=True)
    progress_path, result_path = run_dir / PROGRESS_FILE_NAME, run_dir / RESULT_FILE_NAME
    for stale in (progress_path, result_path):
        stale.unlink(missing_ok=True)
    log_path = run_dir / LOG_FILE_NAME
    stopped = False
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            list(command), stdout=log, stderr=subprocess.STDOUT, env=env, preexec_fn=_die_with_parent
        )
        reader = _ProgressReader(progress_path)
        deadline: float | None = None
        try:
            while True:
                returncode = process.poll()
                for progress in reader.read_new():
                    if on_progress is not None:
                        on_progress(progress)
                if returncode is not None:
                    break
                if not stopped and should_stop is not None and should_stop():
                    stopped = True
                    deadline = time.monotonic() + shutdown_timeout_s
                    os.killpg(process.pid, signal.SIGTERM)
                if deadline is not None and time.monotonic() > deadline:
                    os.killpg(process.pid, signal.SIGKILL)
                    deadline = None
                time.sleep(poll_s)
        except BaseException:  # the supervisor itself is going away: take the group with it
            _kill_group(process)
            raise
        for progress in reader.read_new():
            if on_progress is not None:
                on_progress(progress)
    result = result_from_json(result_path.read_text()) if result_path.exists() else None
    return GroupOutcome(returncode=returncode, result=result, stopped=stopped, log_tail=_tail(log_path))


def _kill_group(process: subprocess.Popen[Any]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def _tail(path: Path, limit: int = 4000) -> str:
    data = path.read_bytes() if path.exists() else b""
    return data[-limit:].decode("utf-8", "replace")


class _ProgressReader:
    """Complete lines appended to the progress file since the last read (a half-written last line waits)."""

    def __init__(self, path: Path) -> None:
        self.path, self.offset = path, 0

    def read_new(self) -> list[Progress]:
        if not self.path.exists():
            return []
        with open(self.path, "rb") as handle:
            handle.seek(self.offset)
            data = handle.read()
        end = data.rfind(b"\n") + 1
        self.offset += end
        return [progress_from_line(line) for line in data[:end].decode().splitlines() if line.strip()]
