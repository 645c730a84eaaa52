"""The connector stage in the pipeline: details asked for, the call's reply checked, failures
answered from the article with a person on offer, verified-only connectors."""

from __future__ import annotations

import dataclasses

import pytest

from chat.bot import lookup
from chat.bot.entities import extract
from chat.bot.lookup import SIGN_IN_REPLY, DeferTurn, choose
from chat.bot.pipeline import run_turn
from chat.bot.types import TurnContext
from knowledge.connectors import CallOutcome, ConnectorSpec

from .conftest import TODAY

STATUS = ConnectorSpec(
    id=1, name="Order status", description="", intents=("order_status",),
    needs=("order_number", "email"), method="GET",
    url_template="https://shop.example/o/{order_number}?email={email}",
    allowed_hosts=("shop.example",), headers=(("Authorization", "Bearer zz-secret"),),
    timeout_seconds=3.0, verified_only=False,
    reply_template="Order {{ order.number }} is {{ order.status }} with {{ order.carrier }}.",
    fallback_text="I couldn't find that order with that e-mail.",
)
RECENT = dataclasses.replace(
    STATUS, id=2, name="Recent orders", needs=("customer_id",), verified_only=True,
    url_template="https://shop.example/c/{customer_id}/orders",
    reply_template="{% for o in items %}{{ o.number }} {{ o.status }}; {% endfor %}",
)


class Caller:
    """A fake connector call: records the values and answers with ``outcome``."""

    def __init__(self, outcome=None) -> None:
        self.calls: list[tuple[str, dict]] = []
        self.outcome = outcome

    def __call__(self, spec, values):
        self.calls.append((spec.name, dict(values)))
        if self.outcome is not None:
            return self.outcome
        if spec.name == "Recent orders":
            return CallOutcome(connector=spec.name, method="GET", url="u", ok=True, status=200,
                               reply="55101 Shipped; 55102 Delivered;",
                               data=[{"number": "55101", "status": "Shipped"},
                                     {"number": "55102", "status": "Delivered"}])
        return CallOutcome(
            connector=spec.name, method="GET", url="https://shop.example/o/…", ok=True,
            status=200, reply=f"Order {values['order_number']} is Shipped with UPS.",
            data={"order": {"number": values["order_number"], "status": "Shipped",
                            "carrier": "UPS"}},
        )


@pytest.fixture
def shop(taxonomy):
    return dataclasses.replace(taxonomy, connectors=(STATUS, RECENT), info={})


def converse(shop, lines, *, caller, verified=""):
    state: dict = {}
    texts: list[str] = []
    result = None
    for line in lines:
        result = run_turn(
            shop, text=line, today=TODAY, call_connector=caller, use_claude=False,
            context=TurnContext(dialog_state=state, customer_texts=list(texts),
                                verified_customer_id=verified),
        )
        state = result.dialog_state
        texts.append(line)
    return result


def test_asks_for_each_detail_then_answers_from_the_connector(shop):
    caller = Caller()
    first = converse(shop, ["where is my order?"], caller=caller)
    assert first.trace["dialog"]["action"] == "ask" and not caller.calls
    second = converse(shop, ["where is my order?", "it's 55102"], caller=caller)
    assert "e-mail" in second.reply_text and not caller.calls
    done = converse(shop, ["where is my order?", "it's 55102", "pat@example.com"],
                    caller=caller)
    assert caller.calls[-1] == ("Order status", {"order_number": "55102",
                                                  "email": "pat@example.com"})
    assert done.reply_text == "Order 55102 is Shipped with UPS."
    assert done.trace["quality"]["ok"]
    assert done.trace["response"]["source"] == "connector"


def test_connector_reply_is_quality_checked(shop):
    invented = CallOutcome(connector="Order status", method="GET", url="u", ok=True,
                           status=200, reply="Refund of $999.00 sent to you.",
                           data={"order": {"status": "Shipped"}})
    result = converse(shop, ["where is my order 55102, my email is pat@example.com"],
                      caller=Caller(invented))
    assert "$999" not in result.reply_text
    assert not result.trace["quality"]["ok"]


@pytest.mark.parametrize("reason", ["timeout", "http_500", "bad_json", "oversize",
                                    "redirect_other_host", "template_error: TypeError"])
def test_failure_answers_with_the_article_and_offers_a_person(shop, reason):
    failed = CallOutcome(connector="Order status", method="GET", url="u", reason=reason)
    result = converse(shop, ["where is my order 55102, my email is pat@example.com"],
                      caller=Caller(failed))
    assert result.decision == "reply"
    assert "track" in result.reply_text.lower()  # the tracking article
    assert "connect you with a person" in result.reply_text
    assert result.dialog_state["offered_person"] is True
    assert result.trace["connector"]["reason"] == reason
    assert any(reason in e for e in result.trace["errors"])
    # It opens with the failure, not with a thank-you for the detail it could not use.
    assert result.reply_text.startswith("I couldn't look that up just now.")
    assert "Thanks, I have your" not in result.reply_text


@pytest.mark.parametrize("host", ["0177.0.0.1", "127.000.000.001", "999.1.1.1", "a..b"])
def test_a_stored_host_the_http_client_refuses_takes_the_failure_path(shop, settings, host):
    # The real call (no fake caller) of a connector saved before the host checks: refused
    # like any other failed call (the article and a person), never an exception.
    settings.CONNECTOR_ALLOW_PRIVATE_NETWORKS = True
    bad = dataclasses.replace(STATUS, url_template=f"http://{host}/o/{{order_number}}",
                              allowed_hosts=(host,))
    result = converse(dataclasses.replace(shop, connectors=(bad, RECENT)),
                      ["where is my order 55102, my email is pat@example.com"], caller=None)
    assert result.decision == "reply"
    assert "connect you with a person" in result.reply_text
    assert result.trace["connector"]["reason"] == "bad_host"


def test_not_found_says_the_same_for_any_unknown_order(shop):
    missing = CallOutcome(connector="Order status", method="GET", url="u", reason="http_404",
                          not_found=True)
    result = converse(shop, ["where is my order 55102, my email is pat@example.com"],
                      caller=Caller(missing))
    assert result.reply_text == STATUS.fallback_text


def test_trace_holds_no_header_value(shop):
    result = converse(shop, ["where is my order 55102, my email is pat@example.com"],
                      caller=Caller())
    assert "zz-secret" not in repr(result.to_dict())


def test_verified_customer_gets_recent_orders_with_the_signed_id(shop):
    caller = Caller()
    result = converse(shop, ["show my recent orders"], caller=caller, verified="cust-9")
    if result.intent != "order_status":
        pytest.skip("the small test classifier does not read this as order_status")
    assert caller.calls == [("Recent orders", {"customer_id": "cust-9"})]
    assert "55101 Shipped" in result.reply_text


def test_typed_id_never_reaches_a_verified_only_connector(shop):
    only_private = dataclasses.replace(shop, connectors=(RECENT,), info={})
    caller = Caller()
    result = converse(only_private, ["where is my order? my customer id is cust-9"],
                      caller=caller)
    assert not caller.calls
    assert result.reply_text == SIGN_IN_REPLY
    assert result.trace["connector"]["reason"] == "not_verified"


def test_choose_rule():
    both = (STATUS, RECENT)
    assert choose(both, intent="order_status", verified=True, order_number=False).connector \
        is RECENT
    assert choose(both, intent="order_status", verified=True, order_number=True).connector \
        is STATUS
    assert choose(both, intent="order_status", verified=False, order_number=False).connector \
        is STATUS
    assert choose((RECENT,), intent="order_status", verified=False, order_number=False).sign_in
    assert choose(both, intent="return_request", verified=True, order_number=False).connector \
        is None


def test_a_deferring_caller_stops_the_turn(shop):
    def defer(spec, values):
        raise DeferTurn(spec.name)

    with pytest.raises(DeferTurn):
        converse(shop, ["where is my order 55102, my email is pat@example.com"], caller=defer)


def test_with_claude_the_connector_is_a_tool_and_its_result_goes_back(shop, fake_claude):
    from .fake_anthropic import stream_answer, tool_answer

    classified = {
        "intent": "order_status", "confidence": 0.95,
        "entities": {"order_number": "55102", "email": "pat@example.com"},
        "sentiment": "neutral", "urgency": "low", "escalation_signals": [],
        "suggested_action": "provide_info",
    }
    fake_claude.script(
        tool_answer(classified),
        tool_answer({"order_number": "55102", "email": "pat@example.com",
                     "customer_id": "typed-by-model"}, name="order_status"),
        stream_answer(["Order 55102 is Shipped ", "with UPS."]),
    )
    caller = Caller()
    result = run_turn(
        shop, text="where is order 55102? my email is pat@example.com", today=TODAY,
        call_connector=caller, use_claude=True, context=TurnContext(),
    )
    assert caller.calls == [("Order status", {"order_number": "55102",
                                               "email": "pat@example.com"})]
    assert result.reply_text == "Order 55102 is Shipped with UPS."
    assert result.trace["connector"]["via"] == "claude tool"
    assert result.trace["quality"]["ok"]
    tool_request, final_request = fake_claude.requests[1]["body"], fake_claude.requests[2]["body"]
    assert tool_request["tools"][0]["name"] == "order_status"
    assert "customer_id" not in tool_request["tools"][0]["input_schema"]["properties"]
    [result_block] = final_request["messages"][-1]["content"]
    assert result_block["type"] == "tool_result" and "Shipped" in result_block["content"]
    assert "zz-secret" not in repr(fake_claude.requests)


def test_with_claude_an_invented_tool_answer_is_replaced(shop, fake_claude):
    from .fake_anthropic import stream_answer, tool_answer

    classified = {
        "intent": "order_status", "confidence": 0.95,
        "entities": {"order_number": "55102", "email": "pat@example.com"},
        "sentiment": "neutral", "urgency": "low", "escalation_signals": [],
        "suggested_action": "provide_info",
    }
    fake_claude.script(
        tool_answer(classified),
        tool_answer({"order_number": "55102", "email": "pat@example.com"}, name="order_status"),
        stream_answer(["We refunded $250.00 to your card."]),
    )
    result = run_turn(
        shop, text="where is order 55102? my email is pat@example.com", today=TODAY,
        call_connector=Caller(), use_claude=True, context=TurnContext(),
    )
    assert "$250" not in result.reply_text and not result.trace["quality"]["ok"]


def test_with_claude_the_companys_values_read_as_text_as_in_a_template(shop, fake_claude):
    """A value of the company's answer (here a name and a note a customer typed into the
    shop) copied by the model into its reply renders as the same text as the template path
    gives it: no emphasis, image, link or markup in the widget, the console or a mail."""
    from chat.mail import _text_target
    from chat.realtime import message_html
    from knowledge.markdown import markdown_to_text

    from .fake_anthropic import stream_answer, tool_answer

    name = "**Robin** <img src=x onerror=alert(1)>"
    note = "[click](javascript:alert(1)) or [here](https://evil.example/x) _now_"
    answer = CallOutcome(
        connector="Order status", method="GET", url="u", ok=True, status=200,
        reply="unused", data={"order": {"number": "55102", "status": "Shipped",
                                        "name": name, "note": note}},
    )
    classified = {
        "intent": "order_status", "confidence": 0.95,
        "entities": {"order_number": "55102", "email": "pat@example.com"},
        "sentiment": "neutral", "urgency": "low", "escalation_signals": [],
        "suggested_action": "provide_info",
    }
    fake_claude.script(
        tool_answer(classified),
        tool_answer({"order_number": "55102", "email": "pat@example.com"}, name="order_status"),
        stream_answer(["Hi ", name, ", order **55102** is Shipped. ", "Your note: ", note]),
    )
    result = run_turn(
        shop, text="where is order 55102? my email is pat@example.com", today=TODAY,
        call_connector=Caller(answer), use_claude=True, context=TurnContext(),
    )
    assert result.trace["response"]["tool"] and result.trace["quality"]["ok"]
    html = message_html(result.reply_text)
    # The model's own emphasis stays; nothing of the values becomes markup.
    assert html.count("<strong>") == 1 and "<strong>55102</strong>" in html
    for tag in ("<img", "<a", "<em"):
        assert tag not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "**Robin**" in html
    assert "[click](javascript:alert(1))" in html and "[here](https:" in html
    text = markdown_to_text(result.reply_text, link_target=_text_target)
    assert text == f"Hi {name}, order 55102 is Shipped. Your note: {note}"
    # The template path writes the same value the same way.
    from knowledge.markdown import escape_markdown
    assert escape_markdown(name) in result.reply_text


def test_a_web_address_of_the_companys_answer_stays_a_link_and_nothing_else_becomes_one():
    from chat.bot.lookup import literal_values
    from chat.realtime import message_html

    answer = CallOutcome(
        connector="Order status", method="GET", url="u", ok=True, status=200, data={
            "tracking": "https://parcels.example/t?id=AB12&lang=en",
            "note": "see https://evil.example/x",  # an address inside a sentence a customer typed
            "label": "[sale](https://evil.example/y)",
        })
    reply = ("Track it at https://parcels.example/t?id=AB12&lang=en or "
             "[on the carrier's page](https://parcels.example/t?id=AB12&lang=en). "
             "Note: see https://evil.example/x, label [sale](https://evil.example/y).")
    html = message_html(literal_values(reply, [answer]))
    assert html.count('href="https://parcels.example/t?id=AB12&amp;lang=en"') == 2
    assert "evil.example" in html and 'href="https://evil.example' not in html


@pytest.mark.parametrize(("text", "numbers"), [
    ("where is 48213?", ["48213"]), ("48213", ["48213"]), ("any news on #48213 please", ["48213"]),
    ("hey, what about 48213 and 48214", ["48213", "48214"]),
    ("I live in 48213", []), ("I paid 48213 yesterday", []), ("call 0612345678", []),
    ("where is 4821?", []),  # four digits: a year, a PIN, a street number as often
    ("where's 48213", ["48213"]), ("wheres 48213 yet?", ["48213"]),
    ("48213 pat@example.com", ["48213"]), ("where is 48213? pat@example.com", ["48213"]),
    ("I live in 48213, pat@example.com", []), ("pat@example.com", []),
])
def test_a_lone_long_number_asked_about_is_an_order_number(text, numbers):
    from chat.bot.lookup import lone_order_numbers

    awaited = extract(text, products=None, today=TODAY, awaiting="order_number")
    assert lone_order_numbers(text, awaited) == numbers


@pytest.mark.parametrize("text", [
    "where is 48213?", "48213", "#48213", "48213!!", "order nr. 4821-3?", "what about 48 213",
    "where is 4821?", "hello", "", "\u0664\u0668\u0662\u0661\u0663", "is it 482130000000000000?",
])
def test_the_cheap_digit_test_never_skips_a_number_the_full_reading_finds(text):
    from chat.bot.lookup import lone_order_numbers, may_hold_long_number

    awaited = extract(text, products=None, today=TODAY, awaiting="order_number")
    if lone_order_numbers(text, awaited):
        assert may_hold_long_number(text)
    assert may_hold_long_number(text) is (sum(ch.isdigit() for ch in text) >= 5)


def test_a_lone_order_number_the_classifier_did_not_place_is_looked_up(shop):
    """"where is 48213?" read as nothing in particular: the number alone is the question."""
    caller = Caller()
    result = converse(shop, ["where is 48213?", "pat@example.com"], caller=caller)
    assert [values["order_number"] for _, values in caller.calls] == ["48213"]
    assert result.intent == "order_status"
    placed = run_turn(shop, text="I live in 48213", today=TODAY, call_connector=Caller(),
                      use_claude=False, context=TurnContext())
    assert placed.intent != "order_status" and "order_number" not in placed.trace["entities"]


def test_a_lone_order_number_with_its_email_address_is_looked_up_at_once(shop):
    caller = Caller()
    result = converse(shop, ["48213 pat@example.com"], caller=caller)
    assert result.intent == "order_status"
    assert caller.calls == [("Order status", {"order_number": "48213",
                                              "email": "pat@example.com"})]


@pytest.mark.parametrize("asking", [
    "has 48213 shipped yet?", "is 48213 on the way", "my order is late, 48213",
    "where is my order? I live in 48213",  # a postal code without its word: asked, not used
])
@pytest.mark.parametrize(("answer", "looked_up"), [
    ("yes", "48213"), ("Yes please", "48213"), ("yep", "48213"),
    ("no, it's 55102", "55102"), ("55102", "55102"),
])
def test_a_number_no_word_names_is_asked_about_before_it_is_looked_up(
    shop, asking, answer, looked_up
):
    caller = Caller()
    asked = converse(shop, [asking], caller=caller)
    assert asked.intent == "order_status" and not caller.calls
    assert "Is 48213 your order number?" in asked.reply_text
    converse(shop, [asking, answer, "pat@example.com"], caller=caller)
    assert [values["order_number"] for _, values in caller.calls] == [looked_up]


@pytest.mark.parametrize("denial", ["no", "No.", "nope, wrong number", "that's not it",
                                    "no that\u2019s not mine"])
def test_a_no_to_the_guessed_number_asks_for_the_number_again(shop, denial):
    caller = Caller()
    result = converse(shop, ["has 48213 shipped yet?", denial], caller=caller)
    assert result.intent == "order_status" and not caller.calls
    assert result.reply_text.endswith("order number?") and "48213" not in result.reply_text
    converse(shop, ["has 48213 shipped yet?", denial, "55102", "pat@example.com"],
             caller=caller)
    assert [values["order_number"] for _, values in caller.calls] == ["55102"]


@pytest.mark.parametrize("text", [
    "where is my order?",  # no number: asked for as before
    "where is my order? call me on 0612345678",  # a phone number is no guess
    "my order of 12/02/2026 has not arrived",  # nor a date
    "my order from 2025 has not arrived",  # nor four digits
])
def test_no_guess_without_a_long_number(shop, text):
    result = converse(shop, [text], caller=Caller())
    assert result.intent == "order_status" and "order_number" not in result.trace["entities"]
    assert result.reply_text.endswith("order number?") and "Is " not in result.reply_text
    after_yes = converse(shop, [text, "yes"], caller=Caller())
    assert "order_number" not in after_yes.trace["entities"]


@pytest.mark.parametrize(("text", "expected"), [
    ("show my recent orders", True), ("what are my last orders", True),
    ("can I see my order history?", True), ("list the orders I've placed", True),
    ("where is my order?", False), ("order 10023 is late", False), ("my order's status", False),
])
def test_a_list_of_the_customers_own_orders_is_told_from_one_order(text, expected):
    from chat.bot.lookup import asks_for_own_orders

    assert asks_for_own_orders(text) is expected


def test_a_verified_customers_known_email_is_used_never_asked(shop):
    caller = Caller()
    state: dict = {}
    context = TurnContext(dialog_state=state, verified_customer_id="cust-9",
                          verified_details={"email": "pat@example.com", "name": "Pat"})
    result = run_turn(shop, text="where is my order 55102?", today=TODAY, call_connector=caller,
                      use_claude=False, context=context)
    assert "e-mail" not in result.reply_text
    assert caller.calls == [("Order status", {"order_number": "55102",
                                              "email": "pat@example.com"})]


def test_a_verified_customer_asked_for_the_order_number_only(shop):
    # Only the public connector: a verified customer is asked for the order number, not the
    # e-mail address the desk knows.
    shop = dataclasses.replace(shop, connectors=(STATUS,), info={})
    caller = Caller()
    context = TurnContext(verified_customer_id="cust-9",
                          verified_details={"email": "pat@example.com"})
    first = run_turn(shop, text="where is my order?", today=TODAY,
                     call_connector=caller, use_claude=False,
                     context=dataclasses.replace(context, dialog_state={}))
    if first.intent != "order_status":
        pytest.skip("the small test classifier does not read this as order_status")
    second = run_turn(shop, text="it's 55102", today=TODAY, call_connector=caller,
                      use_claude=False,
                      context=dataclasses.replace(context, dialog_state=first.dialog_state))
    assert first.trace["dialog"]["action"] == "ask" and "order number" in first.reply_text
    assert "e-mail" not in first.reply_text + second.reply_text
    assert caller.calls[-1] == ("Order status", {"order_number": "55102",
                                                 "email": "pat@example.com"})


def test_an_unverified_customers_email_is_still_asked(shop):
    caller = Caller()
    result = run_turn(
        shop, text="where is my order 55102?", today=TODAY, call_connector=caller,
        use_claude=False,
        # details without a signed id are not known: nothing vouches for them
        context=TurnContext(verified_details={"email": "pat@example.com"}),
    )
    assert "e-mail" in result.reply_text and not caller.calls


class Shop(Caller):
    """A fake shop: order 55102 is Pat's (pat@example.com); any other pair is not found."""

    def __call__(self, spec, values):
        if spec.name == "Order status" and (
            values.get("order_number"), values.get("email")) != ("55102", "pat@example.com"):
            self.calls.append((spec.name, dict(values)))
            return CallOutcome(connector=spec.name, method="GET", url="u", status=404,
                               reason="http_404", not_found=True)
        return super().__call__(spec, values)


@pytest.mark.parametrize("text", [
    "what about my other orders?", "list all of my orders", "my last 3 orders please",
    "can you show me my purchase history", "and my previous orders",
])
def test_more_ways_of_asking_for_ones_orders_as_a_list(text):
    from chat.bot.lookup import asks_for_own_orders

    assert asks_for_own_orders(text)


@pytest.mark.parametrize("text", ["where are my two orders", "did my order 55102 ship"])
def test_one_or_two_named_orders_are_no_list(text):
    from chat.bot.lookup import asks_for_own_orders

    assert not asks_for_own_orders(text)


@pytest.mark.parametrize("ask", ["list my orders", "what about my other orders?",
                                 "show me my recent orders"])
def test_an_earlier_order_number_does_not_hide_the_verified_customers_orders(shop, ask):
    caller = Caller()
    result = converse(shop, ["where is order 55102?", ask], caller=caller, verified="cust-9")
    if result.intent != "order_status":
        pytest.skip("the small test classifier does not read this as order_status")
    assert caller.calls[-1] == ("Recent orders", {"customer_id": "cust-9"})
    assert "55101 Shipped" in result.reply_text and "e-mail" not in result.reply_text
    assert "order_number" not in result.dialog_state["details"]


def test_an_unverified_customer_asking_for_their_orders_is_sent_to_sign_in(shop):
    caller = Caller()
    result = converse(shop, ["where is order 55102?", "show me my recent orders"],
                      caller=caller)
    if result.intent != "order_status":
        pytest.skip("the small test classifier does not read this as order_status")
    assert result.reply_text == SIGN_IN_REPLY and not caller.calls
    assert result.dialog_state["pending"] is None


def test_a_new_order_number_replaces_the_one_remembered(shop):
    caller = Caller()
    converse(shop, ["where is order 55102?", "where is order 55777? pat@example.com"],
             caller=caller)
    assert caller.calls == [("Order status", {"order_number": "55777",
                                              "email": "pat@example.com"})]


@pytest.mark.parametrize("correction", ["pat@example.com", "sorry, it's pat@example.com",
                                        "Oops, try pat@example.com instead"])
def test_a_corrected_email_alone_tries_the_lookup_again(shop, correction):
    caller = Shop()
    result = converse(shop, ["where is my order 55102? my email is jo@example.com",
                             correction], caller=caller)
    assert caller.calls == [
        ("Order status", {"order_number": "55102", "email": "jo@example.com"}),
        ("Order status", {"order_number": "55102", "email": "pat@example.com"}),
    ]
    assert (result.intent, result.is_fallback) == ("order_status", False)
    assert "Shipped" in result.reply_text
    assert result.dialog_state["fallbacks"] == 0 and not result.dialog_state.get("missed")


def test_a_corrected_order_number_alone_tries_again_with_the_email(shop):
    caller = Shop()
    result = converse(shop, ["where is my order 55109? my email is pat@example.com",
                             "55102"], caller=caller)
    assert caller.calls[-1] == ("Order status", {"order_number": "55102",
                                                 "email": "pat@example.com"})
    assert "Shipped" in result.reply_text


def test_a_second_miss_answers_the_same_as_the_first(shop):
    # No leak: a wrong e-mail for a real order and a made-up order get one answer.
    caller = Shop()
    result = converse(shop, ["where is my order 55102? my email is jo@example.com",
                             "al@example.com", "55999"], caller=caller)
    assert [values for _, values in caller.calls] == [
        {"order_number": "55102", "email": "jo@example.com"},
        {"order_number": "55102", "email": "al@example.com"},
        {"order_number": "55999", "email": "al@example.com"},
    ]
    # The third miss is the last allowed: a person is offered instead of another try.
    assert result.reply_text == lookup.LOOKUP_LIMIT_REPLY
    assert result.dialog_state["missed"] == {"intent": "order_status"}
    second = converse(shop, ["where is my order 55102? my email is jo@example.com",
                             "al@example.com"], caller=Shop())
    assert second.reply_text == STATUS.fallback_text


def test_after_a_miss_a_new_request_with_an_email_is_not_a_retry(shop):
    caller = Shop()
    converse(shop, ["where is my order 55102? my email is jo@example.com",
                    "how do I return a jacket? I'm jo2@example.com"], caller=caller)
    assert len(caller.calls) == 1


def test_an_order_number_alone_while_the_email_is_awaited_replaces_the_old_one(shop):
    caller = Shop()
    asked = converse(shop, ["where is order 55109?", "sorry, it's 55102"], caller=caller)
    assert asked.trace["dialog"]["action"] == "ask" and not caller.calls
    assert "55102" in asked.reply_text and asked.dialog_state["pending"]["detail"] == "email"
    done = converse(shop, ["where is order 55109?", "sorry, it's 55102", "pat@example.com"],
                    caller=caller)
    assert caller.calls[-1] == ("Order status", {"order_number": "55102",
                                                 "email": "pat@example.com"})
    assert "Shipped" in done.reply_text


def test_an_email_spelt_out_while_awaited(shop):
    caller = Shop()
    result = converse(shop, ["where is order 55102?", "pat at example dot com"],
                      caller=caller)
    assert caller.calls == [("Order status", {"order_number": "55102",
                                              "email": "pat@example.com"})]
    assert "Shipped" in result.reply_text


@pytest.mark.parametrize(("text", "expected"), [
    ("never mind that, could you list all of my orders", True),
    ("give me a list of my orders", True), ("what about my other orders?", True),
    ("my orders never arrived", False), ("cancel all my orders", False),
    ("show me how to cancel my recent orders", False),
])
def test_asking_to_be_shown_ones_orders(text, expected):
    from chat.bot.lookup import asks_to_see_orders

    assert asks_to_see_orders(text) is expected


class RenderingCaller(Caller):
    """A connector call answered by ``data``, its reply rendered from the spec's template as
    ``connector_call`` renders it (the sandbox, the values as literal text)."""

    def __init__(self, data) -> None:
        super().__init__()
        self.data = data

    def __call__(self, spec, values):
        from knowledge.connectors import render_reply

        self.calls.append((spec.name, dict(values)))
        reply, _ = render_reply(spec, self.data, values)
        return CallOutcome(connector=spec.name, method="GET", url="u", ok=True, status=200,
                           reply=reply, data=self.data, connector_id=spec.id)


ASKED = ["where is my order 55102, my email is pat@example.com"]
ORDER = {"order": {"number": "55102", "status": "Shipped", "carrier": "UPS",
                   "tracking": "1Z 999)AA&1#2"}}


@pytest.mark.parametrize("template", [
    # What the admin wrote is a source, like an article's text: a help link, a phone number,
    # an address, a link to a carrier's page with the company's value in it.
    "Order {{ order.number }} is {{ order.status }}. Help: https://help.shop.example/orders",
    "Order {{ order.number }} is {{ order.status }}. Questions? Call 1-800-555-0142.",
    "{{ order.status }}. [Track it](https://carrier.example/track?n={{ order.number }})",
    "{{ order.status }}. Write to returns@shop.example or see <https://shop.example/returns>.",
])
def test_the_admins_own_facts_in_a_template_are_grounded(shop, template):
    spec = dataclasses.replace(STATUS, reply_template=template)
    result = converse(dataclasses.replace(shop, connectors=(spec, RECENT)), ASKED,
                      caller=RenderingCaller(ORDER))
    assert result.trace["quality"]["ok"], result.trace["quality"]
    assert result.trace["response"]["source"] == "connector"
    assert "Shipped" in result.reply_text


def test_a_link_on_another_host_than_the_admins_is_still_refused(shop):
    spec = dataclasses.replace(
        STATUS, reply_template="[Track it](https://carrier.example/track?n={{ order.number }})")
    invented = CallOutcome(
        connector="Order status", method="GET", url="u", ok=True, status=200,
        reply="[Track it](https://carrier.example.evil/track?n=55102)", data=ORDER)
    result = converse(dataclasses.replace(shop, connectors=(spec, RECENT)), ASKED,
                      caller=Caller(invented))
    assert not result.trace["quality"]["ok"] and "evil" not in result.reply_text


def test_a_link_in_the_companys_data_is_text_not_a_fact(shop):
    spec = dataclasses.replace(STATUS, reply_template="{{ order.status }}: {{ order.link }}")
    data = {"order": {"status": "Shipped", "link": "https://evil.example/login"}}
    result = converse(dataclasses.replace(shop, connectors=(spec, RECENT)), ASKED,
                      caller=RenderingCaller(data))
    assert result.trace["quality"]["ok"]
    assert "](" not in result.reply_text and "evil" in result.reply_text
    from knowledge.markdown import render_markdown
    assert "<a " not in render_markdown(result.reply_text)


class Mixed(Caller):
    """55101 found, 55102 not under that address, 55103 failing (a timeout)."""

    def __call__(self, spec, values):
        number = values["order_number"]
        if number not in ("55102", "55103"):
            return super().__call__(spec, values)
        self.calls.append((spec.name, dict(values)))
        if number == "55102":
            return CallOutcome(connector=spec.name, method="GET", url="u", status=404,
                               reason="not_found", not_found=True)
        return CallOutcome(connector=spec.name, method="GET", url="u", reason="timeout")


def test_several_orders_in_one_message_are_each_looked_up_and_named(shop):
    caller = Mixed()
    result = converse(shop, ["where are orders 55101, 55102 and 55103? kim@example.org"],
                      caller=caller)
    assert [values["order_number"] for _, values in caller.calls] == ["55101", "55102", "55103"]
    assert {values["email"] for _, values in caller.calls} == {"kim@example.org"}
    assert result.decision == "reply"
    lines = result.reply_text.split("\n")
    assert lines[0] == "- Order 55101 is Shipped with UPS."  # its reply names it: not twice
    assert lines[1] == "- **55102**: I couldn't find that order with that e-mail."
    assert lines[2] == "- **55103**: I couldn't look that up just now."
    assert result.reply_text.endswith("Would you like me to connect you with a person?")
    assert result.trace["quality"]["ok"] is True
    assert [call["ok"] for call in result.trace["connector"]["orders"]] == [True, False, False]
    assert any("timeout" in error for error in result.trace["errors"])


def test_every_call_of_a_turn_is_listed_in_its_trace(shop):
    """Several orders in one message: each call is in ``connector_calls``, in order, with its
    outcome and duration, not only the first one (analytics counts calls from this list)."""
    caller = Mixed()
    result = converse(shop, ["where are orders 55101, 55102 and 55103? kim@example.org"],
                      caller=caller)
    calls = result.trace["connector_calls"]
    assert len(calls) == len(caller.calls) == 3
    assert [(c["connector"], c["ok"], c["not_found"], c["reason"]) for c in calls] == [
        ("Order status", True, False, ""), ("Order status", False, True, "not_found"),
        ("Order status", False, False, "timeout")]
    assert all("ms" in c and "zz-secret" not in repr(c) for c in calls)


def test_a_turn_with_no_call_lists_none(shop):
    result = converse(shop, ["where is my order?"], caller=Caller())
    assert "connector_calls" not in result.trace


def test_with_claude_each_tool_call_is_listed(shop, fake_claude):
    from .fake_anthropic import message, stream_answer, tool_answer

    classified = {
        "intent": "order_status", "confidence": 0.95,
        "entities": {"order_number": "55101", "email": "pat@example.com"},
        "sentiment": "neutral", "urgency": "low", "escalation_signals": [],
        "suggested_action": "provide_info",
    }
    two_calls = {"status": 200, "json": message([
        {"type": "tool_use", "id": "toolu_1", "name": "order_status",
         "input": {"order_number": "55101", "email": "pat@example.com"}},
        {"type": "tool_use", "id": "toolu_2", "name": "order_status",
         "input": {"order_number": "55103", "email": "pat@example.com"}},
    ], "tool_use")}
    fake_claude.script(tool_answer(classified), two_calls,
                       stream_answer(["Order 55101 is Shipped with UPS."]))
    caller = Mixed()
    result = run_turn(
        shop, text="where are orders 55101 and 55103? my email is pat@example.com",
        today=TODAY, call_connector=caller, use_claude=True, context=TurnContext(),
    )
    assert [values["order_number"] for _, values in caller.calls] == ["55101", "55103"]
    assert [(c["ok"], c["reason"]) for c in result.trace["connector_calls"]] == [
        (True, ""), (False, "timeout")]


def test_one_order_number_is_answered_as_before(shop):
    result = converse(shop, ["where is order 55101? kim@example.org"], caller=Caller())
    assert result.reply_text == "Order 55101 is Shipped with UPS."


NOT_FOUND = CallOutcome(connector="Order status", method="GET", url="u", status=404,
                        reason="not_found", not_found=True)


def test_e_mail_guesses_for_an_order_stop_after_the_limit_and_a_person_is_offered(shop):
    caller = Caller(NOT_FOUND)
    guesses = [f"guess{n}@example.net" for n in range(1, lookup.MAX_LOOKUP_MISSES + 3)]
    lines = ["where is my order 55102?", *guesses]
    replies = []
    for count in range(2, len(lines) + 1):
        caller.calls.clear()
        result = converse(shop, lines[:count], caller=caller)
        replies.append(result.reply_text)
    # Until the last miss allowed the fallback invites another try; from it on, a person.
    limit = lookup.MAX_LOOKUP_MISSES
    assert all(lookup.LOOKUP_LIMIT_REPLY not in reply for reply in replies[:limit - 1])
    assert replies[limit - 1:] == [lookup.LOOKUP_LIMIT_REPLY] * (len(guesses) - limit + 1)
    # Every guess up to the limit was tried; the ones after it were not.
    tried = [values["email"] for _, values in caller.calls]
    assert tried == guesses[:lookup.MAX_LOOKUP_MISSES]
    assert result.reply_text == lookup.LOOKUP_LIMIT_REPLY
    assert result.trace["connector"]["reason"] == "lookup_limit"
    assert result.dialog_state["lookup_misses"] == lookup.MAX_LOOKUP_MISSES
    # The reply offers a person: a plain yes is then a request for one.
    assert result.dialog_state["offered_person"] is True
    accepted = converse(shop, [*lines, "yes please"], caller=caller)
    assert accepted.decision == "handoff"
    # The reason quotes the customer's words alone, and says they accepted the offer.
    assert accepted.handoff_reason == 'Customer accepted the offer of a person ("yes please")'


def test_found_orders_do_not_count_and_several_misses_in_one_message_do(shop):
    found = converse(shop, ["where are orders 55101 and 55104? kim@example.org"],
                     caller=Caller())
    assert "lookup_misses" not in found.dialog_state
    caller = Mixed()  # 55102 is not found, 55103 times out (not a miss: the API failed)
    mixed = converse(shop, ["where are orders 55102, 55103 and 55101? kim@example.org"],
                     caller=caller)
    assert mixed.dialog_state["lookup_misses"] == 1
    two = converse(shop, ["orders 55102 and 55102? kim@example.org",
                          "and 55102 with lee@example.org"], caller=Caller(NOT_FOUND))
    assert two.dialog_state["lookup_misses"] >= 2


def test_a_pleasantry_keeps_the_count_and_a_stored_state_is_checked():
    from chat.bot import dialog

    kept = dialog.pleasantry({"lookup_misses": 2, "turns": 3}, kind="thanks",
                             fallback_intent="fallback")
    assert kept.state["lookup_misses"] == 2
    assert dialog.check_state({"lookup_misses": 2})["lookup_misses"] == 2
    for bad in (-1, "3", True, 10**9):
        with pytest.raises(ValueError, match="lookup_misses"):
            dialog.check_state({"lookup_misses": bad})


def placed(top: list[tuple[str, float]]):
    """A classifier that places every message as ``top`` says (the fused order)."""
    from chat.bot.types import Classification

    return lambda taxonomy, text: Classification(
        intent=top[0][0], confidence=top[0][1], top_intents=top)


@pytest.mark.parametrize("text", [
    "did 48213 ship yet?", "48213 still hasn't come, it's been two weeks",
    "the parcel for 48213 looks stuck",
])
def test_a_number_no_word_names_turns_to_the_order_when_it_is_the_confident_runner_up(
    shop, monkeypatch, settings, text
):
    from chat.bot import pipeline

    threshold = settings.BOT_CONFIDENCE_THRESHOLD
    monkeypatch.setattr(pipeline, "classify_offline", placed(
        [("product_question", 0.9), ("order_status", threshold + 0.01), ("complaint", 0.2)]))
    caller = Caller()
    asked = converse(shop, [text], caller=caller)
    assert asked.intent == "order_status" and not caller.calls  # asked about, not looked up
    assert "Is 48213 your order number?" in asked.reply_text
    assert asked.trace["classification"]["number_for_runner_up"] == "product_question"
    converse(shop, [text, "yes", "pat@example.com"], caller=caller)
    assert [values["order_number"] for _, values in caller.calls] == ["48213"]


@pytest.mark.parametrize(("top", "text"), [
    # the order's status too unsure to decide on its own
    ([("product_question", 0.9), ("order_status", 0.05)], "did 48213 ship yet?"),
    # third, not the runner-up
    ([("product_question", 0.9), ("complaint", 0.8), ("order_status", 0.9)],
     "did 48213 ship yet?"),
    # no number of five digits or more, or one that is something else
    ([("product_question", 0.9), ("order_status", 0.9)], "did it ship yet?"),
    ([("product_question", 0.9), ("order_status", 0.9)], "did order 2025 ship yet?"),
    ([("product_question", 0.9), ("order_status", 0.9)], "call me on 0612345678 about shipping"),
])
def test_no_turn_to_the_order_without_a_confident_runner_up_and_a_long_number(
    shop, monkeypatch, top, text
):
    from chat.bot import pipeline

    monkeypatch.setattr(pipeline, "classify_offline", placed(top))
    result = converse(shop, [text], caller=Caller())
    assert result.intent == "product_question"
    assert "number_for_runner_up" not in result.trace["classification"]
    assert "your order number" not in result.reply_text


def test_the_guessed_number_offers_yes_and_no_buttons_that_answer_it(shop):
    from chat.bot.dialog import NO_DETAIL_REPLY
    from chat.bot.pipeline import GUESS_NO, GUESS_YES

    caller = Caller()
    asked = converse(shop, ["has 48213 shipped yet?"], caller=caller)
    assert asked.quick_replies == [GUESS_YES, GUESS_NO]
    after_yes = converse(shop, ["has 48213 shipped yet?", GUESS_YES], caller=caller)
    assert after_yes.trace["entities"]["order_number"] == "48213"
    assert after_yes.quick_replies == [NO_DETAIL_REPLY]  # the e-mail address asked for next
    after_no = converse(shop, ["has 48213 shipped yet?", GUESS_NO], caller=caller)
    assert after_no.reply_text.endswith("order number?") and "48213" not in after_no.reply_text
    assert after_no.quick_replies == [NO_DETAIL_REPLY]
    plain = converse(shop, ["where is my order?"], caller=caller)
    assert plain.quick_replies == [NO_DETAIL_REPLY]
    assert not caller.calls
