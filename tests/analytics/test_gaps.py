"""Knowledge gaps that teach the bot: grouping, by-design handoffs, the admin's actions and
the loop from a gap to an answer; and the articles' figures."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from analytics.gaps import gap_action_effect, gap_add_phrases, gap_groups
from analytics.kpis import CHART_BY_KEY, Period, Report, Scope
from analytics.models import GapAction
from analytics.rollup import rollup_refresh
from chat.bot import playground_turn, taxonomy_invalidate
from chat.models import Conversation, Message
from knowledge.models import (
    Article,
    AuditLogEntry,
    ClassifierModel,
    EscalationPolicy,
    Intent,
    TrainingPhrase,
)
from knowledge.training import classifier_create, classifier_train
from tests.analytics.conftest import at

WEEK = Period(start=at("2026-03-01", 0), end=at("2026-03-08", 0))
QUERY = "range=custom&start=2026-03-01&end=2026-03-07"

PHRASES = {
    "order_status": ["where is my order", "track my parcel", "has my order shipped",
                     "status of my order", "when does my package arrive", "is it on the way"],
    "return_request": ["I want to return this", "how do I send it back", "refund please",
                       "I want my money back", "return label", "can I exchange it"],
    "general_inquiry": ["opening hours", "how can I contact you", "hello",
                        "do you take paypal", "where is your store", "hi there"],
}
GIFT = ["do you sell gift cards", "can i buy a gift card", "gift card for my sister"]


@pytest.fixture
def taxonomy(db):
    for slug, texts in PHRASES.items():
        intent = Intent.objects.create(slug=slug, name=slug.replace("_", " ").title())
        TrainingPhrase.objects.bulk_create(TrainingPhrase(intent=intent, text=t) for t in texts)
    Intent.objects.create(
        slug="billing_dispute", name="Billing dispute", escalation_policy=EscalationPolicy.ALWAYS
    )
    classifier_train(model=classifier_create())
    taxonomy_invalidate()


@pytest.fixture
def gaps(taxonomy, history):
    """Three gift-card questions the bot did not understand (one asked twice), one message
    about something else, and a billing dispute handed off by its always policy."""
    for i, text in enumerate([*GIFT, GIFT[0], "is the moon made of cheese"]):
        h = history(at("2026-03-02", 9 + i))
        h.customer(0, text)
        h.bot_reply(500, "general_inquiry", confidence=0.2, fallback=True)
    for i in range(3):
        h = history(at("2026-03-03", 9 + i))
        h.customer(0, "you charged me twice")
        h.handoff(1, "billing_dispute", "policy")
    rollup_refresh()


@pytest.mark.django_db
def test_similar_messages_form_one_group_largest_first(taxonomy):
    groups = gap_groups([
        ("do you sell gift cards", 2), ("can i buy a gift card", 1),
        ("gift card for my sister", 1), ("is the moon made of cheese", 1),
    ])
    gift = next(g for g in groups if "do you sell gift cards" in g.texts)
    assert groups[0] is gift
    assert gift.total >= 3
    assert "is the moon made of cheese" not in gift.texts
    assert all(g.suggested_intent in PHRASES for g in groups)


@pytest.mark.django_db
def test_always_policy_handoffs_are_shown_apart_not_as_gaps(gaps):
    report = Report(Scope(period=WEEK))
    assert report.by_design == [("billing_dispute", 3)]
    gap_intents = CHART_BY_KEY["gap_intents"].build(report)
    assert "billing_dispute" not in gap_intents.labels
    assert all("charged" not in text for text, _ in report.gap_messages)
    assert any("gift" in text for g in report.gap_groups for text in g.texts)


@pytest.mark.django_db
def test_a_request_for_a_person_is_a_handoff_not_a_gap(taxonomy, history):
    """Low-confidence requests for a person that hand off are left out of the gaps; the same
    words answered by a fallback, and a handoff of another category, stay in."""
    asks = ["can i talk to a real person please", "let me speak to a human agent"]
    for i, text in enumerate(asks):
        h = history(at("2026-03-02", 9 + i))
        h.customer(0, text)
        h.bot_reply(300, "general_inquiry", confidence=0.1, fallback=True)
        h.customer(400, text)
        h.handoff(401, "general_inquiry", "human_request")
    h = history(at("2026-03-04", 9))
    h.customer(0, "this is useless, you broke my bike")
    h.handoff(1, "order_status", "anger")
    rollup_refresh()
    report = Report(Scope(period=WEEK))
    messages = dict(report.gap_messages)
    assert messages == {asks[0]: 1, asks[1]: 1, "this is useless, you broke my bike": 1}
    assert sum(g.total for g in report.gap_groups) == 3
    gap_intents = CHART_BY_KEY["gap_intents"].build(report)
    rows = dict(zip(gap_intents.labels, gap_intents.rows(), strict=True))
    assert rows["general_inquiry"][1:] == [2, 0]  # two fallbacks, no handoff counted as a gap
    assert rows["order_status"][1:] == [0, 1]
    handoffs = CHART_BY_KEY["handoff_reasons"].build(report)
    assert ["Asked for a person", 2] in handoffs.rows()  # still counted as a handoff


@pytest.mark.django_db
def test_a_manager_sees_groups_but_may_not_act(gaps, manager_client):
    html = manager_client.get(f"/analytics/?{QUERY}").content.decode()
    assert 'data-sd="gap-group"' in html
    assert "Handled by a person by design" in html
    assert 'data-sd="gap-add-phrases"' not in html
    response = manager_client.post(
        "/analytics/gaps/act/", {"action": "out_of_scope", "text": GIFT[0]}
    )
    assert response.status_code == 403
    assert not GapAction.objects.exists()


@pytest.mark.django_db
def test_bad_input_changes_nothing(gaps, admin_client_role):
    before = TrainingPhrase.objects.count()
    for data in (
        {"action": "add_phrases", "text": GIFT[0], "intent": "no_such_intent"},
        {"action": "add_phrases", "intent": "order_status"},
        {"action": "explode", "text": GIFT[0]},
    ):
        response = admin_client_role.post("/analytics/gaps/act/", data, follow=True)
        assert response.status_code == 400
        assert "Nothing was changed" in response.content.decode()
    assert TrainingPhrase.objects.count() == before
    assert not GapAction.objects.exists()
    with pytest.raises(ValidationError):
        gap_add_phrases(actor=None, texts=["x"] * 1 + [f"m{i}" for i in range(60)],
                        intent="order_status")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "data",
    [
        {"action": "add_phrases", "text": ["gift\x00 card"], "intent": "order_status"},
        {"action": "add_phrases", "text": ["gift card"], "intent": "order\x00status"},
        {"action": "add_phrases", "text": ["gift card"], "new_intent": "gift\x00cards"},
        {"action": "draft_article", "text": ["ok", "gift\x00 card"]},
        {"action": "draft_article", "text": ["gift card"], "intent": "x\x00"},
        {"action": "out_of_scope", "text": ["\x00"]},
    ],
)
def test_a_nul_in_a_gap_action_is_refused_and_changes_nothing(admin_client_role, data):
    """A form post carries a NUL as %00; PostgreSQL could store none of it."""
    Intent.objects.create(slug="order_status", name="Order status")
    response = admin_client_role.post("/analytics/gaps/act/", data, follow=True)
    page = response.content.decode()
    assert "Nothing was changed" in page and "NUL character" in page
    assert Intent.objects.count() == 1 and not TrainingPhrase.objects.exists()
    assert not Article.objects.exists() and not GapAction.objects.exists()
    assert not AuditLogEntry.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("action", ["add_phrases", "draft_article", "out_of_scope"])
@pytest.mark.parametrize(
    "bad",
    ["gift\x00card", "\x00", "gift card\x1b[31m", "bell\x07", "del\x7f", "x" * 2001],
)
def test_control_characters_and_overlong_texts_change_nothing(
    gaps, admin_client_role, action, bad
):
    counts = (TrainingPhrase.objects.count(), Article.objects.count(),
              AuditLogEntry.objects.count(), Intent.objects.count())
    response = admin_client_role.post(
        "/analytics/gaps/act/",
        {"action": action, "text": [GIFT[1], bad], "intent": "order_status", "query": QUERY},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "Nothing was changed" in html
    assert 'data-sd="gap-group"' in html  # the dashboard of the posted filters, again
    assert counts == (TrainingPhrase.objects.count(), Article.objects.count(),
                      AuditLogEntry.objects.count(), Intent.objects.count())
    assert not GapAction.objects.exists()


@pytest.mark.django_db
def test_phrases_keep_to_the_phrase_length_and_allow_line_breaks(gaps, admin_client_role):
    long_one = "gift card " * 51  # 510 characters: a fine message, too long for a phrase
    response = admin_client_role.post(
        "/analytics/gaps/act/",
        {"action": "add_phrases", "text": long_one, "intent": "order_status", "query": QUERY},
    )
    assert response.status_code == 400
    assert not GapAction.objects.exists()
    response = admin_client_role.post(
        "/analytics/gaps/act/", {"action": "out_of_scope", "text": long_one, "query": QUERY}
    )
    assert response.status_code == 302
    response = admin_client_role.post(
        "/analytics/gaps/act/",
        {"action": "add_phrases", "text": "gift card\nfor my mum", "intent": "order_status"},
    )
    assert response.status_code == 302
    assert TrainingPhrase.objects.filter(text="gift card for my mum").exists()


@pytest.mark.django_db
def test_draft_article_and_out_of_scope_are_audited_and_shown(gaps, admin_client_role):
    admin_client_role.post(
        "/analytics/gaps/act/",
        {"action": "draft_article", "text": GIFT, "intent": "general_inquiry", "query": QUERY},
    )
    article = Article.objects.get()
    assert article.status == "draft"
    assert all(f"- {text}" in article.body for text in GIFT)
    assert "Questions this should answer" in article.body
    admin_client_role.post(
        "/analytics/gaps/act/",
        {"action": "out_of_scope", "text": "is the moon made of cheese", "query": QUERY},
    )
    actions = set(AuditLogEntry.objects.values_list("action", flat=True))
    assert {"gap.draft_article", "gap.out_of_scope", "article.create"} <= actions
    html = admin_client_role.get(f"/analytics/?{QUERY}").content.decode()
    gaps = html.split('id="gaps"', 1)[1]
    assert "Draft article started" in gaps
    # The draft is linked from the group, and takes no intent: general_inquiry is the
    # fallback intent, which an article must never get.
    assert f'href="/knowledge/articles/{article.pk}/"' in gaps
    assert list(article.intents.all()) == []
    # The marked message leaves the groups to fix and is listed apart, with who marked it.
    open_part, set_aside = gaps.split('data-sd="gaps-out-of-scope"', 1)
    assert "is the moon made of cheese" not in open_part
    assert "is the moon made of cheese" in set_aside
    assert "Marked out of scope</strong>, by " in set_aside


@pytest.mark.django_db
def test_teach_loop_gap_messages_become_phrases_and_then_answers(
    gaps, admin_client_role, history
):
    assert playground_turn(text=GIFT[0]).intent != "gift_cards"
    # Yesterday: one gift-card question and one other among the gaps.
    for text in (GIFT[1], "is the moon made of cheese"):
        recent = history(timezone.now() - timedelta(days=1))
        recent.customer(0, text)
        recent.bot_reply(500, "general_inquiry", confidence=0.2, fallback=True)
    rollup_refresh()
    response = admin_client_role.post(
        "/analytics/gaps/act/",
        {"action": "add_phrases", "text": GIFT, "new_intent": "gift_cards", "query": QUERY},
        follow=True,
    )
    assert "Added 3 message(s) as training phrases of gift_cards" in response.content.decode()
    intent = Intent.objects.get(slug="gift_cards")
    assert sorted(intent.phrases.values_list("text", flat=True)) == sorted(GIFT)
    assert AuditLogEntry.objects.filter(action="gap.add_phrases").exists()
    model = classifier_train(model=classifier_create())
    assert ClassifierModel.objects.get(is_active=True) == model
    taxonomy_invalidate()
    for text in GIFT:
        assert playground_turn(text=text).intent == "gift_cards", text
    # Right after the training nothing is counted as "after": its own day holds the gaps
    # from before it.
    assert gap_action_effect(GapAction.objects.get(), "UTC").after is None
    # The fallbacks from the day after the training on are new ones.
    later = history(model.activated_at + timedelta(days=1))
    later.customer(0, "is the moon made of cheese")
    later.bot_reply(500, "general_inquiry", confidence=0.2, fallback=True)
    rollup_refresh()
    html = admin_client_role.get(f"/analytics/?{QUERY}").content.decode()
    assert "Added as training phrases</strong> of <code>gift_cards</code>" in html
    # Before (the 14 days up to the action): 1 of the 2 gaps; after the training: 0 of 1.
    assert "Share of the gaps: before 50.0%" in html
    effect = gap_action_effect(GapAction.objects.get(), "UTC")
    assert effect.trained_at == model.activated_at
    assert (effect.before, effect.after) == (0.5, 0.0)


@pytest.mark.django_db
def test_article_figures(taxonomy, history):
    article = Article.objects.create(title="Gift cards", body="We sell them.", status="published")
    other = Article.objects.create(title="Returns", body="30 days.", status="published")
    quoted = [{"id": article.pk, "title": "Gift cards"}]

    def quoted_reply(h):
        reply = h.bot_reply(400, "general_inquiry")
        Message.objects.filter(pk=reply.pk).update(articles=quoted)

    def outcome(h, **fields):  # what the chat services store beside the events
        Conversation.objects.filter(pk=h.conversation.pk).update(**fields)

    confirmed = history(at("2026-03-02", 9))
    confirmed.customer(0, "gift cards?")
    quoted_reply(confirmed)
    confirmed.resolve(60, "bot_confirmed")
    outcome(confirmed, status="resolved", resolution="bot_confirmed")
    assumed = history(at("2026-03-02", 10))
    assumed.customer(0, "gift card please")
    quoted_reply(assumed)
    assumed.customer(30, "and another")
    quoted_reply(assumed)
    assumed.resolve(1800, "bot_assumed")
    outcome(assumed, status="resolved", resolution="bot_assumed")
    handed = history(at("2026-03-03", 9))
    handed.customer(0, "gift card broken")
    quoted_reply(handed)
    handed.customer(30, "still broken, I want a person")
    handed.handoff(60, "general_inquiry", "human_request")
    outcome(handed, status="waiting", handed_off_at=at("2026-03-03", 9, 1))
    rollup_refresh()
    stats = Report(Scope(period=WEEK)).article_stats
    assert stats == [{
        "id": article.pk, "title": "Gift cards", "quoted": 4, "conversations": 3,
        "helped": 1 / 3, "contained": 2 / 3,
    }]
    assert other.pk not in [row["id"] for row in stats]


def _made_up_words(rng, n: int) -> str:
    return " ".join(
        "".join(rng.choice("bcdfghjklmnpqrstvwz") + rng.choice("aeiou") for _ in range(4))
        for _ in range(n)
    )


@pytest.mark.django_db
def test_every_group_is_shown_largest_first_with_show_more(taxonomy, history, admin_client_role):
    import random
    import re

    rng = random.Random(16)
    texts = [_made_up_words(rng, 3) for _ in range(27)]  # no two share a word: 27 groups
    for i, text in enumerate(texts):
        for repeat in range(1 + i // 5):  # later texts more often: the order is by size
            h = history(at("2026-03-04", 8, i, repeat))
            h.customer(0, text)
            h.bot_reply(300, "general_inquiry", confidence=0.1, fallback=True)
    rollup_refresh()

    def shown(extra: str = "") -> tuple[list[int], str]:
        html = admin_client_role.get(f"/analytics/?{QUERY}{extra}").content.decode()
        gaps = html.split('id="gaps"', 1)[1]
        return [int(n) for n in re.findall(r"<h3>(\d+) messages?", gaps)], gaps

    sizes, html = shown()
    assert len(sizes) == 10 and sizes == sorted(sizes, reverse=True) and sizes[0] == 6
    assert "27 groups" in html and "(10 of 27 shown)" in html
    assert re.search(r'href="\?range=custom[^"]*&amp;gaps=20#gap-more"', html)
    sizes, html = shown("&gaps=20")
    assert len(sizes) == 20 and "Show 7 more groups" in html
    sizes, html = shown("&gaps=30")
    assert len(sizes) == 27 and 'data-sd="gap-more"' not in html
    assert sorted(sizes, reverse=True) == sizes and sum(sizes) == sum(1 + i // 5 for i in range(27))
    for bad in ("&gaps=abc", "&gaps=-5", "&gaps=3", "&gaps=99999999999"):
        assert len(shown(bad)[0]) == 10
    # An action keeps the groups shown as they were.
    response = admin_client_role.post(
        "/analytics/gaps/act/",
        {"action": "out_of_scope", "text": texts[0], "query": QUERY, "gaps": "20"},
    )
    assert response["Location"].endswith(f"?{QUERY}&gaps=20#gaps")
