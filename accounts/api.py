"""REST API about the person asking: their roles and their data, and deleting all of it."""

from __future__ import annotations

from django.contrib.auth import logout
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import roles, selectors
from accounts.services import account_delete
from accounts.sessions import viewer_session_key
from infantino_site.api_errors import ERROR
from predictions.services import user_data_delete


class MeOutput(serializers.Serializer):
    username = serializers.CharField(allow_null=True)
    roles = serializers.ListField(child=serializers.CharField())
    predictions = serializers.IntegerField()
    labels = serializers.IntegerField()


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
                }
            ).data
        )


class DeleteInput(serializers.Serializer):
    account = serializers.BooleanField(default=False, help_text="Delete the account too (signed in only).")


class MyDataDeleteApi(APIView):
    """Deletes every photo this account (or, anonymous, this session) uploaded, and every label it gave."""

    permission_classes = [AllowAny]

    @extend_schema(request=DeleteInput, responses={200: DeletedOutput, 400: ERROR})
    def post(self, request: Request) -> Response:
        options = DeleteInput(data=request.data)
        options.is_valid(raise_exception=True)
        session_key = viewer_session_key(request)
        if options.validated_data["account"] and request.user.is_authenticated:
            deleted = account_delete(user=request.user, session_key=session_key)
            logout(request._request)
            return Response({**DeletedOutput(deleted).data, "account": True})
        deleted = user_data_delete(user=request.user, session_key=session_key)
        return Response({**DeletedOutput(deleted).data, "account": False})
