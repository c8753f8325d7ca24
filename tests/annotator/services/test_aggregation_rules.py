import pytest

from annotator.errors import Conflict, NotFound, ValidationFailed
from annotator.models import AggregationRule
from annotator.services.aggregation_rules import (
    aggregation_rule_create,
    aggregation_rule_for_stats,
    aggregation_rule_version_create,
    aggregation_rules_ensure_defaults,
)
from annotator.stats.aggregation import HelpSteer2Rule, MeanRule, MedianRule

pytestmark = pytest.mark.django_db


def test_defaults_are_created_once_with_every_parameter_spelled_out() -> None:
    rules = aggregation_rules_ensure_defaults()
    assert [r.name for r in rules] == [
        "helpsteer2", "mean", "median", "helpsteer2-accepted", "mean-accepted", "median-accepted",
    ]  # fmt: skip
    assert all(r.version == 1 for r in rules)
    hs2 = AggregationRule.objects.get(name="helpsteer2")
    assert hs2.params == {
        "keep": 3, "max_helpfulness_spread": 2.0, "max_strength_spread": None, "helpfulness_attribute": "helpfulness",
        "min_annotations": 2, "accepted_reviews_only": False,
    }  # fmt: skip
    assert "away from zero" in hs2.description
    assert "tie" in hs2.description.lower()
    assert AggregationRule.objects.get(name="mean-accepted").params["accepted_reviews_only"] is True
    aggregation_rules_ensure_defaults()
    assert AggregationRule.objects.count() == 6


def test_stored_rules_turn_into_the_pure_rules() -> None:
    by_name = {r.name: r for r in aggregation_rules_ensure_defaults()}
    assert aggregation_rule_for_stats(by_name["helpsteer2"]) == HelpSteer2Rule()
    assert aggregation_rule_for_stats(by_name["median"]) == MedianRule()
    assert aggregation_rule_for_stats(by_name["mean-accepted"]) == MeanRule(accepted_reviews_only=True)


def test_a_new_version_keeps_the_old_one_unchanged() -> None:
    aggregation_rules_ensure_defaults()
    v2 = aggregation_rule_version_create(name="helpsteer2", params={"max_strength_spread": 2})
    assert (v2.version, v2.kind, v2.params["max_strength_spread"], v2.params["keep"]) == (2, "helpsteer2", 2, 3)
    v1 = AggregationRule.objects.get(name="helpsteer2", version=1)
    assert v1.params["max_strength_spread"] is None
    assert aggregation_rule_for_stats(v2) == HelpSteer2Rule(max_strength_spread=2)


def test_a_version_that_changes_nothing_is_refused() -> None:
    aggregation_rules_ensure_defaults()
    with pytest.raises(Conflict):
        aggregation_rule_version_create(name="mean", params={"round_to_integer": True})


def test_create_refuses_a_taken_name_and_bad_parameters() -> None:
    aggregation_rule_create(name="strict", kind="helpsteer2", params={"max_helpfulness_spread": 1})
    with pytest.raises(Conflict):
        aggregation_rule_create(name="strict", kind="mean")
    with pytest.raises(ValidationFailed) as caught:
        aggregation_rule_create(
            name="odd", kind="helpsteer2", params={"keep": 0, "round_to_integer": True, "max_strength_spread": "2"}
        )
    assert set(caught.value.extra["fields"]) == {"keep", "round_to_integer", "max_strength_spread"}
    with pytest.raises(ValidationFailed):
        aggregation_rule_create(name="odd", kind="mode")
    with pytest.raises(NotFound):
        aggregation_rule_version_create(name="nope", params={})


def test_the_default_helpsteer2_rule_states_its_preference_spread_threshold() -> None:
    (rule, *_) = aggregation_rules_ensure_defaults()
    assert rule.name == "helpsteer2"
    assert rule.params["max_strength_spread"] is None  # a visible parameter of the version
    assert "max_strength_spread = None" in rule.description
    assert "[-3, 0, 3] aggregate to 0" in rule.description


def test_save_creates_version_one_then_the_next_version_with_replaced_params() -> None:
    from annotator.services.aggregation_rules import aggregation_rule_save

    first = aggregation_rule_save(name="tight", kind="helpsteer2", params={"max_strength_spread": 2})
    assert (first.version, first.params["max_strength_spread"], first.params["keep"]) == (1, 2, 3)
    second = aggregation_rule_save(name="tight", kind="helpsteer2", params={"keep": 4, "accepted_reviews_only": True})
    assert second.version == 2
    # The form sends every parameter of the kind; one left out takes its default, not the old version's value.
    assert (second.params["keep"], second.params["max_strength_spread"]) == (4, None)
    assert second.params["accepted_reviews_only"] is True
    assert AggregationRule.objects.get(name="tight", version=1).params["keep"] == 3
    assert aggregation_rule_for_stats(second) == HelpSteer2Rule(keep=4, accepted_reviews_only=True)


def test_save_refuses_a_kind_change_bad_params_and_nothing_changed() -> None:
    from annotator.services.aggregation_rules import aggregation_rule_save

    aggregation_rule_save(name="plain", kind="mean", params={})
    with pytest.raises(ValidationFailed) as caught:
        aggregation_rule_save(name="plain", kind="median", params={})
    assert "kind" in caught.value.extra["fields"]
    with pytest.raises(ValidationFailed) as caught:
        aggregation_rule_save(name="plain", kind="mean", params={"keep": 3, "min_annotations": 0})
    assert set(caught.value.extra["fields"]) == {"keep", "min_annotations"}
    with pytest.raises(Conflict):
        aggregation_rule_save(name="plain", kind="mean", params={})
    with pytest.raises(ValidationFailed):
        aggregation_rule_save(name="odd", kind="nope", params={})
    assert AggregationRule.objects.filter(name__in=["plain", "odd"]).count() == 1
