"""Login throttling and lockout (django-axes) on the login page and the Django admin."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import override_settings

from knowledge.models import AuditLogEntry

PASSWORD = "a-long-password-42"


@pytest.fixture
def person(db) -> User:
    return User.objects.create_user(username="pat", password=PASSWORD, is_staff=True,
                                    is_superuser=True)


def post_login(client, url: str, username: str, password: str, address: str = "10.0.0.1"):
    return client.post(url, {"username": username, "password": password},
                       REMOTE_ADDR=address)


@pytest.mark.django_db
@override_settings(AXES_FAILURE_LIMIT=4)
@pytest.mark.parametrize("url", ["/accounts/login/", "/admin/login/"])
def test_wrong_passwords_lock_the_user_name_out_even_for_the_right_one(client, person, url):
    for attempt in range(4):
        response = post_login(client, url, "pat", f"wrong-{attempt}", address=f"10.0.0.{attempt}")
        assert response.status_code in (200, 429)
    response = post_login(client, url, "pat", PASSWORD, address="10.9.9.9")
    assert response.status_code == 429
    page = response.content.decode()
    assert "Too many failed logins" in page and "try again in 15 minutes" in page
    assert response["Retry-After"] == "900"
    assert "_auth_user_id" not in client.session
    entries = AuditLogEntry.objects.filter(action="login_locked_out", object_repr="pat")
    assert entries.count() == 1
    # [before, after], as every entry's changes: the audit page shows the address whole.
    assert entries.get().changes == {"ip_address": [None, "10.0.0.3"]}
    # More tries while locked out do not fill the audit log.
    post_login(client, url, "pat", "again-wrong", address="10.0.0.1")
    assert entries.count() == 1


@pytest.mark.django_db
@override_settings(AXES_FAILURE_LIMIT=3)
def test_wrong_passwords_from_one_address_lock_that_address_out(client, person):
    for name in ("ann", "bob", "cy"):
        post_login(client, "/accounts/login/", name, "guess", address="192.0.2.7")
    assert post_login(client, "/accounts/login/", "pat", PASSWORD, address="192.0.2.7"
                      ).status_code == 429
    # Another address still logs the same user in.
    response = post_login(client, "/accounts/login/", "pat", PASSWORD, address="192.0.2.8")
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(person.pk)


@pytest.mark.django_db
@override_settings(AXES_FAILURE_LIMIT=3)
def test_a_right_password_before_the_limit_clears_the_count(client, person):
    for _ in range(2):
        post_login(client, "/accounts/login/", "pat", "wrong")
    assert post_login(client, "/accounts/login/", "pat", PASSWORD).status_code == 302
    client.logout()
    for _ in range(2):
        post_login(client, "/accounts/login/", "pat", "wrong", address="10.0.0.2")
    assert post_login(client, "/accounts/login/", "pat", PASSWORD,
                      address="10.0.0.3").status_code == 302
    assert not AuditLogEntry.objects.filter(action="login_locked_out").exists()
