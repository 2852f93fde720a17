"""REST API for labels, the labeling queue and agreement (skips, progress, blind mode: ``api_labeling``)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsAnnotator
from accounts.sessions import viewer_session_key
from annotations import selectors, services
from annotations.learning.warmup import request_warm_up
from annotations.models import Annotation
from annotations.selectors import QueueItem
from common.api_errors import ERROR, error
from common.api_inputs import UPLOAD_PARSERS, ChoiceField, NoInput, validated
from predictions.api import PredictionOutput
from predictions.ml import InvalidImage, ModelUnavailable
from predictions.models import Expression
from predictions.selectors import prediction_image_url
from predictions.services import NO_IMAGE


class AnnotationOutput(serializers.ModelSerializer):
    model_version = serializers.SerializerMethodField()
    annotator = serializers.CharField(source="annotator.get_username")
    reason = serializers.SerializerMethodField(
        help_text="Why the forgetting guard held this label back (status held_back); null otherwise."
    )

    class Meta:
        model = Annotation
        fields = [
            "id",
            "status",
            "model_version",
            "image",
            "label",
            "annotator",
            "created",
            "parent_version",
            "seconds",
            "reason",
        ]

    def get_model_version(self, annotation: Annotation) -> str | None:
        return annotation.model_version or None

    def get_reason(self, annotation: Annotation) -> str | None:
        held_back = annotation.status == Annotation.Status.HELD_BACK
        return (annotation.guard_note or None) if held_back else None


class AnnotationInput(serializers.Serializer):
    # Blank is let through so that an empty or unknown id reads the same: 404, no image has this id.
    image = serializers.CharField(help_text="The id of the image (a prediction id).", max_length=64, allow_blank=True)
    label = ChoiceField(choices=Expression.values)
    seconds = serializers.FloatField(
        required=False,
        allow_null=True,
        min_value=0,
        max_value=3600,
        help_text="Seconds from the photo shown to the label, as the page measured them (optional).",
    )


class LabeledImageInput(serializers.Serializer):
    image = serializers.FileField(
        help_text="A photo: JPEG, PNG or WebP (decided by its content, not its name).",
        error_messages={"required": NO_IMAGE, "null": NO_IMAGE},
    )
    label = ChoiceField(choices=Expression.values)


def refused(exc: services.AnnotationError) -> Response:
    return error(str(exc), exc.status)


class AnnotationCreateApi(APIView):
    permission_classes = [IsAnnotator]
    throttle_scope = "labels"  # JSON, form or multipart: the default parsers (settings.REST_FRAMEWORK)

    @extend_schema(
        request=AnnotationInput, responses={201: AnnotationOutput, 400: ERROR, 404: ERROR, 409: ERROR, 413: ERROR}
    )
    def post(self, request: Request) -> Response:
        sent = validated(AnnotationInput, request)
        request_warm_up()
        try:
            annotation = services.annotation_create(
                image_id=sent["image"], label=sent["label"], annotator=request.user, seconds=sent.get("seconds")
            )
        except services.AnnotationError as exc:
            return refused(exc)
        return Response(AnnotationOutput(annotation).data, status=status.HTTP_201_CREATED)


class AnnotationDetailApi(APIView):
    """Only the annotator who gave a label, or an admin, sees or undoes it; others get 404."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: AnnotationOutput, 404: ERROR})
    def get(self, request: Request, annotation_id: int) -> Response:
        annotation = selectors.annotation_get_visible(annotation_id=annotation_id, user=request.user)
        if annotation is None:
            return error("No annotation has this id.", status.HTTP_404_NOT_FOUND)
        return Response(AnnotationOutput(annotation).data)

    @extend_schema(request=None, responses={204: None, 400: ERROR, 404: ERROR})
    def delete(self, request: Request, annotation_id: int) -> Response:
        validated(NoInput, request)
        try:
            services.annotation_undo(annotation_id=annotation_id, user=request.user)
        except services.AnnotationError as exc:
            return refused(exc)
        return Response(status=status.HTTP_204_NO_CONTENT)


class LabeledImageCreateApi(APIView):
    permission_classes = [IsAnnotator]
    throttle_scope = "uploads"
    parser_classes = UPLOAD_PARSERS

    @extend_schema(request=LabeledImageInput, responses={201: AnnotationOutput, 400: ERROR, 413: ERROR, 503: ERROR})
    def post(self, request: Request) -> Response:
        sent = validated(LabeledImageInput, request)
        request_warm_up()
        try:
            annotation = services.labeled_image_create(
                upload=sent["image"],
                label=sent["label"],
                annotator=request.user,
                session_key=viewer_session_key(request),
            )
        except services.AnnotationError as exc:
            return refused(exc)
        except InvalidImage as exc:
            return error(str(exc), status.HTTP_400_BAD_REQUEST)
        except ModelUnavailable as exc:
            return error(str(exc), status.HTTP_503_SERVICE_UNAVAILABLE)
        body = AnnotationOutput(annotation).data
        body["prediction"] = PredictionOutput(annotation.image, context={"request": request}).data
        return Response(body, status=status.HTTP_201_CREATED)


class LabelOutput(serializers.Serializer):
    label = serializers.CharField()
    annotator = serializers.CharField()


class QueueItemOutput(serializers.Serializer):
    id = serializers.CharField(source="image.pk")
    image_url = serializers.SerializerMethodField()
    width = serializers.IntegerField(source="image.width")
    height = serializers.IntegerField(source="image.height")
    face_box = serializers.JSONField(source="image.face_box")
    # null in blind mode: the server never sends the model's view to a person labeling blind
    guess = serializers.CharField(allow_null=True)
    probabilities = serializers.DictField(child=serializers.FloatField(), allow_null=True)
    uncertainty = serializers.FloatField(allow_null=True)
    model_version = serializers.CharField()
    labels = LabelOutput(many=True)
    agreement = serializers.FloatField(allow_null=True)
    suspect = serializers.BooleanField(help_text="a label given to it looks wrong: it waits for a second annotator")
    suspect_note = serializers.CharField(help_text="why the label looks wrong; empty when not suspect or blind")

    def get_image_url(self, item: QueueItem) -> str:
        url = prediction_image_url(item.image)
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request is not None and url.startswith("/") else url


class QueueApi(APIView):
    permission_classes = [IsAnnotator]

    @extend_schema(
        parameters=[
            OpenApiParameter("n", int, description="how many images (1–50, default 10)"),
            OpenApiParameter(
                "exclude", str, description="comma-separated image ids to leave out (older pages; skips are stored)"
            ),
        ],
        responses={200: QueueItemOutput(many=True), 400: ERROR},
    )
    def get(self, request: Request) -> Response:
        try:
            n = int(request.query_params.get("n", 10))
        except ValueError:
            return error("n must be a whole number.", status.HTTP_400_BAD_REQUEST)
        if not 1 <= n <= 50:
            return error("n must be between 1 and 50.", status.HTTP_400_BAD_REQUEST)
        exclude = [pk for pk in request.query_params.get("exclude", "").split(",") if pk]
        request_warm_up()
        items = selectors.queue_next(annotator=request.user, n=n, exclude=exclude)
        return Response(QueueItemOutput(items, many=True, context={"request": request}).data)


class ImageAgreementOutput(serializers.Serializer):
    id = serializers.CharField(source="image.pk")
    labels = LabelOutput(many=True)
    agreement = serializers.FloatField(allow_null=True)
    consensus = serializers.CharField(allow_null=True)


class AgreementOutput(serializers.Serializer):
    alpha = serializers.FloatField(allow_null=True)
    images_labeled = serializers.IntegerField()
    images_multiply_labeled = serializers.IntegerField()
    conflicts = ImageAgreementOutput(many=True)


class AgreementApi(APIView):
    permission_classes = [IsAnnotator]

    @extend_schema(responses={200: AgreementOutput})
    def get(self, request: Request) -> Response:
        return Response(AgreementOutput(selectors.agreement_summary()).data)
