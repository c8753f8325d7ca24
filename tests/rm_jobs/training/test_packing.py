"""Padding-free decoders: the packed forward gives the padded forward's rewards and gradients (tiny Llama, Qwen2).

Tolerance: fp32 on CPU, rtol 1e-5 / atol 1e-6 on rewards and rtol 1e-4 / atol 1e-6 on every gradient (only the
summation order differs between the packed and the padded computation).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from conftest import build_tiny_decoder_dir

from rm_jobs.training.config import TrainConfig
from rm_jobs.training.model import RewardModel, load_model, load_tokenizer
from rm_jobs.training.packing import VARLEN_ATTENTION, pack, supports_packing


def right_padded_batch(vocab: int, lengths: list[int], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(3)
    ids = torch.randint(10, vocab, (len(lengths), max(lengths)), generator=generator)
    mask = torch.zeros_like(ids)
    for row, length in enumerate(lengths):
        mask[row, :length] = 1
    return torch.where(mask.bool(), ids, pad_id), mask


def rewards_and_grads(reward_model: RewardModel, ids: torch.Tensor, mask: torch.Tensor) -> tuple[Any, dict[str, Any]]:
    reward_model.model.zero_grad()
    rewards = reward_model(ids, mask)
    (rewards * torch.linspace(-1, 1, rewards.shape[0])[:, None]).sum().backward()
    grads = {n: p.grad.clone() for n, p in reward_model.model.named_parameters() if p.grad is not None}
    return rewards.detach(), grads


def test_pack_restarts_positions_and_keeps_real_tokens_only() -> None:
    packed = pack(torch.tensor([[4, 5, 0], [6, 7, 8], [9, 0, 0]]), torch.tensor([[1, 1, 0], [1, 1, 1], [1, 0, 0]]))
    assert packed.input_ids.tolist() == [[4, 5, 6, 7, 8, 9]]
    assert packed.position_ids.tolist() == [[0, 1, 0, 1, 2, 0]]
    assert packed.cu_seqlens.tolist() == [0, 2, 5, 6]
    assert packed.last.tolist() == [1, 4, 5]
    assert packed.max_length == 3


@pytest.mark.parametrize("attention", [VARLEN_ATTENTION, "sdpa", "eager"])
def test_packed_forward_equals_the_padded_forward(tiny_decoder_dir: Path, attention: str) -> None:
    tokenizer = load_tokenizer(tiny_decoder_dir)
    model: Any = load_model(tiny_decoder_dir, TrainConfig(model_path=str(tiny_decoder_dir)), tokenizer)
    assert supports_packing(model, max_length=512)
    ids, mask = right_padded_batch(model.config.vocab_size, [17, 5, 30, 9, 1, 30], tokenizer.pad_token_id)

    padded = RewardModel(model, unpad=False)
    assert not padded.unpad
    expected, expected_grads = rewards_and_grads(padded, ids, mask)
    # The padded path reads the last real token: the value transformers' own pooling gives.
    with torch.no_grad():
        torch.testing.assert_close(expected, model(input_ids=ids, attention_mask=mask).logits, rtol=1e-5, atol=1e-6)

    packed = RewardModel(model, unpad=True)
    assert packed.pack
    # sdpa / eager with position_ids only: transformers builds the block-diagonal mask itself.
    model.set_attn_implementation(attention)
    actual, actual_grads = rewards_and_grads(packed, ids, mask)

    torch.testing.assert_close(actual, expected, rtol=1e-5, atol=1e-6)
    assert actual_grads.keys() == expected_grads.keys()
    for name, grad in expected_grads.items():
        torch.testing.assert_close(actual_grads[name], grad, rtol=1e-4, atol=1e-6, msg=name)


@pytest.mark.parametrize("family", ["qwen3", "mistral", "gemma"])
def test_the_other_families_pack_to_the_same_rewards_and_gradients(tmp_path: Path, family: str) -> None:
    model_dir = build_tiny_decoder_dir(tmp_path, family)
    tokenizer = load_tokenizer(model_dir)
    model: Any = load_model(model_dir, TrainConfig(model_path=str(model_dir)), tokenizer)
    assert model.config.model_type == family
    ids, mask = right_padded_batch(model.config.vocab_size, [12, 3, 20, 7], tokenizer.pad_token_id)
    expected, expected_grads = rewards_and_grads(RewardModel(model, unpad=False), ids, mask)
    packed = RewardModel(model, unpad=True)
    assert packed.pack
    actual, actual_grads = rewards_and_grads(packed, ids, mask)
    torch.testing.assert_close(actual, expected, rtol=1e-5, atol=1e-6)
    for name, grad in expected_grads.items():
        torch.testing.assert_close(actual_grads[name], grad, rtol=1e-4, atol=1e-6, msg=name)


def test_a_sliding_window_shorter_than_the_sequences_stays_padded(tiny_decoder_dir: Path) -> None:
    model: Any = load_model(
        tiny_decoder_dir, TrainConfig(model_path=str(tiny_decoder_dir)), load_tokenizer(tiny_decoder_dir)
    )
    model.config.sliding_window, model.config.use_sliding_window = 16, True
    assert not supports_packing(model, max_length=64)
    assert supports_packing(model, max_length=16)
