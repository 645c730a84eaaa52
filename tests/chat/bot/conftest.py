"""Fixtures for the bot pipeline tests: a small invented taxonomy with a trained classifier."""

from __future__ import annotations

import datetime as dt

import pytest

from chat.bot import classifier
from chat.bot.retrieval import ArticleDoc
from chat.bot.taxonomy import IntentInfo, Taxonomy, taxonomy_from_data

TODAY = dt.date(2026, 11, 25)  # a Wednesday

PHRASES = {
    "order_status": [
        "where is my order", "track my parcel", "has my order shipped yet",
        "what is the status of my order", "when will my package arrive",
        "can you check my delivery status", "is my order on the way",
        "I want to know where my purchase is", "tracking number for my order please",
        "my order has not arrived yet, where is it",
    ],
    "return_request": [
        "I want to return these shoes", "how do I send an item back", "can I get a refund",
        "I would like my money back", "return policy for opened boxes",
        "how long do I have to return something", "the jacket does not fit, can I return it",
        "please refund my purchase", "I need a return label", "exchange for a smaller size",
    ],
    "billing_dispute": [
        "I was charged twice", "there is a wrong charge on my card",
        "my card was billed two times for one order", "I don't recognise this charge",
        "you overcharged me", "dispute a payment", "the payment amount is wrong",
        "double charge on my statement", "why was I billed extra",
        "my payment failed but money left",
    ],
    "complaint": [
        "I want to make a complaint", "your service is terrible", "I am very unhappy with you",
        "file a formal complaint", "the staff was rude to me", "this is the worst shop",
        "I am disappointed with the quality", "complain about the delivery driver",
        "nobody answers my emails, very bad service", "I'm not happy with how I was treated",
    ],
    "product_question": [
        "is the tent waterproof", "what size should I buy", "what is the jacket made of",
        "does the backpack have a laptop sleeve", "how warm is the sleeping bag",
        "are the boots good for hiking", "how heavy is the tent",
        "can I wash the down jacket", "do you have this in blue", "what colours are available",
    ],
    "general_inquiry": [
        "what are your opening hours", "how can I contact you", "do you accept paypal",
        "hello", "where can I find my invoice", "what payment methods do you take",
        "is there a phone number", "hi there", "tell me about the rewards program",
        "do you have a store near me",
    ],
}

INTENTS = [
    IntentInfo("order_status", "Order status", "Where an order is.", "never",
               ({"name": "order_number", "question": "What is your order number?"},)),
    IntentInfo("return_request", "Return or refund", "Returns and refunds.", "never"),
    IntentInfo("billing_dispute", "Billing dispute", "Wrong or double charges.", "always"),
    IntentInfo("complaint", "Complaint", "Unhappy customers.", "negative"),
    IntentInfo("product_question", "Product question", "About our products.", "never"),
    IntentInfo("general_inquiry", "General inquiry", "Anything else.", "never"),
]

SIGNALS = [
    ("manager", "human_request"), ("supervisor", "human_request"),
    ("speak to a human", "human_request"), ("legal", "legal"), ("lawyer", "legal"),
    ("sue", "legal"), ("fraud", "fraud"), ("unauthorized", "fraud"), ("furious", "anger"),
    ("ridiculous", "anger"), ("unacceptable", "anger"), ("injured", "other"),
]

ARTICLES = [
    ArticleDoc(1, "Tracking your order", (
        "## Tracking\n\nEvery order gets a tracking link by e-mail when it ships. "
        "You can also track it at https://shop.example/track with your order number.\n\n"
        "## Delays\n\nIf tracking has not changed for 5 business days, write to "
        "help@shop.example."
    ), ("order_status",)),
    ArticleDoc(2, "Returns and refunds", (
        "You can return unused items within 30 days of delivery. Refunds reach your card "
        "within 5 to 10 business days. Return shipping costs $6.95, free for members."
    ), ("return_request",)),
    ArticleDoc(3, "Peak 2 Tent: specs and care", (
        "The Peak 2 Tent is waterproof to 3000 mm and weighs 2.1 kg. Dry it before storing."
    ), ("product_question",)),
    ArticleDoc(4, "Contact us", (
        "Our team answers Monday to Friday, 9:00-17:00. Call +1 555 010 2030 or write to "
        "help@shop.example."
    ), ("general_inquiry",)),
    ArticleDoc(5, "Making a complaint", (
        "We are sorry when something goes wrong. Tell us what happened and we reply within "
        "2 business days."
    ), ("complaint",)),
]


def training_pairs() -> tuple[list[str], list[str]]:
    texts = [text for phrases in PHRASES.values() for text in phrases]
    labels = [slug for slug, phrases in PHRASES.items() for _ in phrases]
    return texts, labels


@pytest.fixture(scope="session")
def trained() -> tuple[classifier.IntentClassifier, dict]:
    return classifier.train(*training_pairs())


@pytest.fixture(scope="session")
def taxonomy(trained) -> Taxonomy:
    return taxonomy_from_data(
        intents=INTENTS, signals=SIGNALS, articles=ARTICLES, classifier=trained[0],
        fallback_intent="general_inquiry",
    )


@pytest.fixture
def fake_claude(settings):
    """The real SDK pointed at a scripted fake Messages API on a loopback port."""
    from .fake_anthropic import FakeAnthropic

    server = FakeAnthropic()
    settings.ANTHROPIC_API_KEY = "sk-test-not-a-real-key"
    settings.ANTHROPIC_BASE_URL = server.base_url
    settings.ANTHROPIC_MODEL = "claude-test"
    settings.ANTHROPIC_TIMEOUT = 2.0
    settings.ANTHROPIC_MAX_RETRIES = 1
    yield server
    server.close()


def create_rows(*, with_model: bool = True):
    """The invented taxonomy as database rows (and an active classifier unless told not to)."""
    from knowledge.models import Article, EscalationSignal, Intent, TrainingPhrase

    intents = {}
    for info in INTENTS:
        intents[info.slug] = Intent.objects.create(
            slug=info.slug, name=info.name, description=info.description,
            escalation_policy=info.escalation_policy,
            required_details=list(info.required_details),
        )
        TrainingPhrase.objects.bulk_create(
            TrainingPhrase(intent=intents[info.slug], text=text) for text in PHRASES[info.slug]
        )
    for phrase, category in SIGNALS:
        EscalationSignal.objects.create(phrase=phrase, category=category)
    for doc in ARTICLES:
        article = Article.objects.create(title=doc.title, body=doc.body, status="published")
        article.intents.set([intents[slug] for slug in doc.intents])
    Article.objects.create(title="Secret draft about refunds", body="Draft refund text.",
                           status="draft")
    if with_model:
        from knowledge.training import classifier_create, classifier_train

        classifier_train(model=classifier_create())
    return intents


@pytest.fixture
def db_taxonomy(db, django_capture_on_commit_callbacks):
    from chat.bot import taxonomy_invalidate

    with django_capture_on_commit_callbacks(execute=True):
        intents = create_rows()
    taxonomy_invalidate()
    yield intents
    taxonomy_invalidate()
