from __future__ import annotations

import dataclasses
import re
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from .origins import validate_allowed_origins

WIDGET_KEY_MAX = 64


class Widget(models.Model):
    """A chat widget embedded on a company's site, found by its public key."""

    public_key = models.SlugField(max_length=WIDGET_KEY_MAX, unique=True)
    name = models.CharField(max_length=120, help_text="Internal name, seen by staff only.")
    display_name = models.CharField(
        max_length=80,
        blank=True,
        help_text="The company's name as customers see it in the widget's header "
        "(the internal name when empty).",
    )
    allowed_origins = models.JSONField(
        default=list,
        blank=True,
        help_text='Origins allowed to open conversations, e.g. ["https://shop.example"]. '
        '"self" stands for the SupportDesk server\'s own origin.',
    )
    greeting = models.CharField(max_length=500, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # The key of the host page's HMAC-SHA256 of a user id (chat.identity): shown once when it
    # is made or rotated, never in a page, log or export after that. "" = no identity checks.
    identity_secret = models.CharField(max_length=128, blank=True, editable=False)

    def __str__(self) -> str:
        return self.public_key

    @property
    def public_name(self) -> str:
        """What the customer reads in the header: the display name, else the internal name."""
        return self.display_name.strip() or self.name

    def clean(self) -> None:
        """Refuses an allow-list that is no list of ``"self"`` and origins (``chat.origins``):
        the admin form shows why, instead of a saved value breaking the widget."""
        try:
            validate_allowed_origins(self.allowed_origins)
        except ValidationError as exc:
            raise ValidationError({"allowed_origins": exc.error_list}) from None


class Contact(models.Model):
    widget = models.ForeignKey(Widget, on_delete=models.CASCADE, related_name="contacts")
    email = models.EmailField(blank=True)
    name = models.CharField(max_length=120, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # The host page's own id of a verified customer (its HMAC checked), and that check's result.
    external_id = models.CharField(max_length=200, blank=True)
    is_verified = models.BooleanField(default=False)

    class Meta:
        constraints = [
            # One verified contact per customer of a widget: the host page's id names one person.
            models.UniqueConstraint(
                fields=["widget", "external_id"], condition=models.Q(is_verified=True),
                name="contact_verified_unique",
            ),
        ]

    def __str__(self) -> str:
        return self.email or f"contact {self.pk}"


class ConversationStatus(models.TextChoices):
    BOT = "bot", "With the bot"
    WAITING = "waiting", "Waiting for an agent"
    AGENT = "agent", "With an agent"
    RESOLVED = "resolved", "Resolved"
    ABANDONED = "abandoned", "Abandoned"


class Resolution(models.TextChoices):
    NONE = "", "Not resolved"
    BOT_CONFIRMED = "bot_confirmed", "By the bot, confirmed by the customer"
    BOT_ASSUMED = "bot_assumed", "By the bot, assumed after inactivity"
    AGENT = "agent", "By an agent"


class Conversation(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    widget = models.ForeignKey(Widget, on_delete=models.CASCADE, related_name="conversations")
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="conversations"
    )
    token_hash = models.CharField(max_length=64, help_text="SHA-256 of the customer's token.")
    status = models.CharField(
        max_length=16, choices=ConversationStatus.choices, default=ConversationStatus.BOT
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_conversations",
    )
    dialog_state = models.JSONField(default=dict, blank=True)
    last_seq = models.PositiveIntegerField(default=0)
    intent = models.CharField(max_length=80, blank=True)
    sentiment = models.CharField(max_length=16, blank=True)
    handoff_reason = models.CharField(max_length=200, blank=True)
    handoff_category = models.CharField(max_length=32, blank=True)
    handed_off_at = models.DateTimeField(null=True, blank=True)
    resolution = models.CharField(
        max_length=16, choices=Resolution.choices, default=Resolution.NONE, blank=True
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    rating = models.PositiveSmallIntegerField(null=True, blank=True)
    rating_comment = models.TextField(blank=True)
    # Not auto_now_add: services take the moment as an argument so history can be replayed.
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    last_customer_message_at = models.DateTimeField(null=True, blank=True)
    last_bot_reply_at = models.DateTimeField(null=True, blank=True)
    # Where and in what the chat started (the create call's fields, else its Referer and
    # User-Agent headers), for the console's contact sidebar.
    page_url = models.URLField(max_length=2000, blank=True)
    page_title = models.CharField(max_length=300, blank=True)
    user_agent = models.CharField(max_length=500, blank=True)
    language = models.CharField(max_length=35, blank=True, help_text="A BCP 47 tag, e.g. fr-CA.")
    labels = models.ManyToManyField("Label", blank=True, related_name="conversations")
    # Last in the class body: the name hides django.utils.timezone below it.
    timezone = models.CharField(
        max_length=64, blank=True, help_text="The customer's IANA zone, from the widget's join."
    )
    # The id the host page signed for this customer (chat.identity); "" when unverified.
    verified_user_id = models.CharField(max_length=200, blank=True)
    # Where a verified customer asked for replies by e-mail, when not at their verified
    # contact's address (which the host page signed for, and which a customer's typing never
    # changes: chat.services.conversation_contact_set); "" otherwise.
    reply_email = models.EmailField(blank=True)
    # The customer's chat sockets (chat.consumers): how many are joined now, and when one last
    # joined or left. Written on join and leave only, never per message; chat.mail reads them
    # to tell whether a customer has left (no socket for EMAIL_REPLY_AFTER_MINUTES).
    customer_sockets = models.PositiveIntegerField(default=0)
    customer_joined_at = models.DateTimeField(null=True, blank=True)
    customer_left_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "handed_off_at"], name="conversation_queue_idx"),
            models.Index(fields=["status", "-resolved_at"], name="conversation_resolved_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(rating__isnull=True) | Q(rating__gte=1, rating__lte=5),
                name="conversation_rating_1_to_5",
            )
        ]

    def __str__(self) -> str:
        return str(self.public_id)


class Author(models.TextChoices):
    CUSTOMER = "customer", "Customer"
    BOT = "bot", "Bot"
    AGENT = "agent", "Agent"
    SYSTEM = "system", "System"


class Message(models.Model):
    # No index of its own: message_seq_unique (conversation, seq) begins with it.
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages", db_index=False
    )
    seq = models.PositiveIntegerField()
    author = models.CharField(max_length=16, choices=Author.choices)
    client_id = models.UUIDField(null=True, blank=True)
    in_reply_to = models.OneToOneField(
        "self",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="bot_outcome",
        help_text="The customer message this bot reply or handoff notice answers.",
    )
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    text = models.TextField()
    articles = models.JSONField(default=list, blank=True)
    # Bot messages: buttons the widget shows under the message (each sends its text).
    # The labels of the buttons a bot message offers; None (most messages) or a list of text.
    quick_replies = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Agent replies sent to a customer who had left: the mail that carries it (chat.mail).
    # No index: it is read with its message, or by conversation (message_seq_unique).
    emailed_in = models.ForeignKey(
        "OwedEmail", null=True, blank=True, on_delete=models.SET_NULL, related_name="messages",
        db_index=False,
    )

    class Meta:
        ordering = ["conversation", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["conversation", "seq"], name="message_seq_unique"),
            models.UniqueConstraint(
                fields=["conversation", "client_id"],
                condition=Q(client_id__isnull=False),
                name="message_client_id_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.conversation_id}#{self.seq} {self.author}"


class TraceEncoder(DjangoJSONEncoder):
    """Writes the pipeline's dataclasses as objects, so a trace is stored without a deep copy."""

    def default(self, o):
        if dataclasses.is_dataclass(o) and not isinstance(o, type):
            return dataclasses.asdict(o)
        return super().default(o)


class BotTrace(models.Model):
    """What the pipeline decided for one customer message, and why."""

    message = models.OneToOneField(Message, on_delete=models.CASCADE, related_name="trace")
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="traces"
    )
    intent = models.CharField(max_length=80, blank=True)
    confidence = models.FloatField(default=0.0)
    backend = models.CharField(max_length=16, default="offline")
    decision = models.CharField(max_length=16)
    handoff_reason = models.CharField(max_length=200, blank=True)
    stages = models.JSONField(default=dict, encoder=TraceEncoder)
    total_ms = models.FloatField(default=0.0)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"trace of {self.message_id}: {self.decision}"


class PresenceStatus(models.TextChoices):
    ONLINE = "online", "Online"
    AWAY = "away", "Away"
    OFFLINE = "offline", "Offline"


class AgentPresence(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="presence"
    )
    status = models.CharField(
        max_length=16, choices=PresenceStatus.choices, default=PresenceStatus.OFFLINE
    )
    connections = models.PositiveIntegerField(default=0)
    last_seen = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.user_id}: {self.status}"


class OwedAnswer(models.Model):
    """The bot owes an answer to this customer message: the chat's transactional outbox.

    Written in the same transaction as the customer message, deleted in the same transaction
    as the bot's reply or handoff notice for it (or when the conversation is no longer the
    bot's). A row that exists is an answer still owed, wherever the message sits in its
    conversation; ``chat.outbox`` queues the bot task for it until it is gone.
    """

    message = models.OneToOneField(
        Message, on_delete=models.CASCADE, primary_key=True, related_name="owed_answer"
    )
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="owed_answers"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # When the bot task was last queued for it (on commit, then by the beat dispatcher).
    queued_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"answer owed to message {self.message_id}"


class EmailKind(models.TextChoices):
    REPLY = "reply", "Agent replies"
    TRANSCRIPT = "transcript", "Transcript"


class EmailStatus(models.TextChoices):
    PENDING = "pending", "Waiting to be sent"
    SENT = "sent", "Sent"
    DROPPED = "dropped", "Not needed (the customer came back and read it)"


class OwedEmail(models.Model):
    """An e-mail the desk owes a customer: the outbox of replies by e-mail and transcripts.

    Written in the same transaction as the agent's reply (or the customer's request for the
    transcript); ``chat.mail`` sends it once ``send_after`` has come, and marks it sent in the
    transaction that holds its row lock during the SMTP conversation. Agent replies written
    while a reply mail is pending join it (``Message.emailed_in``): one mail, not one per
    message.
    """

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="owed_emails"
    )
    kind = models.CharField(max_length=16, choices=EmailKind.choices)
    status = models.CharField(
        max_length=16, choices=EmailStatus.choices, default=EmailStatus.PENDING
    )
    to = models.EmailField()
    created_at = models.DateTimeField(default=timezone.now)
    # Not before: the end of the batching window, then of each retry's backoff.
    send_after = models.DateTimeField()
    # A transcript covers the messages up to this seq (0 for a reply: its messages say).
    up_to_seq = models.PositiveIntegerField(default=0)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "send_after"], name="owed_email_due_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["conversation"],
                condition=Q(kind="reply", status="pending"),
                name="owed_email_one_pending_reply",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} mail {self.pk} ({self.status})"


class AgentProfile(models.Model):
    """What customers see of an agent: a display name and the initials of the avatar."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent_profile"
    )
    display_name = models.CharField(max_length=60)
    initials = models.CharField(max_length=3, blank=True)

    def __str__(self) -> str:
        return self.display_name


LABEL_COLOR = re.compile(r"#[0-9a-fA-F]{6}")


class Label(models.Model):
    """An admin-defined, coloured tag on conversations ("vip", "bug"), filterable in the console."""

    name = models.CharField(max_length=40, unique=True)
    color = models.CharField(
        max_length=7,
        default="#4666d8",
        validators=[RegexValidator(r"^#[0-9a-fA-F]{6}$", "A colour like #1a7f37.")],
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def css_color(self) -> str:
        """The colour, safe to write into a stylesheet (a default if the row holds anything
        but ``#rrggbb``)."""
        return self.color if LABEL_COLOR.fullmatch(self.color or "") else "#4666d8"

    @property
    def is_light(self) -> bool:
        """Whether dark text reads better on this colour (WCAG relative luminance > 0.4)."""
        channels = [int(self.css_color[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2] > 0.4


class CannedResponse(models.Model):
    """A saved reply an agent inserts by typing ``/shortcut``; ``text`` may use
    ``{{ contact.name }}``, ``{{ agent.name }}`` and ``{{ conversation.order_number }}``.

    Owned as in Zendesk and Chatwoot: a personal one (``owner`` set) is its owner's alone to
    see, change and delete; a shared one (``owner`` empty) every agent uses and only admins
    manage. A shortcut is unique among the shared ones and among each agent's own.
    """

    shortcut = models.SlugField(max_length=40)
    title = models.CharField(max_length=120)
    text = models.TextField(max_length=4000)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
        related_name="canned_responses", help_text="Empty: shared with every agent.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["shortcut"]
        constraints = [
            models.UniqueConstraint(
                fields=["shortcut"], condition=Q(owner__isnull=True), name="canned_shared_unique"
            ),
            models.UniqueConstraint(fields=["owner", "shortcut"], name="canned_personal_unique"),
        ]

    def __str__(self) -> str:
        return f"/{self.shortcut}"

    @property
    def is_shared(self) -> bool:
        """Whether every agent sees it (no owner)."""
        return self.owner_id is None


class NoteKind(models.TextChoices):
    NOTE = "note", "Private note"
    ASSIGNED = "assigned", "Assigned"
    TRANSFERRED = "transferred", "Transferred"
    UNASSIGNED = "unassigned", "Unassigned"


class Note(models.Model):
    """A line of the transcript that only agents see: a private note, or who assigned whom.

    Kept apart from ``Message`` on purpose: messages are what the customer's widget replays
    (by seq) and receives; a note is never one of them.
    """

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="notes")
    kind = models.CharField(max_length=16, choices=NoteKind.choices, default=NoteKind.NOTE)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    text = models.TextField(max_length=4000)
    mentions = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["conversation", "created_at", "pk"]
        indexes = [models.Index(fields=["conversation", "created_at"], name="note_conv_idx")]

    def __str__(self) -> str:
        return f"{self.kind} on {self.conversation_id}"
