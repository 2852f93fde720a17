"""``{% training_now as training %}``: the running retrain as every visitor sees it, for pages outside this app."""

from __future__ import annotations

from typing import Any

from django import template

from modelops.selectors import training_public_current

register = template.Library()


@register.simple_tag
def training_now() -> dict[str, Any] | None:
    """The queued or running retrain's public summary (stage, percent, minutes left); None when none is."""
    return training_public_current()
