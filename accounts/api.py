"""API tokens for scripts: ``POST /api/token/`` trades a username and password for one, ``DELETE`` revokes it."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import AllowAny, BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import services
from accounts.authentication import ThrottledBasicAuthentication
from common.api_errors import ERROR, error
from common.api_inputs import NoInput, validated

WRONG = "Wrong username or password."


class TokenInput(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, trim_whitespace=False, style={"input_type": "password"})


TOKEN = inline_serializer("Token", fields={"token": serializers.CharField()})


class TokenApi(APIView):
    """Scripts send ``Authorization: Token <key>``: no CSRF token needed, and the account's roles apply."""

    def get_permissions(self) -> list[BasePermission]:
        return [AllowAny()] if self.request.method == "POST" else [IsAuthenticated()]

    @extend_schema(request=TokenInput, responses={200: TOKEN, 400: ERROR, 429: ERROR}, auth=[])
    def post(self, request: Request) -> Response:
        sent = validated(TokenInput, request)
        try:
            # The sign-in guard's own path: refused unchecked while locked out (429), a wrong password counted.
            user, _ = ThrottledBasicAuthentication().authenticate_credentials(
                sent["username"], sent["password"], request
            )
        except AuthenticationFailed:
            return error(WRONG, status.HTTP_400_BAD_REQUEST)
        return Response({"token": services.token_issue(user=user)})

    @extend_schema(request=None, responses={204: None, 401: ERROR, 403: ERROR})
    def delete(self, request: Request) -> Response:
        """Revoke this account's token, whichever way this request signed in."""
        validated(NoInput, request)
        services.token_revoke(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
