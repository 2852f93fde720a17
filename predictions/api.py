"""REST API for predictions and the live model."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from mlcore.imageio import InvalidImage
from predictions import selectors, services
from predictions.ml import ModelUnavailable
from predictions.models import Prediction

ERROR = inline_serializer("Error", fields={"error": serializers.CharField()})


class PredictionOutput(serializers.ModelSerializer):
    image_url = serializers.SerializerMethodField()
    face_found = serializers.BooleanField(read_only=True)

    class Meta:
        model = Prediction
        fields = [
            "id",
            "label",
            "top_label",
            "probabilities",
            "uncertainty",
            "model_version",
            "face_box",
            "face_found",
            "image_url",
            "width",
            "height",
            "created",
        ]

    def get_image_url(self, prediction: Prediction) -> str:
        url = prediction.image.url
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request is not None and url.startswith("/") else url


class PredictionInput(serializers.Serializer):
    image = serializers.FileField(help_text="A photo: JPEG, PNG, WebP, BMP or GIF.")


def error(message: str, code: int) -> Response:
    return Response({"error": message}, status=code)


class PredictionCreateApi(APIView):
    permission_classes = [AllowAny]
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(request=PredictionInput, responses={201: PredictionOutput, 400: ERROR, 503: ERROR})
    def post(self, request: Request) -> Response:
        try:
            prediction = services.prediction_create(
                upload=request.FILES.get("image"),
                user=request.user,
                # A browser's session lists its uploads on the upload page; API clients get no session made for them.
                session_key=request.session.session_key or "",
            )
        except InvalidImage as exc:
            return error(str(exc), status.HTTP_400_BAD_REQUEST)
        except ModelUnavailable as exc:
            return error(str(exc), status.HTTP_503_SERVICE_UNAVAILABLE)
        return Response(PredictionOutput(prediction, context={"request": request}).data, status=status.HTTP_201_CREATED)


class PredictionDetailApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses={200: PredictionOutput, 404: ERROR})
    def get(self, request: Request, prediction_id: str) -> Response:
        prediction = selectors.prediction_get(prediction_id=prediction_id)
        if prediction is None:
            return error("No prediction has this id.", status.HTTP_404_NOT_FOUND)
        return Response(PredictionOutput(prediction, context={"request": request}).data)


class LiveModelOutput(serializers.Serializer):
    version = serializers.CharField()
    created = serializers.DateTimeField()
    metrics = serializers.DictField(child=serializers.FloatField())
    kind = serializers.CharField()
    parent = serializers.CharField(allow_null=True)


class LiveModelApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses={200: LiveModelOutput, 404: ERROR})
    def get(self, request: Request) -> Response:
        summary = selectors.live_model_summary()
        if summary is None:
            return error("No model is trained yet.", status.HTTP_404_NOT_FOUND)
        return Response(LiveModelOutput(summary).data)
