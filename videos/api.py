"""REST API for clips: upload, the timeline (JSON and CSV), consent, deletion and "Label this moment"."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.sessions import owner_session_key, viewer_session_key
from common.api_errors import ERROR, error
from common.api_inputs import UPLOAD_PARSERS, NoInput, validated
from predictions.ml import InvalidImage as InvalidPhoto
from predictions.ml import ModelUnavailable
from predictions.selectors import prediction_image_url
from videos import selectors, services
from videos.media import InvalidClip
from videos.models import MAX_FPS, Video

NOT_FOUND = "No clip has this id."


class VideoInput(serializers.Serializer):
    video = serializers.FileField(
        help_text="A clip: MP4, MOV, WebM or AVI (decided by its content). Its video stream alone is kept, without "
        "metadata; limits: INFANTINO_VIDEO_MAX_MB and INFANTINO_VIDEO_MAX_MINUTES.",
        error_messages={"required": services.NO_VIDEO, "null": services.NO_VIDEO},
    )
    consent = serializers.BooleanField(
        default=False,
        help_text="As for photos: annotators may see the moments sent from it and the model learn from them (default "
        "no; without it only the uploader sees it, and it is deleted after INFANTINO_RETENTION_DAYS).",
    )
    fps = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_FPS,
        help_text="Frames analysed per second (default INFANTINO_VIDEO_FPS).",
    )


class QueuedOutput(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.CharField()


class FrameOutput(serializers.Serializer):
    t = serializers.FloatField(help_text="seconds from the clip's start")
    label = serializers.CharField(allow_null=True, help_text="the likeliest expression; null: no face in this frame")
    probabilities = serializers.DictField(child=serializers.FloatField(), allow_null=True)
    face = serializers.ListField(child=serializers.IntegerField(), allow_null=True, help_text="x, y, w, h")
    unsure = serializers.BooleanField()


class SegmentOutput(serializers.Serializer):
    start = serializers.FloatField()
    end = serializers.FloatField()
    label = serializers.CharField()


class VideoOutput(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=["queued", "processing", "done", "failed"])
    duration_s = serializers.FloatField()
    fps = serializers.IntegerField()
    model_version = serializers.CharField(allow_null=True)
    frames = FrameOutput(many=True)
    segments = SegmentOutput(many=True, help_text="labels held for at least 0.5 s; frames without a face are gaps")
    error = serializers.CharField(allow_null=True)
    progress = serializers.FloatField()
    seconds_left = serializers.IntegerField(allow_null=True)
    consent = serializers.BooleanField()
    deletion_due = serializers.DateTimeField(allow_null=True)
    playable = serializers.BooleanField(help_text="whether browsers play the clip's codec")


class VideoConsentInput(serializers.Serializer):
    consent = serializers.BooleanField(help_text="Share the clip's moments for labeling and learning, or stop.")


class MomentInput(serializers.Serializer):
    t = serializers.FloatField(min_value=0, help_text="seconds from the clip's start: the nearest analysed face")


class MomentOutput(serializers.Serializer):
    t = serializers.FloatField()
    prediction_id = serializers.UUIDField()
    image_url = serializers.CharField()


class VideoCreateApi(APIView):
    permission_classes = [AllowAny]
    parser_classes = UPLOAD_PARSERS
    throttle_scope = "uploads"

    @extend_schema(request=VideoInput, responses={202: QueuedOutput, 400: ERROR, 429: ERROR, 503: ERROR})
    def post(self, request: Request) -> Response:
        """Accept a clip and queue its analysis; follow it at ``GET /api/videos/<id>/`` or on ``/videos/<id>/``."""
        sent = validated(VideoInput, request)
        try:
            video = services.video_create(
                upload=sent["video"],
                user=request.user,
                session_key=viewer_session_key(request)
                if request.user.is_authenticated
                else owner_session_key(request),
                consent=sent["consent"],
                fps=sent.get("fps"),
            )
        except InvalidClip as exc:
            return error(str(exc), status.HTTP_400_BAD_REQUEST)
        return Response({"id": str(video.pk), "status": video.status}, status=status.HTTP_202_ACCEPTED)


class VideoDetailApi(APIView):
    """Only the clip's uploader (account or session) sees it; anyone else gets the 404 a missing clip gets."""

    permission_classes = [AllowAny]

    @extend_schema(responses={200: VideoOutput, 404: ERROR})
    def get(self, request: Request, video_id: str) -> Response:
        video = _owned(request, video_id)
        if video is None:
            return error(NOT_FOUND, status.HTTP_404_NOT_FOUND)
        return Response(selectors.video_payload(video))

    @extend_schema(request=VideoConsentInput, responses={200: VideoOutput, 400: ERROR, 404: ERROR})
    def patch(self, request: Request, video_id: str) -> Response:
        """Give or withdraw consent; withdrawn, its moments leave the queue and the live model forgets those learned."""
        sent = validated(VideoConsentInput, request)
        video = _owned(request, video_id)
        if video is None:
            return error(NOT_FOUND, status.HTTP_404_NOT_FOUND)
        video = services.video_consent_set(video=video, consent=sent["consent"])
        return Response(selectors.video_payload(video))

    @extend_schema(request=None, responses={204: None, 400: ERROR, 404: ERROR, 503: ERROR})
    def delete(self, request: Request, video_id: str) -> Response:
        """Delete the clip, its file, frames and timeline, and the photos sent from it to the queue (unlearned)."""
        validated(NoInput, request)
        video = _owned(request, video_id)
        if video is None:
            return error(NOT_FOUND, status.HTTP_404_NOT_FOUND)
        services.video_delete(video=video)
        return Response(status=status.HTTP_204_NO_CONTENT)


class VideoTimelineCsvApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses={(200, "text/csv"): OpenApiResponse(description="one row per analysed frame"), 404: ERROR})
    def get(self, request: Request, video_id: str) -> HttpResponse:
        """The timeline as CSV: t, face, x, y, width, height, label, unsure and the seven probabilities."""
        video = _owned(request, video_id)
        if video is None:
            return error(NOT_FOUND, status.HTTP_404_NOT_FOUND)
        response = HttpResponse(selectors.video_timeline_csv(video), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="timeline-{video.pk}.csv"'
        return response


class MomentCreateApi(APIView):
    permission_classes = [AllowAny]
    throttle_scope = "labels"

    @extend_schema(request=MomentInput, responses={201: MomentOutput, 400: ERROR, 403: ERROR, 404: ERROR, 503: ERROR})
    def post(self, request: Request, video_id: str) -> Response:
        """ "Label this moment": the face at ``t`` goes to the labeling queue as a shared photo (the clip's consent)."""
        sent = validated(MomentInput, request)
        video = _owned(request, video_id)
        if video is None:
            return error(NOT_FOUND, status.HTTP_404_NOT_FOUND)
        try:
            moment = services.moment_create(video=video, t=sent["t"])
        except services.NotShared as exc:
            return error(str(exc), status.HTTP_403_FORBIDDEN)
        except (services.MomentRefused, InvalidClip, InvalidPhoto) as exc:
            return error(str(exc), status.HTTP_400_BAD_REQUEST)
        except ModelUnavailable as exc:
            return error(str(exc), status.HTTP_503_SERVICE_UNAVAILABLE)
        url = prediction_image_url(moment.prediction)
        body = {
            "t": moment.t,
            "prediction_id": str(moment.prediction_id),
            "image_url": request.build_absolute_uri(url) if url.startswith("/") else url,
        }
        return Response(body, status=status.HTTP_201_CREATED)


def _owned(request: Request, video_id: str) -> Video | None:
    return selectors.video_get_owned(video_id=video_id, user=request.user, session_key=viewer_session_key(request))
