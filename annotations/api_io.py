"""REST API for bulk import (annotators) and the labels' export (staff)."""

from __future__ import annotations

from typing import Any

from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsAnnotator
from accounts.roles import is_admin
from annotations.exports import FORMATS, export_lines
from annotations.imports import images_import
from annotations.learning.warmup import request_warm_up
from common.api_errors import ERROR, error
from common.api_inputs import UPLOAD_PARSERS, ChoiceField, excerpt
from predictions.batch import upload_entries
from predictions.models import Expression

NO_FILES = "No files were sent: attach photos or a .zip as the form field 'images'."


class ImportInput(serializers.Serializer):
    images = serializers.ListField(
        child=serializers.FileField(),
        help_text="Photos (JPEG, PNG or WebP, by content) and/or .zip archives of photos.",
        error_messages={"required": NO_FILES, "empty": NO_FILES},
        allow_empty=False,
    )
    label = ChoiceField(
        choices=Expression.values, required=False, allow_blank=True, help_text="One label for every photo."
    )
    labels_from_folders = serializers.BooleanField(
        default=False, help_text="Label each photo in a .zip with the name of the folder it is in."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("label") and attrs["labels_from_folders"]:
            raise serializers.ValidationError("Give one label for all, or labels from folders, not both.")
        return attrs


class ImportedOutput(serializers.Serializer):
    name = serializers.CharField()
    id = serializers.CharField(source="prediction_id")
    predicted = serializers.CharField()
    label = serializers.CharField(help_text="the label given with it; empty when imported unlabeled")


class DuplicateOutput(serializers.Serializer):
    name = serializers.CharField()
    id = serializers.CharField(source="prediction_id", help_text="the photo already stored")
    same_as = serializers.CharField(help_text="the file earlier in this import it repeats; empty when stored before")


class RefusedOutput(serializers.Serializer):
    name = serializers.CharField()
    reason = serializers.CharField()


class ImportOutput(serializers.Serializer):
    imported = ImportedOutput(many=True)
    duplicates = DuplicateOutput(many=True)
    refused = RefusedOutput(many=True)
    labeled = serializers.IntegerField()


class ImportApi(APIView):
    """Several photos or a .zip: each predicted and stored as the team's (shared), duplicates skipped, labeled."""

    permission_classes = [IsAnnotator]
    throttle_scope = "uploads"
    parser_classes = UPLOAD_PARSERS

    @extend_schema(request=ImportInput, responses={200: ImportOutput, 400: ERROR, 403: ERROR, 429: ERROR, 503: ERROR})
    def post(self, request: Request) -> Response:
        files = request.FILES.getlist("images")
        options = {key: request.data[key] for key in ("label", "labels_from_folders") if key in request.data}
        sent = ImportInput(data={**options, "images": files})
        sent.is_valid(raise_exception=True)
        request_warm_up()
        result = images_import(
            entries=upload_entries(files),
            annotator=request.user,
            label=sent.validated_data.get("label", ""),
            labels_from_folders=sent.validated_data["labels_from_folders"],
        )
        body = ImportOutput(
            {
                "imported": result.imported,
                "duplicates": result.duplicates,
                "refused": [{"name": name, "reason": reason} for name, reason in result.refused],
                "labeled": result.labeled,
            }
        ).data
        return Response(body, status=status.HTTP_200_OK)


class IsStaff(BasePermission):
    message = "Only staff can export the labels."

    def has_permission(self, request: Any, view: Any) -> bool:
        return is_admin(request.user)


class FormatNamesTheFile(DefaultContentNegotiation):
    """``?format=`` names the export's file format here, not a DRF renderer: errors are always JSON."""

    def select_renderer(self, request: Request, renderers: list[Any], format_suffix: str | None = None) -> Any:
        return renderers[0], renderers[0].media_type


MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}


class ExportApi(APIView):
    """Every labeled or unusable shared photo, one row each, streamed (columns: ``export_labels --help``)."""

    permission_classes = [IsStaff]
    content_negotiation_class = FormatNamesTheFile

    @extend_schema(
        parameters=[OpenApiParameter("format", str, enum=FORMATS, description="csv (default) or jsonl")],
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="one row per photo"),
            (200, "application/x-ndjson"): OpenApiResponse(OpenApiTypes.STR, description="one JSON object a line"),
            403: ERROR,
            400: ERROR,
        },
    )
    def get(self, request: Request) -> StreamingHttpResponse | Response:
        export_format = request.query_params.get("format", "csv")
        if export_format not in FORMATS:
            return error(f'Unknown format "{excerpt(export_format)}": use csv or jsonl.', status.HTTP_400_BAD_REQUEST)
        response = StreamingHttpResponse(export_lines(export_format), content_type=MEDIA_TYPES[export_format])
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        response["Content-Disposition"] = f'attachment; filename="infantino-labels-{stamp}.{export_format}"'
        response["Cache-Control"] = "no-store"
        return response
