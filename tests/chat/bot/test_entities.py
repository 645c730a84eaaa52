import datetime as dt

import pytest

from chat.bot.entities import (
    ProductMatcher,
    extract,
    local_date,
    order_number_plausible,
    product_names_from_titles,
)

from .conftest import TODAY


def order(text: str, awaiting: str = "") -> str | None:
    return extract(text, today=TODAY, awaiting=awaiting).get("order_number")


@pytest.mark.parametrize(("text", "expected"), [
    ("order #88213 is late", "88213"),
    ("it's a-55102", "A-55102"),
    ("order 4092 please", "4092"),
    ("my order number is 730019", "730019"),
    ("Order No. 66120 never came", "66120"),
    ("order no 66121", "66121"),
    ("order #: 48812", "48812"),
    ("order id: 90031 is wrong", "90031"),
    ("My order is B-7781234", "B-7781234"),
    ("purchase 4411 arrived broken", "4411"),
    ("where's #31337?", "31337"),
    ("42424 is my order number", "42424"),
    ("orders 55102, 55103", "55102"),
    ("order 31200 or 31201?", "31200"),
    ("my order number\u2019s 56001", "56001"),
    ("ORDER NUMBER: ab-12345", "AB-12345"),
    ("the order, 778899, is missing", "778899"),
    ("can you check XK-20931 for me", "XK-20931"),
    ("cancel ordr 7755120", "7755120"),
    ("cancel odrer #661203", "661203"),
    ("help with my puchase 00422871", "00422871"),
    ("cancelling order88120443", "88120443"),
    ("I'd like to find order 90817263, can you help?", "90817263"),
    ("order 40021 box was crushed", "40021"),
])
def test_an_order_number_needs_a_cue(text, expected):
    assert order(text) == expected


@pytest.mark.parametrize(("text", "number", "email"), [
    ("order status 44120 kim@example.org", "44120", "kim@example.org"),
    ("Order status: A-3321, kim@example.org", "A-3321", "kim@example.org"),
    ("order tracking update 70711 sent to kim@example.org", "70711", "kim@example.org"),
    ("what's the status of 62001?", "62001", None),
    ("any news about my #62001", "62001", None),
    ("status update for 62001 please", "62001", None),
])
def test_a_number_after_a_status_cue_is_an_order_number(text, number, email):
    found = extract(text, today=TODAY)
    assert (found.get("order_number"), found.get("email")) == (number, email)


@pytest.mark.parametrize("text", [
    "the status code is 500", "status of 12 items", "my status on 2024 orders",
    "an update on 300 pens",
])
def test_short_numbers_after_a_status_cue_are_no_order_numbers(text):
    assert order(text) is None


@pytest.mark.parametrize("text", [
    "where is 12345?", "it's 55102", "I have 3 questions about 77120",
    "the code on the box says 908172", "31337", "I want to order 3000 pens",
    "I'd order 5000 if they were cheaper",
    "the border 55102 crossing", "older 77120 models", "I ordered 42042 of them",
])
def test_a_bare_number_without_a_cue_is_not_an_order_number(text):
    assert order(text) is None


@pytest.mark.parametrize("text", [
    "it's 55102", "55102", "sure, 99812733", "the number is 4410", "it's AB-99812",
    "here you go: 2026001", "ok 10203040506070",
])
def test_a_bare_number_is_the_order_number_the_dialog_awaits(text):
    digits = "".join(ch for ch in text if ch.isdigit())
    assert "".join(ch for ch in order(text, awaiting="order_number") if ch.isdigit()) == digits


@pytest.mark.parametrize("text", [
    "call me back on 5551234567",
    "please call me on 555-123-4567",
    "my number is (555) 123-4567",
    "reach me at +44 20 7946 0958",
    "+1 (415) 555 0199",
    "text me: 07700 900123",
    "ring me on 020 7946 0958",
    "my cell is 555.123.4567",
    "phone 4155550199",
    "whatsapp +491701234567",
    "6045550123 is my phone number",
    "callback number 5551234567",
    "the helpline 1-800-555-0199 was busy",
    "call 555 123-4567",
    "contact number: 555 123 4567",
    "call me on 555 123 4567",
    "you can call 555-0142-3399 after 5",
    "my mobile: +33 6 12 34 56 78",
])
@pytest.mark.parametrize("awaiting", ["", "order_number"])
def test_phone_numbers_are_never_order_numbers(text, awaiting):
    found = extract(text, today=TODAY, awaiting=awaiting)
    assert "order_number" not in found
    assert found["phones"]


def test_every_order_number_of_a_list_is_found():
    found = extract("orders 55102, 55103 and #55104 and 2 pairs of socks", today=TODAY)
    assert found["order_numbers"] == ["55102", "55103", "55104"]
    # Spaces alone between numbers of four digits or more.
    found = extract("check orders 55102 55103  B-55104 for kim@example.org", today=TODAY)
    assert found["order_numbers"] == ["55102", "55103", "B-55104"]
    found = extract("order 55102 350 pens, call 555 123 4567", today=TODAY)
    assert found["order_numbers"] == ["55102"] and found["phones"] == ["555 123 4567"]


def test_a_phone_number_beside_an_order_number_is_told_apart():
    found = extract("call me on 555 123 4567 about order 77881", today=TODAY)
    assert found["order_number"] == "77881" and found["phones"] == ["555 123 4567"]
    found = extract("my order is #55102, text me at +44 7700 900123", today=TODAY,
                    awaiting="order_number")
    assert found["order_numbers"] == ["55102"]
    assert order("call me about order 5510233") == "5510233"


@pytest.mark.parametrize("text", [
    "zip 90210", "my zip code is 10001", "zip: 30301-1234", "postcode SW1A 1AA",
    "post code EC1A 1BB", "postal code K1A 0B1", "we live at M1 1AE", "94107 is my zip",
    "zipcode 60601",
])
@pytest.mark.parametrize("awaiting", ["", "order_number"])
def test_postal_codes_are_never_order_numbers(text, awaiting):
    found = extract(text, today=TODAY, awaiting=awaiting)
    assert "order_number" not in found
    assert found["postal_codes"]


@pytest.mark.parametrize("text", [
    "$14.95", "14.95 euros", "¥3000", "3000 yen", "£20", "€5", "it was 1,299.00 USD",
    "JPY 12,000", "about 500 RMB", "20 yuan", "1.299,99 €", "C$25.00", "5000 bucks",
])
@pytest.mark.parametrize("awaiting", ["", "order_number"])
def test_amounts_are_never_order_numbers(text, awaiting):
    found = extract(text, today=TODAY, awaiting=awaiting)
    assert "order_number" not in found
    assert len(found["money"]) == 1


@pytest.mark.parametrize("text", [
    "in 2024", "since 2019", "a customer since 2017", "back in 2021", "during 2023",
    "2 pairs", "1000 units", "4000 pieces", "2500 items please", "1200 ml", "5000 km",
    "in early 2024", "bought in March 2025", "qty 1000", "quantity: 2500",
])
def test_years_and_quantities_are_never_order_numbers(text):
    assert order(text, awaiting="order_number") is None


def test_amounts_dates_and_phone_numbers_are_not_order_numbers():
    found = extract("I paid $12345.50 on 2026-03-03, call 555-0142-3399", today=TODAY)
    assert "order_number" not in found
    assert found["money"] == [{"text": "$12345.50", "amount": "12345.50", "currency": "USD"}]


@pytest.mark.parametrize(("text", "amount", "currency"), [
    ("refund 20 EUR", "20", "EUR"),
    ("€15", "15", "EUR"),
    ("£3.50", "3.50", "GBP"),
    ("1,200 dollars", "1200", "USD"),
    ("¥3,000", "3000", "JPY"),
    ("¥ 980", "980", "JPY"),
    ("3000 yen", "3000", "JPY"),
    ("2,500 JPY", "2500", "JPY"),
    ("88.50 CNY", "88.50", "CNY"),
    ("500 RMB", "500", "CNY"),
    ("20 yuan", "20", "CNY"),
    ("14.95 euros", "14.95", "EUR"),
    ("14,95 €", "14.95", "EUR"),
    ("1.299,99 €", "1299.99", "EUR"),
    ("$1,299.99", "1299.99", "USD"),
    ("US$ 199", "199", "USD"),
    ("C$25.00", "25.00", "CAD"),
    ("AUD 40", "40", "AUD"),
    ("40 quid", "40", "GBP"),
    ("GBP 1,050.25", "1050.25", "GBP"),
    ("3000円", "3000", "JPY"),
    ("20元", "20", "CNY"),
    ("14,95 $", "14.95", "USD"),
    ("refunding$299", "299", "USD"),
    ("a refund of250 dollars", "250", "USD"),
])
def test_money_with_currency_symbols_codes_and_words(text, amount, currency):
    money = extract(f"they charged me {text} for it", today=TODAY)["money"]
    assert [(m["amount"], m["currency"]) for m in money] == [(amount, currency)]


def test_several_amounts_in_one_message():
    money = extract("refund 20 EUR and €15 and £3.50 and ¥1,000", today=TODAY)["money"]
    assert [(m["amount"], m["currency"]) for m in money] == [
        ("20", "EUR"), ("15", "EUR"), ("3.50", "GBP"), ("1000", "JPY"),
    ]


def test_relative_and_calendar_dates_resolve_against_today():
    dates = extract("I ordered last tuesday, 3 days ago, not March 3", today=TODAY)["dates"]
    assert [d["date"] for d in dates] == ["2026-11-24", "2026-11-22", "2026-03-03"]
    assert extract("yesterday", today=TODAY)["dates"][0]["date"] == "2026-11-24"
    assert extract("two weeks ago", today=TODAY)["dates"][0]["date"] == "2026-11-11"
    # A date later in the year than today means last year's.
    assert extract("on December 20", today=TODAY)["dates"][0]["date"] == "2025-12-20"


@pytest.mark.parametrize(("text", "date"), [
    ("it came this morning", "2026-11-25"),
    ("I wrote last night", "2026-11-24"),
    ("earlier today", "2026-11-25"),
    ("the day before yesterday", "2026-11-23"),
    ("last friday", "2026-11-20"),
    ("a week ago", "2026-11-18"),
])
def test_more_relative_dates(text, date):
    assert extract(text, today=TODAY)["dates"][0]["date"] == date


@pytest.mark.parametrize(("moment", "zone", "date"), [
    (dt.datetime(2026, 11, 28, 2, 30, tzinfo=dt.UTC), "America/New_York", "2026-11-27"),
    (dt.datetime(2026, 11, 28, 2, 30, tzinfo=dt.UTC), "", "2026-11-28"),
    (dt.datetime(2026, 11, 27, 20, 0, tzinfo=dt.UTC), "Asia/Tokyo", "2026-11-28"),
    (dt.datetime(2026, 11, 27, 20, 0, tzinfo=dt.UTC), "Not/AZone", "2026-11-27"),
    (dt.datetime(2026, 11, 27, 20, 0, tzinfo=dt.UTC), "../../etc/passwd", "2026-11-27"),
    (dt.datetime(2026, 11, 27, 23, 30), "Europe/Paris", "2026-11-28"),  # naive: UTC
])
def test_the_customer_s_date_is_the_moment_in_their_zone(moment, zone, date):
    assert local_date(moment, zone).isoformat() == date


def test_an_unknown_zone_falls_back_to_the_desk_s():
    moment = dt.datetime(2026, 11, 28, 2, 30, tzinfo=dt.UTC)
    assert local_date(moment, "Mars/Olympus", fallback="America/Los_Angeles").isoformat() == (
        "2026-11-27"
    )


def test_claude_s_order_number_must_stand_in_the_text_and_be_no_phone_number_or_amount():
    text = "call me back on 5551234567, I paid $12,345 for a-55102 and #88213"
    found = extract(text, today=TODAY)
    assert not order_number_plausible("5551234567", text=text, found=found)
    assert not order_number_plausible("12345", text=text, found=found)
    assert order_number_plausible("A-55102", text=text, found=found)
    assert order_number_plausible("#88213", text=text, found=found)
    assert not order_number_plausible("99881", text=text, found=found)  # invented
    assert not order_number_plausible("", text=text, found=found)


def test_email_addresses():
    found = extract("write to Jo.Smith+shop@example.co.uk please", today=TODAY)
    assert found["email"] == "Jo.Smith+shop@example.co.uk"
    assert "order_number" not in found


def test_product_names_come_from_article_titles():
    names = product_names_from_titles(
        ["Peak 2 Tent: specs and care", "How to track your order", "Alpine GTX Hiking Boots: fit"]
    )
    assert names == ["Peak 2 Tent", "Alpine GTX Hiking Boots"]
    matcher = ProductMatcher(names)
    assert extract("do my alpine gtx boots leak?", products=matcher, today=TODAY)["products"] == [
        "Alpine GTX Hiking Boots"
    ]
    assert "products" not in extract("a peak experience", products=matcher, today=TODAY)


def test_nothing_found_gives_an_empty_dict():
    assert extract("hello there", today=TODAY) == {}


@pytest.mark.parametrize(("text", "expected"), [
    ("sam at example dot com", "sam@example.com"),
    ("it's jo.b at mail dot co dot uk", "jo.b@mail.co.uk"),
    ("sam dot lee at example.com please", "sam.lee@example.com"),
    ("pat (at) shop [dot] example", "pat@shop.example"),
])
def test_an_email_spelt_out_is_read_when_awaited(text, expected):
    assert extract(text, awaiting="email")["email"] == expected
    assert "email" not in extract(text)


@pytest.mark.parametrize("text", ["I ordered at amazon dot com", "it is at home", "me at 5.30"])
def test_words_around_at_are_no_email(text):
    assert "email" not in extract(text, awaiting="email")
