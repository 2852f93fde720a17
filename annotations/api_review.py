"""REST API for adjudicators and staff: the conflicts to settle, decisions, per-annotator statistics."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsAdjudicator, IsAdmin
from annotations import selectors, services
from annotations.api import refused
from annotations.models import Adjudication
from common.api_errors import ERROR
from common.api_inputs import ChoiceField, validated
from predictions.models import Expression


class VoteOutput(serializers.Serializer):
    annotator = serializers.CharField()
    label = serializers.CharField()


class ConflictOutput(serializers.Serializer):
    id = serializers.CharField(source="image.pk")
    votes = VoteOutput(many=True)
    agreement = serializers.FloatField(allow_null=True)
    majority = serializers.CharField(allow_null=True)
    learned = serializers.CharField(allow_null=True, help_text="The label it was learned with already, if any.")
    guess = serializers.CharField(allow_null=True, help_text="The model's guess; null in blind mode.")
    choices = serializers.ListField(child=serializers.CharField())


class ConflictsApi(APIView):
    permission_classes = [IsAdjudicator]

    @extend_schema(responses={200: ConflictOutput(many=True), 403: ERROR})
    def get(self, request: Request) -> Response:
        return Response(ConflictOutput(selectors.conflicts_to_settle(viewer=request.user), many=True).data)


class AdjudicationInput(serializers.Serializer):
    image = serializers.CharField(help_text="The id of the image (a prediction id).", max_length=64, allow_blank=True)
    label = ChoiceField(choices=Expression.values)
    note = serializers.CharField(required=False, allow_blank=True, max_length=500)


class AdjudicationOutput(serializers.ModelSerializer):
    adjudicator = serializers.CharField(source="adjudicator.get_username")

    class Meta:
        model = Adjudication
        fields = ["id", "image", "label", "adjudicator", "votes", "note", "created"]


class AdjudicationCreateApi(APIView):
    permission_classes = [IsAdjudicator]

    @extend_schema(request=AdjudicationInput, responses={201: AdjudicationOutput, 400: ERROR, 404: ERROR, 409: ERROR})
    def post(self, request: Request) -> Response:
        sent = validated(AdjudicationInput, request)
        try:
            adjudication = services.adjudication_create(
                image_id=sent["image"], label=sent["label"], adjudicator=request.user, note=sent.get("note", "")
            )
        except services.AnnotationError as exc:
            return refused(exc)
        return Response(AdjudicationOutput(adjudication).data, status=status.HTTP_201_CREATED)


class AnnotatorStatsOutput(serializers.Serializer):
    annotator = serializers.CharField()
    labels = serializers.IntegerField()
    agreement = serializers.FloatField(
        allow_null=True, help_text="Share of their labels, on images with a consensus, that match it."
    )
    compared = serializers.IntegerField(help_text="Their labels on images with a consensus.")
    median_seconds = serializers.FloatField(allow_null=True)
    skips = serializers.IntegerField()
    unusable_marks = serializers.IntegerField()


class AnnotatorStatsApi(APIView):
    permission_classes = [IsAdmin]

    @extend_schema(responses={200: AnnotatorStatsOutput(many=True), 403: ERROR})
    def get(self, request: Request) -> Response:
        return Response(AnnotatorStatsOutput(selectors.annotator_statistics(), many=True).data)
