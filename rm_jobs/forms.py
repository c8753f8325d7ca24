"""Plain Django forms for the jobs pages: they parse input; the services decide what is allowed."""

from __future__ import annotations

import json
from typing import Any

from django import forms

from annotator.errors import ApplicationError
from annotator.models import QueueOrder, Snapshot
from rm_jobs.models import Objective, PrioritySignal, Queue, Strategy
from rm_jobs.services.jobs import HyperParameters, base_model_choices
from rm_jobs.services.scoring import TURN_ROLES
from rm_jobs.training.config import BOUNDS, PRECISIONS


def bound_validators(name: str) -> list[Any]:
    """A validator enforcing ``BOUNDS[name]`` (the range the job service checks too)."""
    bound = BOUNDS[name]

    def validate(value: Any) -> None:
        if value is not None and not bound.contains(value):
            raise forms.ValidationError(bound.message())

    return [validate]


class TrainingJobForm(forms.Form):
    snapshot = forms.ModelChoiceField(queryset=Snapshot.objects.none(), empty_label=None)
    objective = forms.ChoiceField(choices=Objective.choices, initial=Objective.SCALED_BT)
    base_model = forms.ChoiceField(choices=())
    queue = forms.ChoiceField(choices=Queue.choices, initial=Queue.DEFAULT, label="Device")
    gpus = forms.IntegerField(
        required=False,
        initial=1,
        min_value=1,
        max_value=1024,
        label="Devices",
        help_text="GPUs (or CPU processes) for one torchrun group; more than 1 or FSDP runs under torchrun.",
    )
    strategy = forms.ChoiceField(choices=Strategy.choices, initial=Strategy.AUTO, required=False)
    learning_rate = forms.FloatField(
        initial=HyperParameters.learning_rate, validators=bound_validators("learning_rate")
    )
    batch_size = forms.IntegerField(initial=HyperParameters.batch_size, validators=bound_validators("batch_size"))
    epochs = forms.IntegerField(initial=HyperParameters.epochs, validators=bound_validators("epochs"))
    max_steps = forms.IntegerField(
        required=False, validators=bound_validators("max_steps"), help_text="Empty: every epoch in full."
    )
    max_length = forms.IntegerField(initial=HyperParameters.max_length, validators=bound_validators("max_length"))
    # The fields below may be left empty: the service's default applies.
    warmup_ratio = forms.FloatField(
        required=False, initial=HyperParameters.warmup_ratio, validators=bound_validators("warmup_ratio")
    )
    seed = forms.IntegerField(required=False, initial=HyperParameters.seed, validators=bound_validators("seed"))
    margin_scale = forms.FloatField(
        required=False,
        initial=HyperParameters.margin_scale,
        validators=bound_validators("margin_scale"),
        help_text="Margin BT only.",
    )
    center_rewards_coefficient = forms.FloatField(
        required=False,
        validators=bound_validators("center_rewards_coefficient"),
        label="Reward centring coefficient",
        help_text="Empty: off. 0.01 keeps rewards centred on zero (Eisenstein et al. 2023).",
    )
    expo_alpha = forms.FloatField(
        required=False,
        initial=HyperParameters.expo_alpha,
        validators=bound_validators("expo_alpha"),
        label="ExPO alpha",
        help_text="0: off. Extrapolates the final weights away from where the last stage started (Zheng et al. 2024).",
    )
    num_threads = forms.IntegerField(
        required=False,
        validators=bound_validators("num_threads"),
        label="CPU threads",
        help_text="Empty: every core of the worker.",
    )
    precision = forms.ChoiceField(
        required=False,
        choices=[(p, p) for p in PRECISIONS],
        initial=HyperParameters.precision,
        help_text="auto: bf16 on a GPU, bf16 autocast on a CPU with AMX. Memory per choice: docs/scaling.md.",
    )
    gradient_checkpointing = forms.BooleanField(
        required=False, label="Activation checkpointing", help_text="Much less activation memory, ~30 % more compute."
    )
    lora_r = forms.IntegerField(
        required=False,
        initial=HyperParameters.lora_r,
        validators=bound_validators("lora_r"),
        label="LoRA rank",
        help_text="0: full fine-tuning. The reward head is always trained in full.",
    )
    lora_alpha = forms.FloatField(
        required=False, validators=bound_validators("lora_alpha"), label="LoRA alpha", help_text="Empty: 2 x rank."
    )
    lora_dropout = forms.FloatField(
        required=False,
        initial=HyperParameters.lora_dropout,
        validators=bound_validators("lora_dropout"),
        label="LoRA dropout",
    )
    qlora = forms.BooleanField(required=False, label="QLoRA (4-bit base, GPU queue only)")

    HYPER_FIELDS = (
        "learning_rate",
        "batch_size",
        "epochs",
        "max_steps",
        "max_length",
        "warmup_ratio",
        "seed",
        "margin_scale",
        "center_rewards_coefficient",
        "expo_alpha",
        "num_threads",
        "precision",
        "gradient_checkpointing",
        "lora_r",
        "lora_alpha",
        "lora_dropout",
        "qlora",
    )

    def __init__(self, *args: Any, snapshots: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        snapshot_field = self.fields["snapshot"]
        assert isinstance(snapshot_field, forms.ModelChoiceField)
        snapshot_field.queryset = snapshots
        snapshot_field.label_from_instance = lambda obj: f"v{obj.number} · {obj.name}"  # type: ignore[method-assign]
        names = list(base_model_choices())
        base = self.fields["base_model"]
        assert isinstance(base, forms.ChoiceField)
        base.choices = [(name, name) for name in names]
        base.initial = names[0] if names else None

    def devices(self) -> dict[str, Any]:
        """``gpus`` and ``strategy`` for the service (empty: one device, auto)."""
        return {
            "gpus": self.cleaned_data.get("gpus") or 1,
            "strategy": self.cleaned_data.get("strategy") or Strategy.AUTO,
        }

    def hyperparameters(self) -> dict[str, Any]:
        return {name: self.cleaned_data.get(name) for name in self.HYPER_FIELDS}


class EvaluationForm(forms.Form):
    snapshot = forms.ModelChoiceField(queryset=Snapshot.objects.none(), required=False, empty_label="—")
    file = forms.FileField(required=False, label="Benchmark file (.jsonl, .json, .parquet as released)")
    benchmark = forms.ChoiceField(
        required=False,
        initial="auto",
        choices=[
            ("auto", "Tell by its layout"),
            ("reward-bench", "RewardBench"),
            ("rewardbench2", "RewardBench 2"),
            ("rm-bench", "RM-Bench"),
            ("judgebench", "JudgeBench-style pairs"),
        ],
    )

    def __init__(self, *args: Any, snapshots: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["snapshot"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = snapshots
        field.label_from_instance = lambda obj: f"v{obj.number} · validation split"  # type: ignore[method-assign]


def add_service_errors(form: forms.Form, error: ApplicationError) -> None:
    """Show a service's error in place: on the fields it names, else on the form."""
    fields = error.extra.get("fields") if isinstance(error.extra, dict) else None
    placed = False
    if isinstance(fields, dict):
        for name, message in fields.items():
            if name in form.fields:
                form.add_error(name, str(message))
                placed = True
    if not placed:
        form.add_error(None, error.message)


SCORE_RESPONSE_FIELDS = 4
"""Response boxes on the scoring page; the API takes more per request."""


class ScoreForm(forms.Form):
    """A prompt (plain text, or a conversation as JSON turns) and one to four responses, for the scoring page."""

    prompt_format = forms.ChoiceField(
        choices=[("text", "Plain text"), ("turns", 'Conversation: JSON [{"role", "content"}, ...]')],
        initial="text",
        widget=forms.RadioSelect,
        label="Prompt is",
    )
    prompt = forms.CharField(strip=False, widget=forms.Textarea(attrs={"rows": 5, "class": "mono"}))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for index in range(1, SCORE_RESPONSE_FIELDS + 1):
            self.fields[f"response_{index}"] = forms.CharField(
                required=False, strip=False, label=f"Response {index}", widget=forms.Textarea(attrs={"rows": 3})
            )

    def response_fields(self) -> list[forms.BoundField]:
        return [self[f"response_{index}"] for index in range(1, SCORE_RESPONSE_FIELDS + 1)]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        responses = [data.get(f"response_{i}") or "" for i in range(1, SCORE_RESPONSE_FIELDS + 1)]
        data["responses"] = [r for r in responses if r.strip()]
        if not data["responses"]:
            self.add_error("response_1", "Give at least one response.")
        prompt = data.get("prompt")
        if prompt is not None and data.get("prompt_format") == "turns":
            try:
                turns = json.loads(prompt)
            except ValueError as exc:
                self.add_error("prompt", f"Not valid JSON: {exc}.")
            else:
                if not (
                    isinstance(turns, list)
                    and turns
                    and all(
                        isinstance(t, dict) and t.get("role") in TURN_ROLES and isinstance(t.get("content"), str)
                        for t in turns
                    )
                ):
                    roles = ", ".join(TURN_ROLES)
                    self.add_error("prompt", f"A conversation is a non-empty JSON list of {{role ({roles}), content}}.")
                else:
                    data["prompt"] = turns
        return data


class PriorityScoringForm(forms.Form):
    signal = forms.ChoiceField(choices=PrioritySignal.choices, initial=PrioritySignal.REWARD_UNCERTAINTY)

    def __init__(self, *args: Any, jobs: Any, **kwargs: Any) -> None:
        """``jobs``: the project's succeeded jobs (the view reads them through a selector)."""
        super().__init__(*args, **kwargs)
        field = forms.ModelChoiceField(
            queryset=jobs,
            required=False,
            empty_label="—",
            label="Reward model (a succeeded job)",
            help_text="Needed by the reward-model signals.",
        )
        field.label_from_instance = lambda obj: (  # type: ignore[method-assign]
            f"#{obj.id} · {obj.get_objective_display()} · snapshot v{obj.snapshot.number}"
        )
        self.fields["job"] = field


class QueueOrderForm(forms.Form):
    queue_order = forms.ChoiceField(choices=QueueOrder.choices, label="Queue order")
