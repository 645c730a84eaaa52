"""generate_traffic: through the services, and the bulk path that must write the same facts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count

from analytics.kpis import Period, Report, Scope
from analytics.models import ReportingEvent
from chat.models import BotTrace, Conversation, Message
from supportdesk.traffic import traffic_generate

NOW = datetime(2026, 3, 20, 15, 30, tzinfo=UTC)
SCOPE = Scope(
    period=Period(start=datetime(2026, 3, 6, tzinfo=UTC), end=datetime(2026, 3, 21, tzinfo=UTC))
)


def _snapshot() -> dict:
    report = Report(SCOPE)
    return {
        "kpis": report.current,
        "messages": dict(Message.objects.values_list("author").annotate(n=Count("id"))),
        "events": dict(ReportingEvent.objects.values_list("name").annotate(n=Count("id"))),
        "statuses": dict(Conversation.objects.values_list("status").annotate(n=Count("id"))),
        "traces": BotTrace.objects.count(),
        "conversation_ids_ok": not ReportingEvent.objects.filter(conversation=None).exists(),
    }


@pytest.mark.django_db
def test_bulk_path_writes_the_same_facts_as_the_services(widget):
    traffic_generate(conversations=80, days=14, seed=7, now=NOW)
    through_services = _snapshot()
    assert through_services["kpis"]["conversations"] == 80
    assert through_services["events"]["conversation_started"] == 80
    assert through_services["events"]["handoff"] > 0
    assert through_services["events"]["resolved"] > 0
    Conversation.objects.all().delete()

    traffic_generate(conversations=80, days=14, seed=7, now=NOW, bulk=True)
    in_bulk = _snapshot()
    assert in_bulk == through_services


@pytest.mark.django_db
def test_generated_history_is_consistent(widget):
    traffic_generate(conversations=60, days=7, seed=3, now=NOW, bulk=True)
    # Every conversation starts inside the window and nothing happens after "now".
    assert not Conversation.objects.filter(created_at__lt=NOW - timedelta(days=8)).exists()
    assert not ReportingEvent.objects.filter(occurred_at__gt=NOW).exists()
    assert not Message.objects.filter(created_at__gt=NOW).exists()
    # Sequence numbers run 1..n in each conversation.
    for conv in Conversation.objects.all():
        seqs = list(conv.messages.values_list("seq", flat=True))
        assert seqs == list(range(1, conv.last_seq + 1))
    # One bot outcome per customer message at most, and each points at a customer message.
    assert not BotTrace.objects.exclude(message__author="customer").exists()
    # New rows after a bulk run get fresh ids (sequences were moved past the bulk rows).
    from chat.services import conversation_start

    conversation, _ = conversation_start(widget=widget)
    assert conversation.pk > max(
        Conversation.objects.exclude(pk=conversation.pk).values_list("pk", flat=True)
    )


@pytest.mark.django_db
def test_command_generates_through_the_services(widget, capsys):
    call_command("generate_traffic", conversations=15, days=3, seed=1, verbosity=0)
    assert Conversation.objects.count() == 15
    assert ReportingEvent.objects.filter(name="conversation_started").count() == 15


@pytest.mark.parametrize(
    "args",
    [
        ["--conversations", "-1"],
        ["--days", "0"],
        ["--bulk", "--pipeline"],
    ],
)
@pytest.mark.django_db
def test_command_refuses_bad_arguments(args):
    with pytest.raises(CommandError):
        call_command("generate_traffic", *args, verbosity=0)
    assert not Conversation.objects.exists()


@pytest.mark.django_db
def test_pipeline_option_lets_the_real_bot_answer(demo):
    from knowledge.models import Intent

    traffic_generate(conversations=6, days=1, seed=11, pipeline=True)
    traces = BotTrace.objects.all()
    assert traces.exists()
    slugs = set(Intent.objects.values_list("slug", flat=True))
    # Decided by the trained pipeline, not the script's planned results.
    assert all(t.intent in slugs for t in traces)
    assert not any(t.stages.get("trace") == {"generated": True} for t in traces)
    started = ReportingEvent.objects.filter(name="conversation_started").count()
    assert started == 6


@pytest.fixture
def articles_by_intent(db):
    """Two published articles for order_status, one for return_request, a draft for
    order_status (never quoted) and one of the fallback intent (never quoted either)."""
    from knowledge.models import Article, Intent

    made = {}
    for slug in ("order_status", "return_request", "general_inquiry"):
        made[slug] = Intent.objects.create(slug=slug, name=slug.replace("_", " ").title())
    spec = [
        ("Where parcels are", "published", "order_status"),
        ("Tracking numbers", "published", "order_status"),
        ("Sending things back", "published", "return_request"),
        ("Unfinished tracking notes", "draft", "order_status"),
        ("Opening hours", "published", "general_inquiry"),
    ]
    out = {}
    for title, status, slug in spec:
        article = Article.objects.create(
            title=title, body=f"All about {title.lower()}, explained step by step.",
            status=status)
        article.intents.add(made[slug])
        out[title] = article
    return out


@pytest.mark.django_db
@pytest.mark.parametrize("bulk", [False, True])
def test_generated_replies_quote_articles_and_articles_that_work_has_figures(
    widget, articles_by_intent, bulk
):
    traffic_generate(conversations=120, days=14, seed=5, now=NOW, bulk=bulk)
    quoted = Message.objects.filter(author="bot").exclude(articles=[])
    assert quoted.exists()
    intents = {a.pk: {i.slug for i in a.intents.all()} for a in articles_by_intent.values()}
    for message in quoted.select_related("conversation", "in_reply_to__trace"):
        [article] = message.articles
        assert article["title"] in {"Where parcels are", "Tracking numbers", "Sending things back"}
        assert message.in_reply_to.trace.intent in intents[article["id"]]
        # The reply reads as the offline bot's: a passage of the article and its link, never
        # a placeholder naming the article alone.
        body = next(a.body for a in articles_by_intent.values() if a.pk == article["id"])
        head, _, rest = message.text.partition("\n\n")
        assert article["title"] in head and "[Read the whole article](/help/articles/" in rest
        assert body.split(",")[0] in rest, message.text
    stats = Report(SCOPE).article_stats
    titles = {row["title"] for row in stats}
    assert titles == {"Where parcels are", "Tracking numbers", "Sending things back"}
    for row in stats:
        assert row["quoted"] >= row["conversations"] > 0
        assert 0 < row["helped"] <= 1 and 0 < row["contained"] <= 1


@pytest.mark.django_db
def test_both_paths_give_the_same_article_figures(widget, articles_by_intent):
    traffic_generate(conversations=80, days=14, seed=9, now=NOW)
    through_services = Report(SCOPE).article_stats
    Conversation.objects.all().delete()
    traffic_generate(conversations=80, days=14, seed=9, now=NOW, bulk=True)
    assert Report(SCOPE).article_stats == through_services
    assert through_services


# --- Order lookups through the demo's data connectors ----------------------------------------


def _connector_figures() -> dict:
    from analytics.selectors import connector_call_counts, connector_counts

    window = {"since": SCOPE.period.start, "until": SCOPE.period.end}
    return {"replies": connector_counts(**window), "calls": connector_call_counts(**window),
            "verified": Conversation.objects.exclude(verified_user_id="").count()}


@pytest.mark.django_db
def test_order_conversations_look_orders_up_through_the_demos_connectors(demo):
    from chat.services import connector_calls
    from knowledge.models import Connector

    traffic_generate(conversations=300, days=14, seed=8, now=NOW)
    figures = _connector_figures()
    calls = figures["calls"]
    assert set(calls) == set(Connector.objects.values_list("name", flat=True))
    public, own = calls["Order status"], calls["My recent orders"]
    # A plausible mix: mostly answered, some details that match no order, a few failures.
    assert public["succeeded"] > public["not_found"] > 0 and public["failed"] > 0
    assert own["succeeded"] > 0 and own["not_found"] == 0
    for counts in calls.values():
        assert counts["calls"] == counts["succeeded"] + counts["not_found"] + counts["failed"]
        assert 60 < counts["mean_ms"] < 3000
    # Every reply that looked something up is counted by the reply too, and some were resolved.
    replies = figures["replies"]["Order status"]
    assert (replies["answered"], replies["not_found"], replies["failed"]) == (
        public["succeeded"], public["not_found"], public["failed"])
    assert 0 < replies["resolved"] <= replies["answered"]

    traces = [t for t in BotTrace.objects.select_related("message", "conversation__contact")
              if t.stages["trace"].get("connector_calls")]
    assert len(traces) == sum(counts["calls"] for counts in calls.values())
    for trace in traces:
        [call] = trace.stages["trace"]["connector_calls"]
        [(category, ms)] = connector_calls(trace.stages["trace"])
        conversation, asked = trace.conversation, trace.message.text
        assert trace.intent == "order_status"
        reply = Message.objects.get(in_reply_to=trace.message)
        if call["connector"] == "My recent orders":  # only for a customer the page signed
            assert conversation.verified_user_id and conversation.contact.is_verified
            assert f"customer_id={conversation.verified_user_id}" in call["url"]
        else:  # the order number the customer wrote is the one looked up
            number = call["url"].split("/orders/")[1].split("/")[0]
            assert number in asked and not conversation.verified_user_id
        if call["ok"]:
            assert reply.articles == [{"connector": call["connector_id"],
                                       "name": call["connector"]}]
            assert reply.text.startswith("Your ")
        elif call["not_found"]:
            assert call["status"] == 404 and reply.text.startswith("I couldn't find that order")
        else:
            assert reply.text.startswith("I couldn't look that up just now.")
            assert reply.text.endswith("Would you like me to connect you with a person?")
        assert category.startswith(("ok:", "not_found:", "failed:")) and ms == call["ms"]
        # The reply waited for the call.
        assert (reply.created_at - trace.message.created_at).total_seconds() * 1000 >= ms


@pytest.mark.django_db
def test_bulk_path_records_the_same_connector_calls_as_the_services(demo):
    traffic_generate(conversations=160, days=14, seed=8, now=NOW)
    through_services = _snapshot(), _connector_figures()
    assert through_services[1]["calls"] and through_services[1]["verified"]
    Conversation.objects.all().delete()

    traffic_generate(conversations=160, days=14, seed=8, now=NOW, bulk=True)
    assert (_snapshot(), _connector_figures()) == through_services


@pytest.mark.django_db
def test_generated_history_owes_its_customers_no_mail(demo, settings, mailoutbox):
    """The cast's customers were on the page while they chatted: no agent reply of the
    history is owed by e-mail, so a demo never mails its made-up addresses (through a real
    SMTP server when one is configured)."""
    from chat.models import Contact, OwedEmail
    from chat.services import reply_address

    traffic_generate(conversations=300, days=14, seed=1, now=NOW)
    handed_off = Conversation.objects.filter(messages__author="agent").distinct()
    # Replies a mail would have carried, had the customer not been on the page.
    assert [c for c in handed_off if reply_address(c)] and Contact.objects.exists()
    assert not OwedEmail.objects.exists() and mailoutbox == []
    # Each customer left at the conversation's last moment: no socket is counted open.
    assert not Conversation.objects.filter(customer_sockets__gt=0).exists()
    assert not Conversation.objects.filter(customer_left_at__isnull=True).exists()
    for conversation in handed_off[:20]:
        last = conversation.messages.order_by("-seq").first()
        assert conversation.customer_left_at >= last.created_at


@pytest.mark.django_db
def test_an_agent_of_the_history_never_says_the_same_line_twice(widget):
    traffic_generate(conversations=200, days=14, seed=4, now=NOW)
    lines = list(Message.objects.filter(author="agent").values_list("conversation_id", "text"))
    assert len(lines) > len({conversation for conversation, _ in lines})  # some said several
    assert len(lines) == len(set(lines))
