"""LoRA and QLoRA reward models through ``peft`` (Hu et al. 2021, arXiv 2106.09685; Dettmers et al. 2023,
arXiv 2305.14314).

The adapters wrap the attention and MLP projections of every block; the reward head (``score`` for decoders,
``classifier`` for BERT) is trained in full through ``modules_to_save``. A saved model directory holds the merged
weights (``from_pretrained`` loads it like any other checkpoint) and the adapter itself in ``adapter/``, from
which a run resumes.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import torch
from torch import nn
from transformers import PreTrainedModel

from rm_jobs.training.config import TrainConfig
from rm_jobs.training.preflight import ModelInputError, check_device

ADAPTER_DIR_NAME = "adapter"

# Every projection of attention and MLP: what QLoRA found necessary to match full fine-tuning (§4 of the paper).
_DECODER_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
DEFAULT_TARGETS: dict[str, tuple[str, ...]] = {
    "llama": _DECODER_TARGETS,
    "qwen2": _DECODER_TARGETS,
    "qwen3": _DECODER_TARGETS,
    "mistral": _DECODER_TARGETS,
    "gemma": _DECODER_TARGETS,
    "gemma2": _DECODER_TARGETS,
    "gemma3_text": _DECODER_TARGETS,
    "bert": ("query", "key", "value", "attention.output.dense", "intermediate.dense", "output.dense"),
}
HEAD_NAMES = ("score", "classifier")


class LoraUnavailable(ModelInputError):
    """The LoRA/QLoRA request cannot run here (says what to change)."""


def target_modules(model: PreTrainedModel, config: TrainConfig) -> list[str]:
    """The configured targets, else the family's defaults."""
    if config.lora_target_modules:
        return list(config.lora_target_modules)
    model_type = str(getattr(model.config, "model_type", ""))
    if model_type not in DEFAULT_TARGETS:
        raise LoraUnavailable(
            f"no default LoRA target modules for model type {model_type!r}: set lora_target_modules "
            f"(e.g. {','.join(_DECODER_TARGETS)})"
        )
    return list(DEFAULT_TARGETS[model_type])


def head_name(model: nn.Module) -> str:
    """The attribute holding the reward head."""
    for name in HEAD_NAMES:
        if isinstance(getattr(model, name, None), nn.Module):
            return name
    raise LoraUnavailable(f"{type(model).__name__} has no 'score' or 'classifier' head to train with LoRA")


def check_qlora_supported(config: TrainConfig, device: torch.device) -> None:
    """QLoRA needs bitsandbytes' 4-bit CUDA kernels."""
    try:
        check_device(config, "cuda" if device.type == "cuda" else "cpu")
    except ModelInputError as error:
        raise LoraUnavailable(str(error)) from error
    try:
        import bitsandbytes  # noqa: F401
    except ImportError as error:
        raise LoraUnavailable(
            "QLoRA needs the bitsandbytes package on the GPU worker (pip install bitsandbytes)"
        ) from error


def quantization_config(compute_dtype: torch.dtype) -> Any:
    """NF4 with double quantization, the QLoRA paper's recipe."""
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(  # type: ignore[no-untyped-call]
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=compute_dtype,
    )


def apply_lora(model: PreTrainedModel, config: TrainConfig) -> nn.Module:
    """Wrap ``model`` in a ``PeftModel`` with adapters on the target modules and the head trained in full."""
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    if config.qlora:
        model = prepare_model_for_kbit_training(  # type: ignore[no-untyped-call]
            model,
            use_gradient_checkpointing=config.gradient_checkpointing,
            gradient_checkpointing_kwargs={"use_reentrant": False},
        )
    lora_config = LoraConfig(
        r=config.lora_r,
        # peft annotates an int, but only divides by r: a float alpha works.
        lora_alpha=config.lora_alpha if config.lora_alpha is not None else 2 * config.lora_r,  # type: ignore[arg-type]
        lora_dropout=config.lora_dropout,
        target_modules=target_modules(model, config),
        modules_to_save=[head_name(model)],
        task_type="SEQ_CLS",
    )
    peft_model: nn.Module = get_peft_model(model, lora_config)
    return peft_model


def is_peft(model: nn.Module) -> bool:
    """True for a ``PeftModel`` (checked without importing peft when it is absent)."""
    return any(cls.__module__.startswith("peft.") for cls in type(model).__mro__)


def base_transformer(model: nn.Module) -> PreTrainedModel:
    """The transformers model inside a ``PeftModel`` (adapters injected in place), or ``model`` itself."""
    inner: Any = model.get_base_model() if is_peft(model) else model  # type: ignore[operator]
    return inner  # type: ignore[no-any-return]


def load_adapter(model: nn.Module, directory: Path) -> None:
    """Put the weights of a saved adapter (``<checkpoint>/adapter``) into the freshly wrapped ``model``."""
    from peft import set_peft_model_state_dict
    from peft.utils.save_and_load import load_peft_weights

    set_peft_model_state_dict(model, load_peft_weights(str(directory / ADAPTER_DIR_NAME), device="cpu"))


def save_lora_model(model: nn.Module, directory: Path) -> None:
    """Write the adapter to ``directory/adapter`` and the merged model (plain ``from_pretrained`` layout) beside it.

    The merge runs on a copy on the CPU, so the live model keeps training with its adapter; a 4-bit base is
    dequantized into the copy's compute dtype by peft's ``merge_and_unload``.
    """
    model.save_pretrained(str(directory / ADAPTER_DIR_NAME))  # type: ignore[operator]
    merged_source: Any = copy.deepcopy(model).to("cpu")
    merged: PreTrainedModel = merged_source.merge_and_unload()
    for module in merged.modules():  # peft leaves its wrapper config attributes on the HF config
        if hasattr(module, "peft_config"):
            del module.peft_config
    merged.save_pretrained(str(directory))
