"""Refused before anything runs: a base model without a classification head, a tokenizer without pad/EOS, QLoRA off
the GPU queue, a run whose planned memory exceeds the queue's GPU memory; the estimate is kept on the job. And the
hyper-parameter ranges have one home that the form, the API serializer and the service share."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from annotator.errors import ValidationFailed
from rm_jobs.api import HyperParametersSerializer
from rm_jobs.forms import TrainingJobForm
from rm_jobs.models import TrainingJob
from rm_jobs.services.jobs import HyperParameters, training_job_create
from rm_jobs.training.config import BOUNDS
from tests.rm_jobs.training.conftest import build_tiny_decoder_dir

pytestmark = pytest.mark.django_db

LLAMA_8B = {
    "model_type": "llama", "vocab_size": 128256, "hidden_size": 4096, "intermediate_size": 14336,
    "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8, "architectures": ["LlamaForCausalLM"],
}  # fmt: skip


def offer(settings: Any, path: Path) -> str:
    settings.PREFSTACK_BASE_MODELS = {"candidate": str(path)}
    return "candidate"


def config_only_model(directory: Path, config: dict[str, Any], tokenizer: dict[str, Any] | None = None) -> Path:
    """A model directory with only its config and tokenizer config: enough for every check before loading."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_text(json.dumps(config))
    (directory / "tokenizer_config.json").write_text(json.dumps(tokenizer or {"eos_token": "<|eot_id|>"}))
    return directory


def test_a_job_records_the_memory_estimate(snapshot, researcher, tiny_base_model, settings):
    job = training_job_create(snapshot=snapshot, user=researcher, objective="bt", queue="gpu")
    estimate = job.config["memory_estimate"]
    assert estimate["strategy"] == "full"
    assert estimate["precision"] == "bf16"
    assert 0 < estimate["total"] < estimate["limit_gib"]


def test_an_8b_full_fine_tune_is_refused_on_an_80gb_queue_with_what_would_fit(tmp_path, snapshot, researcher, settings):
    name = offer(settings, config_only_model(tmp_path / "llama-8b", LLAMA_8B))
    settings.PREFSTACK_QUEUE_GPU_MEMORY_GB = {"gpu": 80}
    with pytest.raises(ValidationFailed) as refused:
        training_job_create(
            snapshot=snapshot, user=researcher, objective="bt", queue="gpu", base_model=name,
            hyperparameters={"max_length": 4096, "batch_size": 8},
        )  # fmt: skip
    error = refused.value
    assert error.code == "does_not_fit"
    assert "GiB per GPU" in error.message and "80 GB" in error.message
    assert error.extra["estimate"]["total"] > 80
    assert any("LoRA" in tip for tip in error.extra["suggestions"])
    assert not TrainingJob.objects.exists()
    # LoRA with activation checkpointing fits the same queue.
    job = training_job_create(
        snapshot=snapshot, user=researcher, objective="bt", queue="gpu", base_model=name,
        hyperparameters={"max_length": 4096, "batch_size": 8, "lora_r": 16, "gradient_checkpointing": True},
    )  # fmt: skip
    assert job.config["memory_estimate"]["strategy"] == "lora"
    assert job.config["stages"][0]["train"]["lora_r"] == 16


@pytest.mark.parametrize(
    ("case", "queue", "hyper", "message", "code"),
    [
        ("vision", "default", {}, "no sequence-classification architecture", "validation_failed"),
        ("no-pad", "default", {}, "neither a pad nor an EOS token", "validation_failed"),
        ("ok", "default", {"lora_r": 8, "qlora": True}, "QLoRA (4-bit base) needs a CUDA GPU", "invalid_combination"),
        ("ok", "default", {"qlora": True}, "QLoRA trains LoRA adapters", "invalid_combination"),
    ],
)
def test_bad_input_is_refused_before_anything_runs(
    tmp_path, snapshot, researcher, settings, case, queue, hyper, message, code
):
    if case == "vision":
        path = config_only_model(tmp_path / case, {"model_type": "clip_vision_model"})
    elif case == "no-pad":
        path = build_tiny_decoder_dir(tmp_path / case, "llama", pad=False, eos=False)
    else:
        path = build_tiny_decoder_dir(tmp_path / case, "qwen2")
    name = offer(settings, path)
    with pytest.raises(ValidationFailed, match=message.replace("(", r"\(").replace(")", r"\)")) as refused:
        training_job_create(
            snapshot=snapshot, user=researcher, objective="bt", queue=queue, base_model=name, hyperparameters=hyper
        )
    assert refused.value.code == code
    assert not TrainingJob.objects.exists()


@pytest.mark.parametrize(("name", "outside"), [("learning_rate", 0.0), ("batch_size", 2000), ("warmup_ratio", 1.0),
                                               ("margin_scale", 0.0), ("lora_dropout", 1.0), ("max_length", 8)])  # fmt: skip
def test_form_serializer_and_service_refuse_the_same_values(snapshot, tiny_base_model, name, outside):
    expected = BOUNDS[name].message()
    serializer = HyperParametersSerializer(data={name: outside})
    assert not serializer.is_valid()
    assert [str(e) for e in serializer.errors[name]] == [expected]

    form = TrainingJobForm(
        data={"snapshot": snapshot.id, "objective": "bt", "base_model": "tiny", "queue": "default",
              "learning_rate": 1e-4, "batch_size": 16, "epochs": 1, "max_length": 512, name: outside},
        snapshots=type(snapshot).objects.all(),
    )  # fmt: skip
    assert not form.is_valid()
    assert form.errors[name] == [expected]

    with pytest.raises(ValidationFailed) as refused:
        HyperParameters.from_mapping({name: outside})
    assert refused.value.extra["fields"][name].startswith(expected)
