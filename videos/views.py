"""Pages: upload a clip (from the upload page's form), the clip's page with its timeline, the clip itself."""

from __future__ import annotations

import re
from math import ceil

from django.conf import settings
from django.contrib import messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_http_methods, require_POST

from accounts.sessions import owner_session_key, viewer_session_key
from common.api_errors import ServiceUnavailable
from common.throttling import rate_exceeded
from predictions.ml import LABELS
from videos import selectors, services
from videos.media import InvalidClip
from videos.models import MAX_FPS, Video
from videos.timeline import describe

RANGE = re.compile(r"bytes=(\d*)-(\d*)$")
CHUNK = 64 * 1024


@require_POST
def upload(request: HttpRequest) -> HttpResponse:
    """The upload page's clip form: queue the analysis and open the clip's page, or say why not on the upload page."""
    wait = rate_exceeded(request, scope="uploads")
    if wait is not None:
        messages.error(request, f"Too many uploads: try again in {ceil(wait)} seconds.")
        return redirect("predictions:upload")
    try:
        fps = int(request.POST.get("fps") or settings.INFANTINO_VIDEO_FPS)
    except ValueError:
        fps = 0
    if not 1 <= fps <= MAX_FPS:
        messages.error(request, f"Frames per second must be a whole number from 1 to {MAX_FPS}.")
        return redirect("predictions:upload")
    try:
        video = services.video_create(
            upload=request.FILES.get("video"),
            user=request.user,
            session_key=owner_session_key(request),
            consent=request.POST.get("consent") == "yes",
            fps=fps,
        )
    except (InvalidClip, ServiceUnavailable) as exc:
        messages.error(request, str(exc))
        return redirect("predictions:upload")
    return redirect("videos:page", video_id=video.pk)


def page(request: HttpRequest, video_id: str) -> HttpResponse:
    video = _owned(request, video_id)
    return render(
        request,
        "videos/page.html",
        {
            "video": video,
            "file_url": selectors.video_file_url(video),
            "payload": {**selectors.video_payload(video), "labels": list(LABELS), "deletion_due": None},
            "summary_text": describe(selectors.video_summary(video)),
            "deletion_due": selectors.video_deletion_due(video=video),
            "moments": video.moments.select_related("prediction"),
        },
    )


@require_http_methods(["GET", "HEAD"])
def file(request: HttpRequest, video_id: str) -> HttpResponse:
    """The clean copy of the clip, for its uploader only; byte ranges answered, so the player can seek."""
    video = _owned(request, video_id)
    if not settings.SERVE_MEDIA:
        redirect_to = HttpResponseRedirect(video.file.url)
        patch_cache_control(redirect_to, private=True, no_store=True)  # the URL it points to soon expires
        return redirect_to
    try:
        handle = video.file.open("rb")
    except FileNotFoundError:
        raise Http404("The clip is gone.") from None
    size = video.file.size
    wanted = RANGE.match(request.headers.get("Range", "").strip())
    if wanted is None or not any(wanted.groups()):
        response = FileResponse(handle, content_type=video.content_type)
    else:
        first, last = _byte_range(wanted, size)
        if first > last:
            handle.close()
            refused = HttpResponse(status=416)
            refused["Content-Range"] = f"bytes */{size}"
            return refused
        handle.seek(first)
        response = FileResponse(_read(handle, last - first + 1), status=206, content_type=video.content_type)
        response["Content-Range"] = f"bytes {first}-{last}/{size}"
        response["Content-Length"] = str(last - first + 1)
    response["Accept-Ranges"] = "bytes"
    patch_cache_control(response, private=True, max_age=300)  # never kept by a shared cache
    return response


def _byte_range(wanted: re.Match[str], size: int) -> tuple[int, int]:
    start, end = wanted.groups()
    if not start:  # the last N bytes
        return max(0, size - int(end)), size - 1
    return int(start), min(size - 1, int(end)) if end else size - 1


def _read(handle, length: int):  # type: ignore[no-untyped-def]
    try:
        while length > 0:
            chunk = handle.read(min(CHUNK, length))
            if not chunk:
                break
            length -= len(chunk)
            yield chunk
    finally:
        handle.close()


@require_POST
def delete(request: HttpRequest, video_id: str) -> HttpResponse:
    video = _owned(request, video_id)
    try:
        services.video_delete(video=video)
    except ServiceUnavailable as exc:
        messages.error(request, str(exc))
        return redirect("videos:page", video_id=video.pk)
    messages.success(request, "The clip, its timeline and the photos sent from it are deleted.")
    return redirect("predictions:upload")


def _owned(request: HttpRequest, video_id: str) -> Video:
    video = selectors.video_get_owned(video_id=video_id, user=request.user, session_key=viewer_session_key(request))
    if video is None:
        raise Http404("No clip has this id.")
    return video
