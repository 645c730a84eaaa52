"""chat.mail: agent replies by e-mail to a customer who has left, the signed reopen link, the
transcript by e-mail. A real SMTP server (aiosmtpd) on a loopback port receives the mails."""

from __future__ import annotations

import email
import email.policy
import json
import re
import socket
import time
from datetime import timedelta
from email.message import EmailMessage
from urllib.parse import parse_qs, urlsplit

import pytest
from aiosmtpd.controller import Controller
from django.core import mail as django_mail
from django.core import signing
from django.db import transaction
from django.test import override_settings
from django.utils import timezone

from chat import mail, realtime, selectors, services
from chat.models import (
    Conversation,
    EmailKind,
    EmailStatus,
    Message,
    OwedEmail,
    Widget,
)
from tests.chat.conftest import turn_result

pytestmark = pytest.mark.django_db

SMTP_HOST = "127.0.0.1"


class Inbox:
    """aiosmtpd's handler: keeps every mail it accepted (envelope recipients and message)."""

    def __init__(self) -> None:
        self.received: list[tuple[list[str], EmailMessage]] = []

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, _class=EmailMessage,
                                           policy=email.policy.default)
        self.received.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((SMTP_HOST, 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp_port():
    return free_port()


@pytest.fixture
def smtp_settings(smtp_port):
    with override_settings(
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST=SMTP_HOST, EMAIL_PORT=smtp_port, EMAIL_USE_TLS=False, EMAIL_TIMEOUT=5,
        DEFAULT_FROM_EMAIL="Acme support <help@acme.example>",
    ):
        yield smtp_port


@pytest.fixture
def smtp_server(smtp_settings):
    inbox = Inbox()
    controller = Controller(inbox, hostname=SMTP_HOST, port=smtp_settings)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()


@pytest.fixture
def left(conversation):
    """The customer left an address and closed the chat ten minutes ago."""
    services.conversation_contact_set(conversation=conversation, email="dana@customer.example")
    services.customer_socket_joined(conversation=conversation,
                                    at=timezone.now() - timedelta(minutes=11))
    services.customer_socket_left(conversation=conversation,
                                  at=timezone.now() - timedelta(minutes=10))
    conversation.refresh_from_db()
    return conversation


def reply(conversation, agent, text="Your refund was sent today.", at=None):
    return services.agent_message_create(conversation=conversation, agent=agent, text=text, at=at)


def send_due(now=None) -> list[str]:
    """Sends every pending mail due at ``now`` (as beat's dispatcher and the task would)."""
    now = now or timezone.now() + timedelta(hours=1)
    due = OwedEmail.objects.filter(status=EmailStatus.PENDING, send_after__lte=now)
    return [mail.owed_email_send(pk, now=now) for pk in due.values_list("pk", flat=True)]


def link_token(link: str) -> str:
    return parse_qs(urlsplit(link).fragment)["sd_reopen"][0]


# --- Who is owed a mail ----------------------------------------------------------------------


def test_the_mail_is_owed_with_the_reply_and_queued_only_once_it_commits(
    left, agent, monkeypatch, django_capture_on_commit_callbacks
):
    queued = []
    monkeypatch.setattr(mail, "_queue", queued.append)
    with pytest.raises(RuntimeError), transaction.atomic():
        reply(left, agent, "rolled back")
        raise RuntimeError("the agent's transaction fails")
    assert not OwedEmail.objects.exists() and queued == []

    with django_capture_on_commit_callbacks(execute=True):
        message = reply(left, agent)
        assert queued == []
    owed = OwedEmail.objects.get()
    assert (owed.kind, owed.status, owed.to) == ("reply", "pending", "dana@customer.example")
    assert Message.objects.get(pk=message.pk).emailed_in_id == owed.pk
    assert queued == [owed.pk]


def test_no_mail_while_the_customer_has_a_socket_open(conversation, agent):
    services.conversation_contact_set(conversation=conversation, email="dana@customer.example")
    services.customer_socket_joined(conversation=conversation)
    conversation.refresh_from_db()
    reply(conversation, agent)
    assert not OwedEmail.objects.exists()


def test_no_mail_without_an_address(conversation, agent):
    reply(conversation, agent)
    assert not OwedEmail.objects.exists()


def test_a_customer_who_left_a_minute_ago_gets_the_mail_once_the_wait_is_over(
    conversation, agent, settings
):
    settings.EMAIL_REPLY_AFTER_MINUTES = 5
    services.conversation_contact_set(conversation=conversation, email="dana@customer.example")
    now = timezone.now()
    services.customer_socket_joined(conversation=conversation, at=now - timedelta(minutes=2))
    services.customer_socket_left(conversation=conversation, at=now - timedelta(minutes=1))
    conversation.refresh_from_db()
    reply(conversation, agent, at=now)
    owed = OwedEmail.objects.get()
    assert owed.send_after == now - timedelta(minutes=1) + timedelta(minutes=5)
    assert mail.owed_email_send(owed.pk, now=now + timedelta(minutes=3)) == "not_due"


def test_a_socket_count_left_by_a_dead_server_is_not_trusted_forever(conversation, agent):
    long_ago = timezone.now() - timedelta(days=1)
    services.conversation_contact_set(conversation=conversation, email="dana@customer.example")
    services.customer_socket_joined(conversation=conversation, at=long_ago)  # never "left"
    conversation.refresh_from_db()
    assert conversation.customer_sockets == 1
    reply(conversation, agent)
    assert OwedEmail.objects.count() == 1


def test_replies_within_the_window_share_one_mail(left, agent, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    first = reply(left, agent, "First, your refund was sent.")
    second = reply(left, agent, "Second, it takes three days.")
    owed = OwedEmail.objects.get()
    assert set(Message.objects.filter(emailed_in=owed).values_list("pk", flat=True)) == {
        first.pk, second.pk
    }
    assert send_due() == ["sent"]
    assert len(django_mail.outbox) == 1
    body = django_mail.outbox[0].body
    assert "First, your refund was sent." in body and "Second, it takes three days." in body
    # A reply after the mail went starts the next one.
    reply(left, agent, "Third.")
    assert OwedEmail.objects.filter(status=EmailStatus.PENDING).count() == 1


def test_what_the_customer_said_between_two_replies_comes_with_them_in_order(
    left, agent, settings
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    reply(left, agent, "I have refunded the duplicate charge.")
    services.message_create_incoming(  # typed before the tab was closed again
        conversation=left, text="Great, and the delivery fee?", client_id=None, queue_bot=False)
    left.refresh_from_db()
    reply(left, agent, "The delivery fee is refunded too.")
    assert send_due() == ["sent"]
    [sent] = django_mail.outbox
    new_part = sent.body.split("Continue the conversation", 1)[0]
    first = new_part.index("I have refunded the duplicate charge.")
    between = new_part.index("Great, and the delivery fee?")
    second = new_part.index("The delivery fee is refunded too.")
    assert first < between < second
    assert new_part.count("You (") == 1  # said once, in its place, not quoted again below
    assert "> Great, and the delivery fee?" not in sent.body
    html = str(sent.alternatives[0][0])
    assert html.index("duplicate charge") < html.index("delivery fee?") < html.index(
        "refunded too")


def test_a_customer_who_came_back_reads_it_in_the_chat_and_gets_no_mail(
    left, agent, settings, django_capture_on_commit_callbacks, monkeypatch
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    message = reply(left, agent)
    owed = OwedEmail.objects.get()
    changes = []
    monkeypatch.setattr(realtime, "broadcast_conversation_changed",
                        lambda conversation, change: changes.append((conversation.pk, change)))
    with django_capture_on_commit_callbacks(execute=True):
        services.customer_socket_joined(conversation=left)
    # Dropped when the customer comes back, not when it falls due: consoles redraw at once
    # and stop saying "to be sent by e-mail".
    owed.refresh_from_db()
    assert owed.status == EmailStatus.DROPPED
    assert Message.objects.get(pk=message.pk).emailed_in_id is None
    assert changes == [(left.pk, "emailed")]
    assert send_due() == []
    assert django_mail.outbox == []
    # Joining again with nothing waiting changes nothing and tells no one.
    with django_capture_on_commit_callbacks(execute=True):
        services.customer_socket_joined(conversation=left)
    assert changes == [(left.pk, "emailed")]
    # A reply while the customer is back is not owed; a sent mail stays sent.
    reply(left, agent, "Anything else?")
    assert OwedEmail.objects.count() == 1


def test_a_mail_already_sent_is_left_sent_when_the_customer_comes_back(left, agent, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    message = reply(left, agent)
    assert send_due() == ["sent"]
    services.customer_socket_joined(conversation=left)
    owed = OwedEmail.objects.get()
    assert owed.status == EmailStatus.SENT and owed.sent_at is not None
    assert Message.objects.get(pk=message.pk).emailed_in_id == owed.pk


# --- The mail through a real SMTP server -----------------------------------------------------


def test_the_customer_receives_the_reply_with_context_and_a_signed_link(
    left, agent, smtp_server, client
):
    services.message_create_incoming(
        conversation=left, text="Where is <script>alert(1)</script> my refund?",
        client_id=None, queue_bot=False,
    )
    left.refresh_from_db()
    reply(left, agent, "Sent today, <b>Dana</b>.")
    assert send_due() == ["sent"]
    assert len(smtp_server.received) == 1
    recipients, message = smtp_server.received[0]
    assert recipients == ["dana@customer.example"]
    assert message["To"] == "dana@customer.example"
    assert message["Subject"] == "Acme replied to your message"
    owed = OwedEmail.objects.get()
    assert message["Message-ID"].strip().startswith(f"<supportdesk.mail.{owed.pk}.")
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "Where is <script>alert(1)</script> my refund?" in text  # plain text is plain
    assert "Sent today, <b>Dana</b>." in text
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;Dana&lt;/b&gt;" in html
    links = re.findall(r"https?://\S+", text)
    assert len(links) == 1
    assert links[0].startswith("https://shop.example/#sd_reopen=")  # the widget's site
    assert f'href="{links[0].replace("&", "&amp;")}"' in html

    # The link reopens this conversation, with a new customer token.
    response = reopen(client, link_token(links[0]))
    assert response.status_code == 200
    data = response.json()
    assert data["conversation_id"] == str(left.public_id)
    assert selectors.conversation_for_customer(
        public_id=left.public_id, token=data["token"]
    ).pk == left.pk


def test_a_reply_mail_quotes_what_was_said_not_the_widgets_notices(left, agent):
    from chat.bot.escalation import handoff_message

    message, _ = services.message_create_incoming(
        conversation=left, text="My card was charged twice.", client_id=None, queue_bot=False)
    notice = handoff_message("policy", "billing_issue", agents_online=False)
    services.bot_turn_record(message=message, result=turn_result(
        decision="handoff", handoff_category="policy", reply_text=notice))
    left.refresh_from_db()
    services.conversation_claim(conversation=left, agent=agent)  # "Alex joined", a notice too
    left.refresh_from_db()
    reply(left, agent, "The second charge is refunded.")
    assert send_due() == ["sent"]
    [sent] = django_mail.outbox
    assert "My card was charged twice." in sent.body
    assert "The second charge is refunded." in sent.body
    assert "address below" not in sent.body and "address below" not in str(
        sent.alternatives[0][0])
    # The transcript keeps everything, the notice too.
    assert Message.objects.filter(conversation=left, author="system").count() == 2


def test_a_reply_mail_reads_as_a_mail_links_whole_and_earlier_messages_quoted(
    left, agent, settings
):
    settings.CHAT_PUBLIC_ORIGIN = "https://desk.acme.example"
    message, _ = services.message_create_incoming(
        conversation=left, text="How do returns work?\nI bought it last week.", client_id=None,
        queue_bot=False)
    services.bot_turn_record(message=message, result=turn_result(reply_text=(
        "You have **30 days** to return an item.\n\n"
        "[Read the whole article](/help/articles/3-returns-policy/) or "
        "[the carrier's page](https://carrier.example/track). "
        "[Not this](javascript:alert(1))")))
    left.refresh_from_db()
    services.conversation_claim(conversation=left, agent=agent)
    left.refresh_from_db()
    reply(left, agent, "I have started the return for you.")
    assert send_due() == ["sent"]
    [sent] = django_mail.outbox
    text, html = sent.body, str(sent.alternatives[0][0])
    article = "https://desk.acme.example/help/articles/3-returns-policy/"
    assert f"Read the whole article ({article})" in text
    assert "the carrier's page (https://carrier.example/track)" in text
    assert "](" not in text and "javascript" not in text and "Not this\n" in text
    assert "You have 30 days to return an item." in text and "**" not in text
    assert f'href="{article}"' in html and "<strong>30 days</strong>" in html
    assert "](/help" not in html and "](https" not in html and 'href="javascript' not in html
    # The new reply comes first, unquoted; the earlier messages after the link, quoted line
    # by line, as mail readers expect.
    new_at, link_at = text.index("I have started the return"), text.index("sd_reopen=")
    earlier_at = text.index("Earlier in the conversation:")
    assert new_at < link_at < earlier_at
    assert "> You (" in text and "> How do returns work?\n> I bought it last week." in text
    assert "\n> I have started" not in text
    assert html.index("I have started the return") < html.index("Earlier in the conversation")


def test_a_looked_up_answer_reads_without_its_markdown_escapes(left, agent):
    from knowledge.markdown import escape_markdown

    message, _ = services.message_create_incoming(
        conversation=left, text="Where is order 10023?", client_id=None, queue_bot=False)
    values = ["in_transit", "10:30", "[phish](https://evil.example/login)", "*UPS*", "a\\b"]
    services.bot_turn_record(message=message, result=turn_result(reply_text=(
        "Order 10023: " + ", ".join(escape_markdown(v) for v in values) + ".")))
    left.refresh_from_db()
    services.conversation_claim(conversation=left, agent=agent)
    left.refresh_from_db()
    reply(left, agent, "It is on its way.")
    assert send_due() == ["sent"]
    [sent] = django_mail.outbox
    text, html = sent.body, str(sent.alternatives[0][0])
    assert "Order 10023: " + ", ".join(values) + "." in text
    assert "evil.example" in html and 'href="https://evil' not in html and "<em>" not in html


def test_the_link_leads_to_the_page_where_the_chat_started(widget):
    conversation, _ = services.conversation_start(
        widget=widget,
        origin_info={"page_url": "https://shop.example/orders?id=7&sd_reopen=old#top"},
    )
    parts = urlsplit(mail.reopen_link(conversation))
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "shop.example", "/orders")
    # The token in the fragment, which no browser sends to a server (nor its access log); the
    # page's own query kept, an old token in it dropped.
    assert parse_qs(parts.query) == {"id": ["7"]}
    fragment = parse_qs(parts.fragment)
    assert list(fragment) == ["sd_reopen"] and len(fragment["sd_reopen"]) == 1
    assert mail.reopen_token_check(fragment["sd_reopen"][0], widget_id=widget.pk) == str(
        conversation.public_id
    )


def test_a_start_page_on_a_site_the_widget_does_not_allow_is_never_linked(widget):
    conversation, _ = services.conversation_start(
        widget=widget, origin_info={"page_url": "https://evil.example/login"}
    )
    assert mail.reopen_link(conversation).startswith("https://shop.example/#sd_reopen=")


def test_a_widget_only_on_the_desk_s_own_pages_links_to_its_panel(db, settings):
    settings.CHAT_PUBLIC_ORIGIN = "https://desk.example"
    own = Widget.objects.create(public_key="own", name="Own", allowed_origins=["self"])
    conversation, _ = services.conversation_start(widget=own)
    assert mail.reopen_link(conversation).startswith(
        "https://desk.example/widget/own/panel/#sd_reopen="
    )


def reopen(client, token, key="acme"):
    return client.post(
        "/api/widget/conversations/reopen/", json.dumps({"widget": key, "link": token}),
        content_type="application/json", HTTP_ORIGIN="https://shop.example",
    )


def test_a_tampered_forged_or_foreign_link_opens_nothing(conversation, client, widget):
    token = mail.reopen_token_make(conversation)
    held = conversation.token_hash
    value, _, signature = token.rpartition(":")
    tampered = value + ":" + ("A" if signature[0] != "A" else "B") + signature[1:]
    other, _ = services.conversation_start(widget=widget)
    forged = signing.dumps({"c": str(other.public_id), "w": widget.pk}, salt="another salt")
    for bad in (tampered, forged, "not a token", token + "x"):
        response = reopen(client, bad)
        assert response.status_code == 400 and response.json()["error"] == "bad_link"
    foreign = Widget.objects.create(
        public_key="globex", name="Globex", allowed_origins=["https://shop.example"]
    )
    response = reopen(client, token, key="globex")
    assert response.status_code == 400 and response.json()["error"] == "bad_link"
    assert foreign.pk != widget.pk
    conversation.refresh_from_db()
    assert conversation.token_hash == held  # nothing changed


def test_an_expired_link_opens_nothing(conversation, client, monkeypatch, settings):
    settings.EMAIL_LINK_MAX_AGE_DAYS = 14
    fifteen_days_ago = int(time.time()) - 15 * 86400
    monkeypatch.setattr(
        signing.TimestampSigner, "timestamp",
        lambda self: signing.b62_encode(fifteen_days_ago),
    )
    token = mail.reopen_token_make(conversation)
    monkeypatch.undo()
    response = reopen(client, token)
    assert response.status_code == 400 and response.json()["error"] == "link_expired"


def test_smtp_down_then_up_the_mail_arrives_once(left, agent, smtp_settings):
    reply(left, agent)
    owed = OwedEmail.objects.get()
    now = timezone.now() + timedelta(hours=1)
    assert mail.owed_email_send(owed.pk, now=now) == "failed"  # nothing listens on the port
    owed.refresh_from_db()
    assert (owed.status, owed.attempts, owed.last_error) == ("pending", 1, "ConnectionRefusedError")
    assert owed.send_after == now + timedelta(seconds=30)
    assert mail.owed_email_send(owed.pk, now=now + timedelta(seconds=10)) == "not_due"
    assert mail.owed_email_send(owed.pk, now=now + timedelta(seconds=30)) == "failed"
    owed.refresh_from_db()
    assert owed.send_after == now + timedelta(seconds=30) + timedelta(seconds=60)  # doubled

    inbox = Inbox()
    controller = Controller(inbox, hostname=SMTP_HOST, port=smtp_settings)
    controller.start()
    try:
        later = owed.send_after
        assert mail.owed_email_send(owed.pk, now=later) == "sent"
        assert mail.owed_email_send(owed.pk, now=later) == "skipped"
        assert send_due(later + timedelta(days=1)) == []
    finally:
        controller.stop()
    assert len(inbox.received) == 1
    owed.refresh_from_db()
    assert (owed.status, owed.attempts, owed.last_error) == ("sent", 3, "")


def test_the_dispatcher_queues_only_what_is_due(left, agent, monkeypatch):
    queued = []
    monkeypatch.setattr(mail, "_queue", queued.append)
    reply(left, agent)
    owed = OwedEmail.objects.get()
    assert mail.owed_emails_dispatch(now=owed.send_after - timedelta(seconds=1)) == 0
    assert mail.owed_emails_dispatch(now=owed.send_after) == 1 and queued[-1] == owed.pk


def test_retry_delay_doubles_up_to_the_cap(settings):
    settings.EMAIL_RETRY_MAX_SECONDS = 3600
    assert [mail.retry_delay(n).total_seconds() for n in (1, 2, 3, 8, 50)] == [
        30, 60, 120, 3600, 3600
    ]


# --- What the transcript shows ---------------------------------------------------------------


def test_the_transcript_says_sent_by_e_mail_with_the_time(
    left, agent, settings, client, monkeypatch, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    message = reply(left, agent)
    frame = realtime.message_frame(Message.objects.get(pk=message.pk))
    assert "emailed_at" not in frame  # not sent yet
    changed = []
    monkeypatch.setattr(realtime, "broadcast_conversation_changed",
                        lambda conversation, change: changed.append((conversation.pk, change)))
    with django_capture_on_commit_callbacks(execute=True):
        send_due()
    assert changed == [(left.pk, "emailed")]  # open consoles redraw the transcript
    owed = OwedEmail.objects.get()
    stored = selectors.messages_for_rejoin(conversation_id=left.pk, after_seq=0, missing_seqs=[])
    frames = {m.seq: realtime.message_frame(m) for m in stored}
    assert frames[message.seq]["emailed_at"] == owed.sent_at.isoformat()
    client.force_login(agent)
    page = client.get(f"/console/conversations/{left.pk}/").content.decode()
    assert 'data-sd="emailed">sent by e-mail' in page
    assert owed.sent_at.isoformat()[:16] in page


# --- The transcript by e-mail ----------------------------------------------------------------


def test_a_transcript_goes_to_the_typed_address_or_the_one_left(
    conversation, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    services.message_create_incoming(
        conversation=conversation, text="Do you ship to Oslo?", client_id=None, queue_bot=False
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.transcript_email_request(
            conversation=conversation, email="kim@customer.example"
        )
    assert [m.to for m in django_mail.outbox] == [["kim@customer.example"]]
    assert django_mail.outbox[0].subject == "Your conversation with Acme"
    assert "Do you ship to Oslo?" in django_mail.outbox[0].body
    services.conversation_contact_set(conversation=conversation, email="dana@customer.example")
    with django_capture_on_commit_callbacks(execute=True):
        services.transcript_email_request(conversation=conversation)
    assert django_mail.outbox[1].to == ["dana@customer.example"]


def test_a_transcript_holds_what_was_said_not_the_widgets_notices(
    conversation, agent, settings, django_capture_on_commit_callbacks
):
    from chat.bot.escalation import handoff_message
    from chat.names import agent_public_name

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    first, _ = services.message_create_incoming(
        conversation=conversation, text="Is the Birch lamp dimmable?", client_id=None,
        queue_bot=False)
    services.bot_turn_record(message=first, result=turn_result(
        reply_text="Yes, the **Birch** lamp dims in three steps."))
    conversation.refresh_from_db()
    second, _ = services.message_create_incoming(
        conversation=conversation, text="Mine flickers, I want a person.", client_id=None,
        queue_bot=False)
    services.bot_turn_record(message=second, result=turn_result(
        decision="handoff", handoff_category="human_request",
        reply_text=handoff_message("human_request", agents_online=False)))
    conversation.refresh_from_db()
    services.conversation_claim(conversation=conversation, agent=agent)  # "Alex joined"
    conversation.refresh_from_db()
    reply(conversation, agent, "A new bulb is on its way to you.")
    conversation.refresh_from_db()
    services.conversation_return_to_bot(conversation=conversation, agent=agent)
    conversation.refresh_from_db()
    notices = list(Message.objects.filter(conversation=conversation, author="system")
                   .values_list("text", flat=True))
    assert len(notices) == 3  # the handoff's, "joined" and "handed you back"
    with django_capture_on_commit_callbacks(execute=True):
        services.transcript_email_request(conversation=conversation, email="kim@customer.example")
    [sent] = django_mail.outbox
    text, html = sent.body, str(sent.alternatives[0][0])
    for said in ("Is the Birch lamp dimmable?", "Mine flickers, I want a person.",
                 "A new bulb is on its way to you."):
        assert said in text and said in html
    assert "Yes, the Birch lamp dims in three steps." in text
    assert "Yes, the <strong>Birch</strong> lamp dims in three steps." in html
    for part in (text, html):
        for notice in notices:
            assert notice not in part
        assert "address below" not in part and "joined the conversation" not in part
        assert "handed you back" not in part
    # In order, and each line under its author.
    assert text.index("Is the Birch") < text.index("Yes, the Birch") < text.index(
        "Mine flickers") < text.index("A new bulb")
    authors = re.findall(r"^(.+) \(\d{1,2} \w{3} \d{4}, [\d:]+ \w+\):$", text, re.MULTILINE)
    assert authors == ["You", "Assistant", "You", agent_public_name(agent)]


@pytest.mark.parametrize("address", ["not-an-address", "a@b", "dana@@customer.example", ""])
def test_an_invalid_transcript_address_is_refused_and_changes_nothing(conversation, address):
    with pytest.raises(ValueError):
        services.transcript_email_request(conversation=conversation, email=address)
    assert not OwedEmail.objects.exists()


@pytest.mark.parametrize("address", ["not-an-address", "dana@", "x" * 300 + "@example.com"])
def test_an_invalid_address_is_refused_when_it_is_left(conversation, address):
    with pytest.raises(ValueError):
        services.conversation_contact_set(conversation=conversation, email=address)
    conversation.refresh_from_db()
    assert conversation.contact_id is None


def test_owed_email_kinds_are_stored_as_documented():
    assert {EmailKind.REPLY, EmailKind.TRANSCRIPT} == {"reply", "transcript"}
    assert Conversation._meta.get_field("customer_sockets").default == 0


# --- The tasks ---------------------------------------------------------------------------------


def test_the_send_task_runs_on_commit_only_for_a_mail_already_due(
    left, agent, settings, django_capture_on_commit_callbacks
):
    from chat import tasks

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert settings.CELERY_BEAT_SCHEDULE["dispatch-owed-emails"]["task"] == (
        tasks.owed_emails_dispatch.name
    )
    with django_capture_on_commit_callbacks(execute=True):
        reply(left, agent)  # due after the batching window: left to beat
    assert django_mail.outbox == []
    assert OwedEmail.objects.get().status == "pending"
    with django_capture_on_commit_callbacks(execute=True):
        services.transcript_email_request(conversation=left)  # due now: sent at once
    assert [m.subject for m in django_mail.outbox] == ["Your conversation with Acme"]
    OwedEmail.objects.filter(kind="reply").update(send_after=timezone.now())
    assert tasks.owed_emails_dispatch() == 1
    assert len(django_mail.outbox) == 2
    assert set(OwedEmail.objects.values_list("status", flat=True)) == {"sent"}


def test_admins_read_the_outbox_and_cannot_edit_it(left, agent, admin_client):
    reply(left, agent)
    owed = OwedEmail.objects.get()
    page = admin_client.get("/admin/chat/owedemail/")
    assert page.status_code == 200 and "pending" in page.content.decode()
    assert admin_client.get(f"/admin/chat/owedemail/{owed.pk}/change/").status_code == 200
    assert admin_client.post(
        f"/admin/chat/owedemail/{owed.pk}/change/", {"status": "sent"}
    ).status_code == 403
    owed.refresh_from_db()
    assert owed.status == "pending"
    assert admin_client.get("/admin/chat/owedemail/add/").status_code == 403


@pytest.fixture
def eager_celery():
    """Celery as on the embedded defaults (eager) for the test, whichever pass runs it."""
    from celery import current_app

    before = current_app.conf.task_always_eager
    current_app.conf.task_always_eager = True
    yield current_app
    current_app.conf.task_always_eager = before


def test_the_embedded_defaults_send_a_reply_mail_that_falls_due_later(
    left, agent, settings, eager_celery
):
    """bin/serve has no Celery beat: ``run_schedule`` runs its dispatcher, which sends the mail."""
    from django.core.management import call_command

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.EMAIL_REPLY_BATCH_SECONDS = 0
    reply(left, agent)
    assert OwedEmail.objects.get().status == EmailStatus.PENDING
    call_command("run_schedule", "--once")
    assert OwedEmail.objects.get().status == EmailStatus.SENT
    assert [m.to for m in django_mail.outbox] == [["dana@customer.example"]]


def test_run_schedule_in_a_fresh_process_knows_every_scheduled_task(tmp_path):
    """A process of its own, as ``bin/serve`` starts it: only what it imports is registered
    with Celery unless the apps' tasks modules are discovered (the analytics rollup's tasks
    failed with NotRegistered every round)."""
    import os
    import subprocess
    import sys

    from django.conf import settings as django_settings

    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "PYTEST_CURRENT_TEST")}
    env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'schedule.sqlite3'}",
               DJANGO_SETTINGS_MODULE="supportdesk.settings")
    root = django_settings.BASE_DIR
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v", "0"], cwd=root, env=env, check=True, timeout=300)
    done = subprocess.run([*manage, "run_schedule", "--once"], cwd=root, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "failed" not in done.stderr and "NotRegistered" not in done.stderr, done.stderr[-2000:]


def test_run_schedule_refuses_a_schedule_naming_an_unknown_task(eager_celery, settings):
    from django.core.management import CommandError, call_command

    settings.CELERY_BEAT_SCHEDULE = {"typo": {"task": "chat.tasks.no_such_task", "schedule": 5}}
    with pytest.raises(CommandError, match=r"chat\.tasks\.no_such_task"):
        call_command("run_schedule", "--once")


def test_run_schedule_refuses_to_stand_in_for_celery_beat_with_a_broker(eager_celery):
    from django.core.management import CommandError, call_command

    eager_celery.conf.task_always_eager = False
    with pytest.raises(CommandError, match="Celery beat"):
        call_command("run_schedule", "--once")
