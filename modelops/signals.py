"""Events of model operations for the rooms above it (calls go down, events go up)."""

from __future__ import annotations

from django.dispatch import Signal

# Staff asked for a consolidation from the dashboard (the live head refitted on every label plus replay). The room
# that owns the online-learning line (``annotations``) queues it for its single writer, once the request commits.
# Keyword argument: ``user_id``.
consolidation_requested = Signal()
