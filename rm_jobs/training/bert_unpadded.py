"""The hand-written padding-free forward of BERT-family encoders (MiniLM, BERT): the one place where Prefstack
re-implements a model's internals, because transformers has no packed path for BERT.

Every linear layer runs over the real tokens only; padding is re-inserted only inside attention (CPU SDPA has no
variable-length kernel). ``tests/rm_jobs/training/test_bert_unpadded.py`` compares its logits and gradients with
the model's own padded forward.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from transformers.models.bert.modeling_bert import BertForSequenceClassification


def supports_unpadded(model: nn.Module) -> bool:
    """The padding-free path covers BERT encoders with absolute positions (MiniLM, BERT, …)."""
    return (
        type(model) is BertForSequenceClassification
        and getattr(model.config, "position_embedding_type", "absolute") == "absolute"
        and not model.config.is_decoder
        and not getattr(model.bert, "gradient_checkpointing", False)
    )


def unpadded_bert_logits(
    model: BertForSequenceClassification, input_ids: Tensor, attention_mask: Tensor, token_type_ids: Tensor | None
) -> Tensor:
    """``model(input_ids, attention_mask, token_type_ids).logits`` computed over real tokens only.

    Parameters
    ----------
    input_ids, attention_mask, token_type_ids : Tensor, shape (N, L)
        Right-padded batch (every row starts with [CLS]).

    Returns
    -------
    Tensor, shape (N, num_labels)
        Same values as the padded HF forward (up to float summation order).
    """
    bert: Any = model.bert  # transformers' modules are untyped; the attribute names are BERT's
    n, width = input_ids.shape
    real = attention_mask.reshape(-1).bool()
    index = real.nonzero().squeeze(1)  # (T,) positions of real tokens in the flattened (N·L) grid
    # [CLS] is column 0 of each row, so its place in the packed (T, H) activations is the row's start offset.
    cls_packed = torch.cumsum(attention_mask.sum(1), 0) - attention_mask.sum(1)

    embeddings = bert.embeddings
    positions = torch.arange(width, device=input_ids.device).repeat(n)[index]
    hidden = embeddings.word_embeddings(input_ids.reshape(-1)[index]) + embeddings.position_embeddings(positions)
    if token_type_ids is None:
        hidden = hidden + embeddings.token_type_embeddings.weight[0]
    else:
        hidden = hidden + embeddings.token_type_embeddings(token_type_ids.reshape(-1)[index])
    hidden = embeddings.dropout(embeddings.LayerNorm(hidden))

    key_mask = attention_mask.bool()[:, None, None, :]  # (N, 1, 1, L) True = may attend
    layers: list[Any] = list(bert.encoder.layer)
    for depth, layer in enumerate(layers):
        attention = layer.attention.self
        heads, head_dim = attention.num_attention_heads, attention.attention_head_size
        hidden_size = heads * head_dim
        last = depth == len(layers) - 1

        dropout_p = attention.dropout.p if model.training else 0.0
        if not last:
            weight = torch.cat([attention.query.weight, attention.key.weight, attention.value.weight])
            bias = torch.cat([attention.query.bias, attention.key.bias, attention.value.bias])
            query, key, value = _to_heads(F.linear(hidden, weight, bias), index, n, width, heads, head_dim)
            context = F.scaled_dot_product_attention(query, key, value, attn_mask=key_mask, dropout_p=dropout_p)
            context = context.transpose(1, 2).reshape(n * width, hidden_size).index_select(0, index)
            residual = hidden
        else:
            weight = torch.cat([attention.key.weight, attention.value.weight])
            bias = torch.cat([attention.key.bias, attention.value.bias])
            key, value = _to_heads(F.linear(hidden, weight, bias), index, n, width, heads, head_dim)
            residual = hidden.index_select(0, cls_packed)
            query = attention.query(residual).view(n, 1, heads, head_dim).transpose(1, 2)
            context = F.scaled_dot_product_attention(query, key, value, attn_mask=key_mask, dropout_p=dropout_p)
            context = context.transpose(1, 2).reshape(n, hidden_size)
        attended = layer.attention.output(context, residual)  # dense + dropout + LayerNorm(· + residual)
        hidden = layer.output(layer.intermediate(attended), attended)
    pooled = bert.pooler.activation(bert.pooler.dense(hidden)) if bert.pooler is not None else hidden
    logits: Tensor = model.classifier(model.dropout(pooled))
    return logits


def _to_heads(packed: Tensor, index: Tensor, rows: int, width: int, heads: int, head_dim: int) -> Tensor:
    """Packed projections (T, k·H) → padded per-head tensors (k, N, heads, L, d), zeros at the padding."""
    grid = packed.new_zeros(rows * width, packed.shape[-1]).index_copy(0, index, packed)
    return grid.view(rows, width, -1, heads, head_dim).permute(2, 0, 3, 1, 4)
