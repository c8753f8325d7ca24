"""Decoder reward models (tiny Llama and Qwen2 built from configs): chat prompts, training end to end with the
packed forward, LoRA with merged saves and exact resume, bf16 with fp32 master weights, and refused inputs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from conftest import build_tiny_decoder_dir, simulated_preferences
from transformers import AutoModelForSequenceClassification

from rm_jobs.training import TrainConfig, score, train
from rm_jobs.training.checkpoint import STATE_FILE_NAME
from rm_jobs.training.data import build_pair_examples, render_prompt
from rm_jobs.training.lora import ADAPTER_DIR_NAME, LoraUnavailable
from rm_jobs.training.model import ModelInputError, RewardModel, check_model_dir, load_model, load_tokenizer


def decoder_config(model_dir: Path, **changes: Any) -> TrainConfig:
    base = TrainConfig(
        model_path=str(model_dir),
        batch_size=16,
        max_length=48,
        learning_rate=3e-3,
        precision="fp32",
        save_every_steps=0,
        num_threads=1,
    )
    return base.replace(**changes)


def test_multi_turn_helpsteer2_prompts_go_through_the_chat_template(tiny_decoder_dir: Path) -> None:
    tokenizer = load_tokenizer(tiny_decoder_dir)
    prompt = "w1 w2\n<extra_id_1>Assistant\nw3\n<extra_id_1>User\nw4"
    rendered = render_prompt(prompt, tokenizer)
    assert rendered == "<|user|> w1 w2 <|assistant|> w3 <|user|> w4 <|assistant|> "
    turns = [
        {"role": "user", "content": "w1 w2"},
        {"role": "assistant", "content": "w3"},
        {"role": "user", "content": "w4"},
    ]
    assert render_prompt(turns, tokenizer) == rendered
    pair = build_pair_examples([{"prompt": prompt, "chosen": "good", "rejected": "bad", "margin": 1.0}], tokenizer, 64)
    assert tokenizer.decode(pair[0].chosen.input_ids) == rendered + "good"


def test_a_decoder_learns_with_the_packed_forward_and_saves_a_plain_checkpoint(
    tmp_path: Path, tiny_decoder_dir: Path
) -> None:
    result = train(
        decoder_config(tiny_decoder_dir, max_steps=60),
        simulated_preferences(960, seed=0),
        simulated_preferences(128, seed=1),
        output_dir=tmp_path,
    )
    assert result.validation is not None
    assert result.validation.accuracy > 0.75  # chance is 0.5
    loaded = AutoModelForSequenceClassification.from_pretrained(str(result.model_dir))
    assert loaded.config.pad_token_id == load_tokenizer(tiny_decoder_dir).pad_token_id
    rewards = score(result.model_dir, [("w1", "good good good w3"), ("w1", "w2 w3 w4 w5")])
    assert rewards[0] > rewards[1]


def test_lora_trains_the_adapters_and_the_head_only_and_saves_merged_weights(
    tmp_path: Path, tiny_decoder_dir: Path
) -> None:
    config = decoder_config(tiny_decoder_dir, lora_r=4, max_steps=3)
    tokenizer = load_tokenizer(tiny_decoder_dir)
    model: Any = load_model(tiny_decoder_dir, config, tokenizer)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n or ".score." in n for n in trainable)
    assert any("q_proj.lora_A" in n for n in trainable) and any("down_proj.lora_B" in n for n in trainable)

    result = train(config, simulated_preferences(96, seed=3), output_dir=tmp_path)
    assert (result.model_dir / ADAPTER_DIR_NAME / "adapter_config.json").exists()
    merged = AutoModelForSequenceClassification.from_pretrained(str(result.model_dir))
    assert not any("lora" in name for name in merged.state_dict())
    # The merged checkpoint scores like base + adapter.
    from peft import PeftModel

    base = AutoModelForSequenceClassification.from_pretrained(str(tiny_decoder_dir), num_labels=1)
    base.config.pad_token_id = tokenizer.pad_token_id
    adapted = PeftModel.from_pretrained(base, str(result.model_dir / ADAPTER_DIR_NAME))
    ids = torch.tensor([[10, 11, 12, 13], [14, 15, 0, 0]])
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0]])
    with torch.no_grad():
        expected = RewardModel(adapted, unpad=False)(ids, mask)
        actual = RewardModel(merged, unpad=False)(ids, mask)
    torch.testing.assert_close(actual, expected, rtol=1e-4, atol=1e-5)
    original = AutoModelForSequenceClassification.from_pretrained(str(tiny_decoder_dir))
    assert not torch.equal(merged.score.weight, original.score.weight)  # the head was trained in full
    assert not torch.equal(
        merged.model.layers[0].self_attn.q_proj.weight, original.model.layers[0].self_attn.q_proj.weight
    )
    torch.testing.assert_close(merged.model.embed_tokens.weight, original.model.embed_tokens.weight)  # frozen


def test_lora_resume_gives_the_same_weights_as_an_uninterrupted_run(tmp_path: Path, tiny_decoder_dir: Path) -> None:
    rows = simulated_preferences(128, seed=2)
    config = decoder_config(tiny_decoder_dir, lora_r=4, lora_dropout=0.1, epochs=2, disable_dropout=False)
    whole = train(config, rows, output_dir=tmp_path / "whole")
    calls = iter(range(1000))
    stopped = train(config, rows, output_dir=tmp_path / "parts", should_stop=lambda: next(calls) == 5)
    assert stopped.cancelled and stopped.steps == 5
    assert (stopped.checkpoint_dir / ADAPTER_DIR_NAME).is_dir()
    resumed = train(config, rows, output_dir=tmp_path / "parts", resume_from=stopped.checkpoint_dir)
    assert resumed.steps == whole.steps == 16
    expected = AutoModelForSequenceClassification.from_pretrained(str(whole.model_dir)).state_dict()
    actual = AutoModelForSequenceClassification.from_pretrained(str(resumed.model_dir)).state_dict()
    for name, tensor in expected.items():
        torch.testing.assert_close(actual[name], tensor, rtol=0, atol=0, msg=name)


def test_bf16_keeps_bf16_weights_and_fp32_optimizer_states_and_resumes_exactly(
    tmp_path: Path, tiny_decoder_dir: Path
) -> None:
    rows = simulated_preferences(96, seed=4)
    config = decoder_config(tiny_decoder_dir, precision="bf16", learning_rate=1e-3)
    whole = train(config, rows, output_dir=tmp_path / "whole")
    saved = AutoModelForSequenceClassification.from_pretrained(str(whole.model_dir))
    assert saved.config.dtype == torch.bfloat16
    state = torch.load(whole.checkpoint_dir / STATE_FILE_NAME, weights_only=False)
    moments = [s["exp_avg"] for s in state["optimizer"]["state"].values()]
    assert moments and all(m.dtype == torch.float32 for m in moments)
    assert state["master"] and all(t.dtype == torch.float32 for t in state["master"])

    calls = iter(range(1000))
    stopped = train(config, rows, output_dir=tmp_path / "parts", should_stop=lambda: next(calls) == 3)
    resumed = train(config, rows, output_dir=tmp_path / "parts", resume_from=stopped.checkpoint_dir)
    expected = AutoModelForSequenceClassification.from_pretrained(str(whole.model_dir)).state_dict()
    actual = AutoModelForSequenceClassification.from_pretrained(str(resumed.model_dir)).state_dict()
    for name, tensor in expected.items():
        torch.testing.assert_close(actual[name], tensor, rtol=0, atol=0, msg=name)


def test_qlora_without_cuda_is_refused_with_what_to_change(tiny_decoder_dir: Path) -> None:
    config = decoder_config(tiny_decoder_dir, lora_r=4, qlora=True)
    with pytest.raises(LoraUnavailable, match=r"needs a CUDA GPU.*turn qlora off"):
        load_model(tiny_decoder_dir, config, load_tokenizer(tiny_decoder_dir), device=torch.device("cpu"))


def test_a_model_without_a_classification_architecture_is_refused(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "clip_vision_model"}))
    with pytest.raises(ModelInputError, match=r"no sequence-classification architecture.*Llama"):
        check_model_dir(tmp_path)
    with pytest.raises(ModelInputError, match=r"has no config\.json"):
        check_model_dir(tmp_path / "missing")


def test_a_tokenizer_without_pad_or_eos_is_refused(tmp_path: Path) -> None:
    build_tiny_decoder_dir(tmp_path, "llama", pad=False, eos=False)
    with pytest.raises(ModelInputError, match="neither a pad nor an EOS token: set pad_token"):
        load_tokenizer(tmp_path)


def test_a_llama_tokenizer_without_pad_falls_back_to_eos(tmp_path: Path) -> None:
    build_tiny_decoder_dir(tmp_path, "llama", pad=False)
    tokenizer = load_tokenizer(tmp_path)
    assert tokenizer.pad_token == tokenizer.eos_token == "</s>"
    assert tokenizer.padding_side == "right"
