"""FSDP2 under torchrun: two CPU processes on gloo, against one process, and across a killed rank.

Tolerances: per-step losses within 1e-5 (float32; the two runs sum the same per-pair terms in a different order:
two half-batch means averaged by reduce-scatter against one full-batch mean). Rewards are compared through
``r_c - r_r``, which the BT loss defines; the head's bias gets no gradient from it (it cancels), so its float-noise
updates, amplified by AdamW's normalisation, differ between runs without changing any reward difference.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import torch
from conftest import simulated_preferences
from transformers import AutoModelForSequenceClassification

from rm_jobs.training import TrainConfig, train
from rm_jobs.training.data import load_rows
from rm_jobs.training.distributed import SHARDS_DIR_NAME
from rm_jobs.training.launcher import Rendezvous, progress_from_line, torchrun_command
from rm_jobs.training.model import load_tokenizer

pytestmark = pytest.mark.slow

COMMON = {"precision": "fp32", "num_threads": 1, "group_by_length": False, "unpad": "off", "learning_rate": 3e-3}


def _arguments(model_dir: Path, data: Path, out: Path, **flags: Any) -> list[str]:
    arguments = ["--model-path", str(model_dir), "--train", str(data), "--output-dir", str(out)]
    arguments += ["--progress-file", str(out.parent / f"{out.name}-progress.jsonl")]
    for name, value in {**COMMON, **flags}.items():
        arguments += [f"--{name.replace('_', '-')}", json.dumps(value) if not isinstance(value, str) else value]
    return arguments


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path.cwd())}


def _losses(out: Path) -> dict[int, float]:
    lines = (out.parent / f"{out.name}-progress.jsonl").read_text().splitlines()
    return {p.step: p.loss for p in map(progress_from_line, lines)}


def _margins(model_dir: Path, rows: list[dict[str, Any]]) -> torch.Tensor:
    model = AutoModelForSequenceClassification.from_pretrained(str(model_dir)).eval()
    tokenizer = load_tokenizer(model_dir)

    def rewards(key: str) -> torch.Tensor:
        batch = tokenizer([r["prompt"] for r in rows], [r[key] for r in rows], padding=True, return_tensors="pt")
        with torch.no_grad():
            return model(**batch).logits[:, 0]

    return rewards("chosen") - rewards("rejected")


@pytest.fixture(scope="module")
def pairs_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fsdp-data") / "pairs.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in simulated_preferences(64, 8)))
    return path


def test_fsdp_on_two_processes_equals_one_process_with_the_same_seed(
    tmp_path: Path, tiny_model_dir: Path, pairs_file: Path
) -> None:
    # One process, 16 pairs a step; two FSDP ranks, 8 pairs each: the same 16 pairs a step (group_by_length off,
    # rank r takes batches r, r+2, … of the 8-pair plan, whose consecutive pairs are the 16-pair plan's batches).
    reference_losses: dict[int, float] = {}
    reference = train(
        TrainConfig(model_path=str(tiny_model_dir), batch_size=16, save_every_steps=1000, **COMMON),  # type: ignore[arg-type]
        list(load_rows(pairs_file)),
        output_dir=tmp_path / "one",
        on_progress=lambda p: reference_losses.__setitem__(p.step, p.loss),
    )
    out = tmp_path / "two"
    command = torchrun_command(
        2, _arguments(tiny_model_dir, pairs_file, out, batch_size=8, strategy="fsdp", save_every_steps=2)
    )
    completed = subprocess.run(command, capture_output=True, text=True, timeout=240, env=_env(), check=False)
    assert completed.returncode == 0, completed.stderr[-4000:]

    losses = _losses(out)
    assert sorted(losses) == sorted(reference_losses) == [1, 2, 3, 4]
    for step, loss in reference_losses.items():
        assert losses[step] == pytest.approx(loss, abs=1e-5), step
    assert reference.steps == 4
    rows = list(load_rows(pairs_file))[:16]
    torch.testing.assert_close(_margins(out / "final", rows), _margins(reference.model_dir, rows), atol=1e-4, rtol=0)

    # The intermediate checkpoint holds one shard per rank and no full weights; the last one also a full model.
    shards = sorted(p.name for p in (out / "checkpoint-2" / SHARDS_DIR_NAME).glob("*.distcp"))
    assert len(shards) == 2
    assert not (out / "checkpoint-2" / "model.safetensors").exists()
    assert (out / "checkpoint-4" / "model.safetensors").exists()
    assert (out / "final" / "model.safetensors").exists()


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(x) for x in (task / "children").read_text().split()]
    return found


def test_fsdp_resumes_after_a_killed_rank_to_the_uninterrupted_result(
    tmp_path: Path, tiny_model_dir: Path, pairs_file: Path
) -> None:
    flags = {"batch_size": 4, "strategy": "fsdp", "save_every_steps": 2, "keep_checkpoints": 1}  # 8 steps
    whole = tmp_path / "whole"
    completed = subprocess.run(
        torchrun_command(2, _arguments(tiny_model_dir, pairs_file, whole, **flags)),
        capture_output=True, text=True, timeout=240, env=_env(), check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-4000:]

    broken = tmp_path / "broken"
    agent = subprocess.Popen(
        torchrun_command(2, _arguments(tiny_model_dir, pairs_file, broken, **flags)),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_env(),
    )  # fmt: skip
    progress = broken.parent / "broken-progress.jsonl"
    deadline = time.monotonic() + 180
    while not (progress.exists() and len(progress.read_text().splitlines()) >= 3):
        assert agent.poll() is None and time.monotonic() < deadline, "the run ended before it could be killed"
        time.sleep(0.02)
    ranks = _children(agent.pid)
    assert len(ranks) == 2
    os.kill(ranks[1], signal.SIGKILL)
    # A dead rank takes the group down: the agent stops rank 0 and fails; nothing is left running.
    assert agent.wait(timeout=120) != 0
    for pid in ranks:
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]

    checkpoints = sorted(broken.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
    assert checkpoints, "no checkpoint was complete before the kill"
    resume_from = checkpoints[-1]
    assert not resume_from.name.endswith(".tmp")
    resumed_at = int(resume_from.name.split("-")[1])
    assert 2 <= resumed_at < 8
    completed = subprocess.run(
        torchrun_command(2, [*_arguments(tiny_model_dir, pairs_file, broken, **flags), "--resume-from",
                             str(resume_from)]),
        capture_output=True, text=True, timeout=240, env=_env(), check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-4000:]
    uninterrupted, resumed = _losses(whole), _losses(broken)
    assert sorted(uninterrupted) == list(range(1, 9))
    for step in range(resumed_at + 1, 9):
        assert resumed[step] == pytest.approx(uninterrupted[step], abs=1e-6), step
    rows = list(load_rows(pairs_file))[:16]
    torch.testing.assert_close(_margins(broken / "final", rows), _margins(whole / "final", rows), atol=1e-5, rtol=0)


def test_fsdp_outside_torchrun_is_refused_with_a_clear_message(tmp_path: Path, tiny_model_dir: Path) -> None:
    config = TrainConfig(model_path=str(tiny_model_dir), strategy="fsdp")
    env_backup = {k: os.environ.pop(k) for k in ("MASTER_ADDR", "WORLD_SIZE") if k in os.environ}
    try:
        with pytest.raises(ValueError, match="torchrun"):
            train(config, simulated_preferences(8, 1), output_dir=tmp_path)
    finally:
        os.environ.update(env_backup)
    assert not any(tmp_path.iterdir())  # refused before anything was written


def test_two_torchrun_agents_meet_at_a_c10d_rendezvous_as_two_nodes(
    tmp_path: Path, tiny_model_dir: Path, pairs_file: Path
) -> None:
    # Two "nodes" on 127.0.0.1, one process each: the multi-node launch of docs/distributed.md.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    out = tmp_path / "nodes"
    rendezvous = Rendezvous(nnodes=2, endpoint=f"127.0.0.1:{port}", run_id="two-nodes")
    command = torchrun_command(
        1,
        _arguments(tiny_model_dir, pairs_file, out, batch_size=8, strategy="fsdp", max_steps=2),
        rendezvous=rendezvous,
    )
    assert "--standalone" not in command and "--nnodes" in command
    agents = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=_env())
        for _ in range(2)
    ]
    outputs = [agent.communicate(timeout=240)[0] for agent in agents]
    assert [agent.returncode for agent in agents] == [0, 0], outputs[0][-3000:] + outputs[1][-3000:]
    for output in outputs:
        assert "sharded over 2 ranks" in output  # one world of two ranks, not two worlds of one
    assert sorted(_losses(out)) == [1, 2]
    AutoModelForSequenceClassification.from_pretrained(str(out / "final"))
