"""Strict reading of API input: JSON values of their fields' types, query strings one value per parameter."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework import serializers

from annotator.api.inputs import json_type_errors


class Inner(serializers.Serializer):
    ratio = serializers.FloatField()


class Body(serializers.Serializer):
    name = serializers.CharField(required=False)
    count = serializers.IntegerField(required=False)
    ratio = serializers.FloatField(required=False, allow_null=True)
    flag = serializers.BooleanField(required=False)
    ids = serializers.ListField(child=serializers.IntegerField(), required=False)
    scores = serializers.DictField(child=serializers.FloatField(), required=False)
    inner = Inner(required=False)
    anything = serializers.JSONField(required=False)
    choice = serializers.ChoiceField(choices=["a", "b"], required=False)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": "x", "count": 3, "ratio": 0.5, "flag": False, "ids": [1, 2], "scores": {"a": 1}},
        {"count": 2.0, "ratio": 1, "inner": {"ratio": 2}},  # 2.0 is a JSON Schema integer; 1 a number
        {"ratio": None, "anything": [True, "x", {"y": 1}], "unknown": [0]},
    ],
)
def test_values_of_their_fields_json_type_pass(body: dict[str, Any]) -> None:
    assert json_type_errors(Body(), body) == {}


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"name": 0}, {"name": ["Expected a string."]}),
        ({"count": "5"}, {"count": ["Expected an integer."]}),
        ({"count": True}, {"count": ["Expected an integer."]}),
        ({"count": 2.5}, {"count": ["Expected an integer."]}),
        ({"ratio": False}, {"ratio": ["Expected a number."]}),
        ({"ratio": "0.5"}, {"ratio": ["Expected a number."]}),
        ({"flag": "true"}, {"flag": ["Expected a boolean."]}),
        ({"flag": 1}, {"flag": ["Expected a boolean."]}),
        ({"ids": "1,2"}, {"ids": ["Expected a list."]}),
        ({"ids": [1, "2"]}, {"ids": {1: ["Expected an integer."]}}),
        ({"scores": {"a": "1"}}, {"scores": {"a": ["Expected a number."]}}),
        ({"inner": {"ratio": True}}, {"inner": {"ratio": ["Expected a number."]}}),
        ({"inner": []}, {"inner": ["Expected an object."]}),
    ],
)
def test_values_of_another_json_type_are_named(body: dict[str, Any], errors: dict[str, Any]) -> None:
    assert json_type_errors(Body(), body) == errors
