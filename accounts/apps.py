from typing import Any

from django.apps import AppConfig
from django.contrib.auth.signals import user_logged_in


def _claim_uploads(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    from accounts.services import uploads_claim
    from accounts.sessions import viewer_session_key

    if request is not None and hasattr(request, "session"):
        uploads_claim(user=user, session_key=viewer_session_key(request))


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and roles"

    def ready(self) -> None:
        user_logged_in.connect(_claim_uploads, dispatch_uid="accounts.claim_uploads")
