"""The domain's words live in annotator.domain, and every layer takes them from there."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from annotator import domain
from annotator.models import AggregationKind, Attribute
from annotator.selectors.projects import project_attribute_list, project_attribute_names
from annotator.stats.aggregation import RULE_CLASSES, MeanRule, MedianRule, rule_for_kind
from annotator.stats.agreement import LIKERT_DOMAIN, STRENGTH_DOMAIN
from annotator.stats.simulation import SimulatedAnnotator, make_truth, simulate_annotations
from rm_jobs.training import TrainConfig
from tests.factories import ProjectFactory

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("value", "ok"), [(-3, True), (0, True), (3, True), (-4, False), (4, False), (2.0, False),
                                           (True, False), ("1", False), (None, False)])  # fmt: skip
def test_is_preference_strength(value: object, ok: bool) -> None:
    assert domain.is_preference_strength(value) is ok


def test_the_scales_agree_everywhere() -> None:
    low, high = domain.PREFERENCE_STRENGTH_RANGE
    assert STRENGTH_DOMAIN.tolist() == list(range(low, high + 1))
    assert LIKERT_DOMAIN.tolist() == list(range(domain.LIKERT_MIN, domain.LIKERT_MAX + 1))
    assert domain.NOT_RATABLE_STRENGTH not in STRENGTH_DOMAIN
    assert [spec["name"] for spec in domain.HELPSTEER2_ATTRIBUTE_SPECS] == list(domain.HELPSTEER2_ATTRIBUTES)
    assert TrainConfig(model_path="m").attributes == domain.HELPSTEER2_ATTRIBUTES
    assert domain.HELPFULNESS in domain.HELPSTEER2_ATTRIBUTES


def test_simulated_annotations_stay_on_the_scales() -> None:
    truth = make_truth(200, seed=3)
    pool = [SimulatedAnnotator(profile, seed=i, annotator_id=f"a{i}") for i, profile in enumerate(["random", "harsh"])]
    frame = simulate_annotations(truth, pool, per_comparison_k=2, seed=4)
    strengths = frame["strength"].dropna()
    assert set(strengths) <= set(STRENGTH_DOMAIN.tolist())
    assert set(strengths) == set(STRENGTH_DOMAIN.tolist())  # the random clicker reaches both ends
    ratings = frame[[f"r1_{a}" for a in domain.HELPSTEER2_ATTRIBUTES]].to_numpy()
    assert np.nanmin(ratings) >= domain.LIKERT_MIN
    assert np.nanmax(ratings) <= domain.LIKERT_MAX


def test_every_aggregation_kind_has_exactly_one_rule_class() -> None:
    assert set(AggregationKind.values) == set(RULE_CLASSES)
    assert {kind: cls.name for kind, cls in RULE_CLASSES.items()} == {kind: kind for kind in RULE_CLASSES}
    assert rule_for_kind("median", {"round_to_integer": False}) == MedianRule(round_to_integer=False)
    assert rule_for_kind("mean").statistic == "mean"
    assert not MeanRule(round_to_integer=False).rounds
    with pytest.raises(ValueError, match="Unknown aggregation rule"):
        rule_for_kind("mode")
    with pytest.raises(ValueError, match="Unknown parameters"):
        rule_for_kind("mean", {"keep": 3})


@pytest.mark.django_db
def test_attribute_order_and_default_scale_come_from_one_place() -> None:
    project = ProjectFactory(attributes=[{"name": "b"}, {"name": "a"}])
    Attribute.objects.filter(project=project).update(position=1)
    Attribute.objects.filter(project=project, name="a").update(position=0)
    assert project_attribute_names(project=project) == ["a", "b"]
    attribute = project_attribute_list(project=project)[0]
    assert (attribute.scale_min, attribute.scale_max) == domain.LIKERT_SCALE


# Literal spellings of the domain's words that must not come back outside annotator/domain.py.
_DUPLICATES = re.compile(
    r"\(-3, 3\)|range\(-3, 4\)|arange\(-3, 4|__gte=-3|__lte=3\b|from -3 to 3|min_value=-3|\(0, 4\)|\(\(0,\), \(4,\)\)"
    r"|\"helpfulness\", \"correctness\", \"coherence\"|\.order_by\(\"position\", \"id\"\)"
)
_ALLOWED = {"annotator/domain.py", "annotator/selectors/projects.py"}


def test_the_domain_words_are_spelled_once() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for folder in ("annotator", "rm_jobs")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if "migrations" not in path.parts and str(path.relative_to(ROOT)) not in _ALLOWED
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if _DUPLICATES.search(line)
    ]
    assert offenders == []


def test_every_strength_has_its_label_in_order() -> None:
    low, high = domain.PREFERENCE_STRENGTH_RANGE
    assert [value for value, _ in domain.PREFERENCE_STRENGTH_LABELS] == list(range(low, high + 1))
    assert "about the same" in dict(domain.PREFERENCE_STRENGTH_LABELS)[0]


def test_mean_and_median_rules_differ_only_in_their_statistic() -> None:
    assert MedianRule().as_dict()["params"] == MeanRule().as_dict()["params"]
    assert MedianRule() != MeanRule()  # a stored rule keeps its kind
    assert (MeanRule.statistic, MedianRule.statistic) == ("mean", "median")
