"""The demo orders API (/demo/api/orders/), the two demo connectors load_demo makes, the demo
page's signed demo customer, and the whole order lookup through the pipeline."""

from __future__ import annotations

import json
import uuid

import pytest

from chat import services, tasks
from chat.bot import lookup, taxonomy_invalidate
from chat.bot.pipeline import run_turn
from chat.bot.taxonomy import taxonomy_snapshot
from chat.bot.types import TurnContext
from chat.dialog_eval import call_in_process
from chat.identity import identity_hash
from chat.models import Conversation, Message, Widget
from knowledge.importexport import taxonomy_export
from knowledge.models import AuditLogEntry, Connector
from supportdesk.demo_api import demo_orders

pytestmark = pytest.mark.django_db


def auth(settings):
    return {"HTTP_AUTHORIZATION": f"Bearer {settings.DEMO_API_TOKEN}"}


def test_demo_orders_are_data_with_the_briefs_order():
    orders = demo_orders()
    assert len(orders) >= 30
    sam = next(o for o in orders if o["number"] == "10023")
    assert (sam["email"], sam["status"], sam["carrier"], sam["tracking_number"]) == (
        "sam@example.com", "Shipped", "UPS", "1Z999AA10123456784")
    assert len({o["number"] for o in orders}) == len(orders)


def test_api_answers_only_when_number_and_email_match(client, settings):
    ok = client.get("/demo/api/orders/10023/?email=SAM@example.com", **auth(settings))
    assert ok.status_code == 200 and ok.json()["order"]["carrier"] == "UPS"
    assert "email" not in ok.json()["order"]
    wrong = client.get("/demo/api/orders/10023/?email=jo@example.com", **auth(settings))
    missing = client.get("/demo/api/orders/99999/?email=sam@example.com", **auth(settings))
    assert wrong.status_code == missing.status_code == 404
    assert wrong.json() == missing.json()  # no leak of whether the order exists


@pytest.mark.parametrize("written", ["A-10031", "a-10031", "A10031", "A 10031"])
def test_api_reads_the_number_as_the_confirmations_print_it(client, settings, written):
    same = client.get(f"/demo/api/orders/{written}/?email=sam@example.com", **auth(settings))
    plain = client.get("/demo/api/orders/10031/?email=sam@example.com", **auth(settings))
    assert plain.status_code == 200 and same.json() == plain.json()
    for other in ("B-10031", "A--10031", "AA-10031", "A-1003"):
        assert client.get(f"/demo/api/orders/{other}/?email=sam@example.com",
                          **auth(settings)).status_code == 404


@pytest.mark.parametrize("header", [None, "Bearer wrong", "demo-orders-token", "Basic x"])
def test_api_needs_the_bearer_token(client, header):
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    assert client.get("/demo/api/orders/10023/?email=sam@example.com", **extra).status_code \
        == 401


def test_recent_orders_are_the_customers_three_latest(client, settings):
    data = client.get("/demo/api/orders/?customer_id=cust-10023", **auth(settings)).json()
    dates = [o["placed_on"] for o in data["orders"]]
    assert len(dates) == 3 and dates == sorted(dates, reverse=True)
    assert data["orders"][0]["number"] == "10023"
    assert client.get("/demo/api/orders/?customer_id=nobody", **auth(settings)).json() == {
        "orders": []}
    assert client.get("/demo/api/orders/", **auth(settings)).status_code == 400


def converse(lines, verified="", known=None):
    taxonomy_invalidate()
    taxonomy = taxonomy_snapshot()
    state: dict = {}
    texts: list[str] = []
    result = None
    for line in lines:
        result = run_turn(taxonomy, text=line, use_claude=False, call_connector=call_in_process,
                          context=TurnContext(dialog_state=state, customer_texts=list(texts),
                                              verified_customer_id=verified,
                                              verified_details=dict(known or {})))
        state = result.dialog_state
        texts.append(line)
    return result


def test_load_demo_makes_the_two_connectors_with_the_token(demo, settings):
    status = Connector.objects.get(name="Order status")
    recent = Connector.objects.get(name="My recent orders")
    assert not status.verified_only and recent.verified_only
    assert status.headers == recent.headers == {
        "Authorization": f"Bearer {settings.DEMO_API_TOKEN}"}
    assert status.url_template.startswith(settings.DEMO_API_BASE_URL + "/demo/api/orders/")
    assert Widget.objects.get(public_key="demo").identity_secret


def test_secret_is_in_no_export_or_audit_entry(demo, settings):
    token = settings.DEMO_API_TOKEN
    exported = json.dumps(taxonomy_export())
    assert token not in exported and '"Authorization"' in exported  # the name only
    for entry in AuditLogEntry.objects.all():
        assert token not in json.dumps(entry.changes) and token not in entry.object_repr


def test_order_lookup_through_the_pipeline(demo):
    done = converse(["where is my order?", "10023", "sam@example.com"])
    assert "Shipped" in done.reply_text and "UPS" in done.reply_text
    assert "1Z999AA10123456784" in done.reply_text
    assert done.trace["connector"]["status"] == 200
    assert "demo-orders-token" not in json.dumps(done.to_dict())


def test_someone_elses_order_gets_the_same_answer_as_no_order(demo):
    other = converse(["where is my order 10023? my email is jo@example.com"])
    none = converse(["where is my order 99999? my email is jo@example.com"])
    assert other.reply_text == none.reply_text
    assert "couldn't find that order" in other.reply_text


def test_verified_customer_sees_three_recent_orders(demo):
    result = converse(["show my recent orders"], verified="cust-10023")
    assert result.trace["connector"]["connector"] == "My recent orders"
    assert result.reply_text.count("- Order ") == 3


def test_demo_page_signs_the_demo_customer(client, demo):
    plain = client.get("/demo/").content.decode()
    assert "Sign in as a demo customer" in plain and "data-user-hash" not in plain
    page = client.get("/demo/?signed_in=1").content.decode()
    secret = Widget.objects.get(public_key="demo").identity_secret
    assert f'data-user-hash="{identity_hash(secret, "cust-10023")}"' in page
    assert 'data-user-id="cust-10023"' in page and secret not in page


@pytest.mark.django_db
def test_every_demo_topic_button_is_answered_from_its_intent(demo):
    # A topic button sends its label as the customer's message: the label must be words the
    # classifier reads as that intent, or the customer gets another topic's answer.
    from chat.bot.service import playground_turn
    from knowledge.selectors import quick_reply_topics

    topics = quick_reply_topics()
    assert 3 <= len(topics) <= 5
    for topic in topics:
        turn = playground_turn(text=topic["label"])
        assert (turn.intent, turn.is_fallback) == (topic["intent"], False), topic


def test_a_signed_in_customer_is_not_asked_for_the_email_the_desk_knows(client, demo,
                                                                        monkeypatch):
    """Through the real door: the demo page's signed identity opens the conversation, and the
    chat task answers "where is my order 10023?" with the order (the e-mail address the host
    page gave is used, never asked for)."""
    monkeypatch.setattr(lookup, "connector_call", call_in_process)  # the demo API in-process
    secret = Widget.objects.get(public_key="demo").identity_secret
    user = {"id": "cust-10023", "email": "sam@example.com", "name": "Sam",
            "hash": identity_hash(secret, "cust-10023")}
    response = client.post("/api/widget/conversations/",
                           json.dumps({"widget": "demo", "user": user}),
                           content_type="application/json", HTTP_ORIGIN="http://testserver")
    assert response.status_code == 201 and response.json()["verified"] is True
    conversation = Conversation.objects.get(public_id=response.json()["conversation_id"])
    message, _ = services.message_create_incoming(
        conversation=conversation, text="where is my order 10023?", client_id=uuid.uuid4(),
        queue_bot=False)
    tasks.answer_message(message.pk)
    reply = Message.objects.filter(conversation=conversation, author="bot").last()
    assert "e-mail" not in reply.text
    assert "Shipped" in reply.text and "1Z999AA10123456784" in reply.text


@pytest.mark.parametrize("ask", ["show my recent orders", "could you list my orders?",
                                 "and what about my other orders?"])
def test_an_earlier_order_does_not_hide_the_signed_in_customers_list(demo, ask):
    result = converse(["where is order 10019", ask], verified="cust-10023")
    assert result.trace["connector"]["connector"] == "My recent orders"
    assert result.reply_text.count("- Order ") == 3 and "10019" not in result.reply_text


def test_a_visitor_who_moves_on_to_their_orders_is_asked_to_sign_in(demo):
    result = converse(["where's order 10002?", "actually, show me all my orders"])
    assert "signed in" in result.reply_text and "10002" not in result.reply_text
    assert result.dialog_state["pending"] is None


def test_a_wrong_email_can_be_corrected_alone(demo):
    lines = ["is my order on its way?", "it's 10023", "jo@example.com"]
    missed = converse(lines)
    assert "couldn't find that order" in missed.reply_text
    fixed = converse([*lines, "sorry, sam@example.com"])
    assert (fixed.intent, fixed.is_fallback) == ("order_status", False)
    assert "Shipped" in fixed.reply_text and "1Z999AA10123456784" in fixed.reply_text
    spelt = converse([*lines, "sam at example dot com"])
    assert "1Z999AA10123456784" in spelt.reply_text


def test_a_corrected_order_number_alone_keeps_the_email_and_leaks_nothing(demo):
    lines = ["where is my order 10019? I'm lee@example.com"]
    first = converse(lines)
    # 10019 is someone else's: the same answer as an order that does not exist.
    assert "couldn't find that order" in first.reply_text
    assert first.reply_text == converse(["where is my order 99991? I'm lee@example.com"]
                                        ).reply_text
    fixed = converse([*lines, "oh wait, 10029"])
    assert "10029" in fixed.reply_text and "couldn't find" not in fixed.reply_text
    assert fixed.trace["connector"]["status"] == 200


@pytest.mark.parametrize("follow_up", ["and 10019?", "what about order 10019", "10019",
                                       "how about #10019 then"])
def test_another_order_number_after_a_found_order_is_a_new_lookup(demo, follow_up):
    result = converse(["where's order 10031, my address is sam@example.com", follow_up])
    assert (result.decision, result.intent, result.is_fallback) == (
        "reply", "order_status", False)
    assert result.trace["connector"]["connector"] == "Order status"
    assert "10019" in result.reply_text and "1Z999AA10077963662" in result.reply_text


def test_order_numbers_asked_one_after_another_keep_the_email(demo):
    lines = ["order 10023 sam@example.com", "and what about 10019?", "10025"]
    result = converse(lines)
    assert result.decision == "reply" and "10025" in result.reply_text
    assert result.trace["connector"]["status"] == 200
    # Someone else's order after a found one: the same answer as no such order.
    other = converse([*lines, "what about 10030"])
    none = converse([*lines, "what about 99990"])
    assert other.reply_text == none.reply_text and "couldn't find that order" in none.reply_text


def test_signed_in_customer_asks_about_another_order_after_the_list(demo):
    known = {"email": "sam@example.com"}
    result = converse(["show my recent orders", "what about 10019"], verified="cust-10023",
                      known=known)
    assert result.trace["connector"]["connector"] == "Order status"
    assert "1Z999AA10077963662" in result.reply_text
    asked = converse(["show my recent orders", "and 10019?"], verified="cust-10023")
    assert (asked.intent, asked.dialog_state["pending"]["detail"]) == ("order_status", "email")


@pytest.mark.parametrize("line", ["order status 10023 sam@example.com",
                                  "order status: 10023, sam@example.com"])
def test_both_details_after_order_status_are_looked_up_at_once(demo, line):
    result = converse([line])
    assert result.trace["connector"]["connector"] == "Order status"
    assert "1Z999AA10123456784" in result.reply_text


@pytest.mark.parametrize("line", ["what's the status of 10025", "any update on #10025 please",
                                  "show my recent orders, but first order status 10025"])
def test_signed_in_customer_naming_an_order_gets_that_order(demo, line):
    result = converse([line], verified="cust-10023", known={"email": "sam@example.com"})
    assert result.trace["connector"]["connector"] == "Order status"
    assert "10025" in result.reply_text and "- Order " not in result.reply_text


def test_signed_in_customer_asking_about_another_s_order_is_told_no_e_mail(demo):
    known = {"email": "sam@example.com"}
    other = converse(["where is order 10030"], verified="cust-10023", known=known)
    none = converse(["where is order 99990"], verified="cust-10023", known=known)
    visitor = converse(["where is order 10030? it's sam@example.com"])
    assert other.reply_text == none.reply_text == visitor.reply_text
    assert "couldn't find that order" in other.reply_text
    assert "that e-mail" not in other.reply_text
