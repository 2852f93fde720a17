"""WhiteNoise's static files, served from whichever chain Django builds: sync under WSGI and tests, async under daphne.

WhiteNoise's middleware is sync only, and below a sync-only middleware Django calls the rest of the chain through
``async_to_sync``, which waits on daphne's event loop. A request in flight when daphne stops then waits forever
on a loop that no longer runs, and the process never exits. In an async chain this one looks the file up as
WhiteNoise does and awaits the rest of the chain itself.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponseBase
from whitenoise.middleware import WhiteNoiseMiddleware


class StaticFilesMiddleware(WhiteNoiseMiddleware):
    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        super().__init__(get_response)
        self.in_async_chain = iscoroutinefunction(get_response)
        if self.in_async_chain:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponseBase | Awaitable[HttpResponseBase]:
        if self.in_async_chain:
            return self.serve_async(request)
        return super().__call__(request)

    async def serve_async(self, request: HttpRequest) -> HttpResponseBase:
        found = self.find_file(request.path_info) if self.autorefresh else self.files.get(request.path_info)
        if found is not None:
            return self.serve(found, request)
        return await self.get_response(request)
