"""REST API for what an annotator's labels did to the model (read by the labeling page after each label)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsAnnotator
from annotations.selectors.effect import labeling_effect


class HeldBackOutput(serializers.Serializer):
    image = serializers.CharField(source="image_id")
    label = serializers.CharField()
    reason = serializers.CharField(help_text="Why the forgetting guard kept the update off the live model.")
    created = serializers.DateTimeField()


class EffectOutput(serializers.Serializer):
    labels = serializers.IntegerField(help_text="Labels you gave.")
    learned = serializers.IntegerField(help_text="Of those, learned into the live model.")
    held_back = serializers.IntegerField(help_text="Held back by the forgetting guard.")
    waiting = serializers.IntegerField(help_text="Waiting for other annotators or for the learning job.")
    outvoted = serializers.IntegerField()
    suspect = serializers.IntegerField(help_text="Flagged as a likely mistake and sent back for a second look.")
    held_back_recent = HeldBackOutput(many=True, help_text="Your newest held-back labels and why.")
    started_version = serializers.CharField(allow_null=True, help_text="The live version at your first label.")
    started_accuracy = serializers.FloatField(allow_null=True, help_text="Its infant validation accuracy.")
    live_version = serializers.CharField(allow_null=True)
    live_accuracy = serializers.FloatField(allow_null=True, help_text="The live version's infant validation accuracy.")
    change_points = serializers.FloatField(
        allow_null=True, help_text="Live minus started accuracy, in points; null when they are not comparable."
    )
    comparable = serializers.BooleanField(
        help_text="False once a retrain went live since you started: it scores itself on other validation photos."
    )


class EffectApi(APIView):
    permission_classes = [IsAnnotator]

    @extend_schema(responses={200: EffectOutput})
    def get(self, request: Request) -> Response:
        return Response(EffectOutput(labeling_effect(annotator=request.user)).data)
