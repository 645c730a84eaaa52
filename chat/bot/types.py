"""Typed objects that travel through the pipeline.

``TurnContext`` and ``TurnResult`` are the pipeline's public contract with the chat task;
``Classification`` is what either classifier backend returns.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class TurnContext:
    """What the chat task knows about the conversation before this turn."""

    history: list[tuple[str, str]] = field(default_factory=list)
    dialog_state: dict[str, Any] = field(default_factory=dict)
    customer_texts: list[str] = field(default_factory=list)
    timezone: str = ""  # the customer's IANA zone ("" = the desk's TIME_ZONE)
    now: dt.datetime | None = None  # the message's own time (aware); None = now
    # The customer id the host page signed (chat.identity); "" for an unverified customer.
    verified_customer_id: str = ""
    # What the host page told of that verified customer: {"email": ..., "name": ...} (only
    # values it gave); empty for an unverified customer.
    verified_details: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def known_details(self) -> dict[str, str]:
        """The details the desk knows without asking: for a verified customer their user id
        (as ``customer_id`` and ``user_id``) and the e-mail address and name the host page
        gave; nothing for an unverified customer (their typed details are asked for)."""
        if not self.verified_customer_id:
            return {}
        known = {k: v for k, v in self.verified_details.items() if k in ("email", "name") and v}
        return {**known, "customer_id": self.verified_customer_id,
                "user_id": self.verified_customer_id}


@dataclass
class Classification:
    """The output of intent classification, from the offline model or from Claude."""

    intent: str
    confidence: float
    top_intents: list[tuple[str, float]]
    backend: str = "offline"
    # Claude also reports these; the offline backend leaves them empty and the
    # offline stages fill them in.
    entities: dict[str, Any] = field(default_factory=dict)
    sentiment: str = ""
    urgency: str = ""
    signals: list[str] = field(default_factory=list)
    suggested_action: str = ""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["top_intents"] = [[slug, round(score, 4)] for slug, score in self.top_intents]
        data["confidence"] = round(self.confidence, 4)
        return data


@dataclass
class TurnResult:
    """The pipeline's decision for one customer message."""

    decision: str  # "reply" or "handoff"
    reply_text: str
    intent: str
    confidence: float
    top_intents: list[tuple[str, float]]
    is_fallback: bool
    entities: dict[str, Any]
    sentiment: str
    urgency: str
    signals: list[dict[str, Any]]
    articles: list[dict[str, Any]]
    handoff_reason: str
    handoff_category: str
    dialog_state: dict[str, Any]
    backend: str
    trace: dict[str, Any]
    total_ms: float
    # Buttons the widget shows under this reply; each sends its text as the customer's message.
    quick_replies: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["top_intents"] = [[slug, score] for slug, score in self.top_intents]
        return data
