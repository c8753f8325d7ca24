"""Django forms for the lead's set-up pages. They parse input only; the services in
``annotator.services.projects`` decide what is allowed, and their field messages are put back on these forms."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from django import forms

from annotator.domain import (
    GUIDELINE_TASK_TYPES,
    HELPSTEER3_DOMAINS,
    LIKERT_SCALE,
    PREFERENCE_STRENGTH_MAX,
    PREFERENCE_STRENGTH_MIN,
    QUALIFICATION_COOLDOWN_MINUTES_DEFAULT,
    QUALIFICATION_MAX_ATTEMPTS_DEFAULT,
    QUALIFICATION_PASS_MARK_DEFAULT,
    SCOPE_MAX_LENGTH,
)
from annotator.errors import ApplicationError
from annotator.imports import IMPORT_FORMATS
from annotator.models import Attribute, Comparison, Project, Role, Split
from annotator.selectors.task_exports import TASK_FILE_TYPE_DEFAULT, TASK_FILE_TYPES
from annotator.stats.aggregation import RULE_CLASSES

IMPORT_FORMAT_LABELS = {
    "helpsteer2": "HelpSteer2 ratings (JSONL, JSON, CSV, Parquet)",
    "helpsteer2-disagreements": "HelpSteer2 disagreements (every annotator's scores)",
    "helpsteer2-preference": "HelpSteer2-Preference (preference strength, statements)",
    "helpsteer3": "HelpSteer3 (context, individual preferences)",
    "prefstack": "Prefstack JSONL",
}


def add_service_errors(form: forms.BaseForm, error: ApplicationError) -> None:
    """Show a service's ``ValidationFailed`` field messages beside the form's fields (the rest at the top)."""
    fields = error.extra.get("fields") or {}
    shown = False
    for name, message in fields.items():
        if name in form.fields:
            form.add_error(name, message)
            shown = True
    leftover = [m for n, m in fields.items() if n not in form.fields]
    if leftover or not shown:
        form.add_error(None, " ".join(leftover) if leftover else error.message)


class ProjectCreateForm(forms.Form):
    name = forms.CharField(max_length=200)
    slug = forms.SlugField(max_length=64, help_text="Letters, digits and hyphens; part of every project URL.")


# A feedback, edit or edit-quality project's settings (docs/task-types.md).
TASK_SETTING_FIELDS = (
    "task_type",
    "feedback_min_sentences",
    "feedback_max_sentences",
    "feedback_min_words",
    "feedback_max_words",
    "feedback_requires_opening",
)
# Settings a post may leave out (older clients, the demo, a form of an earlier version): left out means unchanged.
OPTIONAL_SETTING_FIELDS = (*TASK_SETTING_FIELDS, "queue_order")


class ProjectSettingsForm(forms.ModelForm):
    class Meta:
        model = Project
        fields = [
            "name",
            "licence",
            "overlap",
            "adaptive_overlap_threshold",
            "adaptive_overlap_extra",
            "reservation_minutes",
            "min_justification_length",
            "queue_order",
            "guidelines",
            *TASK_SETTING_FIELDS,
        ]
        labels = {
            "task_type": "Task type (fixed once the project has data)",
            "feedback_min_sentences": "Feedback: fewest sentences",
            "feedback_max_sentences": "Feedback: most sentences",
            "feedback_min_words": "Feedback: fewest words",
            "feedback_max_words": "Feedback: most words",
            "overlap": "Overlap k (annotators per comparison)",
            "adaptive_overlap_threshold": "Adaptive-overlap threshold (helpfulness spread)",
            "adaptive_overlap_extra": "Extra annotators when over the threshold",
            "reservation_minutes": "Reservation time (minutes)",
            "min_justification_length": "Minimum justification length (characters)",
            "queue_order": "Queue order",
            "guidelines": "Guidelines (Markdown)",
        }
        widgets = {"guidelines": forms.Textarea(attrs={"rows": 14, "class": "mono"})}

    feedback_requires_opening = forms.TypedChoiceField(
        label="Feedback: begins “The response is … helpful”",
        choices=[("yes", "Required"), ("no", "Not required")],
        coerce=lambda value: value == "yes",
        required=False,
        empty_value=None,
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # One Markdown box per task type (Project.task_guidelines), shown with the project's guidelines.
        saved = self.instance.task_guidelines or {}
        for name, label in GUIDELINE_TASK_TYPES:
            self.fields[f"guidelines_{name}"] = forms.CharField(
                required=False,
                label=f"Guidelines for {label[:1].lower()}{label[1:]} (Markdown)",
                initial=saved.get(name, ""),
                widget=forms.Textarea(attrs={"rows": 6, "class": "mono"}),
            )
        for name in OPTIONAL_SETTING_FIELDS:
            self.fields[name].required = False
        self.initial["feedback_requires_opening"] = "yes" if self.instance.feedback_requires_opening else "no"

    def task_guideline_fields(self) -> list[forms.BoundField]:
        return [self[f"guidelines_{name}"] for name, _ in GUIDELINE_TASK_TYPES]

    def settings(self) -> dict[str, Any]:
        """The cleaned settings as ``project_update`` takes them (task guidelines gathered into one mapping)."""
        data = {k: v for k, v in self.cleaned_data.items() if not k.startswith("guidelines_")}
        data["task_guidelines"] = {name: self.cleaned_data[f"guidelines_{name}"] for name, _ in GUIDELINE_TASK_TYPES}
        return data

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for name in OPTIONAL_SETTING_FIELDS:
            if cleaned.get(name) in (None, ""):
                cleaned.pop(name, None)
        return cleaned

    def _post_clean(self) -> None:
        # The service validates the model; a ModelForm would otherwise write the instance while validating.
        pass


class AttributeForm(forms.Form):
    """One attribute, with one text field per scale level (``level_<value>``)."""

    name = forms.SlugField(max_length=64)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    scale_min = forms.IntegerField(initial=0)
    scale_max = forms.IntegerField(initial=4)
    position = forms.IntegerField(min_value=0, required=False)

    def __init__(self, *args: Any, attribute: Attribute | None = None, **kwargs: Any) -> None:
        if attribute is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                "name": attribute.name,
                "description": attribute.description,
                "scale_min": attribute.scale_min,
                "scale_max": attribute.scale_max,
                "position": attribute.position,
                **{f"level_{value}": text for value, text in attribute.levels},
            }
        super().__init__(*args, **kwargs)
        self.attribute = attribute
        low, high = (attribute.scale_min, attribute.scale_max) if attribute else LIKERT_SCALE
        self.level_values = list(range(low, high + 1))
        for value in self.level_values:
            self.fields[f"level_{value}"] = forms.CharField(
                required=False, label=f"Level {value}", widget=forms.TextInput(attrs={"placeholder": "What it means"})
            )

    def level_fields(self) -> list[forms.BoundField]:
        return [self[f"level_{value}"] for value in self.level_values]

    def service_fields(self) -> dict[str, Any]:
        data = self.cleaned_data
        fields = {k: data[k] for k in ("name", "description", "scale_min", "scale_max")}
        if data.get("position") is not None:
            fields["position"] = data["position"]
        fields["level_descriptions"] = [data.get(f"level_{value}", "") for value in self.level_values]
        return fields


class MembershipAddForm(forms.Form):
    username = forms.CharField(max_length=150)
    role = forms.ChoiceField(choices=Role.choices, initial=Role.ANNOTATOR)


class MemberInviteForm(forms.Form):
    """A member invited by e-mail: an existing account with that address, or a new one (named ``username``, or
    after the address) that gets a one-time link to choose its password.

    Prefixed ``new`` so that it sits beside :class:`MembershipAddForm` on one page without clashing ids.
    """

    prefix = "new"
    email = forms.EmailField(label="E-mail")
    username = forms.CharField(
        max_length=150, required=False, label="Username (new accounts)", help_text="Empty: taken from the e-mail."
    )
    role = forms.ChoiceField(choices=Role.choices, initial=Role.ANNOTATOR)


class ImportForm(forms.Form):
    file = forms.FileField(
        help_text=".jsonl, .json, .csv or .parquet, optionally gzipped (.gz); all rows are imported or none."
    )
    fmt = forms.ChoiceField(
        label="Format", choices=[(f, IMPORT_FORMAT_LABELS.get(f, f)) for f in IMPORT_FORMATS], initial="prefstack"
    )
    domain = forms.CharField(
        required=False,
        max_length=SCOPE_MAX_LENGTH,
        help_text=f"For rows that do not say, e.g. {', '.join(HELPSTEER3_DOMAINS)}.",
    )
    language = forms.CharField(
        required=False,
        max_length=SCOPE_MAX_LENGTH,
        help_text="For rows that do not say: a natural language, or the programming language of code prompts.",
    )


class TaskImportForm(forms.Form):
    """A HelpSteer3 file of the project's task type (feedback, edit or edit_quality) and the split its rows go to."""

    file = forms.FileField(
        help_text=".jsonl, .json or .parquet, optionally gzipped (.gz, not Parquet); all rows are imported or none."
    )
    split = forms.ChoiceField(choices=Split.choices, initial=Split.TRAIN, required=False)

    def clean_split(self) -> str:
        return str(self.cleaned_data["split"] or Split.TRAIN)  # as the API: train unless the file is validation


class TaskExportForm(forms.Form):
    """What to download of a task project (the query of a download link): the API's ``TaskExportInput``."""

    file_type = forms.ChoiceField(choices=[(t, t) for t in TASK_FILE_TYPES], required=False)
    split = forms.ChoiceField(choices=Split.choices, required=False)
    edit_pairs = forms.BooleanField(required=False)

    def clean_file_type(self) -> str:
        return str(self.cleaned_data["file_type"] or TASK_FILE_TYPE_DEFAULT)


class GoldForm(forms.Form):
    """Expected ratings of both responses (``r1_<attribute>``, ``r2_<attribute>``), strength and tolerance.

    A blank rating means "not checked".
    """

    strength = forms.IntegerField(
        required=False,
        min_value=PREFERENCE_STRENGTH_MIN,
        max_value=PREFERENCE_STRENGTH_MAX,
        label=f"Preference strength ({PREFERENCE_STRENGTH_MIN} to +{PREFERENCE_STRENGTH_MAX})",
    )
    tolerance = forms.IntegerField(min_value=0, initial=1, label="Tolerance (±)")

    def __init__(self, *args: Any, comparison: Comparison, attributes: list[Attribute], **kwargs: Any) -> None:
        if "initial" not in kwargs:
            gold = comparison.gold_ratings or {}
            initial: dict[str, Any] = {"tolerance": comparison.gold_tolerance, "strength": gold.get("strength")}
            for key in ("1", "2"):
                for name, value in (gold.get(key) or {}).items():
                    initial[f"r{key}_{name}"] = value
            kwargs["initial"] = initial
        super().__init__(*args, **kwargs)
        self.attributes = attributes
        for key in ("1", "2"):
            for attribute in attributes:
                self.fields[f"r{key}_{attribute.name}"] = forms.IntegerField(
                    required=False,
                    min_value=attribute.scale_min,
                    max_value=attribute.scale_max,
                    label=attribute.name,
                    widget=forms.NumberInput(attrs={"class": "rating"}),
                )

    def rows(self) -> list[tuple[Attribute, forms.BoundField, forms.BoundField]]:
        return [(a, self[f"r1_{a.name}"], self[f"r2_{a.name}"]) for a in self.attributes]

    def gold_ratings(self) -> dict[str, Any]:
        data = self.cleaned_data
        gold: dict[str, Any] = {}
        for key in ("1", "2"):
            gold[key] = {
                a.name: data[f"r{key}_{a.name}"] for a in self.attributes if data.get(f"r{key}_{a.name}") is not None
            }
        if data.get("strength") is not None:
            gold["strength"] = data["strength"]
        return gold


class AggregationRuleForm(forms.Form):
    """A new rule, or the next version of one, on the lead's rules page.

    One field per parameter any rule kind has; :meth:`params` keeps those of the chosen kind (``RULE_CLASSES``)
    and the service checks them with the rule's own code. An empty spread threshold means "never drop".
    """

    name = forms.SlugField(max_length=64, help_text="An existing name gets a new version; a new name, version 1.")
    kind = forms.ChoiceField(choices=[(kind, kind) for kind in RULE_CLASSES])
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    keep = forms.IntegerField(min_value=1, max_value=10, required=False, label="keep (helpsteer2)")
    max_helpfulness_spread = forms.FloatField(min_value=0, required=False, help_text="Empty: never drop.")
    max_strength_spread = forms.FloatField(min_value=0, required=False, help_text="Empty: never drop.")
    min_annotations = forms.IntegerField(min_value=1, max_value=10, required=False)
    helpfulness_attribute = forms.SlugField(max_length=64, required=False)
    accepted_reviews_only = forms.BooleanField(required=False)
    round_to_integer = forms.BooleanField(required=False, label="round to integer (mean, median)")

    NULLABLE = ("max_helpfulness_spread", "max_strength_spread")

    @classmethod
    def initial_for(cls, *, name: str, kind: str, description: str, params: dict[str, Any]) -> dict[str, Any]:
        """The form's initial values for a rule: a new version of it starts from its current parameters."""
        return {"name": name, "kind": kind, "description": description, **params}

    def params(self) -> dict[str, Any]:
        """The chosen kind's parameters from the cleaned data; a blank optional number takes the default."""
        allowed = {f.name for f in fields(RULE_CLASSES[self.cleaned_data["kind"]])}
        params: dict[str, Any] = {}
        for name in allowed:
            value = self.cleaned_data.get(name)
            if value in (None, "") and name not in self.NULLABLE:
                continue
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            params[name] = value
        return params


class QualificationSetForm(forms.Form):
    """A qualification set: its scope, its settings, and its items as lines ``<gold comparison id>: <explanation>``."""

    name = forms.CharField(max_length=200)
    domain = forms.CharField(required=False, max_length=SCOPE_MAX_LENGTH, help_text="Empty: every domain.")
    language = forms.CharField(required=False, max_length=SCOPE_MAX_LENGTH, help_text="Empty: every language.")
    pass_mark = forms.FloatField(
        min_value=0.0, max_value=1.0, initial=QUALIFICATION_PASS_MARK_DEFAULT, label="Pass mark (share of items, 0–1)"
    )
    rating_tolerance = forms.IntegerField(min_value=0, initial=1, label="Rating tolerance (±)")
    strength_tolerance = forms.IntegerField(min_value=0, initial=1, label="Preference-strength tolerance (±)")
    max_attempts = forms.IntegerField(min_value=1, initial=QUALIFICATION_MAX_ATTEMPTS_DEFAULT, label="Attempts")
    cooldown_minutes = forms.IntegerField(
        min_value=0, initial=QUALIFICATION_COOLDOWN_MINUTES_DEFAULT, label="Wait after a failed attempt (minutes)"
    )
    items = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6, "class": "mono"}),
        help_text="One gold comparison per line: its id, a colon, and the explanation shown after the answer.",
    )

    def clean_items(self) -> list[tuple[int, str]]:
        parsed: list[tuple[int, str]] = []
        for number, line in enumerate(self.cleaned_data["items"].splitlines(), 1):
            if not line.strip():
                continue
            head, _, explanation = line.partition(":")
            if not head.strip().isdigit():
                raise forms.ValidationError(f"Line {number}: start with a comparison id, e.g. “12: why”.")
            parsed.append((int(head.strip()), explanation.strip()))
        return parsed
