"""Obtaining an API token with a username and password (for scripts and the Python client)."""

from __future__ import annotations

from django.contrib.auth import authenticate
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator.api.common import ErrorOutput
from annotator.api.inputs import body_input
from annotator.error_codes import ErrorCode
from annotator.errors import ApplicationError
from annotator.services.tokens import api_token_obtain


class InvalidCredentials(ApplicationError):
    code = ErrorCode.INVALID_CREDENTIALS
    status = 401


class ApiTokenObtainApi(APIView):
    # No authentication (a session would ask for a CSRF token); the anonymous rate limit applies, and django-axes
    # counts failures through authenticate() as it does for the login page.
    authentication_classes: list[type] = []
    permission_classes = [AllowAny]

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "ApiTokenObtainInput"

        # No NUL in either (the schema says so, as the validator does: a 400 would otherwise be a schema-valid refusal).
        username = serializers.RegexField(r"^[^\x00]*$", max_length=150)
        password = serializers.RegexField(
            r"^[^\x00]*$", max_length=4096, trim_whitespace=False, style={"input_type": "password"}
        )

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "ApiTokenOutput"

        token = serializers.CharField(help_text="Send as the header Authorization: Token <token>.")
        username = serializers.CharField()

    @extend_schema(
        operation_id="auth_token_obtain",
        summary="Your API token (made on first use), for a username and password.",
        request=InputSerializer,
        responses={
            200: OutputSerializer,
            400: OpenApiResponse(ErrorOutput, description="A field missing or malformed (extra.fields names it)."),
            401: OpenApiResponse(
                ErrorOutput, description="Wrong username or password, or the account is inactive (invalid_credentials)."
            ),
            429: OpenApiResponse(
                ErrorOutput,
                description="Too many failed logins: locked out for a while, right password too (locked_out).",
            ),
        },
    )
    def post(self, request: Request) -> Response:
        data = body_input(self.InputSerializer, request)
        user = authenticate(request._request, username=data["username"], password=data["password"])
        if user is None or not user.is_active:
            raise InvalidCredentials("Unable to log in with the given username and password.")
        token = api_token_obtain(user=user)
        return Response({"token": token.key, "username": user.get_username()})
