"""The hand-written padding-free BERT forward equals the model's own padded forward, in logits and gradients."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from test_model import random_batch

from rm_jobs.training.bert_unpadded import supports_unpadded
from rm_jobs.training.config import TrainConfig
from rm_jobs.training.model import RewardModel, load_model, load_tokenizer


@pytest.mark.parametrize("types", [False, True])
def test_unpadded_forward_matches_the_padded_hf_forward(tiny_model_dir: Path, types: bool) -> None:
    config = TrainConfig(model_path=str(tiny_model_dir), disable_dropout=True)
    model = load_model(tiny_model_dir, config, load_tokenizer(tiny_model_dir))
    ids, mask, token_types = random_batch(40, [17, 5, 30, 9], types=types)
    padded, unpadded = RewardModel(model, unpad=False), RewardModel(model, unpad=True)
    assert unpadded.unpad
    assert supports_unpadded(model)

    reference = padded(ids, mask, token_types)
    reference.sum().backward()
    expected = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
    model.zero_grad()
    result = unpadded(ids, mask, token_types)
    result.sum().backward()

    torch.testing.assert_close(result, reference, rtol=1e-5, atol=1e-6)
    for name, parameter in model.named_parameters():
        if "attention.self.key.bias" in name:  # softmax is shift-invariant: its gradient is 0 up to rounding
            continue
        assert parameter.grad is not None, name
        torch.testing.assert_close(parameter.grad, expected[name], rtol=1e-4, atol=1e-6, msg=name)
