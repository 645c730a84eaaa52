"""Per-token request budget: ``API_RATE_LIMIT`` requests per user (``COUNT/SECONDS``), counted
in the shared cache so that every process agrees; over it a 429 with ``Retry-After``."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.throttling import UserRateThrottle


class ApiUserThrottle(UserRateThrottle):
    scope = "api"

    def get_rate(self) -> str:
        # Read on each request (not once at import) so that the setting is the one in force.
        count, seconds = settings.API_RATE_LIMIT
        return f"{count}/{int(seconds)}s"

    def parse_rate(self, rate: Any) -> tuple[int, int]:
        count, seconds = settings.API_RATE_LIMIT
        return int(count), max(1, int(seconds))
