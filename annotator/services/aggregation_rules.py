"""Aggregation rules: named, versioned recipes. A rule is never edited; a change is a new version of the same name.

A rule's ``kind`` names one of the pure rules of ``annotator.stats.aggregation`` and its ``params`` are that rule's
parameters, every one spelled out (defaults filled in), so a snapshot that copies them is self-explaining. The
defaults: HelpSteer2 (arXiv 2406.08673 §2.1 and HelpSteer2-Preference, arXiv 2410.01257), plain mean, median, each
with an "accepted reviews only" twin. The choices the papers leave open (which three "agree most", how .5 rounds)
are documented in ``annotator.stats.aggregation`` and in each default rule's description.
"""

from __future__ import annotations

from dataclasses import asdict, fields
from typing import Any

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import Max

from annotator.errors import Conflict, NotFound, ValidationFailed
from annotator.models import AggregationKind, AggregationRule
from annotator.stats.aggregation import RULE_CLASSES, HelpSteer2Rule, MeanRule, MedianRule, rule_for_kind

_HELPSTEER2_DESCRIPTION = (
    "HelpSteer2 (arXiv 2406.08673 §2.1): per response, the three annotators who agree most (smallest helpfulness "
    "range; ties: smallest summed distance over all attributes, then the earliest submissions); their mean rounded "
    "to the nearest integer, .5 away from zero; the comparison is dropped when either response's helpfulness "
    "spread among them is above 2. Preference: rounded mean of the three most similar strengths, keeping their "
    "justifications; by default (max_strength_spread = None) no comparison is dropped for preference disagreement, "
    "so strengths [-3, 0, 3] aggregate to 0 — set max_strength_spread in a new version to drop such comparisons."
)
_MEAN_DESCRIPTION = "Mean of every annotation, rounded to the nearest integer (.5 away from zero)."
_MEDIAN_DESCRIPTION = "Median of every annotation (an even count takes the mean of the middle two), then rounded."

DEFAULT_RULES: tuple[dict[str, Any], ...] = (
    {"name": "helpsteer2", "kind": AggregationKind.HELPSTEER2, "params": {}, "description": _HELPSTEER2_DESCRIPTION},
    {"name": "mean", "kind": AggregationKind.MEAN, "params": {}, "description": _MEAN_DESCRIPTION},
    {"name": "median", "kind": AggregationKind.MEDIAN, "params": {}, "description": _MEDIAN_DESCRIPTION},
    {
        "name": "helpsteer2-accepted",
        "kind": AggregationKind.HELPSTEER2,
        "params": {"accepted_reviews_only": True},
        "description": _HELPSTEER2_DESCRIPTION + " Only annotations a lead accepted count.",
    },
    {
        "name": "mean-accepted",
        "kind": AggregationKind.MEAN,
        "params": {"accepted_reviews_only": True},
        "description": _MEAN_DESCRIPTION + " Only annotations a lead accepted count.",
    },
    {
        "name": "median-accepted",
        "kind": AggregationKind.MEDIAN,
        "params": {"accepted_reviews_only": True},
        "description": _MEDIAN_DESCRIPTION + " Only annotations a lead accepted count.",
    },
)


def aggregation_rule_params_check(*, kind: str, params: dict[str, Any]) -> dict[str, Any]:
    """Every parameter of a rule of ``kind``, defaults filled in, as ``annotator.stats.aggregation`` takes them.

    Raises ValidationFailed naming each unknown or badly typed parameter.
    """
    if kind not in RULE_CLASSES:
        raise ValidationFailed(f"Unknown rule kind {kind!r}.", extra={"fields": {"kind": "Unknown kind."}})
    if not isinstance(params, dict):
        raise ValidationFailed("Parameters must be an object.", extra={"fields": {"params": "Must be an object."}})
    cls = RULE_CLASSES[kind]
    allowed = {f.name: f for f in fields(cls)}
    errors: dict[str, str] = dict.fromkeys(sorted(set(params) - set(allowed)), "Unknown parameter.")
    for name, value in params.items():
        if name not in allowed:
            continue
        default = getattr(cls(), name)
        if isinstance(default, bool):
            ok = isinstance(value, bool)
        elif name in ("keep", "min_annotations"):
            ok = isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 10
        elif name.startswith("max_"):
            ok = value is None or (isinstance(value, int | float) and not isinstance(value, bool) and value >= 0)
        else:
            ok = isinstance(value, str) and bool(value)
        if not ok:
            errors[name] = f"Not a valid value for {name} (default {default!r})."
    if errors:
        raise ValidationFailed("The rule's parameters are not valid.", extra={"fields": errors})
    try:  # the rule's own from-dict code has the last word (it is what a snapshot rebuilds the rule with)
        rule = rule_for_kind(kind, params)
    except ValueError as exc:
        raise ValidationFailed(str(exc), extra={"fields": {"params": str(exc)}}) from exc
    return asdict(rule)


def aggregation_rule_for_stats(rule: AggregationRule) -> HelpSteer2Rule | MeanRule | MedianRule:
    """The pure rule object ``annotator.stats.aggregation`` applies, built from a stored rule's kind and params."""
    return rule_for_kind(rule.kind, rule.params)


@transaction.atomic
def aggregation_rule_create(
    *,
    name: str,
    kind: str,
    params: dict[str, Any] | None = None,
    description: str = "",
    created_by: User | None = None,
) -> AggregationRule:
    """Version 1 of a new rule named ``name``. Conflict if the name is taken (make a new version instead)."""
    checked = aggregation_rule_params_check(kind=kind, params=params or {})
    if AggregationRule.objects.filter(name=name).exists():
        raise Conflict(f"A rule named {name!r} exists; create a new version of it instead.")
    try:
        with transaction.atomic():
            return AggregationRule.objects.create(
                name=name, version=1, kind=kind, params=checked, description=description, created_by=created_by
            )
    except IntegrityError as exc:  # a concurrent create of the same name
        raise Conflict(f"A rule named {name!r} exists; create a new version of it instead.") from exc


@transaction.atomic
def aggregation_rule_version_create(
    *,
    name: str,
    params: dict[str, Any],
    description: str | None = None,
    created_by: User | None = None,
) -> AggregationRule:
    """The next version of rule ``name``: same kind, ``params`` merged over the latest version's parameters.

    Earlier versions stay as they were, so every snapshot built with them can still be explained.
    """
    latest = AggregationRule.objects.select_for_update().filter(name=name).order_by("-version").first()
    if latest is None:
        raise NotFound(f"No rule named {name!r}.")
    checked = aggregation_rule_params_check(kind=latest.kind, params={**latest.params, **params})
    if checked == latest.params and description in (None, latest.description):
        raise Conflict("Nothing changed: the new version would equal the latest one.")
    version = (AggregationRule.objects.filter(name=name).aggregate(v=Max("version"))["v"] or 0) + 1
    return AggregationRule.objects.create(
        name=name,
        version=version,
        kind=latest.kind,
        params=checked,
        description=latest.description if description is None else description,
        created_by=created_by,
    )


@transaction.atomic
def aggregation_rule_save(
    *,
    name: str,
    kind: str,
    params: dict[str, Any],
    description: str = "",
    created_by: User | None = None,
) -> AggregationRule:
    """The rule page's one write: version 1 of a new name, or the next version of an existing one.

    A rule keeps its kind across versions (a snapshot's "helpsteer2 v3" must still be a HelpSteer2 rule), so a
    different kind under an existing name is refused; ``params`` replace the latest version's parameters (every
    unnamed one takes its default).
    """
    latest = AggregationRule.objects.select_for_update().filter(name=name).order_by("-version").first()
    if latest is None:
        return aggregation_rule_create(
            name=name, kind=kind, params=params, description=description, created_by=created_by
        )
    if latest.kind != kind:
        message = f"Rule {name!r} is a {latest.get_kind_display()} rule; give a rule of another kind a new name."
        raise ValidationFailed(message, extra={"fields": {"kind": message}})
    checked = aggregation_rule_params_check(kind=kind, params=params)
    return aggregation_rule_version_create(
        name=name, params=checked, description=description or latest.description, created_by=created_by
    )


@transaction.atomic
def aggregation_rules_ensure_defaults() -> list[AggregationRule]:
    """Create version 1 of each default rule that does not exist yet; return the defaults' latest versions.

    Idempotent, so ``load_demo``, migrations and tests may all call it.
    """
    rules: list[AggregationRule] = []
    for spec in DEFAULT_RULES:
        rule = AggregationRule.objects.filter(name=spec["name"]).order_by("-version").first()
        if rule is None:
            rule, _ = AggregationRule.objects.get_or_create(
                name=spec["name"],
                version=1,
                defaults={
                    "kind": spec["kind"],
                    "params": aggregation_rule_params_check(kind=spec["kind"], params=spec["params"]),
                    "description": spec["description"],
                },
            )
        rules.append(rule)
    return rules
