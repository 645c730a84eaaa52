"""An admin teaches the bot a new intent in a real Chromium, and the playground uses it."""

import pytest
from django.contrib.auth.models import Group, User

from knowledge import services
from tests.conftest import DEMO_PASSWORD, login

# Written for this test: two neighbouring intents so the classifier has something to tell apart.
BACKGROUND = {
    "order_status": [
        "where is my order", "track my order please", "has my order shipped yet",
        "when will my package arrive", "order status for 55102", "is my parcel on its way",
        "I need a tracking number", "my order has not arrived", "where's my delivery",
        "can you check on my order", "how long until my order gets here", "order still processing",
    ],
    "return_item": [
        "I want to return these boots", "how do I send something back", "return policy please",
        "can I get a return label", "the jacket does not fit, I want to return it",
        "start a return", "how many days do I have to return", "return an unused tent",
        "where do I ship my return", "I need to send back a gift", "returning a damaged item",
        "is return shipping free",
    ],
}
NEW_PHRASES = [
    "how much is left on my gift card", "check my gift card balance",
    "what's the balance of my gift voucher", "gift card balance please",
    "how do I see what's on my gift card", "is there money left on this gift card",
    "remaining value on a gift card", "my gift card, how much credit does it have",
    "balance on a store gift card", "does my gift card still have funds",
    "how can I find my gift card balance", "gift card credit remaining",
]
ARTICLE_BODY = (
    "## Gift card balance\n\n"
    "Your gift card balance is shown on the receipt page of the store app under **Wallet**. "
    "Enter the 16-digit card number to see the remaining credit."
)


@pytest.mark.services
@pytest.mark.browser
def test_admin_adds_an_intent_and_article_trains_activates_and_the_playground_uses_them(
    daphne_server, celery_worker, page
):
    admin = User.objects.create_user(username="kadmin", password=DEMO_PASSWORD)
    admin.groups.add(Group.objects.get(name="admins"))
    for slug, phrases in BACKGROUND.items():
        services.intent_create(actor=admin, slug=slug, name=slug.title(), phrases=phrases)
    base = daphne_server
    login(page, base, "kadmin")

    # A new intent with its phrases, added in place.
    page.goto(f"{base}/knowledge/intents/new/")
    page.fill("#id_slug", "gift_card_balance")
    page.fill("#id_name", "Gift card balance")
    page.fill("#id_description", "Customers asking how much credit is left on a gift card.")
    page.click("[data-sd=intent-save]")
    page.wait_for_selector("[data-sd=phrase-form]")
    for number, phrase in enumerate(NEW_PHRASES, 1):
        page.fill("#phrase-text", phrase)
        page.click("[data-sd=phrase-add]")
        page.wait_for_function(
            "n => document.querySelectorAll('[data-sd=phrase]').length === n", arg=number
        )
    assert page.locator("[data-sd=too-few]").count() == 0
    url_after_phrases = page.url
    assert url_after_phrases.endswith("/")  # no reload to another page happened

    # An article linked to it, with its live preview.
    page.goto(f"{base}/knowledge/articles/new/")
    page.fill("#id_title", "Checking a gift card balance")
    page.fill("#id_body", ARTICLE_BODY)
    page.wait_for_selector("[data-sd=article-preview] h2")
    assert "Gift card balance" in page.inner_text("[data-sd=article-preview]")
    page.select_option("#id_status", "published")
    page.select_option("#id_intents", ["gift_card_balance"])
    page.click("[data-sd=article-save]")
    page.wait_for_selector("[data-sd=article-versions]")

    # Train, watch the progress, activate.
    page.goto(f"{base}/knowledge/training/")
    page.click("[data-sd=train]")
    page.wait_for_selector("[data-sd=model-status][data-status=ready]", timeout=120_000)
    assert 0 < float(page.locator("[data-sd=model-accuracy]").inner_text()) <= 1
    # A model that is not worse than the active one activates itself; otherwise, by hand.
    if page.locator("[data-sd=model-active]").count() == 0:
        page.click("[data-sd=model-activate]")
    page.wait_for_selector("[data-sd=model-active]")

    # The playground classifies a new message into the intent and answers from the article.
    page.goto(f"{base}/knowledge/playground/")
    page.fill("#id_text", "how much money is still on my gift card?")
    page.click("[data-sd=playground-send]")
    page.wait_for_selector("[data-sd=pg-intent]")
    assert page.inner_text("[data-sd=pg-intent]") == "gift_card_balance"
    assert "Checking a gift card balance" in page.inner_text("[data-sd=pg-articles]")
    assert "Wallet" in page.inner_text("[data-sd=pg-reply]")
