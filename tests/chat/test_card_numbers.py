"""Card numbers typed by customers are masked to their last four digits before they are stored
(issue 15, item 15): the echo, the console, exports and analytics never hold them."""

from __future__ import annotations

import importlib

import pytest
from channels.db import database_sync_to_async
from django.apps import apps

from chat import services
from chat.models import Conversation, Message
from chat.text import has_masked_card, luhn_ok, mask_card_numbers
from tests.chat.test_consumers import joined_socket, message, receive_until

# Test numbers published by card networks for testing (each passes the Luhn check).
VISA, MASTERCARD, AMEX, DINERS_14, VISA_13 = (
    "4111111111111111", "5555555555554444", "378282246310005", "30569309025904",
    "4222222222222",
)


def spaced(number: str, sep: str = " ") -> str:
    return sep.join(number[i:i + 4] for i in range(0, len(number), 4))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"my card number is {spaced(VISA)}", "my card number is •••• 1111"),
        (f"{spaced(MASTERCARD, '-')} please", "•••• 4444 please"),
        (f"amex {AMEX}.", "amex •••• 0005."),
        (f"diners {DINERS_14} and visa {VISA_13}", "diners •••• 5904 and visa •••• 2222"),
        (f"card {spaced(VISA)} 2 items", "card •••• 1111 2 items"),
        (f"{VISA}{VISA[:3]}", f"{VISA}{VISA[:3]}"),  # 19 digits failing Luhn: no card
        ("order 4111111111111112 late", "order 4111111111111112 late"),  # fails Luhn
        ("call 0049 170 1234567 8", "call 0049 170 1234567 8"),
        ("order 55102, 3 items", "order 55102, 3 items"),
    ],
)
def test_mask_card_numbers_keeps_only_the_last_four_digits(text, expected):
    assert mask_card_numbers(text) == expected
    assert has_masked_card(mask_card_numbers(text)) == ("••••" in expected)


def test_luhn_check():
    assert luhn_ok(VISA) and luhn_ok(AMEX) and luhn_ok("79927398713")
    assert not luhn_ok("79927398710") and not luhn_ok(VISA[:-1] + "2")


@pytest.mark.django_db
def test_a_stored_message_and_rating_comment_hold_no_card_number(widget):
    conversation, _ = services.conversation_start(widget=widget)
    stored, _ = services.message_create_incoming(
        conversation=conversation, text=f"charged twice on {spaced(MASTERCARD)}",
        client_id=None, queue_bot=False,
    )
    assert stored.text == "charged twice on •••• 4444"
    assert Message.objects.get(pk=stored.pk).text == "charged twice on •••• 4444"
    services.conversation_resolve(conversation=conversation, resolution="agent")
    services.conversation_rate(conversation=conversation, score=2, comment=f"card {AMEX}")
    assert Conversation.objects.get(pk=conversation.pk).rating_comment == "card •••• 0005"


@pytest.mark.django_db(transaction=True)
async def test_the_echo_shows_the_masked_number(widget, fake_bot):
    conversation, token = await database_sync_to_async(services.conversation_start)(widget=widget)
    comm, _ = await joined_socket(conversation, token)
    await comm.send_json_to(message(f"my card number is {spaced(VISA)}"))
    frames = await receive_until(comm, lambda f: f.get("author") == "customer")
    assert frames[-1]["text"] == "my card number is •••• 1111"
    assert fake_bot.calls == ["my card number is •••• 1111"]
    await comm.disconnect()


@pytest.mark.django_db
def test_the_migration_masks_what_was_stored_before(widget):
    conversation, _ = services.conversation_start(widget=widget)
    kept, _ = services.message_create_incoming(
        conversation=conversation, text="order 55102 please", client_id=None, queue_bot=False
    )
    old, _ = services.message_create_incoming(
        conversation=conversation, text="placeholder", client_id=None, queue_bot=False
    )
    # As rows stored before masking existed.
    Message.objects.filter(pk=old.pk).update(text=f"it is {spaced(VISA, '-')}")
    Conversation.objects.filter(pk=conversation.pk).update(rating_comment=f"use {AMEX}")
    migration = importlib.import_module("chat.migrations.0006_mask_stored_card_numbers")
    migration.mask_stored(apps, None)
    assert Message.objects.get(pk=old.pk).text == "it is •••• 1111"
    assert Message.objects.get(pk=kept.pk).text == "order 55102 please"
    assert Conversation.objects.get(pk=conversation.pk).rating_comment == "use •••• 0005"


@pytest.mark.parametrize("separator", ["\u00a0", "\u202f", ".", " - ", "\u2013", " \u2014 ", "-"])
def test_any_common_separator_between_the_groups_is_masked(separator):
    # Pasted numbers keep their no-break spaces; people write dots and spaced dashes too.
    for number, last in ((VISA, "1111"), (MASTERCARD, "4444")):
        assert mask_card_numbers(f"it is {spaced(number, separator)} ok") == f"it is •••• {last} ok"


@pytest.mark.parametrize(
    "text",
    [
        # Numbers of 13-19 digits that pass the Luhn check but begin with 0, 1, 7, 8 or 9:
        # telephone numbers with their international prefix, parcel and account numbers.
        "call me at 0044 7911 123456",
        "my number is 0044 7911 12343",
        "tracking 1000000000000008",
        "ref 7000000000000005",
        "ref 9000 0000 0000 001",
    ],
)
def test_luhn_valid_numbers_that_no_payment_card_begins_with_are_kept(text):
    digits = "".join(c for c in text if c.isdigit())
    assert luhn_ok(digits) and 13 <= len(digits) <= 19  # a card number but for its first digit
    assert mask_card_numbers(text) == text


def test_full_width_digits_are_the_same_card():
    full_width = spaced(VISA).translate({ord(d): ord(d) + 0xFEE0 for d in "0123456789"})
    assert mask_card_numbers(f"card {full_width}") == "card •••• 1111"


@pytest.mark.parametrize(
    "separator", ["\t", "\u2009", "\u200b", "\n", "/", "_", "--", " / "]
)
def test_tabs_thin_and_zero_width_spaces_slashes_and_underscores_separate_groups(separator):
    assert mask_card_numbers(f"card {spaced(VISA, separator)}") == "card •••• 1111"


@pytest.mark.parametrize(
    "text",
    [
        # International telephone numbers whose digits after the prefix pass the Luhn check.
        "call me on +49 151 12345678",
        "+4915112345678",
        "reach me at + 61 412 345 678 901",
        "00 49 151 1234 5678",
    ],
)
def test_telephone_numbers_in_international_form_are_kept(text):
    assert mask_card_numbers(text) == text
