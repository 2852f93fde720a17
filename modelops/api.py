"""REST API for the live model."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api_errors import ERROR, error
from predictions.ml import ModelUnavailable
from predictions.selectors import live_model_summary


class LiveModelOutput(serializers.Serializer):
    version = serializers.CharField()
    created = serializers.DateTimeField()
    metrics = serializers.DictField(child=serializers.FloatField())
    kind = serializers.CharField()
    parent = serializers.CharField(allow_null=True)


class LiveModelApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses={200: LiveModelOutput, 404: ERROR, 503: ERROR})
    def get(self, request: Request) -> Response:
        try:
            summary = live_model_summary()
        except ModelUnavailable as exc:
            return error(str(exc), status.HTTP_503_SERVICE_UNAVAILABLE)
        if summary is None:
            return error("No model is trained yet.", status.HTTP_404_NOT_FOUND)
        return Response(LiveModelOutput(summary).data)
