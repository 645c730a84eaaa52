"""Secrets shown once, after a redirect: the answer to the form that made a secret is a
redirect (post/redirect/get), so a reload or the back button never makes a second one, and
the page it leads to shows the secret from the session, once.

The value waits in the user's server-side session (Django's session store, never a cookie,
a URL or a log) from the POST until the next GET of that page, which takes it out.
"""

from __future__ import annotations

from django.http import HttpRequest

SESSION_KEY = "shown-once"


def keep(request: HttpRequest, kind: str, ref: int | str, value: str) -> None:
    """Holds ``value`` (a secret just made) for the next ``take`` of (``kind``, ``ref``); a
    value not taken yet for another ``kind`` or ``ref`` waits beside it."""
    held = dict(request.session.get(SESSION_KEY) or {})
    held[f"{kind}:{ref}"] = value
    request.session[SESSION_KEY] = held


def take(request: HttpRequest, kind: str, ref: int | str) -> str:
    """The value ``keep`` held for (``kind``, ``ref``), removed from the session; "" when
    there is none (already shown, or never made in this session)."""
    held = dict(request.session.get(SESSION_KEY) or {})
    value = held.pop(f"{kind}:{ref}", "")
    if value:
        request.session[SESSION_KEY] = held
    return str(value)
