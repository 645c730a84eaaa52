from chat.bot.entities import ProductMatcher, extract, product_names_from_titles

from .conftest import TODAY


def test_order_numbers_in_their_three_formats():
    assert extract("where is 12345?", today=TODAY)["order_number"] == "12345"
    assert extract("order #88213 is late", today=TODAY)["order_number"] == "88213"
    assert extract("it's a-55102", today=TODAY)["order_number"] == "A-55102"
    assert extract("order 4092 please", today=TODAY)["order_number"] == "4092"


def test_amounts_dates_and_phone_numbers_are_not_order_numbers():
    found = extract("I paid $12345.50 on 2026-03-03, call 555-0142-3399", today=TODAY)
    assert "order_number" not in found
    assert found["money"] == [{"text": "$12345.50", "amount": "12345.50", "currency": "USD"}]


def test_money_with_currency_symbols_codes_and_words():
    money = extract("refund 20 EUR and €15 and £3.50 and 1,200 dollars", today=TODAY)["money"]
    assert [(m["amount"], m["currency"]) for m in money] == [
        ("20", "EUR"), ("15", "EUR"), ("3.50", "GBP"), ("1200", "USD"),
    ]


def test_relative_and_calendar_dates_resolve_against_today():
    dates = extract("I ordered last tuesday, 3 days ago, not March 3", today=TODAY)["dates"]
    assert [d["date"] for d in dates] == ["2026-11-24", "2026-11-22", "2026-03-03"]
    assert extract("yesterday", today=TODAY)["dates"][0]["date"] == "2026-11-24"
    assert extract("two weeks ago", today=TODAY)["dates"][0]["date"] == "2026-11-11"
    # A date later in the year than today means last year's.
    assert extract("on December 20", today=TODAY)["dates"][0]["date"] == "2025-12-20"


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
