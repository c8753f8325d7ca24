"""Fixtures: a tiny BERT reward model built from a config, and a simulated preference task it can learn."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
import torch
from tokenizers import Tokenizer
from tokenizers.models import WordLevel
from tokenizers.pre_tokenizers import Whitespace
from tokenizers.processors import TemplateProcessing
from transformers import BertConfig, BertForSequenceClassification, PreTrainedTokenizerFast

WORDS = [f"w{i}" for i in range(40)] + ["good", "bad"]
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]


def build_tiny_model_dir(directory: Path, *, num_labels: int = 1) -> Path:
    vocab = {token: i for i, token in enumerate(SPECIALS + WORDS)}
    backend = Tokenizer(WordLevel(vocab, unk_token="[UNK]"))
    backend.pre_tokenizer = Whitespace()
    backend.post_processor = TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, pad_token="[PAD]", unk_token="[UNK]", cls_token="[CLS]", sep_token="[SEP]"
    )
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=128,
        num_labels=num_labels,
        pad_token_id=0,
    )
    torch.manual_seed(0)
    BertForSequenceClassification(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model_dir(tmp_path_factory.mktemp("tiny-bert"))


def simulated_preferences(n: int, seed: int) -> list[dict[str, Any]]:
    """Pairs whose chosen response holds more "good" words than the rejected one; margin = the difference."""
    rng = random.Random(seed)
    rows = []
    for index in range(n):
        prompt = " ".join(rng.choices(WORDS[:40], k=rng.randint(2, 8)))
        good = rng.sample(range(5), 2)
        hi, lo = max(good), min(good)

        def response(k: int) -> str:
            words = rng.choices(WORDS[:40], k=rng.randint(4, 14)) + ["good"] * k
            rng.shuffle(words)
            return " ".join(words)

        rows.append(
            {"id": index, "prompt": prompt, "chosen": response(hi), "rejected": response(lo), "margin": float(hi - lo)}
        )
    return rows


def simulated_ratings(n: int, seed: int) -> list[dict[str, Any]]:
    """Rated responses: helpfulness = number of "good" words (0-4); correctness unrated for every third row."""
    rng = random.Random(seed)
    rows = []
    for index in range(n):
        k = rng.randint(0, 4)
        words = rng.choices(WORDS[:40], k=rng.randint(4, 12)) + ["good"] * k
        rng.shuffle(words)
        rows.append(
            {
                "prompt": [{"role": "user", "content": " ".join(rng.choices(WORDS[:40], k=3))}],
                "response": " ".join(words),
                "helpfulness": k,
                "correctness": None if index % 3 == 0 else 4 - k,
            }
        )
    return rows


# --- tiny decoders ------------------------------------------------------------------------------------------------
DECODER_SPECIALS = ["<pad>", "<unk>", "<s>", "</s>", "<|user|>", "<|assistant|>"]
CHAT_TEMPLATE = (
    "{% for m in messages %}{{ '<|' + m['role'] + '|> ' + m['content'] + ' ' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|> ' }}{% endif %}"
)


def build_tiny_decoder_dir(
    directory: Path, family: str, *, pad: bool = True, eos: bool = True, chat_template: bool = True
) -> Path:
    """A random-weight Llama or Qwen2 sequence classifier (2 layers, hidden 32, grouped-query attention) and a
    word-level tokenizer with BOS, optionally a pad token (Llama tokenizers have none), EOS and a chat template."""
    from tokenizers import decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForSequenceClassification, Qwen2Config, Qwen2ForSequenceClassification

    # A byte-level BPE trained on the test vocabulary: what Llama-3 and Qwen2 ship, so AutoTokenizer's
    # family-specific classes rebuild it from tokenizer.json as they would a real one.
    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=DECODER_SPECIALS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    backend.train_from_iterator([" ".join(WORDS)] * 20, trainer=trainer)
    vocab = backend.get_vocab()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token="<s>",
        unk_token="<unk>",
        eos_token="</s>" if eos else None,
        pad_token="<pad>" if pad else None,
        model_input_names=["input_ids", "attention_mask"],
    )
    if chat_template:
        tokenizer.chat_template = CHAT_TEMPLATE
    shape: dict[str, Any] = {
        "vocab_size": len(vocab), "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 128, "num_labels": 1,
        "pad_token_id": vocab["<pad>"], "bos_token_id": vocab["<s>"], "eos_token_id": vocab["</s>"],
    }  # fmt: skip
    torch.manual_seed(0)
    if family == "llama":
        model: Any = LlamaForSequenceClassification(LlamaConfig(**shape))
    elif family == "qwen2":
        model = Qwen2ForSequenceClassification(Qwen2Config(**shape))
    else:  # qwen3, mistral, gemma
        from transformers import AutoConfig, AutoModelForSequenceClassification

        config = AutoConfig.for_model(family, **shape, head_dim=8, sliding_window=None)
        model = AutoModelForSequenceClassification.from_config(config)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


@pytest.fixture(scope="session", params=["llama", "qwen2"])
def tiny_decoder_dir(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_decoder_dir(tmp_path_factory.mktemp(f"tiny-{request.param}"), request.param)
