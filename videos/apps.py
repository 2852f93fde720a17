from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.contrib.auth.signals import user_logged_in

from common import jobs


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
        from predictions.apps import RETENTION_EVERY_SECONDS
        from predictions.signals import person_data_deleting
        from videos import receivers, tasks

        user_logged_in.connect(_claim_clips, dispatch_uid="videos.claim_clips")
        person_data_deleting.connect(receivers.delete_clips_of_person, dispatch_uid="videos.delete_clips_of")
        # A clip's analysis takes minutes: its own workers (`-Q video`, as many as clips to analyse at once) and its own
        # thread in the embedded runner, so a clip never waits behind a retrain or delays a label.
        jobs.register(tasks.analyse, queue="video", own_lane=True)
        jobs.register(tasks.delete_expired, every=RETENTION_EVERY_SECONDS)
