"""fp32 master weights for bf16 parameters (Micikevicius et al. 2018, arXiv 1710.03740, §3.1).

With ``precision="bf16"`` the model's weights and gradients are bf16 (half the memory of fp32 and no casts in the
matmuls), but AdamW runs on fp32 copies: its moments and the update ``lr · m / sqrt(v)`` are far below bf16's
resolution (8 bits of mantissa) and would round to nothing. After every step the fp32 result is copied back.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn


class MasterWeights:
    """Pairs each trainable low-precision parameter with an fp32 copy that the optimizer owns.

    fp32 parameters (a LoRA adapter, a head kept in fp32) are optimised in place and not copied.
    """

    def __init__(self, named: Sequence[tuple[str, nn.Parameter]]) -> None:
        self._pairs: list[tuple[str, nn.Parameter, nn.Parameter]] = []
        for name, parameter in named:
            if parameter.dtype == torch.float32:
                self._pairs.append((name, parameter, parameter))
            else:
                master = nn.Parameter(parameter.detach().float().clone())
                self._pairs.append((name, parameter, master))

    def named_parameters(self) -> list[tuple[str, nn.Parameter]]:
        """What the optimizer steps: the fp32 copies (and the parameters that were fp32 already)."""
        return [(name, master) for name, _, master in self._pairs]

    def parameters(self) -> list[nn.Parameter]:
        return [master for _, _, master in self._pairs]

    @torch.no_grad()
    def grads_to_master(self) -> None:
        """Move each bf16 gradient into its fp32 copy (the bf16 gradient is freed)."""
        for _, parameter, master in self._pairs:
            if master is parameter:
                continue
            master.grad = None if parameter.grad is None else parameter.grad.float()
            parameter.grad = None

    @torch.no_grad()
    def master_to_model(self) -> None:
        """Round the updated fp32 copies into the model's bf16 weights."""
        for _, parameter, master in self._pairs:
            if master is not parameter:
                parameter.copy_(master)

    def state(self) -> list[Tensor]:
        """The fp32 copies, for a checkpoint (the bf16 weights alone would lose their low bits on resume)."""
        return [master.detach().cpu() for _, parameter, master in self._pairs if master is not parameter]

    @torch.no_grad()
    def load_state(self, tensors: Sequence[Tensor]) -> None:
        copies = [master for _, parameter, master in self._pairs if master is not parameter]
        if len(copies) != len(tensors):
            raise ValueError(f"checkpoint has {len(tensors)} master weights, the model {len(copies)}")
        for master, tensor in zip(copies, tensors, strict=True):
            master.copy_(tensor)
        self.master_to_model()
