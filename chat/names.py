"""The names customers see for the people who answer them."""

from __future__ import annotations

from typing import Any

from django.conf import settings


def _profile(agent: Any) -> Any:
    """The agent's ``AgentProfile``, or None (one query unless already fetched)."""
    from django.core.exceptions import ObjectDoesNotExist

    try:
        return agent.agent_profile
    except (ObjectDoesNotExist, AttributeError):
        return None


def initials_of(name: str) -> str:
    """Up to two initials of a display name: "Maya Lopez" -> "ML", "Zoë" -> "Z", "" -> ""."""
    letters = [word[0] for word in name.split() if word and word[0].isalnum()]
    if len(letters) > 2:
        letters = [letters[0], letters[-1]]
    return "".join(letters).upper()


def agent_public_name(agent: Any) -> str:
    """The name a customer sees for ``agent`` (a user) in bubbles, notices and frames.

    The display name the agent set on the console's profile page (``chat.AgentProfile``);
    never the user name or the real name of the account: an agent without a profile is
    ``CHAT_AGENT_PUBLIC_NAME`` ("Support team"). "" for no agent.
    """
    if agent is None:
        return ""
    profile = _profile(agent)
    if profile is not None and profile.display_name.strip():
        return profile.display_name.strip()
    return settings.CHAT_AGENT_PUBLIC_NAME


def agent_public_initials(agent: Any) -> str:
    """The initials of the agent's avatar: the profile's own, else those of the public name
    ("Support team" -> "ST"). "" for no agent."""
    if agent is None:
        return ""
    profile = _profile(agent)
    if profile is not None and profile.initials.strip():
        return profile.initials.strip().upper()
    return initials_of(agent_public_name(agent))
