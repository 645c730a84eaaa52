"""The API's only way in: ``Authorization: Bearer <token>`` with a token from the tokens page.

No session authentication: a browser's cookie never authorises an API call, so the API needs
no CSRF protection and a page on another site cannot make one with a signed-in user's rights.
A token is never taken from the URL (it would land in logs and Referer headers).
"""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

from .models import ApiToken
from .selectors import token_active_by_key
from .services import token_touch

SCHEME = "Bearer"


class ApiTokenAuthentication(BaseAuthentication):
    """Authenticates a request by its bearer token; 401 for a missing, malformed, unknown or
    revoked token and for a deactivated user."""

    def authenticate(self, request: Request) -> tuple[Any, ApiToken] | None:
        header = get_authorization_header(request).split()
        if not header or header[0].lower() != SCHEME.lower().encode():
            return None  # no credentials: NotAuthenticated (401) if the view needs them
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(
                "Send the token as 'Authorization: Bearer <token>'."
            )
        try:
            raw = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("That token is not valid.") from None
        token = token_active_by_key(raw)
        if token is None:
            raise exceptions.AuthenticationFailed("That token is not valid or was revoked.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("That token's user is deactivated.")
        token_touch(token=token)
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        # Makes a call without valid credentials a 401 (with this challenge), not a 403.
        return f'{SCHEME} realm="api"'
