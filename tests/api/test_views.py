"""The REST API (api/views.py) through its real door: tokens, roles, errors, filters, pages."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from api import services as api_services
from api.models import ApiToken
from chat import services as chat_services
from chat.models import Author, Label, Message, Note
from knowledge import services as knowledge_services
from knowledge.models import Article, ArticleStatus, Intent

from .conftest import make_user

pytestmark = pytest.mark.django_db

CONVERSATIONS = "/api/v1/conversations/"
CONTACTS = "/api/v1/contacts/"
ARTICLES = "/api/v1/articles/"
EVENTS = "/api/v1/events/"


def error_of(response) -> str:
    assert response["Content-Type"].startswith("application/json"), response.content[:200]
    body = response.json()
    assert body["message"]
    return body["error"]


# --- Tokens --------------------------------------------------------------------------------


def test_no_token_is_a_json_401_with_a_bearer_challenge(conversation):
    response = APIClient().get(CONVERSATIONS)
    assert response.status_code == 401
    assert error_of(response) == "not_authenticated"
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "header",
    [
        "Bearer sdk_notatoken",
        "Bearer",
        "Bearer a b",
        "Bearer " + "sdk_" + "x" * 500,
        "Token sdk_whatever",  # another scheme: no credentials at all
        "Bearer sdk_\u00e9t\u00e9",
    ],
)
def test_a_bad_token_is_a_json_401(agent, client_for, header):
    client_for(agent)  # a real token exists; these are not it
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get(CONVERSATIONS)
    assert response.status_code == 401
    assert error_of(response) in {"authentication_failed", "not_authenticated"}


def test_a_revoked_token_is_a_401_and_only_the_hash_is_stored(agent, client_for):
    client = client_for(agent)
    assert client.get(CONVERSATIONS).status_code == 200
    token = ApiToken.objects.get(user=agent)
    assert client.raw_token not in (token.key_hash, token.prefix)
    assert token.key_hash == api_services.token_hash(client.raw_token)
    api_services.token_revoke(user=agent, token_id=token.pk)
    response = client.get(CONVERSATIONS)
    assert response.status_code == 401
    assert error_of(response) == "authentication_failed"


def test_a_deactivated_users_token_is_a_401(agent, client_for):
    client = client_for(agent)
    agent.is_active = False
    agent.save()
    assert client.get(CONVERSATIONS).status_code == 401


def test_a_token_in_the_url_is_not_taken(agent, client_for):
    raw = client_for(agent).raw_token
    response = APIClient().get(f"{CONVERSATIONS}?token={raw}&access_token={raw}")
    assert response.status_code == 401


def test_session_login_does_not_authorise_the_api(agent, client):
    client.force_login(agent)
    response = client.get(CONVERSATIONS)
    assert response.status_code == 401


def test_last_used_is_stamped_at_most_once_a_minute(agent, client_for):
    client = client_for(agent)
    token = ApiToken.objects.get(user=agent)
    assert token.last_used_at is None
    client.get(CONVERSATIONS)
    token.refresh_from_db()
    first = token.last_used_at
    assert first is not None
    client.get(CONVERSATIONS)
    token.refresh_from_db()
    assert token.last_used_at == first
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=first - timedelta(minutes=5))
    client.get(CONVERSATIONS)
    token.refresh_from_db()
    assert token.last_used_at > first - timedelta(minutes=5)


def test_token_names_are_checked(agent):
    for bad in ["", "   ", "x" * 81, "a\x00b"]:
        with pytest.raises(ValueError):
            api_services.token_create(user=agent, name=bad)
    api_services.token_create(user=agent, name="crm")
    with pytest.raises(ValueError):
        api_services.token_create(user=agent, name="crm")
    assert ApiToken.objects.filter(user=agent).count() == 1


def test_a_user_without_a_role_gets_no_token(db):
    nobody = make_user("nobody")
    with pytest.raises(ValueError):
        api_services.token_create(user=nobody, name="x")


# --- Roles ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("agent", {CONVERSATIONS, CONTACTS, ARTICLES}),
        ("manager", {EVENTS}),
        ("admin", {ARTICLES, EVENTS}),
    ],
)
def test_each_role_reads_what_its_pages_show_and_gets_403_elsewhere(
    request, client_for, conversation, role, allowed
):
    client = client_for(request.getfixturevalue(role))
    for url in (CONVERSATIONS, CONTACTS, ARTICLES, EVENTS):
        response = client.get(url)
        if url in allowed:
            assert response.status_code == 200, (role, url, response.content)
        else:
            assert response.status_code == 403, (role, url)
            assert error_of(response) == "permission_denied"
    detail = client.get(f"{CONVERSATIONS}{conversation.pk}/")
    assert detail.status_code == (200 if CONVERSATIONS in allowed else 403)


def test_a_manager_cannot_read_messages_or_post_a_reply(manager, client_for, conversation):
    client = client_for(manager)
    url = f"{CONVERSATIONS}{conversation.pk}/messages/"
    assert client.get(url).status_code == 403
    assert client.post(url, {"text": "hi"}, format="json").status_code == 403
    assert not Message.objects.filter(conversation=conversation, author=Author.AGENT).exists()


# --- Conversations and messages ------------------------------------------------------------


def test_conversation_detail_shows_no_secrets(agent, client_for, conversation):
    body = client_for(agent).get(f"{CONVERSATIONS}{conversation.pk}/").json()
    assert body["public_id"] == str(conversation.public_id)
    assert body["status"] == "bot"
    for secret in ("token_hash", "dialog_state", "identity_secret"):
        assert secret not in body


def test_unknown_ids_are_json_404s(agent, client_for, conversation):
    client = client_for(agent)
    for url in (
        f"{CONVERSATIONS}999999/",
        f"{CONVERSATIONS}999999999999999999/messages/",
        f"{CONVERSATIONS}99999999999999999999999999/",
        f"{CONVERSATIONS}abc/",
        "/api/v1/nothing/",
    ):
        response = client.get(url)
        assert response.status_code == 404, url
        assert error_of(response) == "not_found"


def test_agent_replies_through_the_chat_service_once_the_conversation_is_theirs(
    agent, other_agent, client_for, conversation
):
    client = client_for(agent)
    url = f"{CONVERSATIONS}{conversation.pk}/messages/"
    response = client.post(url, {"text": "Hello from the CRM"}, format="json")
    assert response.status_code == 409
    assert error_of(response) == "conflict"
    chat_services.conversation_claim(conversation=conversation, agent=agent)
    response = client.post(url, {"text": "Hello from the CRM"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["author"] == "agent"
    assert response.json()["sender"]["id"] == agent.pk
    # Someone else's conversation: refused, nothing stored.
    other = client_for(other_agent)
    assert other.post(url, {"text": "mine?"}, format="json").status_code == 409
    texts = list(Message.objects.filter(conversation=conversation).values_list("text", flat=True))
    assert "Hello from the CRM" in texts and "mine?" not in texts


@pytest.mark.parametrize(
    "payload",
    [{}, {"text": ""}, {"text": "   "}, {"text": "x" * 5000}, {"text": "a\x00b"}, {"text": None},
     {"text": ["a"]}, []],
)
def test_a_bad_reply_is_a_400_and_stores_nothing(agent, client_for, conversation, payload):
    chat_services.conversation_claim(conversation=conversation, agent=agent)
    before = Message.objects.count()
    response = client_for(agent).post(
        f"{CONVERSATIONS}{conversation.pk}/messages/", payload, format="json"
    )
    assert response.status_code == 400, response.content
    assert error_of(response) == "invalid"
    assert Message.objects.count() == before


def test_malformed_json_is_a_400(agent, client_for, conversation):
    response = client_for(agent).post(
        f"{CONVERSATIONS}{conversation.pk}/messages/", "{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert error_of(response) == "parse_error"


def test_notes_are_private_and_not_messages(agent, client_for, conversation):
    response = client_for(agent).post(
        f"{CONVERSATIONS}{conversation.pk}/notes/", {"text": "VIP, be nice"}, format="json"
    )
    assert response.status_code == 201
    assert Note.objects.filter(conversation=conversation, text="VIP, be nice").exists()
    messages = client_for(agent).get(f"{CONVERSATIONS}{conversation.pk}/messages/").json()
    assert all(m["text"] != "VIP, be nice" for m in messages["results"])


def test_messages_page_in_order_with_a_cursor(agent, client_for, conversation):
    chat_services.conversation_claim(conversation=conversation, agent=agent)
    for i in range(5):
        chat_services.agent_message_create(conversation=conversation, agent=agent, text=f"m{i}")
    client = client_for(agent)
    url = f"{CONVERSATIONS}{conversation.pk}/messages/?page_size=2"
    seqs = []
    while url:
        page = client.get(url).json()
        assert len(page["results"]) <= 2
        seqs += [m["seq"] for m in page["results"]]
        url = page["next"]
    assert seqs == sorted(seqs) and len(seqs) == len(set(seqs)) == conversation.messages.count()


# --- Filters and pagination ----------------------------------------------------------------


@pytest.fixture
def many_conversations(widget, agent):
    label = Label.objects.create(name="vip")
    now = timezone.now()
    made = []
    for i in range(7):
        conversation, _ = chat_services.conversation_start(
            widget=widget, at=now - timedelta(days=i)
        )
        made.append(conversation)
    made[0].labels.add(label)
    chat_services.conversation_claim(conversation=made[1], agent=agent)
    type(made[2]).objects.filter(pk=made[2].pk).update(intent="refund")
    return made


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def test_conversation_filters(agent, client_for, many_conversations):
    client = client_for(agent)
    made = many_conversations
    assert ids(client.get(CONVERSATIONS, {"label": "vip"})) == [made[0].pk]
    assert ids(client.get(CONVERSATIONS, {"agent": agent.pk})) == [made[1].pk]
    assert ids(client.get(CONVERSATIONS, {"status": "agent"})) == [made[1].pk]
    assert ids(client.get(CONVERSATIONS, {"intent": "refund"})) == [made[2].pk]
    since = (timezone.now() - timedelta(days=2, hours=12)).isoformat()
    assert set(ids(client.get(CONVERSATIONS, {"created_after": since}))) == {
        c.pk for c in made[:3]
    }
    until = (timezone.now() - timedelta(days=4, hours=12)).isoformat()
    assert set(ids(client.get(CONVERSATIONS, {"created_before": until}))) == {
        c.pk for c in made[5:]
    }


@pytest.mark.parametrize(
    "params",
    [
        {"status": "sleeping"},
        {"label": "no-such-label"},
        {"agent": "abc"},
        {"agent": "99999999"},
        {"created_after": "yesterday"},
        {"created_after": "2026-02-30T00:00:00Z"},
        {"created_after": "2026-03-02T00:00:00Z", "created_before": "2026-03-01T00:00:00Z"},
        {"intent": "a\x00b"},
        {"page_size": "0"},
        {"page_size": "1000"},
        {"page_size": "ten"},
        {"cursor": "bm9wZQ=="},
        {"cursor": "!!!"},
    ],
)
def test_a_bad_filter_or_page_is_a_400(agent, client_for, many_conversations, params):
    response = client_for(agent).get(CONVERSATIONS, params)
    assert response.status_code == 400, (params, response.content)
    assert error_of(response) == "invalid"
    assert response.json()["fields"]


def test_a_manager_is_no_agent_filter_value(agent, manager, client_for, many_conversations):
    response = client_for(agent).get(CONVERSATIONS, {"agent": manager.pk})
    assert response.status_code == 400


def test_cursor_pages_cover_every_conversation_once(agent, client_for, many_conversations):
    client = client_for(agent)
    url, seen = f"{CONVERSATIONS}?page_size=3", []
    while url:
        response = client.get(url)
        seen += ids(response)
        url = response.json()["next"]
    assert seen == sorted((c.pk for c in many_conversations), reverse=True)


# --- Contacts ------------------------------------------------------------------------------


def test_contacts_list_and_filter(agent, client_for, conversation):
    chat_services.conversation_contact_set(conversation=conversation, email="Kim@Example.com")
    client = client_for(agent)
    rows = client.get(CONTACTS, {"email": "kim@example.com"}).json()["results"]
    assert [r["email"] for r in rows] == ["Kim@Example.com"]
    assert client.get(f"{CONTACTS}{rows[0]['id']}/").json()["widget"] == "acme"
    assert client.get(CONTACTS, {"email": "nobody@example.com"}).json()["results"] == []


# --- Articles ------------------------------------------------------------------------------


@pytest.fixture
def articles(admin):
    intent = Intent.objects.create(slug="refund", name="Refund")
    published = knowledge_services.article_create(
        actor=admin, title="Refunds", body="We refund in 14 days.",
        status=ArticleStatus.PUBLISHED, intents=[intent],
    )
    draft = knowledge_services.article_create(actor=admin, title="Secret plan", body="Draft")
    return published, draft


def test_agents_read_published_articles_admins_read_all(agent, admin, client_for, articles):
    published, draft = articles
    assert ids(client_for(agent).get(ARTICLES)) == [published.pk]
    assert client_for(agent).get(f"{ARTICLES}{draft.pk}/").status_code == 404
    assert ids(client_for(admin).get(ARTICLES)) == [published.pk, draft.pk]
    assert ids(client_for(admin).get(ARTICLES, {"status": "draft"})) == [draft.pk]
    assert ids(client_for(admin).get(ARTICLES, {"intent": "refund"})) == [published.pk]
    assert client_for(admin).get(f"{ARTICLES}{published.pk}/").json()["intents"] == ["refund"]


def test_admins_write_articles_through_the_knowledge_services(admin, client_for, articles):
    client = client_for(admin)
    response = client.post(
        ARTICLES,
        {"title": "Shipping", "body": "We ship **fast**.", "status": "published",
         "intents": ["refund"]},
        format="json",
    )
    assert response.status_code == 201, response.content
    article = Article.objects.get(pk=response.json()["id"])
    assert article.versions.count() == 1  # the knowledge service kept a version
    assert article.updated_by == admin
    response = client.patch(f"{ARTICLES}{article.pk}/", {"title": "Shipping times"}, format="json")
    assert response.status_code == 200, response.content
    article.refresh_from_db()
    assert article.title == "Shipping times" and article.body == "We ship **fast**."
    assert list(article.intents.values_list("slug", flat=True)) == ["refund"]
    assert article.versions.count() == 2


@pytest.mark.parametrize(
    "payload",
    [
        {"title": "", "body": "x"},
        {"title": "   ", "body": "x"},
        {"title": "t" * 201, "body": "x"},
        {"title": "ok", "body": "x", "status": "archived"},
        {"title": "ok", "body": "x", "intents": ["no-such-intent"]},
        {"title": "ok", "body": "x", "intents": ["bad slug!"]},
        {"title": "ok\x00", "body": "x"},
        {"body": "x"},
    ],
)
def test_a_bad_article_is_a_400_and_changes_nothing(admin, client_for, articles, payload):
    before = Article.objects.count()
    response = client_for(admin).post(ARTICLES, payload, format="json")
    assert response.status_code == 400, (payload, response.content)
    assert error_of(response) == "invalid"
    assert Article.objects.count() == before


def test_agents_cannot_write_articles(agent, client_for, articles):
    published, _ = articles
    client = client_for(agent)
    assert client.post(ARTICLES, {"title": "x", "body": "y"}, format="json").status_code == 403
    response = client.patch(f"{ARTICLES}{published.pk}/", {"title": "Hacked"}, format="json")
    assert response.status_code == 403
    published.refresh_from_db()
    assert published.title == "Refunds"


def test_articles_cannot_be_deleted(admin, client_for, articles):
    response = client_for(admin).delete(f"{ARTICLES}{articles[0].pk}/")
    assert response.status_code == 405
    assert error_of(response) == "method_not_allowed"


# --- Reporting events ----------------------------------------------------------------------


def test_events_filter_by_name_conversation_and_time(manager, agent, client_for, widget):
    first, _ = chat_services.conversation_start(
        widget=widget, at=timezone.now() - timedelta(days=3)
    )
    second, _ = chat_services.conversation_start(widget=widget)
    chat_services.conversation_claim(conversation=second, agent=agent)
    client = client_for(manager)
    rows = client.get(EVENTS, {"name": "conversation_started"}).json()["results"]
    assert [r["conversation"] for r in rows] == [first.pk, second.pk]
    rows = client.get(EVENTS, {"conversation": second.pk}).json()["results"]
    assert {r["conversation"] for r in rows} == {second.pk}
    since = (timezone.now() - timedelta(days=1)).isoformat()
    rows = client.get(EVENTS, {"occurred_after": since, "name": "conversation_started"})
    assert [r["conversation"] for r in rows.json()["results"]] == [second.pk]
    assert client.get(EVENTS, {"name": "nonsense"}).status_code == 400
    assert client.get(EVENTS, {"conversation": "0"}).status_code == 400


# --- Throttling ----------------------------------------------------------------------------


def test_over_the_budget_is_a_429_with_retry_after(agent, client_for, settings):
    from django.core.cache import cache

    from api.throttling import ApiUserThrottle

    # This user id's count from an earlier test (ids come back after a rollback).
    cache.delete(ApiUserThrottle.cache_format % {"scope": "api", "ident": agent.pk})
    settings.API_RATE_LIMIT = (3, 60.0)
    client = client_for(agent)
    statuses = [client.get(CONTACTS).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    response = client.get(CONTACTS)
    assert error_of(response) == "throttled"
    assert int(response["Retry-After"]) > 0


# --- Schema and docs -----------------------------------------------------------------------


def test_the_schema_is_served_and_lists_every_endpoint(client):
    response = client.get("/api/schema/?format=json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert {
        "/api/v1/conversations/", "/api/v1/conversations/{id}/messages/", "/api/v1/contacts/",
        "/api/v1/articles/", "/api/v1/events/",
    } <= set(schema["paths"])
    assert schema["components"]["securitySchemes"]["apiToken"]["scheme"] == "bearer"


def test_the_docs_page_uses_project_static_files_and_no_inline_script(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "<style" not in html and "<script>" not in html and "style=" not in html
    assert "script-src 'self'" in response["Content-Security-Policy"]
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200
    assert "SwaggerUIBundle" in script.content.decode()



# --- Query counts --------------------------------------------------------------------------


def test_lists_take_a_fixed_number_of_queries(
    agent, admin, manager, client_for, widget, django_assert_max_num_queries
):
    label = Label.objects.create(name="vip")
    intent = Intent.objects.create(slug="refund", name="Refund")
    for i in range(12):
        conversation, _ = chat_services.conversation_start(widget=widget)
        conversation.labels.add(label)
        chat_services.conversation_contact_set(conversation=conversation, email=f"c{i}@ex.com")
        chat_services.conversation_claim(conversation=conversation, agent=agent)
        knowledge_services.article_create(
            actor=admin, title=f"A{i}", body="b", status="published", intents=[intent]
        )
    cases = [
        (client_for(agent), CONVERSATIONS, 12),
        (client_for(agent), CONTACTS, 12),
        (client_for(admin), ARTICLES, 12),
        (client_for(manager), EVENTS, 12),
    ]
    for client, url, rows in cases:
        # Token, roles, last-used stamp, the page, and one prefetch per many-relation.
        with django_assert_max_num_queries(8):
            response = client.get(url, {"page_size": 100})
        assert len(response.json()["results"]) >= rows, url


def test_a_conversation_gives_where_replies_go_beside_the_verified_contact(
    client_for, agent, widget
):
    from chat.identity import Identity

    conversation, _ = chat_services.conversation_start(
        widget=widget, identity=Identity("cust-5", "lee@shop.example", "Lee"))
    client = client_for(agent)
    body = client.get(f"/api/v1/conversations/{conversation.pk}/").json()
    assert body["reply_email"] == "" and body["contact"]["is_verified"]
    chat_services.conversation_contact_set(conversation=conversation,
                                           email="lee.home@mail.example")
    body = client.get(f"/api/v1/conversations/{conversation.pk}/").json()
    assert body["reply_email"] == "lee.home@mail.example"
    assert body["contact"]["email"] == "lee@shop.example"
