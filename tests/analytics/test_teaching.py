"""The teaching loop from a knowledge gap, end to end without a browser: the messages of a gap
group are taught to the group's suggested intent (never the fallback intent), the classifier
is retrained, and the same messages are then answered from that intent. The gap messages are
generated here (templates and topics of this file), on the small test taxonomy and on the
demo's."""

from __future__ import annotations

import random

import pytest
from django.conf import settings

from analytics.gaps import gap_add_phrases, gap_draft_article, gap_groups
from analytics.kpis import Report, Scope
from analytics.rollup import rollup_refresh
from chat.bot import playground_turn
from knowledge.models import ClassifierModel, Intent
from knowledge.training import classifier_create, classifier_train
from tests.analytics.conftest import at
from tests.analytics.test_gaps import PHRASES, WEEK

TEMPLATES = (
    "how do I {verb} a {noun}",
    "can I {verb} the {noun} online",
    "is it possible to {verb} a {noun} this weekend",
    "i would like to {verb} a {noun}",
    "where can I {verb} a {noun}",
    "{verb} {noun} for two people",
    "what does it cost to {verb} a {noun}",
)
TOPICS = {
    "kayak": (("reserve", "book", "hire"), ("kayak", "canoe", "paddleboard")),
    "workshop": (("join", "attend", "sign up for"), ("knot workshop", "map reading class")),
}


def generated_gaps(topic: str, n: int, seed: int) -> list[str]:
    """``n`` distinct messages about ``topic``, drawn from this file's templates."""
    rng = random.Random(seed)
    verbs, nouns = TOPICS[topic]
    made: list[str] = []
    while len(made) < n:
        template = rng.choice(TEMPLATES)
        text = template.format(verb=rng.choice(verbs), noun=rng.choice(nouns)).lower()
        if text not in made:
            made.append(text)
    return made


@pytest.fixture
def small_taxonomy(db):
    from knowledge import services

    for slug, phrases in PHRASES.items():
        services.intent_create(actor=None, slug=slug, name=slug.title(), phrases=phrases)
    classifier_train(model=classifier_create())


@pytest.fixture
def demo_taxonomy(db):
    from supportdesk.management.commands.load_demo import DEMO_KNOWLEDGE, load_knowledge

    load_knowledge(DEMO_KNOWLEDGE)
    classifier_train(model=classifier_create())


def _record_gaps(history, texts: list[str]) -> None:
    for i, text in enumerate(texts):
        h = history(at("2026-03-03", 8 + i % 12, i))
        h.customer(0, text)
        h.bot_reply(400, settings.BOT_FALLBACK_INTENT, confidence=0.2, fallback=True)
    rollup_refresh()


@pytest.mark.django_db
@pytest.mark.parametrize("taxonomy", ["small_taxonomy", "demo_taxonomy"])
@pytest.mark.parametrize(("topic", "seed"), [("kayak", 1), ("workshop", 7)])
def test_a_group_taught_to_its_suggested_intent_is_then_answered_from_it(
    request, taxonomy, topic, seed, history, admin_user
):
    request.getfixturevalue(taxonomy)
    texts = generated_gaps(topic, 6, seed)
    _record_gaps(history, texts)
    group = next(g for g in Report(Scope(period=WEEK)).gap_groups if set(texts) & set(g.texts))
    target = group.suggested_intent
    assert target and target != settings.BOT_FALLBACK_INTENT
    assert Intent.objects.filter(slug=target).exists()

    gap_add_phrases(actor=admin_user, texts=group.texts, intent=target)
    trained = classifier_train(model=classifier_create())
    # The model that learnt the new phrases becomes the active one by itself, whatever its
    # cross-validated accuracy on the new set.
    assert trained.is_active, trained.metrics["activation"]
    assert "training phrases changed" in trained.metrics["activation"]
    for text in group.texts:
        turn = playground_turn(text=text)
        assert turn.intent == target, (text, turn.trace.get("classification"))
        assert not turn.is_fallback


@pytest.mark.django_db
def test_the_fallback_intent_is_never_suggested(small_taxonomy, history):
    # Messages in the fallback intent's own words: its the top guess, and still not offered.
    texts = ["opening hours on sundays", "opening hours for the outlet", "hello, opening hours?"]
    model = ClassifierModel.objects.get(is_active=True)
    assert model.is_active
    groups = gap_groups([(text, 1) for text in texts])
    assert groups
    assert all(g.suggested_intent not in {"", settings.BOT_FALLBACK_INTENT} for g in groups)


@pytest.mark.django_db
def test_a_cached_group_suggesting_the_fallback_intent_suggests_nothing(
    small_taxonomy, history, monkeypatch
):
    _record_gaps(history, generated_gaps("kayak", 3, 3))
    report = Report(Scope(period=WEEK))
    stale = [{**d, "suggested_intent": settings.BOT_FALLBACK_INTENT}
             for d in report.gap_group_data]
    monkeypatch.setattr(Report, "gap_group_data", stale)
    assert [g.suggested_intent for g in Report(Scope(period=WEEK)).gap_groups] == [""]


@pytest.mark.django_db
@pytest.mark.parametrize("field", ["intent", "new_intent"])
def test_phrases_are_never_taught_to_the_fallback_intent(small_taxonomy, admin_user, field):
    from django.core.exceptions import ValidationError

    before = Intent.objects.get(slug=settings.BOT_FALLBACK_INTENT).phrases.count()
    with pytest.raises(ValidationError, match="fallback intent"):
        gap_add_phrases(actor=admin_user, texts=["rent a kayak"],
                        **{field: settings.BOT_FALLBACK_INTENT})
    with pytest.raises(ValidationError, match="Choose an intent"):
        gap_add_phrases(actor=admin_user, texts=["rent a kayak"])
    assert Intent.objects.get(slug=settings.BOT_FALLBACK_INTENT).phrases.count() == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("chosen", "expected"),
    [("order_status", ["order_status"]), ("", []), ("general_inquiry", []), ("nope", [])],
)
def test_a_draft_article_takes_the_chosen_intent_never_the_fallback(
    small_taxonomy, admin_user, chosen, expected
):
    done = gap_draft_article(actor=admin_user, texts=["hire a canoe"], intent=chosen)
    assert [i.slug for i in done.article.intents.all()] == expected
    assert done.intent == (expected[0] if expected else "")
