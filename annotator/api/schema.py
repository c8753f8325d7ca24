"""The project's OpenAPI generator: drf-spectacular's, with two corrections.

drf-spectacular marks a request body required when its serializer has a required field. A body that is one of
several serializers (``PolymorphicProxySerializer``) has no fields of its own, so it was never marked required, and
an empty body looked valid to any client reading the schema. Here it is required when every one of its forms has a
required field — as the views that take those bodies already insist. And a blank-allowing field with a pattern
is either the pattern or the empty string (``anyOf``), not exactly one of them."""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.utils import PolymorphicProxySerializer


class AutoSchema(SpectacularAutoSchema):
    def _get_request_for_media_type(self, serializer: Any, direction: str = "request") -> tuple[Any, bool]:
        schema, required = super()._get_request_for_media_type(serializer, direction)
        if isinstance(serializer, PolymorphicProxySerializer) and schema is not None and not required:
            forms = serializer.serializers
            forms = forms.values() if isinstance(forms, dict) else forms
            required = all(self._get_request_for_media_type(form, direction)[1] for form in forms)
        return schema, required

    def _insert_field_validators(self, field: Any, schema: dict[str, Any]) -> None:
        """drf-spectacular states a blank-allowing field with a pattern (or a format) as ``oneOf`` [the pattern,
        the empty string]: where the pattern also matches "" (a domain name), "" matches both and a schema reader
        took it for invalid. ``anyOf`` says what the field accepts: either."""
        super()._insert_field_validators(field, schema)
        blank = {"type": "string", "maxLength": 0}
        if isinstance(schema.get("oneOf"), list) and blank in schema["oneOf"]:
            schema["anyOf"] = schema.pop("oneOf")
