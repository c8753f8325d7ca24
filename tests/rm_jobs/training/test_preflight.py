"""Checks that run before anything loads: architecture, tokenizer special tokens, QLoRA's device."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import build_tiny_decoder_dir

from rm_jobs.training.config import TrainConfig
from rm_jobs.training.preflight import ModelInputError, preflight, sequence_classification_model_types


def test_the_architecture_table_is_transformers_own() -> None:
    from transformers.models.auto.modeling_auto import MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES

    assert sequence_classification_model_types() == frozenset(MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES)
    assert {"llama", "qwen2", "qwen3", "mistral", "gemma", "bert"} <= sequence_classification_model_types()


def test_preflight_passes_a_tiny_decoder_and_returns_its_config(tmp_path: Path) -> None:
    build_tiny_decoder_dir(tmp_path, "qwen2")
    assert preflight(TrainConfig(model_path=str(tmp_path)), device_type="cpu")["model_type"] == "qwen2"


def test_preflight_refuses_what_cannot_train(tmp_path: Path) -> None:
    build_tiny_decoder_dir(tmp_path / "ok", "llama")
    with pytest.raises(ModelInputError, match=r"QLoRA.*needs a CUDA GPU"):
        preflight(TrainConfig(model_path=str(tmp_path / "ok"), lora_r=8, qlora=True), device_type="cpu")

    build_tiny_decoder_dir(tmp_path / "nopad", "llama", pad=False, eos=False)
    with pytest.raises(ModelInputError, match="neither a pad nor an EOS token"):
        preflight(TrainConfig(model_path=str(tmp_path / "nopad")), device_type="cpu")

    (tmp_path / "vision").mkdir()
    (tmp_path / "vision" / "config.json").write_text(json.dumps({"model_type": "clip_vision_model"}))
    with pytest.raises(ModelInputError, match="no sequence-classification architecture"):
        preflight(TrainConfig(model_path=str(tmp_path / "vision")), device_type="cuda")
