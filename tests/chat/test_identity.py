"""Verified identity: the host page's HMAC of the user id checked on conversation create."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging

import pytest
from django.core.cache import cache

from chat.identity import identity_from_payload, identity_hash, widget_secret_rotate
from chat.models import Contact, Conversation

pytestmark = pytest.mark.django_db

URL = "/api/widget/conversations/"


@pytest.fixture(autouse=True)
def fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def secret(widget):
    return widget_secret_rotate(actor=None, widget=widget)


def start(client, user):
    body = {"widget": "acme"}
    if user is not None:
        body["user"] = user
    return client.post(URL, json.dumps(body), content_type="application/json",
                       HTTP_ORIGIN="https://shop.example")


def signed(secret, user_id="u-1001", **extra):
    return {"id": user_id, "hash": hmac.new(secret.encode(), user_id.encode(),
                                            hashlib.sha256).hexdigest(), **extra}


def test_identity_hash_is_hmac_sha256_hex():
    assert identity_hash("key", "The quick brown fox jumps over the lazy dog") == (
        "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
    )


def test_signed_user_makes_a_verified_conversation_and_contact(client, secret):
    response = start(client, signed(secret, email="ana@example.com", name="Ana"))
    assert response.status_code == 201 and response.json()["verified"] is True
    conversation = Conversation.objects.get(public_id=response.json()["conversation_id"])
    assert conversation.verified_user_id == "u-1001"
    contact = conversation.contact
    assert (contact.is_verified, contact.external_id, contact.email, contact.name) == (
        True, "u-1001", "ana@example.com", "Ana")
    again = start(client, signed(secret))
    second = Conversation.objects.get(public_id=again.json()["conversation_id"])
    assert second.contact_id == contact.pk  # one verified contact per user id


@pytest.mark.parametrize("user", [
    None,
    {"id": "u-1001"},
    {"id": "u-1001", "hash": ""},
    {"id": "u-1001", "hash": "0" * 64},
    {"id": "u-1001", "hash": 12},
    {"id": "", "hash": "ab"},
    {"id": ["u-1001"], "hash": "ab"},
    "u-1001",
    ["u-1001"],
])
def test_forged_or_missing_hash_leaves_it_unverified(client, secret, user, caplog):
    with caplog.at_level(logging.WARNING, logger="chat.identity"):
        response = start(client, user)
    assert response.status_code == 201 and response.json()["verified"] is False
    conversation = Conversation.objects.get(public_id=response.json()["conversation_id"])
    assert conversation.verified_user_id == "" and conversation.contact is None
    assert not Contact.objects.filter(is_verified=True).exists()
    if user is not None:
        assert "identity refused" in caplog.text
    assert secret not in caplog.text


def test_hash_of_another_user_id_is_refused(client, secret):
    forged = {"id": "u-2002", "hash": signed(secret, "u-1001")["hash"]}
    assert start(client, forged).json()["verified"] is False


def test_logged_refusal_does_not_include_the_hash(widget, secret, caplog):
    bad = "f" * 64
    with caplog.at_level(logging.WARNING, logger="chat.identity"):
        assert identity_from_payload(widget, {"id": "u-1", "hash": bad}) is None
    assert bad not in caplog.text and "u-1" not in caplog.text


def test_rotation_invalidates_the_old_secret(client, widget, secret):
    old = signed(secret)
    widget_secret_rotate(actor=None, widget=widget)
    assert start(client, old).json()["verified"] is False


def test_widget_without_secret_verifies_nobody(client, widget):
    assert widget.identity_secret == ""
    assert start(client, {"id": "u-1", "hash": identity_hash("", "u-1")}).json()[
        "verified"] is False


def test_bad_email_in_a_signed_identity_is_dropped(client, secret):
    response = start(client, signed(secret, email="not an address<script>"))
    conversation = Conversation.objects.get(public_id=response.json()["conversation_id"])
    assert conversation.contact.email == ""


@pytest.mark.parametrize("user", [{"id": "u-1001"}, {"id": "u-1001", "hash": "  "}])
def test_a_user_id_without_its_hash_is_logged_as_such(client, secret, user, caplog):
    # The loader passes an id whose snippet forgot the hash, so the refusal is logged.
    with caplog.at_level(logging.WARNING, logger="chat.identity"):
        assert start(client, user).json()["verified"] is False
    assert "identity refused for widget" in caplog.text and "no user hash" in caplog.text
    assert "u-1001" not in caplog.text
