"""A widget's allow-list (chat.origins): checked when saved, read safely whatever a row holds."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import User
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import connection

from chat.models import Conversation, Widget
from chat.origins import allowed_origin_entries, validate_allowed_origins
from supportdesk.asgi import application

GOOD = [
    [],
    ["self"],
    ["https://shop.example", "http://127.0.0.1:8000", "self"],
    ["https://shop.example/"],  # the trailing slash people copy from the address bar
    ["HTTPS://Shop.Example:8443"],  # scheme and host are case-insensitive (RFC 6454)
]

BAD = {
    "a number": (5, "Write a list of origins"),
    "an object": ({"a": 1}, "Write a list of origins"),
    "an empty object": ({}, "Write a list of origins"),
    "one origin as text": ("https://shop.example", "Write a list of origins"),
    "null": (None, "Write a list of origins"),
    "a number entry": (["self", 5], "Entry 2, 5, is not text"),
    "a list entry": ([["https://shop.example"]], "Entry 1"),
    "a NUL entry": (["\x00"], r'Entry 1, "\u0000", is neither'),
    "half an emoji": (["\ud83d"], r'Entry 1, "\ud83d", is neither'),
    "a path": (["https://shop.example/cart"], "is neither"),
    "another scheme": (["ftp://shop.example"], "is neither"),
    "no scheme": (["shop.example"], "is neither"),
    "a port too large": (["https://shop.example:70000"], "is neither"),
    "a CSP injection": (["https://x.example; script-src *"], "is neither"),
    "a user": (["https://me@shop.example"], "is neither"),
    "a wildcard": (["https://*.example"], "is neither"),
}


@pytest.mark.parametrize("value", GOOD)
def test_an_allow_list_of_self_and_origins_is_valid(value):
    validate_allowed_origins(value)


@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_allow_list_is_refused_with_a_message_naming_the_entry(case):
    value, message = BAD[case]
    with pytest.raises(ValidationError) as caught:
        validate_allowed_origins(value)
    assert any(message in text for text in caught.value.messages), caught.value.messages


def test_at_most_five_bad_entries_are_listed():
    with pytest.raises(ValidationError) as caught:
        validate_allowed_origins([n for n in range(8)])
    assert len(caught.value.messages) == 6
    assert caught.value.messages[-1] == "… and 3 more."


@pytest.mark.parametrize(
    "value, entries",
    [
        (5, []),
        ({"https://shop.example": 1}, []),
        ("self", []),
        (None, []),
        ([5, None, {"x": 1}, "self", "\x00", "https://Shop.example/", "https://x.example/p"],
         ["self", "https://shop.example"]),
    ],
)
def test_reading_keeps_only_the_entries_it_understands(value, entries):
    assert allowed_origin_entries(value) == entries


# --- The Django admin refuses, and changes nothing ---------------------------------------------


ADMIN_BAD = {
    "a number": "5",
    "an object": '{"a": 1}',
    "an empty object": "{}",
    "null": "null",
    "a NUL entry": r'["\u0000"]',
    "half an emoji": r'["\ud83d"]',
    "a number entry": '["https://shop.example", 5]',
    "a path": '["https://shop.example/cart"]',
}


@pytest.fixture
def admin_client(client, db):
    client.force_login(User.objects.create_superuser("root", password="a-long-password-42"))
    return client


def widget_form(allowed_origins: str) -> dict[str, str]:
    return {"public_key": "acme", "name": "Acme", "allowed_origins": allowed_origins,
            "greeting": "", "is_active": "on"}


@pytest.mark.parametrize("case", list(ADMIN_BAD))
def test_the_admin_refuses_a_bad_allow_list_on_a_new_widget(admin_client, case):
    response = admin_client.post("/admin/chat/widget/add/", widget_form(ADMIN_BAD[case]))
    assert response.status_code == 200  # the form again, with the message
    assert response.context["adminform"].form.errors["allowed_origins"]
    assert not Widget.objects.exists()


@pytest.mark.parametrize("case", list(ADMIN_BAD))
def test_the_admin_refuses_a_bad_allow_list_on_a_widget_and_keeps_the_old_one(
    admin_client, widget, case
):
    response = admin_client.post(
        f"/admin/chat/widget/{widget.pk}/change/", widget_form(ADMIN_BAD[case])
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["allowed_origins"]
    widget.refresh_from_db()
    assert widget.allowed_origins == ["https://shop.example", "self"]


def test_the_admin_message_says_what_to_write(admin_client, widget):
    response = admin_client.post(
        f"/admin/chat/widget/{widget.pk}/change/", widget_form('["https://shop.example/cart"]')
    )
    page = response.content.decode()
    assert "Entry 1, &quot;https://shop.example/cart&quot;, is neither" in page
    assert "scheme, host and optional port; no path" in page


def test_the_admin_saves_a_good_allow_list(admin_client, widget):
    response = admin_client.post(
        f"/admin/chat/widget/{widget.pk}/change/",
        widget_form('["https://shop.example/", "http://127.0.0.1:8000", "self"]'),
    )
    assert response.status_code == 302
    widget.refresh_from_db()
    assert widget.allowed_origins == ["https://shop.example/", "http://127.0.0.1:8000", "self"]


# --- An old bad row breaks nothing -------------------------------------------------------------

# Written past validation, as a row saved before it existed could be. NUL and lone surrogates
# cannot be written to PostgreSQL's jsonb at all, so those rows exist on SQLite only.
OLD_ROWS = {
    "a number": 5,
    "an object": {"a": 1},
    "one origin as text": "https://shop.example",
    "a NUL entry": ["\x00", "https://shop.example"],
    "half an emoji": ["\ud83d", "https://shop.example"],
    "mixed entries": [5, None, {"x": 1}, "https://SHOP.example/", "https://x.example/p"],
}
SQLITE_ONLY = {"a NUL entry", "half an emoji"}
# Which of them still let https://shop.example in: the readable entries count.
STILL_ALLOWS_SHOP = {"a NUL entry", "half an emoji", "mixed entries"}


def write_old_row(widget: Widget, case: str) -> None:
    if case in SQLITE_ONLY and connection.vendor != "sqlite":
        pytest.skip("PostgreSQL cannot store this row")
    Widget.objects.filter(pk=widget.pk).update(allowed_origins=OLD_ROWS[case])


@pytest.fixture
def fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.mark.django_db
@pytest.mark.parametrize("case", list(OLD_ROWS))
def test_an_old_bad_row_breaks_neither_the_panel_nor_the_api(client, widget, fresh_cache, case):
    write_old_row(widget, case)
    panel = client.get("/widget/acme/panel/")
    assert panel.status_code == 200
    csp = panel["Content-Security-Policy"]
    expected = "https://shop.example" if case in STILL_ALLOWS_SHOP else "'none'"
    assert f"frame-ancestors {expected};" in csp + ";"

    def start(origin: str):
        return client.post("/api/widget/conversations/", {"widget": "acme"},
                           content_type="application/json", HTTP_ORIGIN=origin)

    assert start("http://testserver").status_code == 201  # the server's own origin
    assert start("https://shop.example").status_code == (201 if case in STILL_ALLOWS_SHOP else 403)
    assert start("https://x.example").status_code == 403
    preflight = client.options("/api/widget/conversations/", HTTP_ORIGIN="https://shop.example")
    assert preflight.status_code == (204 if case in STILL_ALLOWS_SHOP else 403)
    assert Conversation.objects.count() == (2 if case in STILL_ALLOWS_SHOP else 1)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("case", ["a number", "an object", "half an emoji"])
async def test_an_old_bad_row_of_one_widget_does_not_block_the_sockets_of_others(widget, case):
    broken = await database_sync_to_async(Widget.objects.create)(
        public_key="broken", name="Broken", allowed_origins=[]
    )
    await database_sync_to_async(write_old_row)(broken, case)
    comm = WebsocketCommunicator(
        application, "/ws/chat/",
        headers=[(b"host", b"testserver"), (b"origin", b"https://shop.example")],
    )
    connected, _ = await comm.connect(timeout=5)
    assert connected
    await comm.disconnect()
    refused = WebsocketCommunicator(
        application, "/ws/chat/",
        headers=[(b"host", b"testserver"), (b"origin", b"https://x.example")],
    )
    connected, _ = await refused.connect(timeout=5)
    assert not connected


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["de%00mo", "ac%20me", "%ED%A0%BD", "a" * 65])
def test_a_preflight_for_a_key_that_is_no_slug_is_refused(client, widget, fresh_cache, key):
    """The preflight reads the key from the query string, where %00 decodes to a NUL."""
    preflight = client.options(
        f"/api/widget/conversations/?widget={key}", HTTP_ORIGIN="https://x.example"
    )
    assert preflight.status_code == 403


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["ac me", "acme/", "a" * 65])
def test_a_widget_key_that_is_no_slug_is_an_unknown_widget(client, widget, fresh_cache, key):
    response = client.post("/api/widget/conversations/", {"widget": key},
                           content_type="application/json", HTTP_ORIGIN="https://shop.example")
    assert response.status_code == 404
    assert response.json()["error"] == "unknown_widget"
