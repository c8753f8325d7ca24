"""The feedback, edit and edit-quality tasks over REST (docs/task-types.md): claim, draft, submit, skip — the same
services as the task page. One submit endpoint per task type; each answers 400 with ``code`` and ``extra.fields``
for an answer that breaks the project's rules (``feedback_rules_broken``, ``edit_by_feedback_author``,
``edit_unchanged``), and ``task_type_mismatch`` for a submission of another task type.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator.api.annotate import SKIP_REQUEST, SkipInput, SkipOutput
from annotator.api.common import CONFLICT, ErrorOutput, errors
from annotator.api.inputs import body_input, query_input
from annotator.error_codes import ErrorCode
from annotator.errors import Conflict
from annotator.models import Flag, Role, Split, TaskAssignment, TaskResult, TaskType
from annotator.selectors.projects import project_get_for_role
from annotator.selectors.task_exports import TASK_FILE_TYPE_DEFAULT, TASK_FILE_TYPES, task_file_export
from annotator.selectors.task_units import task_assignment_get_for_annotator, task_workspace
from annotator.services.edit_quality import edit_choice_submit
from annotator.services.edits import edit_submit
from annotator.services.feedback import feedback_rules_of, feedback_submit
from annotator.services.task_imports import task_units_import
from annotator.services.task_units import task_claim_next, task_draft_save, task_skip

_DESCRIBED = {
    400: "Invalid input or a broken rule; code names it, extra.fields maps each field to its message.",
    401: "Not authenticated.",
    403: "Not an annotator in this project.",
    404: "No such project or assignment (or it is not yours).",
    409: "The assignment's state forbids it (already submitted, skipped, reservation lost).",
}


def _errors(*codes: int) -> dict[int, OpenApiResponse]:
    return {code: OpenApiResponse(ErrorOutput, description=_DESCRIBED[code]) for code in codes}


class FeedbackRulesOutput(serializers.Serializer):
    min_sentences = serializers.IntegerField()
    max_sentences = serializers.IntegerField()
    min_words = serializers.IntegerField()
    max_words = serializers.IntegerField()
    require_opening = serializers.BooleanField()


class TaskAssignmentOutput(serializers.Serializer):
    id = serializers.IntegerField()
    project = serializers.CharField(help_text="Project slug.")
    task_type = serializers.ChoiceField(choices=TaskType.choices)
    status = serializers.CharField()
    reserved_until = serializers.DateTimeField(allow_null=True)
    review_note = serializers.CharField()
    turns = serializers.ListField(child=serializers.DictField())
    response_1 = serializers.CharField(help_text="Feedback: the first response; edit and edit quality: the original.")
    response_2 = serializers.CharField(help_text="Feedback only: the second response.")
    feedback = serializers.ListField(child=serializers.CharField(), help_text="Edit and edit quality.")
    edits = serializers.ListField(child=serializers.CharField(), help_text="Edit quality: edit 1 and 2 as shown.")
    feedback_rules = FeedbackRulesOutput()
    draft = serializers.DictField()


def _output(assignment: TaskAssignment) -> dict[str, Any]:
    ws = task_workspace(assignment=assignment)
    rules = feedback_rules_of(ws.unit.project)
    return {
        "id": assignment.pk,
        "project": ws.unit.project.slug,
        "task_type": ws.unit.task_type,
        "status": assignment.status,
        "reserved_until": assignment.reserved_until,
        "review_note": assignment.review_note,
        "turns": ws.turns,
        "response_1": ws.response_1,
        "response_2": ws.response_2,
        "feedback": ws.feedback,
        "edits": list(ws.edits) if ws.unit.task_type == TaskType.EDIT_QUALITY else [],
        "feedback_rules": {
            "min_sentences": rules.min_sentences,
            "max_sentences": rules.max_sentences,
            "min_words": rules.min_words,
            "max_words": rules.max_words,
            "require_opening": rules.require_opening,
        },
        "draft": ws.values,
    }


class TaskClaimNextApi(APIView):
    @extend_schema(
        operation_id="task_claim_next",
        summary="Claim the next feedback, edit or edit-quality task",
        description="Your unfinished task (one returned for revision first), or a newly reserved one. 204: none left.",
        request=None,
        responses={
            200: TaskAssignmentOutput,
            204: OpenApiResponse(description="Nothing left."),
            **_errors(400, 401, 403, 404),
        },
        tags=["tasks"],
    )
    def post(self, request: Request, slug: str) -> Response:
        project = project_get_for_role(slug=slug, user=request.user, roles={Role.ANNOTATOR})
        assignment = task_claim_next(project=project, annotator=request.user)
        if assignment is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(TaskAssignmentOutput(_output(assignment)).data)


class TaskDraftInput(serializers.Serializer):
    draft = serializers.DictField(help_text="feedback_1/feedback_2, text/change_summary, or choice; flags.")


class TaskDraftOutput(serializers.Serializer):
    assignment = serializers.IntegerField()
    draft = serializers.DictField()
    reserved_until = serializers.DateTimeField(allow_null=True)


class TaskDraftApi(APIView):
    @extend_schema(
        operation_id="task_draft_save",
        summary="Save a task's draft",
        request=TaskDraftInput,
        responses={200: TaskDraftOutput, **_errors(400, 401, 404, 409)},
        tags=["tasks"],
    )
    def put(self, request: Request, assignment_id: int) -> Response:
        a = task_assignment_get_for_annotator(assignment_id=assignment_id, user=request.user)
        a = task_draft_save(assignment=a, annotator=request.user, draft=body_input(TaskDraftInput, request)["draft"])
        return Response(
            TaskDraftOutput({"assignment": a.pk, "draft": a.draft, "reserved_until": a.reserved_until}).data
        )


class _CommonInput(serializers.Serializer):
    flags = serializers.ListField(child=serializers.ChoiceField(choices=Flag.choices), required=False, default=list)
    time_on_task_seconds = serializers.FloatField(required=False, allow_null=True, default=None, min_value=0)


class FeedbackSubmitInput(_CommonInput):
    feedback_1 = serializers.CharField(allow_blank=True, trim_whitespace=False, help_text="On response 1.")
    feedback_2 = serializers.CharField(allow_blank=True, trim_whitespace=False, help_text="On response 2.")


class EditSubmitInput(_CommonInput):
    text = serializers.CharField(allow_blank=True, trim_whitespace=False, help_text="The edited response.")
    change_summary = serializers.CharField(allow_blank=True, trim_whitespace=False)


class EditChoiceSubmitInput(_CommonInput):
    choice = serializers.IntegerField(help_text="The edit that follows the feedback, as shown: 1 or 2.")


class TaskSubmitOutput(serializers.Serializer):
    result = serializers.IntegerField()
    assignment = serializers.IntegerField()


def _own(request: Request, assignment_id: int, task_type: str) -> TaskAssignment:
    a = task_assignment_get_for_annotator(assignment_id=assignment_id, user=request.user)
    if a.unit.task_type != task_type:
        raise Conflict(
            f"This task is {a.unit.task_type}; submit it to its own endpoint.", code=ErrorCode.TASK_TYPE_MISMATCH
        )
    return a


def _created(result: TaskResult, a: TaskAssignment) -> Response:
    return Response(TaskSubmitOutput({"result": result.pk, "assignment": a.pk}).data, status=status.HTTP_201_CREATED)


class FeedbackSubmitApi(APIView):
    @extend_schema(
        operation_id="feedback_submit",
        summary="Submit feedback on both responses",
        description="Each within the project's rules (feedback_rules of the claim); else 400 feedback_rules_broken.",
        request=FeedbackSubmitInput,
        responses={201: TaskSubmitOutput, **_errors(400, 401, 403, 404, 409)},
        tags=["tasks"],
    )
    def post(self, request: Request, assignment_id: int) -> Response:
        a = _own(request, assignment_id, TaskType.FEEDBACK)
        return _created(
            feedback_submit(assignment=a, annotator=request.user, **body_input(FeedbackSubmitInput, request)), a
        )


class EditSubmitApi(APIView):
    @extend_schema(
        operation_id="edit_submit",
        summary="Submit an edit and its change summary",
        description="400 edit_by_feedback_author or edit_unchanged when the edit may not be taken.",
        request=EditSubmitInput,
        responses={201: TaskSubmitOutput, **_errors(400, 401, 403, 404, 409)},
        tags=["tasks"],
    )
    def post(self, request: Request, assignment_id: int) -> Response:
        a = _own(request, assignment_id, TaskType.EDIT)
        return _created(edit_submit(assignment=a, annotator=request.user, **body_input(EditSubmitInput, request)), a)


class EditChoiceSubmitApi(APIView):
    @extend_schema(
        operation_id="edit_choice_submit",
        summary="Choose the edit that follows the feedback",
        request=EditChoiceSubmitInput,
        responses={201: TaskSubmitOutput, **_errors(400, 401, 403, 404, 409)},
        tags=["tasks"],
    )
    def post(self, request: Request, assignment_id: int) -> Response:
        a = _own(request, assignment_id, TaskType.EDIT_QUALITY)
        values = body_input(EditChoiceSubmitInput, request)
        return _created(edit_choice_submit(assignment=a, annotator=request.user, **values), a)


class TaskSkipApi(APIView):
    @extend_schema(
        operation_id="task_skip",
        summary="Skip a task",
        request=SKIP_REQUEST,
        responses={200: SkipOutput, **_errors(400, 401, 403, 404, 409)},
        tags=["tasks"],
    )
    def post(self, request: Request, assignment_id: int) -> Response:
        a = task_assignment_get_for_annotator(assignment_id=assignment_id, user=request.user)
        a = task_skip(assignment=a, annotator=request.user, **body_input(SkipInput, request))
        return Response(
            SkipOutput({"assignment": a.pk, "status": a.status, "reason": a.skip_reason, "flags": a.flags}).data
        )


# --- HelpSteer3 task files: import and export (leads and researchers) -------------------------------------------


class TaskImportApi(APIView):
    parser_classes = [MultiPartParser, FormParser]

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "TaskImportInput"

        file = serializers.FileField(
            allow_empty_file=True,
            help_text="A HelpSteer3 file of the project's task type (feedback, edit or edit_quality): .jsonl, .json "
            "or .parquet, optionally .gz (not Parquet).",
        )
        split = serializers.ChoiceField(choices=Split.values, required=False, default=Split.TRAIN)

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "TaskImportOutput"

        units = serializers.IntegerField()
        results = serializers.IntegerField()

    @extend_schema(
        operation_id="task_units_import",
        summary="Import a HelpSteer3 feedback, edit or edit_quality file, all or nothing",
        description="400 task_type_mismatch when the file's config is not the project's task type.",
        request={"multipart/form-data": InputSerializer},
        responses={201: OutputSerializer, **errors(400, 401, 403, 404, 422), **CONFLICT},
        tags=["tasks"],
    )
    def post(self, request: Request, slug: str) -> Response:
        project = project_get_for_role(slug=slug, user=request.user, roles={Role.LEAD, Role.RESEARCHER})
        body = body_input(self.InputSerializer, request)
        result = task_units_import(project=project, source=body["file"], split=body["split"])
        return Response(self.OutputSerializer(result).data, status=status.HTTP_201_CREATED)


class TaskExportInput(serializers.Serializer):
    file_type = serializers.ChoiceField(choices=list(TASK_FILE_TYPES), required=False, default=TASK_FILE_TYPE_DEFAULT)
    split = serializers.ChoiceField(choices=Split.values, required=False)
    edit_pairs = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Edit projects: the edits as trainer-ready preference pairs instead (edited chosen over the original, "
        "trl-preference columns plus from_edit=true, to append to a comparison snapshot's trl-preference file).",
    )


class TaskExportApi(APIView):
    @extend_schema(
        operation_id="task_units_export",
        summary="Download the project's HelpSteer3 feedback, edit or edit_quality file",
        description="In the released field names; rejected and superseded results are left out.",
        parameters=[TaskExportInput],
        responses={(200, t): OpenApiResponse(OpenApiTypes.BINARY) for t in TASK_FILE_TYPES.values()}
        | errors(400, 401, 403, 404)
        | CONFLICT,
        tags=["tasks"],
    )
    def get(self, request: Request, slug: str) -> HttpResponse:
        project = project_get_for_role(slug=slug, user=request.user, roles={Role.LEAD, Role.RESEARCHER})
        data = query_input(TaskExportInput, request)
        exported = task_file_export(
            project=project, file_type=data["file_type"], split=data.get("split"), edit_pairs=data["edit_pairs"]
        )
        response = HttpResponse(exported.body, content_type=exported.content_type)
        response["Content-Disposition"] = f'attachment; filename="{exported.name}"'
        return response
