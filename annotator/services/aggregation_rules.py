"""Aggregation rules: named, versioned recipes. A rule is never edited; a change is a new version of the same name.

The defaults follow HelpSteer2 (arXiv 2406.08673 §2.1) and HelpSteer2-Preference (arXiv 2410.01257): keep the three
annotators who agree most, take their mean rounded to the nearest integer, drop the comparison when either response's
helpfulness spread among them is above 2. The choices the papers leave open are written into the parameters
(``tie_break``, ``rounding``) so that a snapshot carries them. Each has an "accepted reviews only" twin.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import Max

from annotator.errors import Conflict, NotFound, ValidationFailed
from annotator.models import AggregationKind, AggregationRule

REVIEW_FILTERS = ("exclude_rejected", "accepted_only")
ROUNDINGS = ("half_away_from_zero", "half_to_even")

HELPSTEER2_TIE_BREAK = (
    "smallest helpfulness range over both responses, then smallest summed absolute pairwise distance over all "
    "attributes and the preference strength, then earliest submissions"
)

_COMMON: dict[str, Any] = {"review_filter": "exclude_rejected", "rounding": "half_away_from_zero"}
_HELPSTEER2: dict[str, Any] = {
    **_COMMON,
    "keep": 3,
    "spread_attribute": "helpfulness",
    "max_spread": 2,
    "tie_break": HELPSTEER2_TIE_BREAK,
}

DEFAULT_RULES: tuple[dict[str, Any], ...] = (
    {
        "name": "helpsteer2",
        "kind": AggregationKind.HELPSTEER2,
        "params": _HELPSTEER2,
        "description": (
            "HelpSteer2: the three annotators who agree most; mean rounded to the nearest integer (.5 away from "
            "zero); the comparison is dropped when either response's helpfulness spread among them is above 2. "
            "Preference: rounded mean of the three most similar strengths, with their justifications. "
            "Rejected annotations do not count."
        ),
    },
    {
        "name": "mean",
        "kind": AggregationKind.MEAN,
        "params": dict(_COMMON),
        "description": "Mean of every annotation, rounded to the nearest integer (.5 away from zero). Rejected annotations do not count.",
    },
    {
        "name": "median",
        "kind": AggregationKind.MEDIAN,
        "params": dict(_COMMON),
        "description": (
            "Median of every annotation (an even count takes the mean of the middle two, then rounds). "
            "Rejected annotations do not count."
        ),
    },
)


def _accepted_only(rule: dict[str, Any]) -> dict[str, Any]:
    return {
        **rule,
        "name": f"{rule['name']}-accepted",
        "params": {**rule["params"], "review_filter": "accepted_only"},
        "description": rule["description"].replace("Rejected annotations do not count.", "").strip()
        + " Only annotations a lead accepted count.",
    }


DEFAULT_RULES = DEFAULT_RULES + tuple(_accepted_only(r) for r in DEFAULT_RULES)


def aggregation_rule_params_check(*, kind: str, params: dict[str, Any]) -> dict[str, Any]:
    """The parameters of a rule of ``kind`` with defaults filled in; ValidationFailed names every bad field."""
    if kind not in AggregationKind.values:
        raise ValidationFailed(f"Unknown rule kind {kind!r}.", extra={"fields": {"kind": "Unknown kind."}})
    if not isinstance(params, dict):
        raise ValidationFailed("Parameters must be an object.", extra={"fields": {"params": "Must be an object."}})
    defaults = _HELPSTEER2 if kind == AggregationKind.HELPSTEER2 else _COMMON
    unknown = sorted(set(params) - set(defaults))
    errors: dict[str, str] = {name: "Unknown parameter." for name in unknown}
    merged = {**defaults, **params}
    if merged["review_filter"] not in REVIEW_FILTERS:
        errors["review_filter"] = f"One of {', '.join(REVIEW_FILTERS)}."
    if merged["rounding"] not in ROUNDINGS:
        errors["rounding"] = f"One of {', '.join(ROUNDINGS)}."
    if kind == AggregationKind.HELPSTEER2:
        keep, spread = merged["keep"], merged["max_spread"]
        if not isinstance(keep, int) or isinstance(keep, bool) or not 1 <= keep <= 10:
            errors["keep"] = "A whole number from 1 to 10."
        if not isinstance(spread, int | float) or isinstance(spread, bool) or spread < 0:
            errors["max_spread"] = "A number of scale points, 0 or more."
        if not isinstance(merged["spread_attribute"], str) or not merged["spread_attribute"]:
            errors["spread_attribute"] = "The name of an attribute."
    if errors:
        raise ValidationFailed("The rule's parameters are not valid.", extra={"fields": errors})
    return merged


@transaction.atomic
def aggregation_rule_create(
    *,
    name: str,
    kind: str,
    params: dict[str, Any] | None = None,
    description: str = "",
    created_by: AbstractBaseUser | None = None,
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
    created_by: AbstractBaseUser | None = None,
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
                defaults={"kind": spec["kind"], "params": spec["params"], "description": spec["description"]},
            )
        rules.append(rule)
    return rules
