"""REST API for predictions."""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth import logout
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import roles
from accounts.sessions import owner_session_key, viewer_session_key
from common.api_errors import ERROR, error
from common.api_inputs import UPLOAD_PARSERS, NoInput, validated
from predictions import selectors, services
from predictions.ml import InvalidImage, ModelUnavailable
from predictions.models import Prediction


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
            "consent",
            "deletion_due",
            "starter_model",
        ]

    deletion_due = serializers.SerializerMethodField(
        help_text="When retention deletes this photo (not shared, never labeled); null when it is kept."
    )

    starter_model = serializers.SerializerMethodField(
        help_text="True when the quick starter model answered: a fresh install's first model, before its full training."
    )

    def get_starter_model(self, prediction: Prediction) -> bool:
        return selectors.version_is_starter(prediction.model_version)

    def get_deletion_due(self, prediction: Prediction) -> datetime | None:
        return selectors.prediction_deletion_due(prediction=prediction)

    def get_image_url(self, prediction: Prediction) -> str:
        url = selectors.prediction_image_url(prediction)
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request is not None and url.startswith("/") else url


class PredictionInput(serializers.Serializer):
    image = serializers.FileField(
        help_text="A photo: JPEG, PNG or WebP (decided by its content, not its name).",
        error_messages={"required": services.NO_IMAGE, "null": services.NO_IMAGE},
    )
    consent = serializers.BooleanField(
        default=False,
        help_text="The parent lets annotators see the photo and the model learn from it (default: no; "
        "without it only the uploader sees it, and it is deleted after INFANTINO_RETENTION_DAYS unless shared later).",
    )


class ConsentInput(serializers.Serializer):
    consent = serializers.BooleanField(help_text="Share the photo for labeling and learning (true) or stop (false).")


class PredictionPages(PageNumberPagination):
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100


class PredictionListCreateApi(APIView):
    permission_classes = [AllowAny]
    parser_classes = UPLOAD_PARSERS
    pagination_class = PredictionPages

    @property
    def throttle_scope(self) -> str | None:
        return "uploads" if self.request.method == "POST" else None  # reading the list spends no uploads

    @extend_schema(responses={200: PredictionOutput(many=True), 404: ERROR})
    def get(self, request: Request) -> Response:
        """This account's (or, anonymous, this browser session's) predictions, newest first, a page at a time."""
        mine = selectors.predictions_owned(user=request.user, session_key=viewer_session_key(request))
        pages = self.pagination_class()
        page = pages.paginate_queryset(mine.order_by("-created", "-pk"), request, view=self)
        return pages.get_paginated_response(PredictionOutput(page, many=True, context={"request": request}).data)

    @extend_schema(
        request=PredictionInput, responses={201: PredictionOutput, 400: ERROR, 413: ERROR, 429: ERROR, 503: ERROR}
    )
    def post(self, request: Request) -> Response:
        sent = validated(PredictionInput, request)
        try:
            prediction = services.prediction_create(
                upload=sent["image"],
                user=request.user,
                # Signed in, the account owns the upload; otherwise the session, whose cookie comes back with it.
                session_key=viewer_session_key(request)
                if request.user.is_authenticated
                else owner_session_key(request),
                consent=sent["consent"],
            )
        except InvalidImage as exc:
            return error(str(exc), status.HTTP_400_BAD_REQUEST)
        except ModelUnavailable as exc:
            return error(str(exc), status.HTTP_503_SERVICE_UNAVAILABLE)
        return Response(PredictionOutput(prediction, context={"request": request}).data, status=status.HTTP_201_CREATED)


NOT_FOUND = "No prediction has this id."


class PredictionDetailApi(APIView):
    """Only the uploader (account or session), annotators (shared photos) and admins see a prediction; others 404."""

    permission_classes = [AllowAny]

    @extend_schema(responses={200: PredictionOutput, 404: ERROR})
    def get(self, request: Request, prediction_id: str) -> Response:
        prediction = selectors.prediction_get_visible(
            prediction_id=prediction_id, user=request.user, session_key=viewer_session_key(request)
        )
        if prediction is None:
            return error(NOT_FOUND, status.HTTP_404_NOT_FOUND)
        return Response(PredictionOutput(prediction, context={"request": request}).data)

    @extend_schema(request=ConsentInput, responses={200: PredictionOutput, 400: ERROR, 404: ERROR})
    def patch(self, request: Request, prediction_id: str) -> Response:
        """Give or withdraw consent (the uploader only); withdrawn from a learned photo, the live model forgets it."""
        sent = validated(ConsentInput, request)
        prediction = selectors.prediction_get_owned(
            prediction_id=prediction_id, user=request.user, session_key=viewer_session_key(request)
        )
        if prediction is None:
            return error(NOT_FOUND, status.HTTP_404_NOT_FOUND)
        prediction = services.prediction_consent_set(prediction=prediction, consent=sent["consent"])
        return Response(PredictionOutput(prediction, context={"request": request}).data)

    @extend_schema(request=None, responses={204: None, 400: ERROR, 404: ERROR})
    def delete(self, request: Request, prediction_id: str) -> Response:
        """Delete the image, its file, its embeddings and every label on it (the uploader or an admin)."""
        validated(NoInput, request)
        prediction = selectors.prediction_get_deletable(
            prediction_id=prediction_id, user=request.user, session_key=viewer_session_key(request)
        )
        if prediction is None:
            return error(NOT_FOUND, status.HTTP_404_NOT_FOUND)
        services.prediction_delete(prediction=prediction)
        return Response(status=status.HTTP_204_NO_CONTENT)


# ---- what a person stored here, and deleting it ----------------------------------------------------
class MeOutput(serializers.Serializer):
    username = serializers.CharField(allow_null=True)
    roles = serializers.ListField(child=serializers.CharField())
    predictions = serializers.IntegerField()
    labels = serializers.IntegerField()
    shared = serializers.IntegerField(help_text="photos of this person shared for labeling and learning")


class DeletedOutput(serializers.Serializer):
    predictions = serializers.IntegerField()
    annotations = serializers.IntegerField()
    embeddings = serializers.IntegerField()
    files = serializers.IntegerField()
    account = serializers.BooleanField(required=False, help_text="whether the account was deleted too")


class MeApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses={200: MeOutput})
    def get(self, request: Request) -> Response:
        mine = selectors.my_data(user=request.user, session_key=viewer_session_key(request))
        return Response(
            MeOutput(
                {
                    "username": request.user.get_username() if request.user.is_authenticated else None,
                    "roles": roles.roles_of(request.user),
                    "predictions": mine.predictions,
                    "labels": mine.labels,
                    "shared": mine.shared,
                }
            ).data
        )


class DeleteInput(serializers.Serializer):
    account = serializers.BooleanField(default=False, help_text="Delete the account too (signed in only).")


class MyDataDeleteApi(APIView):
    """Deletes every photo this account (or, anonymous, this session) uploaded, and every label it gave."""

    permission_classes = [AllowAny]

    @extend_schema(request=DeleteInput, responses={200: DeletedOutput, 400: ERROR, 413: ERROR})
    def post(self, request: Request) -> Response:
        options = validated(DeleteInput, request)
        session_key = viewer_session_key(request)
        if options["account"] and request.user.is_authenticated:
            deleted = services.account_delete(user=request.user, session_key=session_key)
            logout(request._request)
            return Response({**DeletedOutput(deleted).data, "account": True})
        deleted = services.user_data_delete(user=request.user, session_key=session_key)
        return Response({**DeletedOutput(deleted).data, "account": False})
