from __future__ import annotations

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models

# HelpSteer2's five attributes with the level wording of its guidelines (HelpSteer2 App. G.3, abridged).
HELPSTEER2_ATTRIBUTES: list[dict[str, object]] = [
    {
        "name": "helpfulness",
        "description": "Overall helpfulness of the response to the prompt.",
        "level_descriptions": [
            "Not helpful at all: misses the essence of the request or is wrong.",
            "Borderline unhelpful: mostly does not capture what the user was looking for.",
            "Partially helpful: misses the overall goal in some way.",
            "Mostly helpful: could be improved in some way.",
            "Perfectly helpful: aligned with the spirit of the prompt.",
        ],
    },
    {
        "name": "correctness",
        "description": "Inclusion of all pertinent facts without errors.",
        "level_descriptions": [
            "Completely incorrect: all information is wrong or missing.",
            "Mostly incorrect: more wrong than right.",
            "Partially incorrect: a mix of correct and incorrect information.",
            "Mostly correct: a small error or missing detail.",
            "Completely correct: accurate and complete.",
        ],
    },
    {
        "name": "coherence",
        "description": "Consistency and clarity of expression.",
        "level_descriptions": [
            "Completely incoherent: impossible to follow.",
            "Mostly incoherent: hard to follow, with contradictions.",
            "A little unclear: some parts need rereading.",
            "Mostly coherent: minor lapses in clarity.",
            "Perfectly coherent and clear.",
        ],
    },
    {
        "name": "complexity",
        "description": "Intellectual depth needed to write the response (higher is more complex, not better).",
        "level_descriptions": [
            "Basic: anyone who can read could write it.",
            "Simple: a schoolchild could write it.",
            "Intermediate: needs a high-school education.",
            "Advanced: needs university-level knowledge.",
            "Expert: needs deep domain expertise.",
        ],
    },
    {
        "name": "verbosity",
        "description": "Amount of detail relative to what the prompt asks for (higher is longer, not better).",
        "level_descriptions": [
            "Succinct: as short as possible.",
            "Pretty short: on the short side.",
            "Average length.",
            "Moderately long: on the longer side.",
            "Verbose: very long and detailed.",
        ],
    },
]


class Project(models.Model):
    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    guidelines = models.TextField(blank=True, help_text="Markdown shown to annotators.")
    licence = models.CharField(max_length=64, default="CC-BY-4.0")
    overlap = models.PositiveSmallIntegerField(
        default=3, validators=[MinValueValidator(1)], help_text="Annotators per comparison (k)."
    )
    adaptive_overlap_threshold = models.PositiveSmallIntegerField(
        default=2, help_text="Helpfulness spread above which extra annotators are asked for."
    )
    adaptive_overlap_extra = models.PositiveSmallIntegerField(default=2, help_text="Extra annotators asked for.")
    reservation_minutes = models.PositiveIntegerField(default=30, validators=[MinValueValidator(1)])
    min_justification_length = models.PositiveIntegerField(default=20)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.CheckConstraint(condition=models.Q(overlap__gte=1), name="project_overlap_positive")]

    def __str__(self) -> str:
        return self.name


class Attribute(models.Model):
    """A Likert attribute rated per response, with a description per scale level."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="attributes")
    name = models.SlugField(max_length=64)
    description = models.TextField(blank=True)
    scale_min = models.SmallIntegerField(default=0)
    scale_max = models.SmallIntegerField(default=4)
    level_descriptions = models.JSONField(default=list, blank=True, help_text="One text per level, lowest first.")
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["project_id", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="attribute_unique_name"),
            models.CheckConstraint(
                condition=models.Q(scale_max__gt=models.F("scale_min")), name="attribute_scale_order"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def levels(self) -> list[tuple[int, str]]:
        descriptions = list(self.level_descriptions or [])
        values = range(self.scale_min, self.scale_max + 1)
        return [(v, descriptions[i] if i < len(descriptions) else "") for i, v in enumerate(values)]


class Role(models.TextChoices):
    ANNOTATOR = "annotator", "Annotator"
    LEAD = "lead", "Data lead"
    RESEARCHER = "researcher", "Researcher"


class Membership(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "user", "role"], name="membership_unique_role")]

    def __str__(self) -> str:
        return f"{self.user} · {self.role} · {self.project}"
