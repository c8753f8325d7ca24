"""The one configuration object of a reward-model training run.

It is frozen, holds plain values only (so it round-trips through JSON) and is written next to every checkpoint as
``prefstack_training_config.json``, so a checkpoint always says how it was made.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from annotator.domain import HELPFULNESS, HELPSTEER2_ATTRIBUTES

Objective = Literal["bt", "margin_bt", "scaled_bt", "regression"]
Precision = Literal["auto", "fp32", "bf16-mixed", "bf16"]
Toggle = Literal["auto", "on", "off"]
Scheduler = Literal["linear", "cosine", "constant"]
Strategy = Literal["auto", "ddp", "fsdp"]

CONFIG_FILE_NAME = "prefstack_training_config.json"
PRECISIONS: tuple[str, ...] = ("auto", "fp32", "bf16-mixed", "bf16")
# The LoRA rank a job of strategy "lora" gets when it sets none, and the one the memory planner assumes.
DEFAULT_LORA_RANK = 16


@dataclass(frozen=True)
class Bound:
    """The allowed range of one numeric setting a researcher may choose (the form, the API serializer and the job
    service all read :data:`BOUNDS`, so they agree)."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def contains(self, value: float) -> bool:
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or (value < self.high if self.high_open else value <= self.high)

    def message(self) -> str:
        """``Between 0 (excluded) and 0.01.`` style text."""

        def show(value: float) -> str:
            return f"{value:g}"

        if self.low is not None and self.high is not None:
            low = show(self.low) + (" (excluded)" if self.low_open else "")
            high = show(self.high) + (" (excluded)" if self.high_open else "")
            return f"Between {low} and {high}."
        if self.low is not None:
            return f"More than {show(self.low)}." if self.low_open else f"At least {show(self.low)}."
        assert self.high is not None
        return f"Less than {show(self.high)}." if self.high_open else f"At most {show(self.high)}."


# The ranges a job may ask for (TrainConfig itself accepts more, for the command line and tests).
BOUNDS: dict[str, Bound] = {
    "learning_rate": Bound(0.0, 1e-2, low_open=True),
    "batch_size": Bound(1, 1024),
    "epochs": Bound(1, 100),
    "max_steps": Bound(1, 10_000_000),
    "max_length": Bound(16, 32_768),
    "warmup_ratio": Bound(0.0, 1.0, high_open=True),
    "seed": Bound(0, 2**32 - 1),  # what numpy's and torch's generators take
    "save_every_steps": Bound(1, 10_000_000),
    "eval_every_steps": Bound(1, 10_000_000),
    "margin_scale": Bound(0.0, 10.0, low_open=True),
    "center_rewards_coefficient": Bound(0.0, 1.0),
    "expo_alpha": Bound(0.0, 10.0),
    "num_threads": Bound(1, 256),
    "lora_r": Bound(0, 1024),
    "lora_alpha": Bound(0.0, 4096.0, low_open=True),
    "lora_dropout": Bound(0.0, 1.0, high_open=True),
}


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides what a run computes and how fast.

    The objectives are those compared in HelpSteer2-Preference (Wang et al. 2024, arXiv 2410.01257, Table 3);
    see :mod:`rm_jobs.training.objectives`. The paper's best recipe, "regression then Scaled BT", is two runs:
    ``objective="regression", attributes=("helpfulness",)``, then ``objective="scaled_bt"`` with ``model_path`` set to
    the first run's checkpoint (``reward_attribute`` picks the head row that becomes the reward) and optionally
    ``expo_alpha > 0``.
    """

    # --- what is trained -------------------------------------------------------------------------------------------
    model_path: str
    """Local directory readable by ``AutoModelForSequenceClassification.from_pretrained`` (no hub access)."""
    objective: Objective = "bt"
    """``bt``: -log sigmoid(r_c - r_r); ``margin_bt``: -log sigmoid(r_c - r_r - m); ``scaled_bt``: -m log sigmoid(r_c - r_r);
    ``regression``: masked MSE over ``attributes``."""
    attributes: tuple[str, ...] = HELPSTEER2_ATTRIBUTES
    """Regression only: one head output per attribute, in this order. ``("helpfulness",)`` = helpfulness-only."""
    reward_attribute: str = HELPFULNESS
    """Pairwise objectives starting from a multi-output regression checkpoint keep only this head row as the reward."""
    margin_scale: float = 1.0
    """Margin BT: m = margin_scale · |preference strength| (NeMo-Aligner uses m = |strength|, i.e. 1.0)."""
    center_rewards_coefficient: float | None = None
    """Adds coef · mean((r_c + r_r)²) (Eisenstein et al. 2023, arXiv 2312.09244; TRL recommends 0.01)."""
    expo_alpha: float = 0.0
    """ExPO (Zheng et al. 2024, arXiv 2404.16792): final θ = θ_T + alpha (θ_T - θ_0); 0 disables it."""

    # --- data ------------------------------------------------------------------------------------------------------
    max_length: int = 512
    """Tokens per (prompt, response) sequence; the prompt is cut first (from its start), then the response's end."""
    batch_size: int = 16
    """Pairs per optimizer step for pairwise objectives (2x sequences in the forward), rows for regression."""
    group_by_length: bool = True
    """Batches are drawn from shuffled mega-batches sorted by length, so padding stays small."""
    length_group_factor: int = 50
    """Mega-batch = length_group_factor x batch_size examples (the value transformers' LengthGroupedSampler uses)."""

    # --- optimisation ----------------------------------------------------------------------------------------------
    learning_rate: float = 1e-4
    """Peak AdamW learning rate (TRL's default, so benchmark losses compare; use ~1e-5 or less for larger models)."""
    weight_decay: float = 0.0
    warmup_ratio: float = 0.0
    lr_scheduler: Scheduler = "linear"
    max_grad_norm: float | None = 1.0
    epochs: int = 1
    max_steps: int | None = None
    """Stops after this many optimizer steps even inside an epoch; None = ``epochs`` full passes."""
    seed: int = 42

    # --- speed -----------------------------------------------------------------------------------------------------
    precision: Precision = "auto"
    """Bytes per trained parameter (weights + gradients + AdamW states) in brackets; see docs/scaling.md.
    ``fp32`` [4+4+8]. ``bf16-mixed`` [4+4+8]: fp32 weights, bf16 autocast for the matmuls and activations.
    ``bf16`` [2+4, 4, 8]: bf16 weights and gradients, the optimizer keeps fp32 master weights (and turns the
    gradients into fp32 ones) and fp32 states; no casts in the matmuls, bf16 activations.
    ``auto``: on CPU today's measured choice (``bf16-mixed`` with AMX/AVX512-BF16, else ``fp32``); on a
    bf16-capable GPU ``bf16``. With LoRA the frozen base is stored in the compute dtype and the adapters in fp32."""
    unpad: Toggle = "auto"
    """Padding-free forward: every linear layer runs over real tokens only. BERT family: the hand-written forward
    (:mod:`rm_jobs.training.bert_unpadded`); decoders (Llama, Qwen2/3, Mistral, Gemma): the batch is packed into one
    row with restarting ``position_ids`` (:mod:`rm_jobs.training.packing`). Same rewards as the padded forward
    (checked by tests)."""
    gradient_checkpointing: bool = False
    """Recompute activations in backward: about +30 % compute, only worth it when memory runs out."""
    compile: bool = False
    """torch.compile the model; compile time does not pay back for short runs with varying shapes on CPU."""
    disable_dropout: bool = True
    """Dropout off (as TRL's default): the pairwise difference would otherwise see two noise draws."""
    num_threads: int | None = None
    """torch intra-op threads; None = torch's default."""
    strategy: Strategy = "auto"
    """Under torchrun: ``ddp`` (a full copy per rank; ``auto`` means DDP), or ``fsdp`` (FSDP2: weights, gradients and
    AdamW states sharded over the ranks, per transformer block; see :mod:`rm_jobs.training.distributed`)."""

    # --- parameter-efficient fine-tuning (peft) --------------------------------------------------------------------
    lora_r: int = 0
    """LoRA rank; 0 = full fine-tuning. The reward head is always trained in full (``modules_to_save``)."""
    lora_alpha: float | None = None
    """LoRA scaling numerator (update = alpha / r · B A); None = 2 · r."""
    lora_dropout: float = 0.0
    lora_target_modules: tuple[str, ...] = ()
    """Module names the adapters wrap; empty = the family's default (:data:`rm_jobs.training.lora.DEFAULT_TARGETS`)."""
    qlora: bool = False
    """Load the frozen base in 4-bit NF4 (bitsandbytes, CUDA only) under the LoRA adapters (Dettmers et al. 2023)."""

    # --- bookkeeping -----------------------------------------------------------------------------------------------
    save_every_steps: int = 200
    """Write a resumable checkpoint every N optimizer steps (and always when cancelled and at the end)."""
    eval_every_steps: int | None = None
    """Run validation every N steps (and at the end, when validation rows are given)."""
    keep_checkpoints: int = 2
    """How many intermediate ``checkpoint-<step>`` directories to keep (the newest)."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Free-form provenance (snapshot id, job id); saved, never read by the engine."""

    def __post_init__(self) -> None:
        if self.objective not in ("bt", "margin_bt", "scaled_bt", "regression"):
            raise ValueError(f"unknown objective {self.objective!r}")
        if self.objective == "regression" and not self.attributes:
            raise ValueError("regression needs at least one attribute")
        if self.strategy not in ("auto", "ddp", "fsdp"):
            raise ValueError(f"unknown strategy {self.strategy!r}: auto, ddp or fsdp")
        if self.batch_size < 1 or self.max_length < 8:
            raise ValueError("batch_size must be >= 1 and max_length >= 8")
        if self.precision not in ("auto", "fp32", "bf16-mixed", "bf16"):
            raise ValueError(f"unknown precision {self.precision!r} (auto, fp32, bf16-mixed or bf16)")
        if self.lora_r < 0 or not 0.0 <= self.lora_dropout < 1.0:
            raise ValueError("lora_r must be >= 0 (0 = full fine-tuning) and lora_dropout in [0, 1)")
        if self.qlora and self.lora_r == 0:
            raise ValueError("qlora trains LoRA adapters on a 4-bit base: set lora_r > 0")
        # Lists from JSON become tuples, so a loaded config equals the saved one.
        object.__setattr__(self, "attributes", tuple(self.attributes))
        object.__setattr__(self, "lora_target_modules", tuple(self.lora_target_modules))

    @property
    def uses_lora(self) -> bool:
        """True when adapters are trained instead of every weight."""
        return self.lora_r > 0

    @property
    def is_pairwise(self) -> bool:
        """True for the Bradley-Terry family, False for regression."""
        return self.objective != "regression"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error (a typo should not be silently ignored)."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown TrainConfig fields: {sorted(unknown)}")
        return cls(**data)

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    def save(self, directory: Path) -> None:
        """Write ``prefstack_training_config.json`` into ``directory``."""
        (directory / CONFIG_FILE_NAME).write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n")

    @classmethod
    def load(cls, directory: Path) -> TrainConfig:
        """Read the config saved by :meth:`save`."""
        return cls.from_dict(json.loads((directory / CONFIG_FILE_NAME).read_text()))
