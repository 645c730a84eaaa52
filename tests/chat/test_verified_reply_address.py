"""A signed-in (verified) customer who leaves an e-mail address for a reply keeps their
verified contact: another address is where reply mails go (``Conversation.reply_email``), and
nothing they type reaches the contact the host page signed for."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from chat import services
from chat.console.selectors import contact_panel_for_agent
from chat.identity import Identity
from chat.models import Contact, Conversation, OwedEmail

pytestmark = pytest.mark.django_db


def verified_conversation(widget, user_id="cust-77", email="lee@shop.example", name="Lee"):
    conversation, _ = services.conversation_start(
        widget=widget, identity=Identity(user_id, email, name)
    )
    return conversation


def away(conversation) -> Conversation:
    services.customer_socket_joined(conversation=conversation,
                                    at=timezone.now() - timedelta(minutes=31))
    services.customer_socket_left(conversation=conversation,
                                  at=timezone.now() - timedelta(minutes=30))
    conversation.refresh_from_db()
    return conversation


@pytest.mark.parametrize("typed", ["lee.home@mail.example", "  LEE+support@Shop.Example "])
def test_another_address_goes_to_the_conversation_not_the_verified_contact(widget, agent, typed):
    conversation = verified_conversation(widget)
    verified = conversation.contact

    returned = services.conversation_contact_set(conversation=conversation, email=typed)

    stored = Conversation.objects.get(pk=conversation.pk)
    assert returned.pk == verified.pk and stored.contact_id == verified.pk
    assert stored.reply_email == typed.strip()
    contact = Contact.objects.get(pk=verified.pk)
    assert (contact.email, contact.is_verified, contact.external_id) == (
        "lee@shop.example", True, "cust-77")
    assert Contact.objects.count() == 1  # no unverified contact beside it

    services.agent_message_create(conversation=away(stored), agent=agent, text="Sent today.")
    assert list(OwedEmail.objects.values_list("to", flat=True)) == [typed.strip()]


def test_the_verified_address_again_clears_the_other_one(widget, agent):
    conversation = verified_conversation(widget)
    services.conversation_contact_set(conversation=conversation, email="other@mail.example")
    services.conversation_contact_set(conversation=conversation, email="LEE@shop.example")

    stored = Conversation.objects.get(pk=conversation.pk)
    assert stored.reply_email == "" and stored.contact.is_verified
    services.agent_message_create(conversation=away(stored), agent=agent, text="Sent today.")
    assert list(OwedEmail.objects.values_list("to", flat=True)) == ["lee@shop.example"]


def test_a_verified_contact_without_an_address_is_mailed_where_the_customer_asked(widget, agent):
    conversation = verified_conversation(widget, user_id="cust-9", email="", name="")
    services.conversation_contact_set(conversation=conversation, email="nine@mail.example")

    stored = Conversation.objects.get(pk=conversation.pk)
    assert stored.contact.is_verified and stored.contact.email == ""
    services.agent_message_create(conversation=away(stored), agent=agent, text="Done.")
    assert list(OwedEmail.objects.values_list("to", flat=True)) == ["nine@mail.example"]


@pytest.mark.parametrize("bad", ["not-an-email", "a@b", "x" * 250 + "@mail.example", ""])
def test_a_bad_address_changes_nothing(widget, bad):
    conversation = verified_conversation(widget)
    services.conversation_contact_set(conversation=conversation, email="kept@mail.example")
    with pytest.raises(ValueError):
        services.conversation_contact_set(conversation=conversation, email=bad)
    stored = Conversation.objects.get(pk=conversation.pk)
    assert stored.reply_email == "kept@mail.example"
    assert stored.contact.email == "lee@shop.example" and stored.contact.is_verified


def test_an_anonymous_customer_still_gets_a_contact_of_their_own(widget, agent):
    conversation, _ = services.conversation_start(widget=widget)
    contact = services.conversation_contact_set(conversation=conversation,
                                                email="anon@mail.example")
    stored = Conversation.objects.get(pk=conversation.pk)
    assert stored.contact_id == contact.pk and not contact.is_verified
    assert (contact.email, stored.reply_email) == ("anon@mail.example", "")


def test_the_console_shows_the_verified_contact_and_where_replies_go(widget):
    conversation = verified_conversation(widget)
    services.conversation_contact_set(conversation=conversation, email="lee.home@mail.example")
    panel = contact_panel_for_agent(
        conversation=Conversation.objects.select_related("contact").get(pk=conversation.pk)
    )
    assert panel.verified and panel.name == "Lee" and panel.email == "lee@shop.example"
    assert panel.reply_email == "lee.home@mail.example"


def test_the_agent_page_names_the_reply_address(client, widget, agent):
    conversation = verified_conversation(widget)
    services.conversation_contact_set(conversation=conversation, email="lee.home@mail.example")
    client.force_login(agent)
    page = client.get(reverse("chat:console-conversation", args=[conversation.pk])).content.decode()
    assert 'data-sd="contact-reply-email"' in page and "lee.home@mail.example" in page
    assert "Verified" in page


def test_a_transcript_without_an_address_goes_where_replies_go(widget):
    conversation = verified_conversation(widget)
    services.conversation_contact_set(conversation=conversation, email="lee.home@mail.example")
    owed = services.transcript_email_request(conversation=conversation)
    assert owed.to == "lee.home@mail.example"

