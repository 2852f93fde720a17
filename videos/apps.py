from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.contrib.auth.signals import user_logged_in


def _claim_clips(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    """On sign-in, the clips this browser uploaded anonymously move to the account, as its photos do."""
    # Imported here: services reads models, which cannot be imported while the apps are loading.
    from accounts.sessions import viewer_session_key
    from videos.services import videos_claim

    if request is not None and hasattr(request, "session"):
        videos_claim(user=user, session_key=viewer_session_key(request))


class VideosConfig(AppConfig):
    name = "videos"
    verbose_name = "Videos"

    def ready(self) -> None:
        from predictions.signals import person_data_deleting
        from videos import receivers

        user_logged_in.connect(_claim_clips, dispatch_uid="videos.claim_clips")
        person_data_deleting.connect(receivers.delete_clips_of_person, dispatch_uid="videos.delete_clips_of")
