"""The API tokens page (api/pages.py): every staff role makes, sees once and revokes tokens."""

from __future__ import annotations

import re

import pytest
from rest_framework.test import APIClient

from api.models import ApiToken

from .conftest import make_user

pytestmark = pytest.mark.django_db

TOKENS = "/api/tokens/"


@pytest.mark.parametrize("role", ["agents", "managers", "admins"])
def test_each_role_makes_a_token_shown_once_that_then_works(client, role):
    user = make_user(f"u-{role}", role)
    client.force_login(user)
    response = client.post(TOKENS, {"name": "CRM sync"})
    # Post/redirect/get: a reload of the page that shows the token makes no second one.
    assert response.status_code == 302 and response["Location"] == TOKENS
    response = client.get(TOKENS)
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    html = response.content.decode()
    raw = re.search(r'data-sd="token-value">(sdk_[A-Za-z0-9_-]+)<', html).group(1)
    token = ApiToken.objects.get(user=user)
    assert token.name == "CRM sync" and raw.startswith(token.prefix)
    # Shown once: a reload, and the list page later, never show it again.
    again = client.get(TOKENS).content.decode()
    assert raw not in again and 'data-sd="token-created"' not in again
    assert ApiToken.objects.filter(user=user).count() == 1
    assert raw not in str(dict(client.session))  # taken out of the session once shown
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    # Each role reaches its own area of the API with the token.
    url = {"agents": "/api/v1/contacts/", "managers": "/api/v1/events/",
           "admins": "/api/v1/articles/"}[role]
    assert api.get(url).status_code == 200


def test_anonymous_users_go_to_login_and_roleless_users_get_403(client):
    response = client.get(TOKENS)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    client.force_login(make_user("nobody"))
    assert client.get(TOKENS).status_code == 403
    assert client.post(TOKENS, {"name": "x"}).status_code == 403
    assert not ApiToken.objects.exists()


@pytest.mark.parametrize("name", ["", "   ", "x" * 81, "a\x00b"])
def test_a_bad_name_is_refused_and_makes_nothing(client, name):
    client.force_login(make_user("ada", "agents"))
    response = client.post(TOKENS, {"name": name})
    assert response.status_code == 400
    assert 'data-sd="token-error"' in response.content.decode()
    assert 'data-sd="token-created"' not in response.content.decode()
    assert not ApiToken.objects.exists()


def test_revoking_stops_the_token_and_another_users_token_is_a_404(client):
    ada = make_user("ada", "agents")
    client.force_login(ada)
    raw = re.search(
        r'data-sd="token-value">(sdk_[^<]+)<',
        client.post(TOKENS, {"name": "a"}, follow=True).content.decode(),
    ).group(1)
    token = ApiToken.objects.get(user=ada)
    bo = make_user("bo", "agents")
    client.force_login(bo)
    assert client.post(f"/api/tokens/{token.pk}/revoke/").status_code == 404
    assert client.get(f"/api/tokens/{token.pk}/revoke/").status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None
    client.force_login(ada)
    # The list's "Revoke…" asks first: the token's name and what stops working.
    listed = client.get(TOKENS).content.decode()
    assert f'href="/api/tokens/{token.pk}/revoke/" data-sd="token-revoke"' in listed
    confirm = client.get(f"/api/tokens/{token.pk}/revoke/")
    assert confirm.status_code == 200
    page = confirm.content.decode()
    assert 'data-sd="token-revoke-name">a<' in page and "401 Unauthorized" in page
    assert raw not in page and 'data-sd="token-revoke-cancel"' in page
    token.refresh_from_db()
    assert token.revoked_at is None  # asking changed nothing
    assert client.put(f"/api/tokens/{token.pk}/revoke/").status_code == 405
    response = client.post(f"/api/tokens/{token.pk}/revoke/")
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api.get("/api/v1/contacts/").status_code == 401
    listed = client.get(TOKENS).content.decode()
    assert "revoked" in listed and "Token &quot;a&quot; revoked: it answers 401" in listed
    # A revoked token's confirmation page leads back to the list.
    assert client.get(f"/api/tokens/{token.pk}/revoke/")["Location"] == TOKENS


def test_the_revoke_form_needs_the_csrf_token(client):
    from django.test import Client

    ada = make_user("ada", "agents")
    client.force_login(ada)
    client.post(TOKENS, {"name": "a"})
    token = ApiToken.objects.get(user=ada)
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(ada)
    assert strict.post(f"/api/tokens/{token.pk}/revoke/").status_code == 403
    token.refresh_from_db()
    assert token.revoked_at is None


def test_the_console_profile_links_to_the_tokens_page(client):
    client.force_login(make_user("ada", "agents"))
    assert 'href="/api/tokens/"' in client.get("/console/profile/").content.decode()


@pytest.mark.parametrize("role", ["agents", "managers", "admins"])
def test_every_staff_page_links_to_the_tokens_page(client, role):
    client.force_login(make_user(f"u-{role}", role))
    html = client.get(TOKENS).content.decode()
    assert 'data-sd="nav-api-tokens"' in html


def test_no_tokens_link_for_a_user_without_a_role(client):
    client.force_login(make_user("nobody"))
    assert 'data-sd="nav-api-tokens"' not in client.get("/").content.decode()
