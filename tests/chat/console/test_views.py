"""The console's pages and actions (chat/console/views.py) through the Django test client."""

from __future__ import annotations

import re
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from chat.models import (
    AgentPresence,
    Author,
    ConversationStatus,
    Message,
    PresenceStatus,
    Resolution,
)

from .conftest import bot_turn, handed_over, handoff_turn, start_conversation

HX = {"HTTP_HX_REQUEST": "true"}


def _urls(pk: int) -> list[tuple[str, str]]:
    return [
        ("get", reverse("chat:console")),
        ("get", reverse("chat:console-conversation", args=[pk])),
        ("post", reverse("chat:console-claim", args=[pk])),
        ("post", reverse("chat:console-send", args=[pk])),
        ("post", reverse("chat:console-resolve", args=[pk])),
        ("post", reverse("chat:console-return", args=[pk])),
        ("post", reverse("chat:console-presence")),
        ("get", reverse("chat:console-articles")),
    ]


def test_anonymous_users_go_to_login_from_every_url(client, waiting_conversation):
    for method, url in _urls(waiting_conversation.pk):
        response = getattr(client, method)(url)
        assert response.status_code == 302, url
        assert response.url.startswith("/accounts/login/"), url


@pytest.mark.parametrize("role_fixture", ["admin_user", "manager"])
def test_admins_and_managers_get_403_everywhere(
    client, request, role_fixture, waiting_conversation
):
    client.force_login(request.getfixturevalue(role_fixture))
    for method, url in _urls(waiting_conversation.pk):
        assert getattr(client, method)(url).status_code == 403, url
    waiting_conversation.refresh_from_db()
    assert waiting_conversation.status == ConversationStatus.WAITING


def test_agents_open_every_page(client, agent, waiting_conversation):
    client.force_login(agent)
    pk = waiting_conversation.pk
    assert client.get(reverse("chat:console")).status_code == 200
    assert client.get(reverse("chat:console-conversation", args=[pk])).status_code == 200
    assert client.get(reverse("chat:console-articles"), {"q": "x"}).status_code == 200


def test_each_tab_lists_its_conversations_only(client, agent, other_agent, widget):
    from chat import services

    waiting = handed_over(widget)
    mine = handed_over(widget)
    services.conversation_claim(conversation=mine, agent=agent)
    theirs = handed_over(widget)
    services.conversation_claim(conversation=theirs, agent=other_agent)
    closed = handed_over(widget)
    services.conversation_claim(conversation=closed, agent=agent)
    services.conversation_resolve(conversation=closed, resolution="agent", agent=agent)
    with_bot, _ = start_conversation(widget, "hello")

    client.force_login(agent)
    expected = {
        "waiting": {waiting},
        "mine": {mine},
        "open": {waiting, mine, theirs},
        "resolved": {closed},
    }
    everyone = {waiting, mine, theirs, closed, with_bot}
    for tab, shown in expected.items():
        page = client.get(reverse("chat:console"), {"tab": tab}).content.decode()
        for conversation in everyone:
            marker = f'data-conversation-id="{conversation.pk}"'
            assert (marker in page) is (conversation in shown), (tab, conversation.pk)
        assert f'data-sd="tab-{tab}"' in page
    page = client.get(reverse("chat:console")).content.decode()  # Waiting by default
    assert f'data-conversation-id="{waiting.pk}"' in page
    assert "The customer mentions a lawyer" in page
    assert "complaint" in page and "negative" in page
    assert 'data-sd="queue-waiting"' in page
    # A tab that is no tab is the default one, not an error.
    assert client.get(reverse("chat:console"), {"tab": "nope"}).status_code == 200


def test_a_conversation_the_bot_owes_for_over_a_minute_joins_the_queue(
    client, agent, widget, settings
):
    from datetime import timedelta

    from django.utils import timezone

    from chat import services

    settings.CHAT_OWED_ANSWER_QUEUE_AFTER_SECONDS = 60

    def asked(seconds_ago):
        conversation, _ = services.conversation_start(widget=widget)
        services.message_create_incoming(
            conversation=conversation, text="hello?", client_id=uuid.uuid4(), queue_bot=False,
            at=timezone.now() - timedelta(seconds=seconds_ago),
        )
        return conversation

    late, fresh = asked(90), asked(10)
    client.force_login(agent)
    page = client.get(reverse("chat:console")).content.decode()
    assert f'data-conversation-id="{late.pk}"' in page
    assert f'data-conversation-id="{fresh.pk}"' not in page
    assert 'data-sd="queue-bot-late"' in page and "waiting 1 min" in page


def test_htmx_gets_the_queue_fragment_only(client, agent, waiting_conversation):
    client.force_login(agent)
    full = client.get(reverse("chat:console")).content.decode()
    fragment = client.get(reverse("chat:console"), **HX).content.decode()
    assert "<html" in full and 'id="queue"' in full
    assert "<html" not in fragment
    assert fragment.strip().startswith('<section id="queue"')
    assert f'data-conversation-id="{waiting_conversation.pk}"' in fragment


def test_conversation_page_shows_transcript_and_trace(client, agent, widget):
    from chat import services

    conversation, (first,) = start_conversation(widget, "where is order 55102?")
    services.bot_turn_record(message=first, result=bot_turn())
    message, _ = start_message(conversation, "<script>alert(1)</script> my lawyer")
    services.bot_turn_record(message=message, result=handoff_turn())

    client.force_login(agent)
    page = client.get(reverse("chat:console-conversation", args=[conversation.pk])).content.decode()
    authors = [m.author for m in Message.objects.filter(conversation=conversation)]
    assert Author.CUSTOMER in authors and Author.BOT in authors
    assert page.count('data-sd="message"') == len(authors)
    assert "Your parcel ships in two days." in page
    assert 'data-sd="trace"' in page
    assert "order_status" in page and "0.82" in page
    # Once per turn (two turns), not once more for the pipeline's singular duplicate.
    assert page.count("order_number: 55102") == 2
    assert "money: $40" in page
    assert "The customer mentions a lawyer" in page
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert 'data-sd="claim"' in page


def start_message(conversation, text):
    import uuid

    from chat import services

    return services.message_create_incoming(
        conversation=conversation, text=text, client_id=uuid.uuid4(), queue_bot=False
    )


@pytest.mark.parametrize(
    ("target", "start"),
    [
        ("transcript", '<ol id="transcript"'),
        ("conversation-head", '<header id="conversation-head"'),
        ("conversation", '<section id="conversation"'),
        ("contact-panel", '<aside id="contact-panel"'),
    ],
)
def test_htmx_gets_the_targeted_conversation_fragment(
    client, agent, waiting_conversation, target, start
):
    client.force_login(agent)
    url = reverse("chat:console-conversation", args=[waiting_conversation.pk])
    body = client.get(url, HTTP_HX_TARGET=target, **HX).content.decode()
    assert "<html" not in body
    assert body.strip().startswith(start)


def test_unknown_conversation_is_404(client, agent):
    client.force_login(agent)
    assert client.get(reverse("chat:console-conversation", args=[999999])).status_code == 404


def test_claim_send_resolve(client, agent, waiting_conversation):
    from analytics.models import ReportingEvent

    client.force_login(agent)
    pk = waiting_conversation.pk
    response = client.post(reverse("chat:console-claim", args=[pk]), **HX)
    assert response.status_code == 200
    body = response.content.decode()
    assert 'data-sd="composer"' in body and 'data-sd="resolve"' in body
    waiting_conversation.refresh_from_db()
    assert waiting_conversation.status == ConversationStatus.AGENT
    assert waiting_conversation.assignee == agent

    send_url = reverse("chat:console-send", args=[pk])
    response = client.post(send_url, {"text": "  Hi, Ann here. "}, **HX)
    assert response.status_code == 200
    reply = Message.objects.get(conversation=waiting_conversation, author=Author.AGENT)
    assert reply.text == "Hi, Ann here." and reply.sender == agent

    response = client.post(reverse("chat:console-resolve", args=[pk]))
    assert response.status_code == 302
    waiting_conversation.refresh_from_db()
    assert waiting_conversation.status == ConversationStatus.RESOLVED
    assert waiting_conversation.resolution == Resolution.AGENT
    names = set(
        ReportingEvent.objects.filter(conversation=waiting_conversation).values_list(
            "name", flat=True
        )
    )
    assert {"first_agent_reply", "agent_replied", "resolved"} <= names


def test_return_to_bot(client, agent, waiting_conversation):
    from chat import services

    services.conversation_claim(conversation=waiting_conversation, agent=agent)
    client.force_login(agent)
    response = client.post(reverse("chat:console-return", args=[waiting_conversation.pk]))
    assert response.status_code == 302
    waiting_conversation.refresh_from_db()
    assert waiting_conversation.status == ConversationStatus.BOT


def test_only_the_claiming_agent_may_send_resolve_or_return(
    client, agent, other_agent, waiting_conversation
):
    from chat import services

    services.conversation_claim(conversation=waiting_conversation, agent=other_agent)
    client.force_login(agent)
    pk = waiting_conversation.pk
    before = Message.objects.count()
    for name, data in (
        ("chat:console-send", {"text": "hello"}),
        ("chat:console-resolve", {}),
        ("chat:console-return", {}),
    ):
        response = client.post(reverse(name, args=[pk]), data, **HX)
        assert response.status_code == 400, name
        assert 'data-sd="console-error"' in response.content.decode()
    waiting_conversation.refresh_from_db()
    assert waiting_conversation.status == ConversationStatus.AGENT
    assert waiting_conversation.assignee == other_agent
    assert Message.objects.count() == before


def test_claiming_a_claimed_conversation_changes_nothing(
    client, agent, other_agent, waiting_conversation
):
    from chat import services

    services.conversation_claim(conversation=waiting_conversation, agent=other_agent)
    client.force_login(agent)
    response = client.post(reverse("chat:console-claim", args=[waiting_conversation.pk]), **HX)
    assert response.status_code == 400
    waiting_conversation.refresh_from_db()
    assert waiting_conversation.assignee == other_agent


@pytest.mark.parametrize("text", ["", "   ", "x" * 2001])
def test_bad_reply_text_is_refused(client, agent, waiting_conversation, text):
    from chat import services

    services.conversation_claim(conversation=waiting_conversation, agent=agent)
    client.force_login(agent)
    before = Message.objects.count()
    response = client.post(
        reverse("chat:console-send", args=[waiting_conversation.pk]), {"text": text}, **HX
    )
    assert response.status_code == 400
    assert Message.objects.count() == before


def test_presence_toggle(client, agent):
    client.force_login(agent)
    response = client.post(reverse("chat:console-presence"), {"status": "away"}, **HX)
    assert response.status_code == 200
    assert 'data-sd="presence-online"' in response.content.decode()
    assert AgentPresence.objects.get(user=agent).status == PresenceStatus.AWAY
    client.post(reverse("chat:console-presence"), {"status": "online"})
    assert AgentPresence.objects.get(user=agent).status == PresenceStatus.ONLINE
    response = client.post(reverse("chat:console-presence"), {"status": "offline"})
    assert response.status_code == 400
    assert AgentPresence.objects.get(user=agent).status == PresenceStatus.ONLINE


def test_article_search_gives_published_plain_text(client, agent):
    from knowledge.models import Article, ArticleStatus

    Article.objects.create(
        title="Returns within 30 days",
        body="## Returning\n\nSend it **back** within 30 days & keep the "
        "<script>x()</script> receipt.",
        status=ArticleStatus.PUBLISHED,
    )
    Article.objects.create(title="Returns draft", body="secret draft", status=ArticleStatus.DRAFT)
    client.force_login(agent)
    body = client.get(reverse("chat:console-articles"), {"q": "returns"}, **HX).content.decode()
    assert "Returns within 30 days" in body
    assert "Returns draft" not in body and "secret draft" not in body
    assert "Send it back within 30 days &amp; keep the" in body
    assert "**" not in body and "<script>" not in body and "<strong>" not in body
    empty = client.get(reverse("chat:console-articles"), {"q": "zzzz"}).content.decode()
    assert "No published article matches." in empty


def _queries(client, url, **extra) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url, **extra).status_code == 200
    return len(captured)


def test_queue_query_count_does_not_grow_with_the_queue(client, agent, widget):
    from chat import services

    client.force_login(agent)
    for _ in range(2):
        conversation = handed_over(widget)
    services.conversation_claim(conversation=conversation, agent=agent)
    url = reverse("chat:console")
    small_page, small_fragment = _queries(client, url), _queries(client, url, **HX)
    for _ in range(6):
        conversation = handed_over(widget)
    services.conversation_claim(conversation=conversation, agent=agent)
    assert _queries(client, url) == small_page
    assert _queries(client, url, **HX) == small_fragment
    assert small_fragment <= 6  # session, user, roles; rows, their labels, tab counts


def test_conversation_query_count_does_not_grow_with_the_transcript(client, agent, widget):
    from chat import services

    client.force_login(agent)
    conversation, (first,) = start_conversation(widget, "where is order 55102?")
    services.bot_turn_record(message=first, result=bot_turn())
    url = reverse("chat:console-conversation", args=[conversation.pk])
    small = _queries(client, url, HTTP_HX_TARGET="conversation", **HX)
    for number in range(5):
        message, _ = start_message(conversation, f"and order {number}?")
        services.bot_turn_record(message=message, result=bot_turn())
    assert Message.objects.filter(conversation=conversation).count() >= 12
    assert _queries(client, url, HTTP_HX_TARGET="conversation", **HX) == small
    # session, user, roles; messages with traces, notes, labels (its own and all), agents to
    # assign to, the contact's past conversations and first visit
    assert small <= 10


def test_the_queue_shows_waiting_times_as_an_agent_reads_them(client, agent, waiting_conversation):
    from datetime import timedelta

    from django.utils import timezone

    from chat.console.selectors import waiting_label

    assert [waiting_label(s) for s in (0, 59, 60, 3599, 3600, 3660 * 2, 3 * 86400)] == [
        "0 s", "59 s", "1 min", "59 min", "1 h 00 min", "2 h 02 min", "3 days",
    ]
    # The wait counts from the customer's oldest message no person has answered.
    Message.objects.filter(conversation=waiting_conversation, author=Author.CUSTOMER).update(
        created_at=timezone.now() - timedelta(minutes=22, seconds=5)
    )
    client.force_login(agent)
    page = client.get(reverse("chat:console")).content.decode()
    assert re.search(r'title="13(2[5-9]|3\d) seconds">waiting 22 min</span>', page)


@pytest.mark.django_db
def test_the_console_refreshes_its_queue_once_more_after_a_throttled_burst(
    client, agent, settings
):
    # The server drops all but the first queue update per period; the page tells console.js
    # when to refresh once more, just after that period, so the end of a burst is shown.
    settings.CONSOLE_QUEUE_UPDATE_SECONDS = 2.0
    client.force_login(agent)
    page = client.get(reverse("chat:console")).content.decode()
    assert 'data-queue-settle-ms="2250"' in page


@pytest.mark.parametrize(("call", "shown", "absent"), [
    ({"connector": "Order status", "method": "GET",
      "url": "https://shop.example/api/orders/10023?email=sam%40example.com&api_key=%E2%80%A2",
      "status": 200, "ms": 41.2, "ok": True, "reason": "", "fields": ["order"]},
     ["Order status: GET", "status 200", "41 ms", "fields order"], ["failed:"]),
    ({"connector": "Order status", "method": "GET", "url": "https://shop.example/api/orders/1",
      "status": None, "ms": 3010.0, "ok": False, "reason": "timeout", "fields": []},
     ["no response", "3010 ms", "failed: timeout"], ["fields"]),
    # the company's system found nothing for the details: not a failure of the call
    ({"connector": "Order status", "method": "GET", "url": "https://shop.example/api/orders/9",
      "status": 404, "ms": 12.0, "ok": False, "reason": "http_404", "fields": [],
      "not_found": True},
     ["status 404", "found nothing (http_404)"], ["failed:"]),
])
def test_a_turns_trace_shows_its_data_connector_call(client, agent, widget, call, shown, absent):
    from chat import services

    conversation, (first,) = start_conversation(widget, "where is order 10023?")
    services.bot_turn_record(
        message=first, result=bot_turn(trace={"connector": call, "errors": []})
    )
    client.force_login(agent)
    page = client.get(reverse("chat:console-conversation", args=[conversation.pk])).content.decode()
    cell = page.split('data-sd="trace-connector">', 1)[1].split("</dd>", 1)[0]
    for text in shown:
        assert text in cell, text
    for text in absent:
        assert text not in cell, text


def test_a_turn_without_a_connector_call_shows_none(client, agent, widget):
    from chat import services

    conversation, (first,) = start_conversation(widget, "where is order 55102?")
    services.bot_turn_record(message=first, result=bot_turn())
    client.force_login(agent)
    page = client.get(reverse("chat:console-conversation", args=[conversation.pk])).content.decode()
    assert 'data-sd="trace"' in page and 'data-sd="trace-connector"' not in page
