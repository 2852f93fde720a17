"""REST API around the queue: progress, skips kept on the server, unusable photos, blind mode."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsAdmin, IsAnnotator
from accounts.roles import is_admin
from annotations import selectors, services
from annotations.api import refused
from common.api_errors import ERROR, error
from common.api_inputs import ChoiceField, NoInput, validated
from predictions.models import Unusable


class ProgressOutput(serializers.Serializer):
    total = serializers.IntegerField(help_text="Images usable for learning.")
    labeled = serializers.IntegerField(help_text="Of those, decided: learned, adjudicated or with a majority.")
    remaining = serializers.IntegerField()
    percent = serializers.IntegerField()
    unusable = serializers.IntegerField(help_text="Shared photos marked no usable face or not an infant.")
    mine = serializers.IntegerField(help_text="Labels you gave.")
    skipped = serializers.IntegerField(help_text="Images you skipped.")


class ProgressApi(APIView):
    permission_classes = [IsAnnotator]

    @extend_schema(responses={200: ProgressOutput})
    def get(self, request: Request) -> Response:
        return Response(ProgressOutput(selectors.labeling_progress(annotator=request.user)).data)


class ImageInput(serializers.Serializer):
    # Blank is let through so that an empty or unknown id reads the same: 404, no image has this id.
    image = serializers.CharField(help_text="The id of the image (a prediction id).", max_length=64, allow_blank=True)


class SkipsApi(APIView):
    """Skips are kept per annotator: a skipped image stays out of their queue until they bring skips back."""

    permission_classes = [IsAnnotator]

    @extend_schema(request=ImageInput, responses={201: ProgressOutput, 404: ERROR})
    def post(self, request: Request) -> Response:
        sent = validated(ImageInput, request)
        try:
            services.queue_skip_create(image_id=sent["image"], annotator=request.user)
        except services.AnnotationError as exc:
            return refused(exc)
        body = ProgressOutput(selectors.labeling_progress(annotator=request.user)).data
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: ProgressOutput})
    def delete(self, request: Request) -> Response:
        validated(NoInput, request)
        services.queue_skips_clear(annotator=request.user)
        return Response(ProgressOutput(selectors.labeling_progress(annotator=request.user)).data)


class UnusableInput(ImageInput):
    reason = ChoiceField(choices=Unusable.values)


class UnusableOutput(serializers.Serializer):
    image = serializers.CharField(source="pk")
    unusable = serializers.CharField(help_text='"no_face", "not_infant", or "" once staff undid the mark.')


class UnusableApi(APIView):
    permission_classes = [IsAnnotator]

    @extend_schema(request=UnusableInput, responses={200: UnusableOutput, 400: ERROR, 404: ERROR, 409: ERROR})
    def post(self, request: Request) -> Response:
        sent = validated(UnusableInput, request)
        try:
            image = services.unusable_mark(image_id=sent["image"], reason=sent["reason"], by=request.user)
        except services.AnnotationError as exc:
            return refused(exc)
        return Response(UnusableOutput(image).data)


class UnusableUndoApi(APIView):
    permission_classes = [IsAdmin]

    @extend_schema(request=None, responses={200: UnusableOutput, 404: ERROR})
    def delete(self, request: Request, image_id: str) -> Response:
        validated(NoInput, request)
        try:
            image = services.unusable_clear(image_id=image_id)
        except services.AnnotationError as exc:
            return refused(exc)
        return Response(UnusableOutput(image).data)


class BlindnessOutput(serializers.Serializer):
    project = serializers.BooleanField(help_text="The project hides the model's guess from every annotator.")
    mine = serializers.BooleanField(help_text="You hide it from yourself.")
    blind = serializers.BooleanField(help_text="Either: the queue sends you no guess, probabilities or uncertainty.")


class BlindnessInput(serializers.Serializer):
    mine = serializers.BooleanField(required=False)
    project = serializers.BooleanField(required=False, help_text="Staff only.")


class BlindnessApi(APIView):
    permission_classes = [IsAnnotator]

    @extend_schema(responses={200: BlindnessOutput})
    def get(self, request: Request) -> Response:
        return Response(BlindnessOutput(selectors.blindness_for(request.user)).data)

    @extend_schema(request=BlindnessInput, responses={200: BlindnessOutput, 403: ERROR})
    def patch(self, request: Request) -> Response:
        sent = validated(BlindnessInput, request)
        if "project" in sent and not is_admin(request.user):
            return error("Only staff turn the project's blind mode on or off.", status.HTTP_403_FORBIDDEN)
        if "project" in sent:
            services.labeling_settings_update(blind=sent["project"], by=request.user)
        if "mine" in sent:
            services.annotator_preference_update(user=request.user, blind=sent["mine"])
        return Response(BlindnessOutput(selectors.blindness_for(request.user)).data)
