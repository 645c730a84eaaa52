"""Verified identity: the host page's HMAC of the user id checked on conversation create."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging

import pytest
from django.core.cache import cache
from django.urls import reverse

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


@pytest.mark.parametrize(("user_id", "reason"), [
    (" u-1001", "has spaces around it"),
    ("u-1001\u00a0", "has spaces around it"),
    ("u-1001\n", "has spaces around it"),
    ("\t", "has spaces around it"),
    ("u-\u200b1001", "has control or invisible characters"),
    ("\ufeffu-1001", "has control or invisible characters"),
    ("u-10\u00ad01", "has control or invisible characters"),
    ("u-10\u202801", "has control or invisible characters"),
    ("u-10\x0701", "has control or invisible characters"),  # a NUL is refused as bad_json
    ("jose\u0301", "is not in Unicode NFC form"),
])
def test_a_user_id_that_would_split_a_customer_is_refused(
    client, secret, user_id, reason, caplog
):
    """Signed as given, it would be a second customer beside the plain id: refused, and
    logged with the reason (never the hash)."""
    start(client, signed(secret, "u-1001"))
    start(client, signed(secret, "jos\u00e9"))
    with caplog.at_level(logging.WARNING, logger="chat.identity"):
        response = start(client, signed(secret, user_id))
    assert response.json()["verified"] is False
    assert sorted(Contact.objects.filter(is_verified=True).values_list(
        "external_id", flat=True)) == ["jos\u00e9", "u-1001"]
    assert f"the user id {reason}" in caplog.text
    assert signed(secret, user_id)["hash"] not in caplog.text


@pytest.mark.parametrize("user_id", ["cust-1\U0001fae8", "客户-1001", "u 1001", "josé"])
def test_ids_of_any_script_inner_spaces_and_new_emoji_verify(client, secret, user_id):
    assert start(client, signed(secret, user_id)).json()["verified"] is True


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


# --- A verified identity keeps the contact up to date -------------------------------------

IDENTIFY_URL = "/api/widget/conversations/identify/"


def identify(client, started, user, token=None):
    body = {"widget": "acme", "conversation_id": started.json()["conversation_id"],
            "token": token or started.json()["token"], "user": user}
    return client.post(IDENTIFY_URL, json.dumps(body), content_type="application/json",
                       HTTP_ORIGIN="https://shop.example")


def verified_contact(user_id="u-1001"):
    return Contact.objects.get(external_id=user_id, is_verified=True)


def test_a_returning_verified_user_updates_the_contacts_email_and_name(client, secret):
    start(client, signed(secret, email="ana@example.com", name="Ana"))
    again = start(client, signed(secret, email="ana@new.example", name="Ana Lima"))
    contact = verified_contact()
    assert (contact.email, contact.name) == ("ana@new.example", "Ana Lima")
    assert Conversation.objects.get(public_id=again.json()["conversation_id"]).contact == contact
    assert Contact.objects.count() == 1


def test_blank_values_leave_the_stored_ones(client, secret):
    start(client, signed(secret, email="ana@example.com", name="Ana"))
    start(client, signed(secret, email="  ", name=""))
    start(client, signed(secret))
    contact = verified_contact()
    assert (contact.email, contact.name) == ("ana@example.com", "Ana")


@pytest.mark.parametrize("email", [
    "not an address<script>",
    "a" * 64 + "@" + ".".join(["b" * 60] * 4) + ".example",  # valid shape, over 254 characters
])
def test_a_refused_email_is_ignored_and_logged_without_secrets(client, secret, email, caplog):
    user = signed(secret, email="ana@example.com")
    start(client, user)
    with caplog.at_level(logging.WARNING, logger="chat"):
        response = start(client, signed(secret, email=email, name="Ana"))
    assert response.status_code == 201 and response.json()["verified"] is True
    contact = verified_contact()
    assert (contact.email, contact.name) == ("ana@example.com", "Ana")
    assert "identity e-mail ignored for widget acme" in caplog.text
    for secret_text in (secret, user["hash"], email):
        assert secret_text not in caplog.text


def test_a_new_verified_contact_with_a_refused_email_has_none(client, secret):
    start(client, signed(secret, email="a" * 250 + "@example.com", name="Ana"))
    assert (verified_contact().email, verified_contact().name) == ("", "Ana")


def test_a_long_name_is_cut_to_the_fields_length(client, secret):
    start(client, signed(secret, name="N" * 500))
    assert verified_contact().name == "N" * 120


@pytest.mark.parametrize("hash_", ["", "0" * 64, None])
def test_an_unverified_identity_never_changes_a_verified_contact(client, secret, hash_):
    start(client, signed(secret, email="ana@example.com", name="Ana"))
    forged = {"id": "u-1001", "email": "mallory@example.com", "name": "Mallory"}
    if hash_ is not None:
        forged["hash"] = hash_
    response = start(client, forged)
    assert response.json()["verified"] is False
    conversation = Conversation.objects.get(public_id=response.json()["conversation_id"])
    assert conversation.contact is None and conversation.verified_user_id == ""
    contact = verified_contact()
    assert (contact.email, contact.name) == ("ana@example.com", "Ana")


def test_resumed_conversation_identify_updates_the_contact(client, secret, caplog):
    started = start(client, signed(secret, email="ana@example.com", name="Ana"))
    user = signed(secret, email="ana@new.example", name="Ana Lima")
    with caplog.at_level(logging.DEBUG):
        response = identify(client, started, user)
    assert response.status_code == 200 and response.json() == {"verified": True}
    contact = verified_contact()
    assert (contact.email, contact.name) == ("ana@new.example", "Ana Lima")
    assert user["hash"] not in caplog.text and secret not in caplog.text


def test_identify_with_a_forged_hash_changes_nothing(client, secret):
    started = start(client, signed(secret, email="ana@example.com", name="Ana"))
    forged = {"id": "u-1001", "hash": "0" * 64, "email": "mallory@example.com"}
    response = identify(client, started, forged)
    assert response.status_code == 200 and response.json() == {"verified": False}
    assert verified_contact().email == "ana@example.com"


def test_identify_as_another_customer_is_refused_and_changes_nothing(client, secret):
    started = start(client, signed(secret, email="ana@example.com", name="Ana"))
    start(client, signed(secret, "u-2002", email="bo@example.com", name="Bo"))
    other = signed(secret, "u-2002", email="bo@new.example", name="Bo B")
    response = identify(client, started, other)
    assert response.status_code == 409 and response.json()["error"] == "other_customer"
    conversation = Conversation.objects.get(public_id=started.json()["conversation_id"])
    assert conversation.verified_user_id == "u-1001"
    assert conversation.contact == verified_contact("u-1001")
    assert (verified_contact("u-2002").email, verified_contact("u-2002").name) == (
        "bo@example.com", "Bo")


def test_identify_never_verifies_a_conversation_that_started_unverified(client, secret):
    started = start(client, None)
    response = identify(client, started, signed(secret, email="ana@example.com"))
    assert response.status_code == 409
    conversation = Conversation.objects.get(public_id=started.json()["conversation_id"])
    assert conversation.verified_user_id == "" and conversation.contact is None
    assert not Contact.objects.exists()


def test_identify_needs_the_conversations_token(client, secret):
    started = start(client, signed(secret, email="ana@example.com"))
    other = start(client, None)
    response = identify(client, started, signed(secret, email="x@example.com"),
                        token=other.json()["token"])
    assert response.status_code == 403 and response.json()["error"] == "bad_token"
    assert verified_contact().email == "ana@example.com"


@pytest.mark.parametrize("body", [
    b"not json", b"[]", b'{"widget": "acme"}',
    b'{"widget": "acme", "conversation_id": "not-a-uuid", "token": "t", "user": {}}',
])
def test_identify_refuses_bad_requests(client, secret, body):
    start(client, signed(secret, email="ana@example.com"))
    response = client.post(IDENTIFY_URL, body, content_type="application/json",
                           HTTP_ORIGIN="https://shop.example")
    assert response.status_code in (400, 403) and "error" in response.json()
    assert verified_contact().email == "ana@example.com"


@pytest.mark.parametrize("user", [None, "u-1001", [], {"id": "u-1001"}, {"hash": "ab"},
                                  {"id": 1001, "hash": "ab"}, {"id": "u-1001", "hash": None}])
def test_identify_without_a_signed_user_object_is_a_bad_request(client, secret, user):
    started = start(client, signed(secret, email="ana@example.com"))
    response = identify(client, started, user)
    assert response.status_code == 400 and response.json()["error"] == "missing_field"
    assert verified_contact().email == "ana@example.com"


def test_identify_from_a_foreign_origin_is_refused(client, secret):
    started = start(client, signed(secret, email="ana@example.com"))
    body = {"widget": "acme", "conversation_id": started.json()["conversation_id"],
            "token": started.json()["token"], "user": signed(secret, email="x@example.com")}
    response = client.post(IDENTIFY_URL, json.dumps(body), content_type="application/json",
                           HTTP_ORIGIN="https://evil.example")
    assert response.status_code == 403
    assert verified_contact().email == "ana@example.com"


def test_console_and_api_show_the_refreshed_contact(client, secret, agent):
    from rest_framework.test import APIClient

    from api import services as api_services

    started = start(client, signed(secret, email="ana@example.com", name="Ana"))
    identify(client, started, signed(secret, email="ana@new.example", name="Ana Lima"))
    conversation = Conversation.objects.get(public_id=started.json()["conversation_id"])
    client.force_login(agent)
    page = client.get(reverse("chat:console-conversation", args=[conversation.pk]),
                      HTTP_HX_REQUEST="true",
                      HTTP_HX_TARGET="conversation").content.decode()
    panel = page.split('data-sd="contact-panel"', 1)[1].split("</aside>", 1)[0]
    assert "Ana Lima" in panel and "ana@new.example" in panel and "ana@example.com" not in panel
    assert ">Verified<" in panel.split('data-sd="contact-verified"', 1)[1].split("</dd>", 1)[0]
    _, raw = api_services.token_create(user=agent, name="test")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    row = api.get("/api/v1/contacts/", {"external_id": "u-1001"}).json()["results"][0]
    assert (row["email"], row["name"], row["is_verified"]) == (
        "ana@new.example", "Ana Lima", True)
