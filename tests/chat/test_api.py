"""The widget's HTTP doors: opening a conversation and the framed panel page."""

from __future__ import annotations

import hashlib
import json

import pytest
from django.core.cache import cache

from chat.models import Conversation

pytestmark = pytest.mark.django_db

URL = "/api/widget/conversations/"


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


def start(client, body=None, origin="https://shop.example", **extra):
    headers = {"HTTP_ORIGIN": origin} if origin else {}
    payload = json.dumps({"widget": "acme"} if body is None else body)
    return client.post(URL, payload, content_type="application/json", **headers, **extra)


def test_opening_a_conversation_returns_its_token_once(client, widget):
    response = start(client)
    assert response.status_code == 201
    data = response.json()
    assert data["ws_path"] == "/ws/chat/"
    conversation = Conversation.objects.get(public_id=data["conversation_id"])
    assert conversation.token_hash == hashlib.sha256(data["token"].encode()).hexdigest()
    assert response["Access-Control-Allow-Origin"] == "https://shop.example"
    assert response["Cache-Control"] == "no-store"


def test_conversation_ids_are_random_not_sequential(client, widget):
    """Issue 15, item 11: sequential ids let anyone read the desk's volume."""
    import uuid

    first, second = (start(client).json()["conversation_id"] for _ in range(2))
    for public in (first, second):
        assert uuid.UUID(public).version == 4
        conversation = Conversation.objects.get(public_id=public)
        assert str(conversation.pk) not in public.split("-")
    assert first != second


def test_the_servers_own_origin_is_allowed(client, widget):
    response = start(client, origin="http://testserver")
    assert response.status_code == 201
    assert "Access-Control-Allow-Origin" not in response


@pytest.mark.parametrize("origin", ["https://evil.example", "https://shop.example.evil", None])
def test_a_foreign_or_missing_origin_is_refused(client, widget, origin):
    response = start(client, origin=origin)
    assert response.status_code == 403
    assert response.json()["error"] == "origin_not_allowed"
    assert not Conversation.objects.exists()


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ("not json", 400, "bad_json"),
        ([], 400, "missing_field"),
        ({"widget": 5}, 400, "missing_field"),
        ({"widget": "nope"}, 404, "unknown_widget"),
    ],
)
def test_bad_requests_change_nothing(client, widget, body, status, code):
    payload = body if isinstance(body, str) else json.dumps(body)
    response = client.post(
        URL, payload, content_type="application/json", HTTP_ORIGIN="https://shop.example"
    )
    assert response.status_code == status
    assert response.json()["error"] == code
    assert not Conversation.objects.exists()


def test_an_inactive_widget_opens_nothing(client, widget):
    widget.is_active = False
    widget.save()
    assert start(client).status_code == 404


def test_get_is_not_allowed(client, widget):
    assert client.get(URL).status_code == 405


def test_preflight_from_an_allowed_origin(client, widget):
    ok = client.options(URL, HTTP_ORIGIN="https://shop.example")
    assert ok.status_code == 204
    assert ok["Access-Control-Allow-Origin"] == "https://shop.example"
    assert client.options(URL, HTTP_ORIGIN="https://evil.example").status_code == 403


def test_opening_conversations_is_rate_limited_per_ip(client, widget, settings):
    settings.CHAT_CONVERSATIONS_PER_IP_PER_MINUTE = 3
    statuses = [start(client).status_code for _ in range(4)]
    assert statuses == [201, 201, 201, 429]
    assert Conversation.objects.count() == 3
    other_ip = start(client, REMOTE_ADDR="10.0.0.9")
    assert other_ip.status_code == 201


def test_the_panel_may_be_framed_only_by_the_widgets_origins(client, widget):
    response = client.get("/widget/acme/panel/")
    assert response.status_code == 200
    assert "X-Frame-Options" not in response
    csp = response["Content-Security-Policy"]
    assert "frame-ancestors https://shop.example 'self'" in csp
    assert "script-src 'self'" in csp
    html = response.content.decode()
    assert "Hello &lt;b&gt;there&lt;/b&gt;" in html  # the greeting is escaped
    for hook in ('data-sd="input"', 'data-sd="send"', 'role="log"', 'aria-live="polite"'):
        assert hook in html
    assert "<script>" not in html and "style=" not in html


def test_a_bad_allowed_origin_never_reaches_the_csp_header(client, widget):
    widget.allowed_origins = ["https://ok.example", "https://x.example; script-src *"]
    widget.save()
    csp = client.get("/widget/acme/panel/")["Content-Security-Policy"]
    assert "frame-ancestors https://ok.example;" in csp + ";"
    assert "script-src *" not in csp


def test_an_unknown_widget_has_no_panel(client, widget):
    assert client.get("/widget/nope/panel/").status_code == 404


def test_the_panel_shows_the_company_s_face(client, widget, agent):
    from chat.models import AgentPresence, PresenceStatus
    from knowledge.models import Intent

    widget.display_name = "Acme <Outfitters>"
    widget.save()
    Intent.objects.create(slug="order_status", name="Order status",
                          button_label="Where's my <b>order</b>?")
    page = client.get("/widget/acme/panel/").content.decode()
    assert 'data-sd="display-name">Acme &lt;Outfitters&gt;</h1>' in page
    assert "<title>Chat · Acme &lt;Outfitters&gt;</title>" in page and ">AO<" in page
    assert "Instant answers &middot; <span class=\"sd-nowrap\">team replies by e-mail<" in page
    assert "Typically replies" not in page and "about 2 min" not in page
    assert 'data-sd="quick-reply" data-intent="order_status"' in page
    assert "Where&#x27;s my &lt;b&gt;order&lt;/b&gt;?" in page and "<b>order" not in page
    assert page.count('data-sd="rating-star"') == 5
    assert page.count('role="radio"') == 5 and 'role="radiogroup"' in page

    AgentPresence.objects.create(user=agent, status=PresenceStatus.ONLINE, connections=1)
    page = client.get("/widget/acme/panel/").content.decode()
    assert "Instant answers &middot; <span class=\"sd-nowrap\">team in about 2 min<" in page


@pytest.mark.parametrize(
    "page_url, referer",
    [
        ("", "http://testserver/widget/acme/panel/"),        # the Referer of a panel not told
        ("", "https://desk.example/widget/other/panel/?x=1"),  # another host's panel
        ("http://testserver/widget/acme/panel/", "https://shop.example/cart"),  # sent as the page
        ("https://cdn.example/widget/a-b_c/panel/#top", ""),
    ],
)
def test_the_panels_own_url_is_never_the_start_page(client, widget, page_url, referer):
    """The chat panel is a frame on the customer's page: its URL tells an agent nothing, and
    agents read "Started on" as where the customer was."""
    body = {"widget": "acme", "page_title": "Cart"}
    if page_url:
        body["page_url"] = page_url
    extra = {"HTTP_REFERER": referer} if referer else {}
    response = start(client, body, **extra)
    assert response.status_code == 201
    conversation = Conversation.objects.get(public_id=response.json()["conversation_id"])
    assert conversation.page_url == ""
    assert conversation.page_title == "Cart"


@pytest.mark.parametrize(
    "page_url, referer, expected",
    [
        ("https://shop.example/cart?step=2", "http://testserver/widget/acme/panel/",
         "https://shop.example/cart?step=2"),
        ("", "https://shop.example/widgets/panel/list", "https://shop.example/widgets/panel/list"),
        ("javascript:alert(1)", "", ""),
    ],
)
def test_the_host_pages_url_is_kept_within_check_origin_info(
    client, widget, page_url, referer, expected
):
    body = {"widget": "acme", "page_url": page_url}
    extra = {"HTTP_REFERER": referer} if referer else {}
    response = start(client, body, **extra)
    assert response.status_code == 201
    conversation = Conversation.objects.get(public_id=response.json()["conversation_id"])
    assert conversation.page_url == expected


def test_the_longest_page_hints_with_a_signed_customer_still_open_a_chat(client, widget):
    url = "https://shop.example/p?" + "q=%E2%82%AC&" * 166  # 1,996 characters
    title = "\U0001f600\u0645" * 150  # 300 characters, 900 bytes of UTF-8
    body = {"widget": "acme", "page_url": url[:2000], "page_title": title,
            "user": {"id": "c" * 100, "hash": "0" * 64, "email": "e@shop.example",
                     "name": "N" * 200}}
    response = start(client, body)
    assert response.status_code == 201
    conversation = Conversation.objects.get(public_id=response.json()["conversation_id"])
    assert conversation.page_url == url[:2000]
    assert conversation.page_title == title


def test_a_body_over_the_limit_is_refused_and_opens_nothing(client, widget):
    response = start(client, {"widget": "acme", "page_title": "x" * 9000})
    assert response.status_code == 413
    assert response.json()["error"] == "too_large"
    assert not Conversation.objects.exists()


def test_the_panel_loads_while_the_cache_cannot_be_reached(client, widget, settings, caplog):
    """Redis down (here: a cache on a port nothing listens on): a visitor's panel still loads,
    with the agents' typical reply time read from the database."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    settings.CACHES = {
        **settings.CACHES,
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                    "LOCATION": f"redis://127.0.0.1:{port}/0"},
    }
    response = client.get("/widget/acme/panel/")
    assert response.status_code == 200
    assert b"data-sd=" in response.content
    assert "typical reply time could not be read" in caplog.text
    # ... and a conversation can be started (the per-address budget counts nothing then).
    assert start(client).status_code == 201
    assert "budget could not be counted" in caplog.text


@pytest.mark.parametrize("path", ["/api/widget/conversations/", "/api/widget/conversations/reopen/",
                                  "/api/widget/conversations/identify/"])
def test_the_widget_s_posts_need_no_csrf_token(widget, path):
    """The widget posts from customers' sites, without Django's CSRF cookie: each of its
    endpoints answers on its own terms (here a bad request), never with CSRF's 403."""
    from django.test import Client

    response = Client(enforce_csrf_checks=True).post(
        path, "[]", content_type="application/json", HTTP_ORIGIN="https://shop.example"
    )
    assert response.status_code == 400, (path, response.status_code)
