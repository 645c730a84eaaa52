"""Every real-time payload of the chat, typed in one place (docs/protocol.md describes them).

Two families:

* **Frames**: JSON objects on a WebSocket, keyed by ``"type"`` (``"message"``, ``"typing"``...).
  ``Client*`` frames come from the widget, the others go to it (the console reuses the
  server-to-client frames of a conversation).
* **Group events**: what ``chat.realtime`` puts on the channel layer. Channels calls the
  consumer method named after the event type with dots turned into underscores
  (``"chat.message"`` -> ``chat_message``); each event carries the frame to forward in
  ``"frame"``, so a consumer handler is usually ``await self.send_json(event["frame"])``.
"""

from __future__ import annotations

from typing import Literal, NotRequired, TypedDict

AuthorName = Literal["customer", "bot", "agent", "system"]

# --- Frames the widget sends ---------------------------------------------------------------


class ClientJoin(TypedDict):
    type: Literal["join"]
    conversation_id: str  # the public id (a UUID) the API answered
    token: str
    after_seq: NotRequired[int]
    # Seqs at or below after_seq the client never received (the gap fill), at most 100.
    missing_seqs: NotRequired[list[int]]
    # The browser's IANA zone ("America/New_York"); an unknown one is ignored.
    timezone: NotRequired[str]


class ClientMessage(TypedDict):
    type: Literal["message"]
    client_id: str
    text: str


class ClientTyping(TypedDict):
    type: Literal["typing"]
    is_typing: bool


class ClientFeedback(TypedDict):
    """The customer's answer to "Did this help?" under a bot reply (``seq`` of that reply)."""

    type: Literal["feedback"]
    helpful: bool
    seq: int


class ClientRating(TypedDict):
    type: Literal["rating"]
    score: int
    comment: NotRequired[str]


class ClientContact(TypedDict):
    """An e-mail address left when no agent is online, for a reply later."""

    type: Literal["contact"]
    email: str


class ClientTranscript(TypedDict):
    """The customer asks for the transcript by e-mail (to ``email``, else the address left)."""

    type: Literal["transcript"]
    email: NotRequired[str]


# --- Frames the server sends (to the widget; the console gets the same per conversation) ---


class JoinedFrame(TypedDict):
    type: Literal["joined"]
    conversation_id: str  # the public id
    status: str
    resolution: str
    rating: int | None
    assignee_name: str
    last_seq: int
    agents_online: int
    max_chars: int
    timezone: str  # the customer's zone in force ("" = the desk's TIME_ZONE)
    email_left: str  # the address left in the e-mail form (services.address_left; "" = none)
    # While waiting for an agent: addresses order lookups found nothing for, never offered in
    # the e-mail form (selectors.emails_refused_by_lookups); [] otherwise.
    refused_emails: list[str]


class MessageFrame(TypedDict):
    type: Literal["message"]
    seq: int
    client_id: str | None
    author: AuthorName
    text: str
    created_at: str
    sender_name: str  # an agent's display name (chat.names), never a user name; "" if none
    sender_initials: str  # the initials of that agent's avatar; "" if none
    reply_to: int | None  # seq of the customer message a bot reply or handoff notice answers
    articles: list[dict]
    # Bot and system messages only: ``text`` (Markdown) rendered and sanitised by
    # ``knowledge.markdown``. Customer and agent text is plain text, never HTML.
    html: NotRequired[str]
    # Bot messages only, when it offers buttons (a question for a missing detail offers "I
    # don't have it"): each sends its text as an ordinary customer message.
    quick_replies: NotRequired[list[str]]
    # Agent replies sent by e-mail to a customer who had left (chat.mail): when it was sent.
    emailed_at: NotRequired[str]


class DeltaFrame(TypedDict):
    """A bot reply as it is being written: ``text`` is the whole reply so far."""

    type: Literal["message.delta"]
    reply_to: int
    text: str


class TypingFrame(TypedDict):
    type: Literal["typing"]
    author: AuthorName
    is_typing: bool


class HandoffFrame(TypedDict):
    type: Literal["handoff"]
    reason: str
    category: str
    agents_online: int
    expected_wait_seconds: int | None
    # Addresses order lookups found nothing for: the e-mail form never offers them.
    refused_emails: list[str]


class AvailabilityFrame(TypedDict):
    """The number of agents online changed (a console opened or closed, an agent away or
    back): the widget's header says when the team replies by it, without a reload."""

    type: Literal["availability"]
    agents_online: int


class ConversationFrame(TypedDict):
    """Status, assignee, resolution or rating changed (claim, resolve, return to bot, rate)."""

    type: Literal["conversation"]
    conversation_id: str  # the public id; the console relabels it with the internal one
    status: str
    resolution: str
    assignee_name: str
    rating: int | None


class AckFrame(TypedDict):
    """Answer to a feedback, rating, contact or transcript frame that was accepted."""

    type: Literal["ack"]
    of: Literal["feedback", "rating", "contact", "transcript"]


class ErrorFrame(TypedDict):
    type: Literal["error"]
    code: str
    message: str
    # The refused message's client id, when a message is refused for good (empty, too long):
    # the client drops it instead of sending it again.
    client_id: NotRequired[str]
    # rate_limited only: seconds until the exhausted budget's window ends.
    retry_after: NotRequired[float]


ERROR_CODES = {
    "bad_json": "The frame is not a JSON object.",
    "frame_too_large": "The frame is larger than the server accepts.",
    "unknown_type": "Unknown frame type.",
    "missing_field": "A required field is missing or has the wrong type.",
    "empty_text": "The message is empty.",
    "text_too_long": "The message is longer than the limit.",
    "not_joined": "Join a conversation first.",
    "already_joined": "This connection has already joined a conversation.",
    "bad_token": "Unknown conversation or wrong token.",
    "origin_not_allowed": "This site may not use this widget.",
    "rate_limited": "Too many messages; wait a moment.",
    "bad_text": "Text may not contain NUL characters or half of an emoji.",
    "join_timeout": "Join a conversation within seconds of connecting.",
    "bad_rating": "A rating is a whole number from 1 to 5.",
    "not_resolved": "Only a resolved conversation can be rated.",
    "already_rated": "This conversation has already been rated.",
    "bad_email": "That is not a valid e-mail address.",
    "contact_limited": "The e-mail address was changed too often; it was not saved.",
    "transcript_limited": "The transcript was asked for too often; it was not sent.",
    "bad_feedback": "Feedback refers to a bot answer from the knowledge base in this conversation.",
    "server_error": "Something went wrong; try again.",
}


# --- Group events (channel layer) ------------------------------------------------------------


class ChatMessageEvent(TypedDict):
    """To ``conversation_group``: a stored message; ``frame`` is its MessageFrame."""

    type: Literal["chat.message"]
    frame: MessageFrame


class ChatDeltaEvent(TypedDict):
    type: Literal["chat.delta"]
    frame: DeltaFrame


class ChatTypingEvent(TypedDict):
    type: Literal["chat.typing"]
    frame: TypingFrame


class ChatHandoffEvent(TypedDict):
    type: Literal["chat.handoff"]
    frame: HandoffFrame


class ChatConversationEvent(TypedDict):
    type: Literal["chat.conversation"]
    frame: ConversationFrame


class ChatAvailabilityEvent(TypedDict):
    """To ``realtime.AVAILABILITY_GROUP`` (every joined customer socket)."""

    type: Literal["chat.availability"]
    frame: AvailabilityFrame


class QueueSummary(TypedDict):
    """What an agent's queue row needs to know about one conversation."""

    conversation_id: int
    status: str
    assignee_id: int | None
    intent: str
    sentiment: str
    handoff_reason: str
    handoff_category: str
    handed_off_at: str | None
    last_seq: int


# What a ``queue.changed`` frame reports: a new handoff is only ``handoff``; a conversation an
# agent gave back is ``unassigned`` (waiting again), not a new handoff.
QUEUE_CHANGES = (
    "handoff", "reopened", "claimed", "assigned", "transferred", "unassigned", "resolved",
    "returned", "rated", "abandoned", "labels", "emailed",
)


class QueueChangedFrame(TypedDict):
    """The set of waiting/claimed conversations changed (handoff, claim, resolve, return);
    ``change`` is one of ``QUEUE_CHANGES``."""

    type: Literal["queue.changed"]
    change: str
    conversation: QueueSummary


class ConversationUpdatedFrame(TypedDict):
    """Something happened in a conversation an agent may be watching (e.g. a new message)."""

    type: Literal["conversation.updated"]
    conversation: QueueSummary
    author: NotRequired[AuthorName]


class QueueChangedEvent(TypedDict):
    """To ``QUEUE_GROUP``; the console handler is ``queue_changed``."""

    type: Literal["queue.changed"]
    frame: QueueChangedFrame


class ConversationUpdatedEvent(TypedDict):
    """To ``QUEUE_GROUP``; the console handler is ``conversation_updated``."""

    type: Literal["conversation.updated"]
    frame: ConversationUpdatedFrame


class NoteFrame(TypedDict):
    """To ``console_conversation_group`` only (agents): a private note or assignment line."""

    type: Literal["note"]
    conversation_id: int
    kind: str  # chat.models.NoteKind
    author_id: int | None
    created_at: str


class AgentNoticeFrame(TypedDict):
    """To one agent's ``agent_group``: mentioned in a note, or handed a conversation."""

    type: Literal["agent.notice"]
    conversation_id: int
    kind: str
    text: str
