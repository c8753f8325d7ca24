"""The same training code under torchrun: two CPU processes (gloo) train one model through DDP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import simulated_preferences
from transformers import AutoModelForSequenceClassification


def test_torchrun_two_processes_train_and_rank_zero_saves(tmp_path: Path, tiny_model_dir: Path) -> None:
    data = tmp_path / "pairs.jsonl"
    data.write_text("".join(json.dumps(row) + "\n" for row in simulated_preferences(96, 8)))
    out = tmp_path / "run"
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", "29517",
        "-m", "rm_jobs.training", "train", "--model-path", str(tiny_model_dir), "--train", str(data),
        "--output-dir", str(out), "--precision", "fp32", "--num-threads", "1", "--batch-size", "8",
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path.cwd())}
    completed = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env, check=False)
    assert completed.returncode == 0, completed.stderr[-3000:]
    # 96 pairs / 8 per batch = 12 batches, split over 2 ranks: 6 optimizer steps, each over 16 pairs.
    assert '"steps": 6' in completed.stdout
    assert "step 6/6" in completed.stderr
    AutoModelForSequenceClassification.from_pretrained(str(out / "final"))
