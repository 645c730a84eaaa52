"""The names customers see for the people who answer them."""

from __future__ import annotations

from typing import Any

from django.conf import settings


def agent_public_name(agent: Any) -> str:
    """The name a customer sees for ``agent`` (a user) in bubbles, notices and frames.

    Never the user name or the real name of the account: until agents have display names of
    their own, every agent is ``CHAT_AGENT_PUBLIC_NAME`` ("Support team"). "" for no agent.
    """
    if agent is None:
        return ""
    return settings.CHAT_AGENT_PUBLIC_NAME
