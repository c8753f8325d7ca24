"""Loading a sequence-classification model as a reward model, and the one forward every caller uses.

The reward is the raw head output (no sigmoid): one output for the BT family, one per attribute for regression.
BERT-family encoders read it at [CLS] (their pooler); decoders (Llama, Qwen2/3, Mistral, Gemma) at each sequence's
last real token of a right-padded batch, the token ``*ForSequenceClassification`` pools when the pad id is set.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor, nn
from transformers import (
    AutoConfig,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)
from transformers.models.bert.modeling_bert import BertForSequenceClassification

from rm_jobs.training.bert_unpadded import supports_unpadded, unpadded_bert_logits
from rm_jobs.training.config import TrainConfig
from rm_jobs.training.lora import apply_lora, base_transformer, check_qlora_supported, quantization_config
from rm_jobs.training.packing import (
    VARLEN_ATTENTION,
    flash_attention_available,
    packed_decoder_logits,
    supports_packing,
)
from rm_jobs.training.preflight import ModelInputError, check_model_dir

logger = logging.getLogger(__name__)

PrecisionMode = Literal["fp32", "bf16-mixed", "bf16"]


def load_tokenizer(path: str | Path) -> PreTrainedTokenizerBase:
    """Tokenizer from a local directory; a missing pad token falls back to EOS (decoder models)."""
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(path))
    except (ValueError, OSError) as error:
        raise ModelInputError(f"no usable tokenizer at {path}: {error}") from error
    if tokenizer.pad_token is None:
        if tokenizer.eos_token is None:
            raise ModelInputError(
                f"tokenizer at {path} has neither a pad nor an EOS token: set pad_token (or eos_token) in its "
                "tokenizer_config.json"
            )
        tokenizer.pad_token = tokenizer.eos_token
    # Rewards are read at the last real token of right-padded rows.
    tokenizer.padding_side = "right"
    return tokenizer


def precision_mode(config: TrainConfig, device: torch.device) -> PrecisionMode:
    """What ``config.precision`` means on ``device``: ``auto`` is bf16 on a bf16 GPU, today's measured choice on
    CPU (bf16 autocast with AMX/AVX512-BF16, ~2x fp32 there), fp32 elsewhere."""
    if config.precision != "auto":
        return config.precision
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16-mixed" if cpu_has_bf16_matmul() else "fp32"


def load_model(
    path: str | Path,
    config: TrainConfig,
    tokenizer: PreTrainedTokenizerBase,
    *,
    device: torch.device | None = None,
) -> nn.Module:
    """``AutoModelForSequenceClassification.from_pretrained`` with the head the objective needs.

    Pairwise objectives get a 1-output head. Starting them from a multi-attribute regression checkpoint keeps the
    ``config.reward_attribute`` row of its head (the "regression then Scaled BT" recipe of HelpSteer2-Preference,
    which takes the helpfulness output, NeMo-Aligner ``load_rm_head_weights``). Regression gets one output per
    attribute, named in ``id2label``. Weights load in the precision's storage dtype (bf16 for ``bf16``, and for a
    LoRA base under ``bf16-mixed``); with ``lora_r`` the result is a ``PeftModel``.
    """
    device = device or torch.device("cpu")
    check_model_dir(path)
    mode = precision_mode(config, device)
    frozen_base_in_bf16 = config.uses_lora and mode != "fp32"
    kwargs: dict[str, Any] = {"dtype": torch.bfloat16 if mode == "bf16" or frozen_base_in_bf16 else torch.float32}
    if config.qlora:
        check_qlora_supported(config, device)
        kwargs["quantization_config"] = quantization_config(torch.bfloat16 if mode != "fp32" else torch.float32)
        kwargs["device_map"] = {"": device.index or 0}
    labels = ("reward",) if config.is_pairwise else config.attributes
    hf_config = AutoConfig.from_pretrained(str(path))
    saved_labels = [hf_config.id2label[i] for i in sorted(hf_config.id2label)] if hf_config.id2label else []
    if config.is_pairwise and len(saved_labels) > 1 and config.reward_attribute in saved_labels:
        model = AutoModelForSequenceClassification.from_pretrained(str(path), **kwargs)
        _keep_head_row(model, saved_labels.index(config.reward_attribute))
    else:
        model = AutoModelForSequenceClassification.from_pretrained(
            str(path),
            num_labels=len(labels),
            id2label=dict(enumerate(labels)),
            label2id={name: i for i, name in enumerate(labels)},
            ignore_mismatched_sizes=True,
            **kwargs,
        )
    model.config.id2label = dict(enumerate(labels))
    model.config.label2id = {name: i for i, name in enumerate(labels)}
    model.config.problem_type = "regression"
    # Decoder heads read the rightmost non-pad token, so the pad id must be the tokenizer's (TRL issue #937).
    model.config.pad_token_id = tokenizer.pad_token_id
    if hasattr(model.config, "get_text_config"):  # composite configs pool with the text config's pad id (TRL #7318)
        model.config.get_text_config().pad_token_id = tokenizer.pad_token_id
    if config.disable_dropout:
        for module in model.modules():
            if isinstance(module, nn.Dropout):
                module.p = 0.0
    if config.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    if not config.uses_lora:
        loaded: PreTrainedModel = model
        return loaded
    head: Any = getattr(model, "score", None) or getattr(model, "classifier", None)
    if head is not None:
        head.float()  # the fully trained head keeps fp32 weights and AdamW states
    return apply_lora(model, config)


def _keep_head_row(model: PreTrainedModel, row: int) -> None:
    """Replace the n-output head by a 1-output head holding row ``row`` of the old weights."""
    num_labels = int(model.config.num_labels or 1)
    for name, module in reversed(list(model.named_modules())):
        if isinstance(module, nn.Linear) and module.out_features == num_labels:
            head = nn.Linear(module.in_features, 1, bias=module.bias is not None)
            with torch.no_grad():
                head.weight.copy_(module.weight[row : row + 1])
                if module.bias is not None and head.bias is not None:
                    head.bias.copy_(module.bias[row : row + 1])
            parent_name, _, attribute = name.rpartition(".")
            setattr(model.get_submodule(parent_name) if parent_name else model, attribute, head)
            model.config.num_labels = 1
            return
    raise ValueError(f"no {num_labels}-output linear head found in {type(model).__name__}")


class RewardModel(nn.Module):
    """Wraps the HF (or peft) model so DDP and autocast see one module whose forward returns ``(N, outputs)``.

    ``unpad`` picks the padding-free forward where the model has one: the hand-written BERT forward
    (:mod:`rm_jobs.training.bert_unpadded`), or the packed decoder forward (:mod:`rm_jobs.training.packing`) with
    FlashAttention-2 when installed on a GPU and the re-padding-inside-attention kernel elsewhere. Decoders without
    it run the padded backbone and read the head at each row's last real token, the same value.
    """

    def __init__(self, model: nn.Module, *, unpad: bool, max_length: int = 1 << 30) -> None:
        super().__init__()
        self.model = model
        hf = base_transformer(model)
        self.bert_unpad = unpad and supports_unpadded(hf)
        self.decoder = hasattr(hf, "score") and not getattr(hf.config, "is_encoder_decoder", False)
        self.pack = unpad and self.decoder and supports_packing(hf, max_length)
        if self.pack:
            device = next(hf.parameters()).device
            hf.set_attn_implementation("flash_attention_2" if flash_attention_available(device) else VARLEN_ATTENTION)

    @property
    def unpad(self) -> bool:
        """True when this wrapper runs a padding-free forward."""
        return self.bert_unpad or self.pack

    def forward(self, input_ids: Tensor, attention_mask: Tensor, token_type_ids: Tensor | None = None) -> Tensor:
        hf: Any = base_transformer(self.model)
        if self.bert_unpad:
            assert isinstance(hf, BertForSequenceClassification)
            return unpadded_bert_logits(hf, input_ids, attention_mask, token_type_ids)
        if self.pack:
            return packed_decoder_logits(hf, input_ids, attention_mask)
        if self.decoder:
            return padded_decoder_logits(hf, input_ids, attention_mask)
        kwargs: dict[str, Tensor] = {"input_ids": input_ids, "attention_mask": attention_mask}
        if token_type_ids is not None:
            kwargs["token_type_ids"] = token_type_ids
        logits: Tensor = hf(**kwargs).logits
        return logits


def padded_decoder_logits(model: Any, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
    """Head outputs ``(N, num_labels)`` at each right-padded row's last real token (by the attention mask, so a
    trailing token that happens to equal the pad id still counts); the head runs on N rows, not N x L."""
    backbone = getattr(model, model.base_model_prefix)
    hidden: Tensor = backbone(input_ids=input_ids, attention_mask=attention_mask, use_cache=False).last_hidden_state
    last = attention_mask.sum(1) - 1
    rows = torch.arange(hidden.shape[0], device=hidden.device)
    logits: Tensor = model.score(hidden[rows, last])
    return logits


def resolve_precision(config: TrainConfig, device: torch.device) -> torch.dtype | None:
    """The autocast dtype, or None for fp32 compute."""
    return None if precision_mode(config, device) == "fp32" else torch.bfloat16


def cpu_has_bf16_matmul() -> bool:
    """AMX-BF16 or AVX512-BF16 in /proc/cpuinfo (where bf16 autocast measured ~2x faster than fp32 here)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags
