"""Every middleware runs in the async chain, so a server asked to stop with requests in flight still stops."""

from __future__ import annotations

from django.conf import settings
from django.utils.module_loading import import_string


def test_every_middleware_can_run_in_the_async_chain():
    # Below a sync-only middleware Django calls the rest of the chain through async_to_sync, which waits on
    # daphne's event loop: a request in flight when daphne stops then waits forever on a loop that no longer
    # runs, and the process never exits (CI saw a browser test's server hang on SIGTERM this way).
    sync_only = [path for path in settings.MIDDLEWARE if not getattr(import_string(path), "async_capable", False)]
    assert sync_only == []
