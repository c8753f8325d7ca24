"""Reward-model objectives compared in HelpSteer2-Preference (Wang et al. 2024, arXiv 2410.01257, §3 and Table 3).

Every function is pure: tensors in, per-example losses out (the caller takes the mean), no module state. Notation:
``r_c`` / ``r_r`` are the scalar rewards of the chosen / rejected response of a pair, shape ``(B,)``; ``m`` is the
magnitude of the preference strength (1 = slightly better, 2 = better, 3 = much better), shape ``(B,)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def bradley_terry(chosen_rewards: Tensor, rejected_rewards: Tensor) -> Tensor:
    """Bradley-Terry loss ``-log sigmoid(r_c - r_r)`` (Ouyang et al. 2022, arXiv 2203.02155, Eq. 1).

    Parameters
    ----------
    chosen_rewards, rejected_rewards : Tensor, shape (B,)
        Rewards of the preferred and the other response.

    Returns
    -------
    Tensor, shape (B,)
        Per-pair loss in nats; ``log 2`` when both rewards are equal. Ties (strength 0) carry no direction and are
        dropped before training (:func:`rm_jobs.training.data.drop_ties`), not here.
    """
    return -F.logsigmoid(chosen_rewards - rejected_rewards)


def margin_bradley_terry(chosen_rewards: Tensor, rejected_rewards: Tensor, margin: Tensor) -> Tensor:
    """Margin BT ``-log sigmoid(r_c - r_r - m)`` (Touvron et al. 2023, Llama 2, arXiv 2307.09288, Eq. 2).

    Parameters
    ----------
    chosen_rewards, rejected_rewards : Tensor, shape (B,)
    margin : Tensor, shape (B,)
        Required reward gap ``m`` (from the preference strength, see ``TrainConfig.margin_scale``).

    Returns
    -------
    Tensor, shape (B,)
        Per-pair loss; equals :func:`bradley_terry` when ``m = 0``.
    """
    return -F.logsigmoid(chosen_rewards - rejected_rewards - margin)


def scaled_bradley_terry(chosen_rewards: Tensor, rejected_rewards: Tensor, strength: Tensor) -> Tensor:
    """Scaled BT ``-|m| · log sigmoid(r_c - r_r)`` (Wang et al. 2024, HelpSteer2-Preference, arXiv 2410.01257, §3).

    The magnitude weights the pair as if it had been sampled ``|m|`` times; unlike margin BT it does not ask the
    reward gap to exceed ``m``.

    Parameters
    ----------
    chosen_rewards, rejected_rewards : Tensor, shape (B,)
    strength : Tensor, shape (B,)
        Preference strength; only its magnitude is used, so a tie (0) contributes exactly zero loss and gradient.

    Returns
    -------
    Tensor, shape (B,)
    """
    return -strength.abs() * F.logsigmoid(chosen_rewards - rejected_rewards)


def reward_centering(chosen_rewards: Tensor, rejected_rewards: Tensor) -> Tensor:
    """Auxiliary centring term ``(r_c + r_r)²`` (Eisenstein et al. 2023, arXiv 2312.09244, Eq. 2; TRL's
    ``center_rewards_coefficient``), multiplied by a small coefficient (0.01) by the caller.

    Returns
    -------
    Tensor, shape (B,)
        Zero exactly when the two rewards of a pair are opposite, pulling the mean reward towards 0.
    """
    return (chosen_rewards + rejected_rewards) ** 2


def masked_mse(predictions: Tensor, targets: Tensor, mask: Tensor) -> Tensor:
    """SteerLM regression loss: mean squared error over the rated attributes only (Wang et al. 2024, HelpSteer2,
    arXiv 2406.08673, §3; NeMo-Aligner ``reg_loss_func``: ``Σ mask·(ŷ-y)² / Σ mask``).

    Parameters
    ----------
    predictions : Tensor, shape (B, A)
        Head outputs, one per attribute.
    targets : Tensor, shape (B, A)
        Likert ratings (HelpSteer2: 0-4); values where ``mask`` is false are ignored, whatever they are.
    mask : Tensor of bool, shape (B, A)
        True where the attribute was rated.

    Returns
    -------
    Tensor, shape ()
        Mean over rated cells (pooled over the batch, as NeMo-Aligner does); 0 when nothing is rated.
    """
    mask_f = mask.to(predictions.dtype)
    # where() rather than multiplication: a NaN/placeholder target under the mask must not leak into the sum.
    squared = torch.where(mask, (predictions - targets) ** 2, torch.zeros_like(predictions))
    return squared.sum() / mask_f.sum().clamp_min(1.0)


def pairwise_loss(
    objective: str,
    chosen_rewards: Tensor,
    rejected_rewards: Tensor,
    strength: Tensor,
    *,
    margin_scale: float = 1.0,
    center_rewards_coefficient: float | None = None,
) -> Tensor:
    """Mean loss of a batch for one of ``bt`` / ``margin_bt`` / ``scaled_bt`` (+ optional centring).

    Parameters
    ----------
    objective : {"bt", "margin_bt", "scaled_bt"}
    chosen_rewards, rejected_rewards, strength : Tensor, shape (B,)
    margin_scale : float
        Margin BT uses ``m = margin_scale · |strength|``.
    center_rewards_coefficient : float or None
        Weight of :func:`reward_centering`.

    Returns
    -------
    Tensor, shape ()
    """
    if objective == "bt":
        per_pair = bradley_terry(chosen_rewards, rejected_rewards)
    elif objective == "margin_bt":
        per_pair = margin_bradley_terry(chosen_rewards, rejected_rewards, margin_scale * strength.abs())
    elif objective == "scaled_bt":
        per_pair = scaled_bradley_terry(chosen_rewards, rejected_rewards, strength)
    else:
        raise ValueError(f"not a pairwise objective: {objective!r}")
    loss = per_pair.mean()
    if center_rewards_coefficient:
        loss = loss + center_rewards_coefficient * reward_centering(chosen_rewards, rejected_rewards).mean()
    return loss
