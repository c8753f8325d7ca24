"""Plain Django forms for the jobs pages: they parse input; the services decide what is allowed."""

from __future__ import annotations

import json
from typing import Any

from django import forms

from annotator.errors import ApplicationError
from annotator.models import Snapshot
from rm_jobs.models import Objective, Queue
from rm_jobs.services.jobs import HyperParameters, base_model_choices
from rm_jobs.services.scoring import TURN_ROLES


class TrainingJobForm(forms.Form):
    snapshot = forms.ModelChoiceField(queryset=Snapshot.objects.none(), empty_label=None)
    objective = forms.ChoiceField(choices=Objective.choices, initial=Objective.SCALED_BT)
    base_model = forms.ChoiceField(choices=())
    queue = forms.ChoiceField(choices=Queue.choices, initial=Queue.DEFAULT, label="Device")
    learning_rate = forms.FloatField(initial=HyperParameters.learning_rate, min_value=1e-8, max_value=1e-2)
    batch_size = forms.IntegerField(initial=HyperParameters.batch_size, min_value=1, max_value=1024)
    epochs = forms.IntegerField(initial=HyperParameters.epochs, min_value=1, max_value=100)
    max_steps = forms.IntegerField(required=False, min_value=1, help_text="Empty: every epoch in full.")
    max_length = forms.IntegerField(initial=HyperParameters.max_length, min_value=16, max_value=32768)
    # The fields below may be left empty: the service's default applies.
    warmup_ratio = forms.FloatField(required=False, initial=HyperParameters.warmup_ratio, min_value=0.0, max_value=0.99)
    seed = forms.IntegerField(required=False, initial=HyperParameters.seed, min_value=0)
    margin_scale = forms.FloatField(
        required=False,
        initial=HyperParameters.margin_scale,
        min_value=0.01,
        max_value=10.0,
        help_text="Margin BT only.",
    )
    center_rewards_coefficient = forms.FloatField(
        required=False,
        min_value=0.0,
        max_value=1.0,
        label="Reward centring coefficient",
        help_text="Empty: off. 0.01 keeps rewards centred on zero (Eisenstein et al. 2023).",
    )
    expo_alpha = forms.FloatField(
        required=False,
        initial=HyperParameters.expo_alpha,
        min_value=0.0,
        max_value=10.0,
        label="ExPO alpha",
        help_text="0: off. Extrapolates the final weights away from where the last stage started (Zheng et al. 2024).",
    )
    num_threads = forms.IntegerField(
        required=False, min_value=1, max_value=256, label="CPU threads", help_text="Empty: every core of the worker."
    )

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
