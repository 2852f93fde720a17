"""The browser session that owns an anonymous person's uploads."""

from __future__ import annotations

from typing import Any

# The first key of the session, kept in its data: signing in changes the key, not the data, so a person who
# uploads and then signs in keeps their photos.
OWNER = "upload_owner"


def owner_session_key(request: Any) -> str:
    """The key uploads are tied to; made on a first upload, and sent back as a cookie so the client can read them."""
    session = request.session
    owner = session.get(OWNER)
    if owner:
        return owner
    if session.session_key is None:
        session.save()
    session[OWNER] = session.session_key  # marks the session modified: the middleware then sends its cookie
    return session[OWNER]


def viewer_session_key(request: Any) -> str:
    """The key to look uploads up by; never makes a session ("" matches nothing)."""
    return request.session.get(OWNER) or request.session.session_key or ""
