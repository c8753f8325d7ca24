"""Annotation over REST: claim, draft, submit, skip — the same services as the annotate page.

Everything is in *shown* terms, as on the page: ``left`` is "Response 1" as displayed, and a negative preference
strength prefers the left response; the services map it back to response_1 / response_2. Token or session auth;
the caller needs the annotator role in the project. Another annotator's assignment answers 404.
"""

from __future__ import annotations

from typing import Any

from django.core.validators import RegexValidator
from drf_spectacular.utils import OpenApiResponse, PolymorphicProxySerializer, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator.api.common import ErrorOutput
from annotator.api.inputs import body_input
from annotator.domain import PREFERENCE_STRENGTH_MAX, PREFERENCE_STRENGTH_MIN
from annotator.models import Assignment, Flag, Role, SkipReason
from annotator.selectors.assignments import assignment_get_for_annotator, assignment_workspace
from annotator.selectors.projects import project_get_for_role
from annotator.services.assignments import (
    annotation_submit,
    assignment_claim_next,
    assignment_draft_save,
    assignment_skip,
)


def _errors(*codes: int) -> dict[int, OpenApiResponse]:
    described = {
        400: "Invalid input; extra.fields maps each field (e.g. left.helpfulness) to its message.",
        401: "Not authenticated.",
        403: "Not an annotator in this project.",
        404: "No such project or assignment (or it is not yours).",
        409: "The assignment's state forbids it (already submitted, skipped, reservation lost).",
    }
    return {code: OpenApiResponse(ErrorOutput, description=described[code]) for code in codes}


class RatingScaleOutput(serializers.Serializer):
    name = serializers.CharField()
    description = serializers.CharField()
    scale_min = serializers.IntegerField()
    scale_max = serializers.IntegerField()
    level_descriptions = serializers.ListField(child=serializers.CharField())


class PromptTurnOutput(serializers.Serializer):
    role = serializers.CharField()
    content = serializers.CharField()


class ShownResponseOutput(serializers.Serializer):
    text = serializers.CharField()


class ShownComparisonOutput(serializers.Serializer):
    id = serializers.IntegerField()
    turns = PromptTurnOutput(many=True)
    left = ShownResponseOutput(help_text='Shown as "Response 1".')
    right = ShownResponseOutput(help_text='Shown as "Response 2".')


class AssignmentOutput(serializers.Serializer):
    id = serializers.IntegerField()
    project = serializers.CharField(help_text="Project slug.")
    status = serializers.CharField()
    reserved_until = serializers.DateTimeField(allow_null=True)
    review_note = serializers.CharField(help_text="Why a lead returned it; empty otherwise.")
    comparison = ShownComparisonOutput()
    attributes = RatingScaleOutput(many=True)
    draft = serializers.DictField(help_text="The unfinished form, in shown terms.")
    min_justification_length = serializers.IntegerField()


def _assignment_output(assignment: Assignment) -> dict[str, Any]:
    ws = assignment_workspace(assignment=assignment)
    return {
        "id": assignment.pk,
        "project": ws.project.slug,
        "status": assignment.status,
        "reserved_until": assignment.reserved_until,
        "review_note": assignment.review_note,
        "comparison": {
            "id": ws.comparison.pk,
            "turns": ws.turns,
            "left": {"text": ws.left.text},
            "right": {"text": ws.right.text},
        },
        "attributes": [
            {
                "name": a.name,
                "description": a.description,
                "scale_min": a.scale_min,
                "scale_max": a.scale_max,
                "level_descriptions": list(a.level_descriptions or []),
            }
            for a in ws.attributes
        ],
        "draft": ws.values,
        "min_justification_length": ws.project.min_justification_length,
    }


class AssignmentClaimNextApi(APIView):
    @extend_schema(
        operation_id="assignment_claim_next",
        summary="Claim the next comparison",
        description=(
            "Your unfinished assignment (one returned for revision first), or a newly reserved comparison. "
            "204 when nothing is left for you; 400 with code not_qualified when the work left needs a qualification "
            "you have not passed (extra.qualification_sets names them)."
        ),
        request=None,
        responses={
            200: AssignmentOutput,
            204: OpenApiResponse(description="Nothing left for you."),
            **_errors(400, 401, 403, 404),
        },
        tags=["annotate"],
    )
    def post(self, request: Request, slug: str) -> Response:
        project = project_get_for_role(slug=slug, user=request.user, roles={Role.ANNOTATOR})
        assignment = assignment_claim_next(project=project, annotator=request.user)
        if assignment is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        # The dict already has AssignmentOutput's shape (it documents this response); serialising it again through
        # the nested serializer would only cost time on the busiest endpoint.
        return Response(_assignment_output(assignment))


class DraftInput(serializers.Serializer):
    draft = serializers.DictField(
        help_text="left/right (attribute → int), preference_strength, justification, flags, time_on_task_seconds."
    )


class DraftOutput(serializers.Serializer):
    assignment = serializers.IntegerField()
    draft = serializers.DictField()
    reserved_until = serializers.DateTimeField(allow_null=True)


class AssignmentDraftApi(APIView):
    @extend_schema(
        operation_id="assignment_draft_get",
        summary="Read the draft",
        responses={200: DraftOutput, **_errors(401, 404)},
        tags=["annotate"],
    )
    def get(self, request: Request, assignment_id: int) -> Response:
        a = assignment_get_for_annotator(assignment_id=assignment_id, user=request.user)
        return Response(DraftOutput({"assignment": a.pk, "draft": a.draft, "reserved_until": a.reserved_until}).data)

    @extend_schema(
        operation_id="assignment_draft_save",
        summary="Save the draft",
        description="Keeps the unfinished form (shown terms); a live reservation is extended.",
        request=DraftInput,
        responses={200: DraftOutput, **_errors(400, 401, 403, 404, 409)},
        tags=["annotate"],
    )
    def put(self, request: Request, assignment_id: int) -> Response:
        a = assignment_get_for_annotator(assignment_id=assignment_id, user=request.user)
        draft = body_input(DraftInput, request)["draft"]
        a = assignment_draft_save(assignment=a, annotator=request.user, draft=draft)
        return Response(DraftOutput({"assignment": a.pk, "draft": a.draft, "reserved_until": a.reserved_until}).data)


class ShownRatingsInput(serializers.Serializer):
    left = serializers.DictField(child=serializers.JSONField(), help_text='Attribute → rating of "Response 1".')
    right = serializers.DictField(child=serializers.JSONField(), help_text='Attribute → rating of "Response 2".')

    def to_internal_value(self, data: Any) -> Any:
        # A key other than left/right is a mistake to report, not to drop (the service names unknown attributes).
        if isinstance(data, dict):
            unknown = sorted(str(key) for key in data if key not in self.fields)
            if unknown:
                raise serializers.ValidationError({unknown[0]: "Unknown ratings key; ratings has only left and right."})
        return super().to_internal_value(data)


@extend_schema_field({"type": "integer", "minimum": -3, "maximum": 3})
class StrengthField(serializers.JSONField):
    """Documented as what it must be; read as any JSON so that annotation_submit reports every field's problem at
    once, this one included."""


class SubmitInput(serializers.Serializer):
    ratings = ShownRatingsInput()
    preference_strength = StrengthField(
        help_text=f"{PREFERENCE_STRENGTH_MIN} (left much better) ... +{PREFERENCE_STRENGTH_MAX} (right much better)."
    )
    justification = serializers.CharField(allow_blank=True, trim_whitespace=False)
    flags = serializers.ListField(child=serializers.ChoiceField(choices=Flag.choices), required=False, default=list)
    time_on_task_seconds = serializers.FloatField(required=False, allow_null=True, default=None, min_value=0)


class SubmitOutput(serializers.Serializer):
    annotation = serializers.IntegerField()
    assignment = serializers.IntegerField()
    warnings = serializers.ListField(child=serializers.CharField())


class AnnotationSubmitApi(APIView):
    @extend_schema(
        operation_id="annotation_submit",
        summary="Submit an annotation",
        description=(
            "Ratings for both responses on every attribute, a preference strength and a justification, in shown "
            "terms. Warnings (e.g. a strength contradicting the helpfulness ratings) do not refuse the submission."
        ),
        request=SubmitInput,
        responses={201: SubmitOutput, **_errors(400, 401, 403, 404, 409)},
        tags=["annotate"],
    )
    def post(self, request: Request, assignment_id: int) -> Response:
        a = assignment_get_for_annotator(assignment_id=assignment_id, user=request.user)
        v = body_input(SubmitInput, request)
        result = annotation_submit(
            assignment=a,
            annotator=request.user,
            ratings_shown=v["ratings"],
            preference_strength=v["preference_strength"],
            justification=v["justification"],
            flags=v["flags"],
            time_on_task_seconds=v["time_on_task_seconds"],
        )
        out = {"annotation": result.annotation.pk, "assignment": a.pk, "warnings": list(result.warnings)}
        return Response(SubmitOutput(out).data, status=status.HTTP_201_CREATED)


class SkipInput(serializers.Serializer):
    reason = serializers.ChoiceField(choices=SkipReason.choices)
    note = serializers.CharField(required=False, allow_blank=True, default="")
    flags = serializers.ListField(child=serializers.ChoiceField(choices=Flag.choices), required=False, default=list)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["reason"] == SkipReason.OTHER and not attrs["note"].strip():
            raise serializers.ValidationError({"note": "Say why in a note when the reason is “other”."})
        return attrs


# The schema's two shapes of a skip: "other" needs a note with some text in it (what SkipInput.validate checks).
class SkipForReasonInput(serializers.Serializer):
    reason = serializers.ChoiceField(choices=[c for c in SkipReason.choices if c[0] != SkipReason.OTHER])
    note = serializers.CharField(required=False, allow_blank=True)
    flags = serializers.ListField(child=serializers.ChoiceField(choices=Flag.choices), required=False)


class SkipForOtherInput(serializers.Serializer):
    reason = serializers.ChoiceField(choices=[(SkipReason.OTHER.value, SkipReason.OTHER.label)])
    note = serializers.CharField(validators=[RegexValidator(r"\S")], help_text="Why; required for “other”.")
    flags = serializers.ListField(child=serializers.ChoiceField(choices=Flag.choices), required=False)


SKIP_REQUEST = PolymorphicProxySerializer(
    component_name="SkipInput",
    serializers=[SkipForReasonInput, SkipForOtherInput],
    resource_type_field_name=None,
)


class SkipOutput(serializers.Serializer):
    assignment = serializers.IntegerField()
    status = serializers.CharField()
    reason = serializers.CharField()
    flags = serializers.ListField(child=serializers.CharField())


class AssignmentSkipApi(APIView):
    @extend_schema(
        operation_id="assignment_skip",
        summary="Skip a comparison",
        description='Give it back with a reason ("other" needs a note) and optional flags; it goes to someone else.',
        request=SKIP_REQUEST,
        responses={200: SkipOutput, **_errors(400, 401, 403, 404, 409)},
        tags=["annotate"],
    )
    def post(self, request: Request, assignment_id: int) -> Response:
        a = assignment_get_for_annotator(assignment_id=assignment_id, user=request.user)
        a = assignment_skip(assignment=a, annotator=request.user, **body_input(SkipInput, request))
        out = {"assignment": a.pk, "status": a.status, "reason": a.skip_reason, "flags": a.flags}
        return Response(SkipOutput(out).data)
