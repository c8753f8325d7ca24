"""The memory planner: exact parameter counts of Llama-3.1-8B/70B from their configs, the model states and saved
activations measured on CPU for the tiny Llama and Qwen2, and the 70B plans of docs/scaling.md."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from rm_jobs.training.config import TrainConfig
from rm_jobs.training.memory import GIB, ModelShape, gpus_needed, plan_memory, suggestions
from rm_jobs.training.model import RewardModel, load_model, load_tokenizer

# config.json of meta-llama/Llama-3.1-8B-Instruct and -70B-Instruct (the fields the planner reads).
LLAMA_31_8B = {
    "model_type": "llama", "vocab_size": 128256, "hidden_size": 4096, "intermediate_size": 14336,
    "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8, "tie_word_embeddings": False,
}  # fmt: skip
LLAMA_31_70B = {
    "model_type": "llama", "vocab_size": 128256, "hidden_size": 8192, "intermediate_size": 28672,
    "num_hidden_layers": 80, "num_attention_heads": 64, "num_key_value_heads": 8, "tie_word_embeddings": False,
}  # fmt: skip


def test_parameter_counts_of_llama_3_1_match_the_published_models() -> None:
    assert ModelShape.from_config(LLAMA_31_8B).causal_lm_params() == 8_030_261_248
    assert ModelShape.from_config(LLAMA_31_70B).causal_lm_params() == 70_553_706_496
    # The reward model swaps the 128256-row LM head for a 1-output score.
    assert ModelShape.from_config(LLAMA_31_8B).reward_model_params() == 8_030_261_248 - 128256 * 4096 + 4096


def test_parameter_counts_equal_the_instantiated_tiny_models(tiny_decoder_dir: Path) -> None:
    model: Any = load_model(
        tiny_decoder_dir, TrainConfig(model_path=str(tiny_decoder_dir)), load_tokenizer(tiny_decoder_dir)
    )
    shape = ModelShape.from_config(model.config.to_dict())
    assert shape.reward_model_params() == sum(p.numel() for p in model.parameters())
    lora: Any = load_model(
        tiny_decoder_dir, TrainConfig(model_path=str(tiny_decoder_dir), lora_r=4), load_tokenizer(tiny_decoder_dir)
    )
    adapters = sum(p.numel() for n, p in lora.named_parameters() if "lora_" in n)
    assert shape.lora_params(4) == adapters


def test_model_states_and_activations_match_what_cpu_training_holds(tiny_decoder_dir: Path) -> None:
    """fp32 step on CPU: weights, gradients and AdamW states counted exactly; activations = the tensors autograd
    saves for the backward (parameters excluded), within 10 % of the plan."""
    model: Any = load_model(
        tiny_decoder_dir, TrainConfig(model_path=str(tiny_decoder_dir)), load_tokenizer(tiny_decoder_dir)
    )
    model.train()
    parameters = list(model.parameters())
    own = {p.untyped_storage().data_ptr() for p in parameters}
    saved: dict[int, int] = {}

    def keep(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in own:
            saved[storage.data_ptr()] = storage.nbytes()
        return tensor

    pairs, length = 4, 64
    ids = torch.randint(10, model.config.vocab_size, (2 * pairs, length))
    with torch.autograd.graph.saved_tensors_hooks(keep, lambda tensor: tensor):
        rewards = RewardModel(model, unpad=True)(ids, torch.ones_like(ids))
    optimizer = torch.optim.AdamW(parameters)
    rewards.sum().backward()
    optimizer.step()

    plan = plan_memory(
        ModelShape.from_config(model.config.to_dict()),
        strategy="full",
        precision="fp32",
        batch_size=pairs,
        max_length=length,
        device_overhead=False,
    )
    nbytes = lambda tensors: sum(t.numel() * t.element_size() for t in tensors)  # noqa: E731
    assert plan.weights == nbytes(parameters)
    assert plan.gradients == nbytes(p.grad for p in parameters)
    assert plan.optimizer == nbytes(v for s in optimizer.state.values() for k, v in s.items() if k != "step")
    measured = sum(saved.values())
    assert plan.activations == pytest.approx(measured, rel=0.10)


def test_activation_checkpointing_keeps_one_input_per_block(tiny_decoder_dir: Path) -> None:
    shape = ModelShape.from_config(
        load_model(
            tiny_decoder_dir, TrainConfig(model_path=str(tiny_decoder_dir)), load_tokenizer(tiny_decoder_dir)
        ).config.to_dict()
    )
    full = plan_memory(shape, precision="fp32", batch_size=4, max_length=64, device_overhead=False)
    checkpointed = plan_memory(
        shape, precision="fp32", batch_size=4, max_length=64, activation_checkpointing=True, device_overhead=False
    )
    assert checkpointed.activations < full.activations
    assert checkpointed.weights == full.weights


def test_the_70b_plans_of_the_scaling_notes() -> None:
    shape = ModelShape.from_config(LLAMA_31_70B)
    gpu = 80 * 1e9
    options: dict[str, Any] = {"precision": "bf16", "batch_size": 8, "max_length": 4096}
    # Full fine-tuning does not fit one GPU, nor 8 with DDP.
    assert plan_memory(shape, strategy="full", **options).total > gpu
    # FSDP2 + activation checkpointing over 8 x 80 GB: 16 B/param of sharded states is 139 GB per GPU, too much;
    # with the sharded states offloaded to host memory (FSDP2 CPUOffloadPolicy) it fits, or over 16+ GPUs.
    fsdp = plan_memory(shape, strategy="fsdp", gpus=8, activation_checkpointing=True, **options)
    assert fsdp.optimizer == pytest.approx(shape.reward_model_params())
    assert fsdp.total > gpu
    offloaded = plan_memory(shape, strategy="fsdp", gpus=8, activation_checkpointing=True, offload=True, **options)
    assert offloaded.total < gpu
    assert offloaded.host == pytest.approx(shape.reward_model_params() * 16 / 8)
    needed = gpus_needed(shape, gpu, strategy="fsdp", activation_checkpointing=True, **options)
    assert needed is not None and 16 <= needed <= 24
    # One GPU: QLoRA with activation checkpointing and a small batch.
    single = {"precision": "bf16", "batch_size": 1, "max_length": 4096, "activation_checkpointing": True}
    assert plan_memory(shape, strategy="qlora", **single).total < gpu
    assert plan_memory(shape, strategy="lora", **single).total > gpu  # a bf16 70B base alone is 141 GB
    tips = suggestions(shape, gpu, strategy="full", **options)
    assert any("FSDP over" in tip for tip in tips)
    assert plan_memory(shape, strategy="qlora", **single).weights / GIB < 40
