"""E-mail to customers: agent replies to a customer who has left, and transcripts they ask for.

The outbox works like the bot's (``chat.outbox``): ``chat.services`` writes an ``OwedEmail`` row
in the same transaction as the agent's reply or the customer's request; this module queues the
send task when that commits (``owed_email_queue_on_commit``) and again from beat for every row
due and unsent (``owed_emails_dispatch``). ``owed_email_send`` sends one row through Django's
e-mail framework (``EMAIL_*`` settings) with a plain-text body and an HTML alternative, both
from templates (autoescaped), and a signed link that reopens the conversation.

Each mail is sent once: the send holds the row's lock (``select_for_update``, skipping a row
another worker holds) during the SMTP conversation and marks it sent in that transaction. A
failed send (server down, refused) keeps the row pending with an exponential backoff
(30 s, 60 s, ... up to ``EMAIL_RETRY_MAX_SECONDS``): nothing is lost. One window remains: a
worker killed after the SMTP server accepted the mail and before the commit leaves the row
pending, and the mail is sent again later. We chose that (at least once) over losing a reply;
both copies carry the same ``Message-ID`` (from the row's id), by which mail systems recognise
a duplicate.

The services never import the tasks: ``chat.tasks`` registers the queueing function
(``register_queue``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parseaddr
from functools import partial
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import Q
from django.template.defaultfilters import linebreaksbr
from django.template.loader import render_to_string
from django.utils import timezone

from knowledge.markdown import SAFE_PATH_PREFIXES, markdown_to_text, render_markdown

from . import realtime, selectors
from .models import Author, Conversation, EmailKind, EmailStatus, Message, OwedEmail
from .names import agent_public_name
from .origins import SELF, allowed_origin_entries

logger = logging.getLogger(__name__)

# The parameter of a reopen link, read by the widget's loader (static/chat/widget.js). It is
# put in the address's fragment, which a browser never sends: the token stays out of every
# server's access log, the company's and the desk's.
REOPEN_PARAM = "sd_reopen"
REOPEN_SALT = "chat.mail.reopen"
# Messages shown before the agent's replies in a reply mail, for context.
CONTEXT_MESSAGES = 10
# A transcript mail holds at most this many messages (the last ones).
TRANSCRIPT_MESSAGES = 500
# The authors whose messages a mail shows, a transcript and a reply's context alike: what the
# customer and the desk said. System messages are the widget's notices (a handoff's "leave
# your e-mail address below", "Alex joined the conversation", "handed you back"): they speak
# of a panel the reader of the mail does not have, and are not the conversation.
MAIL_AUTHORS = (Author.CUSTOMER, Author.BOT, Author.AGENT)
RETRY_FIRST_SECONDS = 30
# A socket count this stale is not trusted (a server process that died never said "left").
SOCKET_COUNT_TRUSTED_FOR = timedelta(hours=12)

_queue: Callable[[int], None] | None = None


def register_queue(queue: Callable[[int], None]) -> None:
    """Sets the function that queues the send task for one ``OwedEmail`` id."""
    global _queue
    _queue = queue


def _queue_one(email_id: int) -> bool:
    if _queue is None:
        logger.error("no e-mail task is registered: mail %s waits for the dispatcher", email_id)
        return False
    try:
        _queue(email_id)
    except Exception:
        logger.warning("could not queue mail %s; the dispatcher will", email_id, exc_info=True)
        return False
    return True


def owed_email_queue_on_commit(email_id: int) -> None:
    """Queues the send task for ``email_id`` once the current transaction commits.

    Robust: a failing queue (or, with eager Celery, a failing send) never turns the agent's
    stored reply into an error; the row stays pending for the dispatcher.
    """
    transaction.on_commit(lambda: _queue_one(email_id), robust=True)


def owed_emails_dispatch(*, now: datetime | None = None, limit: int = 200) -> int:
    """Queues the send task for every pending mail that is due; returns how many were queued."""
    now = now or timezone.now()
    due = list(
        OwedEmail.objects.filter(status=EmailStatus.PENDING, send_after__lte=now)
        .order_by("send_after")
        .values_list("pk", flat=True)[:limit]
    )
    return sum(1 for pk in due if _queue_one(pk))


# --- Has the customer left? ------------------------------------------------------------------


def _last_socket_moment(conversation: Conversation) -> datetime | None:
    moments = [m for m in (conversation.customer_joined_at, conversation.customer_left_at) if m]
    return max(moments) if moments else None


def customer_is_away(conversation: Conversation, *, now: datetime) -> bool:
    """Whether the customer has no joined chat socket now.

    From the counts ``chat.services`` keeps on join and leave (``customer_sockets``,
    ``customer_joined_at``, ``customer_left_at``): never a write per message. A count
    untouched for ``SOCKET_COUNT_TRUSTED_FOR`` is taken as zero: a server process that died
    never recorded its sockets' leaving.
    """
    last = _last_socket_moment(conversation)
    return not (
        conversation.customer_sockets > 0 and last and last > now - SOCKET_COUNT_TRUSTED_FOR
    )


def reply_send_after(conversation: Conversation, *, now: datetime) -> datetime:
    """When a reply mail started now may go: once the customer has had no socket for
    ``EMAIL_REPLY_AFTER_MINUTES`` and the batching window (``EMAIL_REPLY_BATCH_SECONDS``)
    has passed. A customer who joins before then reads the reply in the chat, and the mail
    is dropped (``owed_email_send``)."""
    batch_end = now + timedelta(seconds=settings.EMAIL_REPLY_BATCH_SECONDS)
    last = _last_socket_moment(conversation)
    if last is None:
        return batch_end
    return max(batch_end, last + timedelta(minutes=settings.EMAIL_REPLY_AFTER_MINUTES))


# --- The signed link -------------------------------------------------------------------------


def reopen_token_make(conversation: Conversation) -> str:
    """A signed, timestamped token naming the conversation (``django.core.signing``).

    Carries the conversation's public id and its widget's id; ``reopen_token_check`` accepts
    it for ``EMAIL_LINK_MAX_AGE_DAYS``.
    """
    return signing.dumps(
        {"c": str(conversation.public_id), "w": conversation.widget_id}, salt=REOPEN_SALT
    )


class ReopenLinkError(ValueError):
    """A reopen token that is forged, tampered with, expired or for another widget."""


def reopen_token_check(token: str, *, widget_id: int) -> str:
    """The conversation public id a reopen token names, for the widget ``widget_id``.

    Raises ``ReopenLinkError`` ("expired" or "bad") for anything else.
    """
    if not isinstance(token, str) or not 0 < len(token) <= 500:
        raise ReopenLinkError("bad")
    try:
        data = signing.loads(
            token, salt=REOPEN_SALT, max_age=timedelta(days=settings.EMAIL_LINK_MAX_AGE_DAYS)
        )
    except signing.SignatureExpired:
        raise ReopenLinkError("expired") from None
    except signing.BadSignature:
        raise ReopenLinkError("bad") from None
    if not isinstance(data, dict) or data.get("w") != widget_id or not isinstance(
        data.get("c"), str
    ):
        raise ReopenLinkError("bad")
    return data["c"]


def _server_origin() -> str:
    return (settings.CHAT_PUBLIC_ORIGIN or settings.DEMO_API_BASE_URL).rstrip("/")


def reopen_page(conversation: Conversation) -> str:
    """Where the link leads: the page the chat started on, else the widget's site's home (its
    first allowed origin), else the chat panel page on this server.

    The start page only when its origin is one the widget allows (or this server's): the page
    URL is the client's hint, and a mail in the company's name must never lead elsewhere."""
    if conversation.page_url:
        parts = urlsplit(conversation.page_url)
        if selectors.widget_allows_origin(
            conversation.widget, origin=f"{parts.scheme}://{parts.netloc}",
            self_origin=_server_origin(),
        ):
            return conversation.page_url
    for entry in allowed_origin_entries(conversation.widget.allowed_origins):
        if entry != SELF:
            return entry.rstrip("/") + "/"
    return f"{_server_origin()}/widget/{conversation.widget.public_key}/panel/"


def reopen_link(conversation: Conversation) -> str:
    """The page (``reopen_page``, its query kept but for an old ``sd_reopen``) with the signed
    token in the fragment: ``https://shop.example/orders?id=7#sd_reopen=TOKEN``. The page's own
    fragment is dropped."""
    parts = urlsplit(reopen_page(conversation))
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != REOPEN_PARAM]
    fragment = urlencode([(REOPEN_PARAM, reopen_token_make(conversation))])
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), fragment))


# --- Sending ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class MailLine:
    """One message as a mail shows it: ``text`` for the plain-text part (the bot's Markdown
    without its markup, ``knowledge.markdown.markdown_to_text``: a link as "label (address)",
    ``**30 days**`` as "30 days"), ``html`` for the HTML part (sanitised; the bot's and
    notices' Markdown rendered as the widget renders it), links to the desk's help pages made
    absolute."""

    who: str
    text: str
    html: str
    at: datetime
    is_new: bool

    @property
    def quoted(self) -> str:
        """``text`` with every line quoted ("> "), as a mail quotes earlier messages."""
        return "\n".join(f"> {line}" if line else ">" for line in self.text.splitlines())


# A Markdown link: [label](target), the target without spaces and with at most one level of
# balanced parentheses (as CommonMark allows); an escaped bracket (``\[``) starts none and a
# label may hold escaped characters.
_MARKDOWN_LINK = re.compile(
    r"(?<!\\)\[((?:[^\]\\\n]|\\.)+)\]\(((?:[^()\s]|\([^()\s]*\))+)\)"
)


def _absolute(target: str) -> str:
    """A help page's site-relative address with the desk's public origin; others as given."""
    return _server_origin() + target if target.startswith(SAFE_PATH_PREFIXES) else target


def _mail_line(message: Message, *, is_new: bool) -> MailLine:
    who = _who(message)
    if message.author not in realtime.HTML_AUTHORS:  # the customer's and agents' plain text
        return MailLine(who, message.text, linebreaksbr(message.text, autoescape=True),
                        message.created_at, is_new)
    markdown = _MARKDOWN_LINK.sub(_safe_link, message.text)
    text = markdown_to_text(markdown, link_target=_text_target)
    return MailLine(who, text, render_markdown(markdown), message.created_at, is_new)


def _safe_link(match: re.Match) -> str:
    """A Markdown link with a help page's address made absolute; one to a target the widget
    would not link (``javascript:``) becomes its label alone (the HTML would show it
    literally)."""
    label, target = match.group(1), _absolute(match.group(2))
    return label if _text_target(target) is None else f"[{label}]({target})"


def _text_target(href: str) -> str | None:
    """``href`` when a mail links it (http, https, mailto), else None."""
    return href if href.startswith(("http://", "https://", "mailto:")) else None


def _who(message: Message) -> str:
    if message.author == Author.CUSTOMER:
        return "You"
    if message.author == Author.AGENT:
        return agent_public_name(message.sender if message.sender_id else None)
    return "Assistant" if message.author == Author.BOT else "Support"


def _lines(email: OwedEmail) -> list[MailLine]:
    """The messages the mail shows, oldest first: a reply mail's replies (and what was said
    between them) after up to ``CONTEXT_MESSAGES`` messages before them; a transcript's
    messages up to its seq (the last ``TRANSCRIPT_MESSAGES``). Both show only
    ``MAIL_AUTHORS``' messages (the customer's, the bot's and agents'), never the widget's
    notices."""
    conversation_messages = Message.objects.filter(
        conversation_id=email.conversation_id
    ).select_related("sender")
    said = conversation_messages.filter(author__in=MAIL_AUTHORS)
    if email.kind == EmailKind.TRANSCRIPT:
        chosen = list(
            said.filter(seq__lte=email.up_to_seq).order_by("-seq")[:TRANSCRIPT_MESSAGES]
        )
        chosen.reverse()
        return [_mail_line(m, is_new=False) for m in chosen]
    replies = list(conversation_messages.filter(emailed_in=email).order_by("seq"))
    if not replies:
        return []
    if len(replies) > 1:
        # What was said between the replies comes with them, in order: the customer's "thanks"
        # between two agent replies, or the second reply reads as the first said twice.
        replies = list(
            said.filter(seq__gte=replies[0].seq, seq__lte=replies[-1].seq)
            .filter(Q(emailed_in__isnull=True) | Q(emailed_in=email))
            .order_by("seq")
        )
    context = list(
        said.filter(seq__lt=replies[0].seq)
        .exclude(Q(emailed_in__isnull=False) & ~Q(emailed_in=email))
        .order_by("-seq")[:CONTEXT_MESSAGES]
    )
    context.reverse()
    return ([_mail_line(m, is_new=False) for m in context]
            + [_mail_line(m, is_new=True) for m in replies])


def _message_id(email: OwedEmail) -> str:
    domain = parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2] or "localhost"
    return f"<supportdesk.mail.{email.pk}.{email.conversation.public_id}@{domain}>"


def mail_build(email: OwedEmail) -> EmailMultiAlternatives | None:
    """The message for one outbox row (plain text with an HTML alternative), or None when
    there is nothing to send (its replies were deleted)."""
    lines = _lines(email)
    if not lines:
        return None
    conversation = email.conversation
    company = conversation.widget.public_name
    context = {
        "company": company,
        "lines": lines,
        "link": reopen_link(conversation),
        "link_days": settings.EMAIL_LINK_MAX_AGE_DAYS,
        "is_transcript": email.kind == EmailKind.TRANSCRIPT,
        "earlier": any(not line.is_new for line in lines),
    }
    if email.kind == EmailKind.TRANSCRIPT:
        subject = f"Your conversation with {company}"
    else:
        subject = f"{company} replied to your message"
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("chat/email/message.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[email.to],
        headers={"Message-ID": _message_id(email)},
    )
    message.attach_alternative(render_to_string("chat/email/message.html", context), "text/html")
    return message


def retry_delay(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failed send: 30 s doubled each time, capped at
    ``EMAIL_RETRY_MAX_SECONDS``."""
    seconds = RETRY_FIRST_SECONDS * 2 ** min(max(attempts - 1, 0), 20)
    return timedelta(seconds=min(seconds, settings.EMAIL_RETRY_MAX_SECONDS))


def owed_email_send(email_id: int, *, now: datetime | None = None) -> str:
    """Sends one pending, due outbox mail; returns what happened.

    "sent", "failed" (kept pending with a backoff), "dropped" (the customer came back and
    read it in the chat, or nothing is left to send), "not_due", or "skipped" (sent already,
    gone, or another worker holds it). Never raises for an SMTP failure.
    """
    now = now or timezone.now()
    with transaction.atomic():
        email = (
            OwedEmail.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("conversation__widget")
            .filter(pk=email_id, status=EmailStatus.PENDING)
            .first()
        )
        if email is None:
            return "skipped"
        if email.send_after > now:
            return "not_due"
        conversation = email.conversation
        if (
            email.kind == EmailKind.REPLY
            and conversation.customer_joined_at is not None
            and conversation.customer_joined_at > email.created_at
        ):
            # The customer came back to the chat after the first reply: they saw it there.
            OwedEmail.objects.filter(pk=email.pk).update(status=EmailStatus.DROPPED)
            Message.objects.filter(conversation_id=conversation.pk, emailed_in=email).update(
                emailed_in=None
            )
            return "dropped"
        message = mail_build(email)
        if message is None:
            OwedEmail.objects.filter(pk=email.pk).update(status=EmailStatus.DROPPED)
            return "dropped"
        attempts = email.attempts + 1
        try:
            message.send(fail_silently=False)
        except Exception as exc:  # SMTP down, refused, timed out: try again later
            # The error's class only: an SMTP reply can quote the address or credentials.
            logger.warning("mail %s not sent (attempt %d): %s", email.pk, attempts,
                           type(exc).__name__)
            OwedEmail.objects.filter(pk=email.pk).update(
                attempts=attempts,
                last_error=type(exc).__name__,
                send_after=now + retry_delay(attempts),
            )
            return "failed"
        OwedEmail.objects.filter(pk=email.pk).update(
            status=EmailStatus.SENT, sent_at=timezone.now(), attempts=attempts, last_error=""
        )
        if email.kind == EmailKind.REPLY:
            # Consoles with the conversation open redraw it: "sent by e-mail" and the time.
            transaction.on_commit(
                partial(realtime.broadcast_conversation_changed, conversation, "emailed"),
                robust=True,
            )
        return "sent"
