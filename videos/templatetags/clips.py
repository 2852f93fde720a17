"""``{% clip_limits as limits %}``: what the upload page's clip form tells people about the limits."""

from __future__ import annotations

from typing import Any

from django import template
from django.conf import settings

from videos.models import MAX_FPS

register = template.Library()


@register.simple_tag
def clip_limits() -> dict[str, Any]:
    return {
        "megabytes": settings.INFANTINO_VIDEO_MAX_BYTES // (1024 * 1024),
        "minutes": f"{settings.INFANTINO_VIDEO_MAX_SECONDS / 60:g}",
        "fps": settings.INFANTINO_VIDEO_FPS,
        "max_fps": MAX_FPS,
        "retention_days": settings.INFANTINO_RETENTION_DAYS,
    }
