"""Reading API input as the schema documents it.

DRF reads query strings and form bodies the way HTML forms are read: an empty value counts as absent and a repeated
parameter silently keeps its last value. In JSON bodies its fields coerce: ``0`` becomes the text ``"0"``, ``"5"``
the integer 5, ``false`` the number 0.0. The schema promises none of that, so the API reads strictly: one value per
parameter, an empty value validated like any other, and each JSON value of the type its field declares.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from django.core.validators import RegexValidator
from django.http import QueryDict
from rest_framework import serializers
from rest_framework.request import Request

from annotator.domain import SCOPE_MAX_LENGTH, SCOPE_PATTERN


def scope_field(**kwargs: Any) -> serializers.CharField:
    """A domain or language name, optional: the length and the one-line rule of :func:`annotator.domain.scope_valid`,
    stated in the schema (``maxLength``, ``pattern``)."""
    message = f"At most {SCOPE_MAX_LENGTH} characters, one line, no control characters."
    return serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=SCOPE_MAX_LENGTH,
        validators=[RegexValidator(SCOPE_PATTERN, message)],
        **kwargs,
    )


def _single_values(data: QueryDict, fields: Mapping[str, Any]) -> dict[str, Any]:
    repeated = {name: ["Give this once."] for name, values in data.lists() if len(values) > 1 and name in fields}
    if repeated:
        raise serializers.ValidationError(repeated)
    return data.dict()


def query_input(serializer_class: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    """The query string validated by ``serializer_class``: one value per parameter, empty values validated."""
    query = serializer_class(data=_single_values(request.query_params, serializer_class().fields))
    query.is_valid(raise_exception=True)
    return dict(query.validated_data)


def body_input(serializer_class: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    """The body validated by ``serializer_class``: a form body (multipart) read like a query string, a JSON body
    with each value of its field's JSON type."""
    data = request.data
    if isinstance(data, QueryDict):
        data = _single_values(data, serializer_class().fields)
    else:
        problems = json_type_errors(serializer_class(), data)
        if problems:
            raise serializers.ValidationError(problems)
    body = serializer_class(data=data)
    body.is_valid(raise_exception=True)
    return dict(body.validated_data)


def _expected_type(field: serializers.Field) -> tuple[tuple[type, ...], str] | None:
    """The JSON types ``field`` takes (as the schema renders it) and their name; None: any, or DRF checks it."""
    if isinstance(field, serializers.BooleanField):
        return (bool,), "a boolean"
    if isinstance(field, serializers.IntegerField):
        return (int, float), "an integer"  # an integral float (2.0) is a JSON Schema integer
    if isinstance(field, serializers.FloatField):
        return (int, float), "a number"
    if isinstance(field, serializers.CharField):
        return (str,), "a string"
    if isinstance(field, serializers.ListField):
        return (list,), "a list"
    if isinstance(field, serializers.DictField | serializers.Serializer):
        return (dict,), "an object"
    return None


def _type_error(field: serializers.Field, value: Any) -> Any:
    """The error for ``value`` in ``field`` (nested like DRF's errors), or None when its types are right."""
    if value is None:
        return None  # allow_null is DRF's to check
    expected = _expected_type(field)
    if expected is None:
        return None
    types, name = expected
    wrong = isinstance(value, bool) and bool not in types
    if isinstance(field, serializers.IntegerField) and isinstance(value, float):
        wrong = not value.is_integer()
    if wrong or not isinstance(value, types):
        return [f"Expected {name}."]
    if isinstance(field, serializers.ListField):
        items = cast(list[Any], value)
        in_list = {i: e for i, item in enumerate(items) if (e := _type_error(field.child, item)) is not None}
        return in_list or None
    if isinstance(field, serializers.DictField):
        entries = cast(dict[str, Any], value)
        in_dict = {k: e for k, item in entries.items() if (e := _type_error(field.child, item)) is not None}
        return in_dict or None
    if isinstance(field, serializers.Serializer):
        return json_type_errors(field, value) or None
    return None


def json_type_errors(serializer: serializers.Serializer, data: Any) -> dict[str, Any]:
    """Field name -> error for each value of the JSON object ``data`` whose type its field does not take."""
    if not isinstance(data, dict):
        return {}  # DRF refuses a body that is not an object
    errors = {}
    for name, field in serializer.fields.items():
        if name in data and not field.read_only:
            error = _type_error(field, data[name])
            if error is not None:
                errors[name] = error
    return errors
