import pytest

from chat.bot.dialog import advance, asks_in_general, check_state, says_no_detail

REQUIRED = {"order_status": [{"name": "order_number", "question": "What is your order number?"}]}


def test_missing_detail_is_asked_for_and_the_answer_completes_the_request():
    first = advance({}, intent="order_status", is_fallback=False, entities={},
                    required_details=REQUIRED)
    assert first.action == "ask"
    assert first.question == "What is your order number?"
    assert first.state["pending"] == {"intent": "order_status", "detail": "order_number",
                                      "question": "What is your order number?"}

    # "it's 55102" classifies poorly on its own: the pending request decides the intent.
    second = advance(first.state, intent="general_inquiry", is_fallback=True,
                     entities={"order_number": "55102"}, required_details=REQUIRED)
    assert second.intent == "order_status"
    assert second.is_fallback is False
    assert second.resumed is True
    assert second.action == "answer"
    assert second.details["order_number"] == "55102"
    assert second.state["pending"] is None
    assert second.state["fallbacks"] == 0
    assert second.state["turns"] == 2


def test_a_detail_given_up_front_is_not_asked_for():
    outcome = advance({}, intent="order_status", is_fallback=False,
                      entities={"order_number": "A-55102"}, required_details=REQUIRED)
    assert outcome.action == "answer"
    assert outcome.state["details"] == {"order_number": "A-55102"}


def test_a_detail_remembered_from_an_earlier_turn_is_reused():
    state = {"turns": 3, "fallbacks": 0, "pending": None,
             "details": {"order_number": "88213"}, "last_intent": "return_request"}
    outcome = advance(state, intent="order_status", is_fallback=False, entities={},
                      required_details=REQUIRED)
    assert outcome.action == "answer"
    assert outcome.details["order_number"] == "88213"


def test_an_unclear_answer_keeps_asking_and_counts_as_a_fallback():
    first = advance({}, intent="order_status", is_fallback=False, entities={},
                    required_details=REQUIRED)
    second = advance(first.state, intent="general_inquiry", is_fallback=True, entities={},
                     required_details=REQUIRED)
    assert second.action == "ask"
    assert second.intent == "order_status"
    assert second.state["fallbacks"] == 1


def test_a_new_topic_drops_the_pending_question():
    first = advance({}, intent="order_status", is_fallback=False, entities={},
                    required_details=REQUIRED)
    second = advance(first.state, intent="return_request", is_fallback=False, entities={},
                     required_details=REQUIRED)
    assert second.intent == "return_request"
    assert second.action == "answer"
    assert second.state["pending"] is None


def test_turns_and_consecutive_fallbacks_are_counted():
    state: dict = {}
    for intent, fallback in [("x", True), ("x", True), ("y", False), ("x", True)]:
        state = advance(state, intent=intent, is_fallback=fallback, entities={},
                        required_details={}).state
    assert state["turns"] == 4
    assert state["fallbacks"] == 1


def test_the_awaited_detail_is_named_by_the_state():
    from chat.bot.dialog import awaited_detail

    first = advance({}, intent="order_status", is_fallback=False, entities={},
                    required_details=REQUIRED)
    assert awaited_detail(first.state) == "order_number"
    assert awaited_detail({}) == "" and awaited_detail(None) == ""
    assert awaited_detail({"pending": None, "details": {}}) == ""
    answered = advance(first.state, intent="general_inquiry", is_fallback=True,
                       entities={"order_number": "55102"}, required_details=REQUIRED)
    assert awaited_detail(answered.state) == ""


def test_a_phone_number_is_never_remembered_as_an_order_number():
    # Even if an extractor (Claude's, say) calls the phone number an order number.
    phone = {"order_number": "5551234567", "phones": ["555-123-4567"]}
    first = advance({}, intent="callback", is_fallback=False, entities=phone,
                    required_details=REQUIRED)
    assert "order_number" not in first.state["details"]
    second = advance(first.state, intent="order_status", is_fallback=False, entities={},
                     required_details=REQUIRED)
    assert second.action == "ask" and second.question == "What is your order number?"
    # Nor does it answer the question when it is asked.
    third = advance(second.state, intent="general_inquiry", is_fallback=True, entities=phone,
                    required_details=REQUIRED)
    assert third.action == "ask" and third.resumed is False
    assert "order_number" not in third.state["details"]


@pytest.mark.parametrize("entities", [
    {"phones": ["555-123-4567"]},
    {"phones": ["+44 20 7946 0958"], "dates": [{"text": "today", "date": "2026-11-25"}]},
    {"email": "kim@example.com", "emails": ["kim@example.com"]},
    {"postal_codes": ["SW1A 1AA"]},
])
def test_contact_details_given_instead_of_the_awaited_detail_keep_the_question_open(entities):
    first = advance({}, intent="order_status", is_fallback=False, entities={},
                    required_details=REQUIRED)
    second = advance(first.state, intent="general_inquiry", is_fallback=False, entities=entities,
                     required_details=REQUIRED)
    assert second.intent == "order_status" and second.action == "ask"
    assert second.state["pending"]["detail"] == "order_number"
    assert "order_number" not in second.state["details"]
    third = advance(second.state, intent="general_inquiry", is_fallback=True,
                    entities={"order_number": "55102"}, required_details=REQUIRED)
    assert third.resumed and third.details["order_number"] == "55102"


@pytest.mark.parametrize(
    ("text", "means_no"),
    [
        ("I don't have it", True),
        ("i dont have it", True),
        ("I don\u2019t know my order number.", True),
        ("Don't have one, sorry", True),
        ("I lost it", True),
        ("can't find it", True),
        ("I do not have the order number", True),
        ("don't remember it!", True),
        ("I don't have it here, call me on 5559876543 instead", False),  # more than that
        ("I don't have my order number but it was boots size 10", False),
        ("I don't like it", False),
        ("it's 55102", False),
        ("", False),
    ],
)
def test_says_no_detail(text, means_no):
    assert says_no_detail(text) is means_no


def test_no_detail_answers_the_pending_request_without_it():
    first = advance({}, intent="order_status", is_fallback=False, entities={},
                    required_details=REQUIRED)
    second = advance(first.state, intent="general_inquiry", is_fallback=True, entities={},
                     required_details=REQUIRED, no_detail=True)
    assert (second.intent, second.is_fallback, second.resumed) == ("order_status", False, True)
    assert second.action == "answer"
    assert second.state["pending"] is None and "order_number" not in second.details
    assert second.state["fallbacks"] == 0
    # Asked again later for the same request, the detail is asked for again.
    third = advance(second.state, intent="order_status", is_fallback=False, entities={},
                    required_details=REQUIRED)
    assert third.action == "ask"


def test_no_detail_with_nothing_pending_changes_nothing():
    plain = advance({}, intent="general_inquiry", is_fallback=True, entities={},
                    required_details=REQUIRED)
    said = advance({}, intent="general_inquiry", is_fallback=True, entities={},
                   required_details=REQUIRED, no_detail=True)
    assert said == plain


LOOKUP = {"order_status": [{"name": "order_number", "question": "Your order number?"},
                           {"name": "email", "question": "Your e-mail address?"}]}
MISSED = {"turns": 2, "fallbacks": 0, "pending": None, "last_intent": "order_status",
          "details": {"order_number": "55102", "email": "jo@example.com"},
          "missed": {"intent": "order_status"}}


@pytest.mark.parametrize(("text", "entities", "expected"), [
    ("sam@example.com", {"emails": ["sam@example.com"]}, True),
    ("Sorry, it's sam@example.com!", {"emails": ["sam@example.com"]}, True),
    ("what about order 10031?", {"order_numbers": ["10031"]}, True),
    ("try A-10031 instead", {"order_numbers": ["A-10031"]}, True),
    ("sam at example dot com", {"emails": ["sam@example.com"]}, True),
    ("refund 10031 please", {"order_numbers": ["10031"]}, False),
    ("sam@example.com call me on 5551234567", {"emails": ["sam@example.com"]}, False),
    ("how do I return a jacket? sam@example.com", {"emails": ["sam@example.com"]}, False),
    ("thanks", {}, False),
])
def test_a_message_of_a_detail_alone(text, entities, expected):
    from chat.bot.dialog import only_details

    assert only_details(text, entities) is expected


@pytest.mark.parametrize("entities", [{"email": "sam@example.com"}, {"order_number": "10031"}])
def test_after_a_lookup_found_nothing_a_detail_alone_tries_it_again(entities):
    outcome = advance(MISSED, intent="general_inquiry", is_fallback=False, entities=entities,
                      required_details=LOOKUP, detail_only=True)
    assert (outcome.intent, outcome.is_fallback, outcome.action) == (
        "order_status", False, "answer")
    assert outcome.details == {**MISSED["details"], **entities}
    assert "missed" not in outcome.state  # the pipeline sets it again if this one misses


@pytest.mark.parametrize("entities", [{"order_number": "10019"}, {"email": "sam@example.com"}])
def test_after_a_lookup_answered_a_detail_alone_is_a_new_lookup(entities):
    state = {**{k: v for k, v in MISSED.items() if k != "missed"},
             "looked_up": {"intent": "order_status"}}
    outcome = advance(state, intent="general_inquiry", is_fallback=True, entities=entities,
                      required_details=LOOKUP, detail_only=True)
    assert (outcome.intent, outcome.is_fallback, outcome.action) == (
        "order_status", False, "answer")
    assert outcome.details == {**MISSED["details"], **entities}
    assert "looked_up" not in outcome.state  # set again by the pipeline after the lookup


def test_the_last_lookup_is_kept_over_a_pleasantry_and_checked():
    from chat.bot.dialog import check_state, pleasantry

    state = {**MISSED, "missed": None, "looked_up": {"intent": "order_status"}}
    kept = pleasantry(state, kind="thanks", fallback_intent="general_inquiry")
    assert kept.state["looked_up"] == {"intent": "order_status"}
    assert check_state(dict(state)) == state
    with pytest.raises(ValueError, match="looked_up"):
        check_state({**state, "looked_up": ["order_status"]})


def test_without_a_miss_a_detail_alone_is_no_lookup():
    state = {k: v for k, v in MISSED.items() if k != "missed"}
    outcome = advance(state, intent="general_inquiry", is_fallback=True,
                      entities={"email": "sam@example.com"}, required_details=LOOKUP,
                      detail_only=True)
    assert outcome.intent == "general_inquiry" and outcome.is_fallback


def test_another_detail_while_one_is_awaited_keeps_the_request():
    first = advance({}, intent="order_status", is_fallback=False,
                    entities={"order_number": "55109"}, required_details=LOOKUP)
    assert first.state["pending"]["detail"] == "email"
    second = advance(first.state, intent="general_inquiry", is_fallback=False,
                     entities={"order_number": "55102"}, required_details=LOOKUP,
                     detail_only=True)
    assert (second.intent, second.is_fallback, second.action) == ("order_status", False, "ask")
    assert second.details == {"order_number": "55102"}
    assert second.state["pending"]["detail"] == "email"


def test_forgotten_details_are_not_reused():
    outcome = advance(MISSED, intent="order_status", is_fallback=False, entities={},
                      required_details={"order_status": []}, forget=("order_number",))
    assert outcome.details == {"email": "jo@example.com"}


def test_a_pleasantry_keeps_the_miss_and_the_state_is_checked():
    from chat.bot.dialog import check_state, pleasantry

    kept = pleasantry(MISSED, kind="thanks", fallback_intent="general_inquiry")
    assert kept.state["missed"] == {"intent": "order_status"}
    assert check_state(dict(MISSED)) == MISSED
    with pytest.raises(ValueError, match="missed"):
        check_state({**MISSED, "missed": "order_status"})


def test_a_message_not_understood_may_hold_a_few_more_words_around_a_detail():
    from chat.bot.dialog import only_details

    found = {"order_numbers": ["10027"]}
    assert not only_details("my mistake, 10027", found)
    assert only_details("my mistake, 10027", found, spare=2)
    assert not only_details("refund 10027 onto my credit card", found, spare=2)
    assert not only_details("10027 and 55512", found, spare=2)


@pytest.mark.parametrize(
    ("text", "entities", "general"),
    [
        ("What does the status Packing mean?", {}, True),
        ("what do these delivery stages mean", {}, True),
        ("What\u2019s 'in transit' mean?", {}, True),
        ("Whats the meaning of the label on my parcel", {}, True),
        ("Can you explain the refund stages?", {}, True),
        ("what is the difference between a return and an exchange?", {}, True),
        ("What are the possible statuses of a return?", {}, True),
        ("what are your shipping steps", {}, True),
        ("define 'awaiting pickup'", {}, True),
        ("what is \"on hold\"?", {}, True),
        ("What\u2019s \u201cready to collect\u201d", {}, True),
        ("shipping label meanings", {}, True),
        ("what's 'my account' for", {}, True),
        ("what is my order's status", {}, False),
        ("what's going on with my refund", {}, False),
        ("What does Delivered mean? We never received anything", {}, False),  # their own
        ("my parcel has said 'In transit' for 3 weeks - what does that mean?", {}, False),
        ("what does pending mean, nothing has arrived for me", {}, False),
        ("I don't understand what Packing means", {}, True),
        ("What does Shipped mean for order 10031?", {"order_number": "10031"}, False),
        ("what does this mean, my e-mail is kim@example.org",
         {"email": "kim@example.org"}, False),
        ("What do you mean?", {}, False),  # about the bot's last words
        ("where is my parcel", {}, False),
        ("I mean my other order", {}, False),
        ("track my order please", {}, False),
        ("", {}, False),
    ],
)
def test_asks_in_general(text, entities, general):
    assert asks_in_general(text, entities) is general


def test_a_question_in_general_asks_for_nothing_and_the_waiting_request_still_waits():
    fresh = advance({}, intent="order_status", is_fallback=False, entities={},
                    required_details=REQUIRED, in_general=True)
    assert (fresh.action, fresh.question, fresh.state["pending"]) == ("answer", "", None)

    waiting = advance({}, intent="order_status", is_fallback=False, entities={},
                      required_details=REQUIRED)
    assert waiting.action == "ask"
    general = advance(waiting.state, intent="shipping_issue", is_fallback=False, entities={},
                      required_details=REQUIRED, in_general=True)
    assert general.action == "answer" and general.intent == "shipping_issue"
    assert general.state["pending"] == waiting.state["pending"]
    assert general.question == "What is your order number?"
    # The number given next starts the lookup again.
    numbered = advance(general.state, intent="order_status", is_fallback=False,
                       entities={"order_number": "55102"}, required_details=REQUIRED)
    assert numbered.action == "answer" and numbered.details["order_number"] == "55102"


def test_the_other_order_numbers_of_a_message_are_kept_with_the_first_until_a_new_number():
    from chat.bot.dialog import MORE_ORDERS, order_numbers

    both = {"order_number": "55102", "order_numbers": ["55102", "A-55107", "55110"]}
    first = advance({}, intent="order_status", is_fallback=False, entities=both,
                    required_details=REQUIRED)
    assert order_numbers(first.details) == ["55102", "A-55107", "55110"]
    # A message without a number (the e-mail address asked for) keeps them.
    kept = advance(first.state, intent="order_status", is_fallback=False,
                   entities={"email": "kim@example.org"}, required_details=REQUIRED)
    assert order_numbers(kept.details) == ["55102", "A-55107", "55110"]
    # One number later asks about that one alone.
    alone = advance(kept.state, intent="order_status", is_fallback=False,
                    entities={"order_number": "55999", "order_numbers": ["55999"]},
                    required_details=REQUIRED)
    assert order_numbers(alone.details) == ["55999"] and MORE_ORDERS not in alone.details
    # The customer's whole order list sets every remembered number aside.
    listed = advance(first.state, intent="order_status", is_fallback=False, entities={},
                     required_details=REQUIRED, forget=("order_number",))
    assert order_numbers(listed.details) == []
    # A state of texts only, however many numbers were given.
    many = {"order_number": "10000", "order_numbers": [str(n) for n in range(10000, 10400)]}
    huge = advance({}, intent="order_status", is_fallback=False, entities=many,
                   required_details=REQUIRED)
    assert len(huge.details[MORE_ORDERS]) <= 500
    assert check_state(huge.state) is huge.state


def test_the_question_for_the_email_acknowledges_every_order_number():
    from chat.bot.lookup import acknowledge

    email = {"order_status": [{"name": "order_number"},
                              {"name": "email", "question": "Which e-mail address?"}]}
    one = acknowledge(advance({}, intent="order_status", is_fallback=False,
                              entities={"order_number": "55102", "order_numbers": ["55102"]},
                              required_details=email))
    assert one.question == "Thanks, I have your order number 55102. Which e-mail address?"
    two = acknowledge(advance({}, intent="order_status", is_fallback=False,
                              entities={"order_number": "55102",
                                        "order_numbers": ["55102", "55107", "55110"]},
                              required_details=email))
    assert two.question == ("Thanks, I have your order numbers 55102, 55107 and 55110. "
                            "Which e-mail address?")
    assert two.state["pending"]["question"] == two.question


@pytest.mark.parametrize(
    ("text", "defined", "general"),
    [
        ("Label sent?", ["label sent"], True),
        ("in transit vs refund issued", ["in transit", "refund issued"], True),
        ("Is Inspected the same as Refund issued?", ["inspected", "refund issued"], True),
        ("inspected means what exactly", ["inspected"], True),
        ("cancel my inspected return", ["inspected"], False),  # a request, not the term
        ("refund issued but no money", ["refund issued"], False),
        ("Label sent?", [], False),  # no article defines it
        ("my return says Inspected", ["inspected"], False),
    ],
)
def test_a_short_question_of_defined_terms_alone_is_asked_in_general(text, defined, general):
    assert asks_in_general(text, {}, defined=defined) is general
