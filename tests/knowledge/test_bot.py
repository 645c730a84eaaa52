"""knowledge calls the bot that an app above it registered, and says so when none did."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from knowledge import bot


class StubBot:
    def playground_turn(self, *, text, history=(), dialog_state=None):
        return f"answered {text}"


def test_without_a_registered_bot_knowledge_says_which_app_is_missing(monkeypatch):
    monkeypatch.setattr(bot._Registry, "bot", None)
    with pytest.raises(ImproperlyConfigured, match="chat app"):
        bot.bot_registered()


def test_the_last_registration_is_the_one_called(monkeypatch):
    monkeypatch.setattr(bot._Registry, "bot", None)
    bot.bot_register(StubBot())
    assert bot.bot_registered().playground_turn(text="hi") == "answered hi"
