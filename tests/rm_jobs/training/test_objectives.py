"""Objectives against hand-computed values and their defining invariants."""

from __future__ import annotations

import math

import pytest
import torch

from rm_jobs.training.objectives import (
    bradley_terry,
    margin_bradley_terry,
    masked_mse,
    pairwise_loss,
    reward_centering,
    scaled_bradley_terry,
)


def softplus(x: float) -> float:
    return math.log1p(math.exp(x))


def test_bradley_terry_hand_values() -> None:
    loss = bradley_terry(torch.tensor([1.0, 0.0, -2.0]), torch.tensor([0.0, 0.0, 1.0]))
    # -log sigmoid(d) = log(1 + e^{-d})
    assert loss.tolist() == pytest.approx([softplus(-1.0), math.log(2.0), softplus(3.0)], rel=1e-6)


def test_bradley_terry_swap_flips_the_sign_of_the_difference() -> None:
    chosen, rejected = torch.randn(64), torch.randn(64)
    # -log sigmoid(d) - (-log sigmoid(-d)) = -d for every d
    difference = bradley_terry(chosen, rejected) - bradley_terry(rejected, chosen)
    torch.testing.assert_close(difference, -(chosen - rejected))


def test_margin_bt_hand_values_and_zero_margin_is_bt() -> None:
    chosen, rejected = torch.tensor([1.0, 3.0]), torch.tensor([0.0, 0.0])
    loss = margin_bradley_terry(chosen, rejected, torch.tensor([1.0, 2.0]))
    assert loss.tolist() == pytest.approx([math.log(2.0), softplus(-1.0)], rel=1e-6)
    torch.testing.assert_close(margin_bradley_terry(chosen, rejected, torch.zeros(2)), bradley_terry(chosen, rejected))


def test_scaled_bt_hand_values_zero_on_ties_and_sign_of_strength_ignored() -> None:
    chosen = torch.tensor([1.0, 1.0, 0.5], requires_grad=True)
    rejected = torch.tensor([0.0, 0.0, 2.0])
    loss = scaled_bradley_terry(chosen, rejected, torch.tensor([3.0, 0.0, -2.0]))
    assert loss.tolist() == pytest.approx([3 * softplus(-1.0), 0.0, 2 * softplus(1.5)], rel=1e-6)
    loss[1].backward()
    assert chosen.grad is not None
    assert chosen.grad.abs().sum() == 0


def test_masked_mse_hand_value() -> None:
    predictions = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    targets = torch.tensor([[0.0, 2.0], [3.0, 0.0]])
    mask = torch.tensor([[True, True], [True, False]])
    assert float(masked_mse(predictions, targets, mask)) == pytest.approx(1.0 / 3.0)


def test_masked_mse_ignores_masked_cells_whatever_they_hold() -> None:
    predictions = torch.randn(8, 5, requires_grad=True)
    targets = torch.randint(0, 5, (8, 5)).float()
    mask = torch.rand(8, 5) > 0.4
    base = masked_mse(predictions, targets, mask)
    scrambled = torch.where(mask, targets, torch.full_like(targets, float("nan")))
    noisy = torch.where(mask, predictions, predictions + 100.0)
    torch.testing.assert_close(masked_mse(noisy, scrambled, mask), base)
    base.backward()
    assert predictions.grad is not None
    assert predictions.grad[~mask].abs().sum() == 0


def test_masked_mse_with_nothing_rated_is_zero() -> None:
    assert float(masked_mse(torch.ones(2, 3), torch.zeros(2, 3), torch.zeros(2, 3, dtype=torch.bool))) == 0.0


def test_reward_centering_and_its_coefficient() -> None:
    chosen, rejected, strength = torch.tensor([2.0, -1.0]), torch.tensor([1.0, 1.0]), torch.ones(2)
    assert reward_centering(chosen, rejected).tolist() == [9.0, 0.0]
    plain = pairwise_loss("bt", chosen, rejected, strength)
    centred = pairwise_loss("bt", chosen, rejected, strength, center_rewards_coefficient=0.01)
    assert float(centred - plain) == pytest.approx(0.01 * 4.5)


def test_pairwise_loss_dispatch_and_margin_scale() -> None:
    chosen, rejected, strength = torch.tensor([2.0]), torch.tensor([0.0]), torch.tensor([-2.0])
    assert float(pairwise_loss("bt", chosen, rejected, strength)) == pytest.approx(softplus(-2.0))
    assert float(pairwise_loss("margin_bt", chosen, rejected, strength, margin_scale=0.5)) == pytest.approx(
        softplus(-1.0)
    )
    assert float(pairwise_loss("scaled_bt", chosen, rejected, strength)) == pytest.approx(2 * softplus(-2.0))
    with pytest.raises(ValueError, match="not a pairwise objective"):
        pairwise_loss("regression", chosen, rejected, strength)
