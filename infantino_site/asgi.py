"""ASGI entry point: HTTP through Django, websockets through Channels."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

from infantino_site.env import load_env_file

load_env_file()  # .env in the repository root (or INFANTINO_ENV_FILE); the real environment wins
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "infantino_site.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402

from annotations.learning.warmup import request_warm_up as request_learning_warm_up  # noqa: E402
from infantino_site.routing import websocket_urlpatterns  # noqa: E402
from modelops.events import listen_for_model_events  # noqa: E402
from modelops.services import autotrain_in_background  # noqa: E402
from predictions import ml  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)

ml.load_in_background()
listen_for_model_events()  # with Redis, every web process swaps on model.updated, not only those with a page open
if settings.INFANTINO_WARM_START:
    request_learning_warm_up()  # the single writer loads MLflow's logging stack before the first label
# Only the starter live: train the full model (or resume the training a restart cut short). INFANTINO_AUTOTRAIN=false.
autotrain_in_background()
