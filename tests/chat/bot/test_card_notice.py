"""The bot tells a customer who sent a card number never to send one in chat."""

from chat.bot.pipeline import CARD_NOTICE, run_turn
from chat.bot.types import TurnContext
from chat.text import mask_card_numbers

from .conftest import TODAY

VISA = "4111111111111111"


def test_the_bot_tells_the_customer_never_to_send_card_numbers(taxonomy):
    masked = run_turn(taxonomy, text=mask_card_numbers(f"where is my order? card {VISA}"),
                      context=TurnContext(), use_claude=False, today=TODAY)
    assert masked.reply_text.startswith(CARD_NOTICE)
    plain = run_turn(taxonomy, text="where is my order?", context=TurnContext(),
                     use_claude=False, today=TODAY)
    assert CARD_NOTICE not in plain.reply_text
