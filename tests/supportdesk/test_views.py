import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse

from accounts.roles import ADMINS, AGENTS, MANAGERS
from supportdesk import health

AREAS = {"console": "/console/", "knowledge": "/knowledge/", "analytics": "/analytics/"}
ALLOWED = {
    AGENTS: {"console"},
    ADMINS: {"knowledge", "analytics"},
    MANAGERS: {"analytics"},
}


def make_user(role: str | None, username: str = "person") -> User:
    user = User.objects.create_user(username=username, password="a-long-password-42")
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


@pytest.mark.django_db
def test_role_groups_exist_with_permissions():
    for role in (ADMINS, AGENTS, MANAGERS):
        group = Group.objects.get(name=role)
        assert group.permissions.exists(), role
    assert Group.objects.get(name=ADMINS).permissions.filter(codename="change_intent").exists()
    assert not Group.objects.get(name=AGENTS).permissions.filter(codename="change_intent").exists()


@pytest.mark.django_db
@pytest.mark.parametrize("role", [ADMINS, AGENTS, MANAGERS])
def test_each_role_reaches_only_its_areas(client, role):
    client.force_login(make_user(role))
    for area, url in AREAS.items():
        response = client.get(url)
        expected = 200 if area in ALLOWED[role] else 403
        assert response.status_code == expected, (role, url)


@pytest.mark.django_db
@pytest.mark.parametrize("role", [ADMINS, AGENTS, MANAGERS])
def test_navigation_shows_the_roles_areas(client, role):
    client.force_login(make_user(role))
    home = client.get("/", follow=True)
    html = home.content.decode()
    for area in AREAS:
        assert (f'data-sd="nav-{area}"' in html) == (area in ALLOWED[role]), (role, area)


@pytest.mark.django_db
def test_anonymous_users_are_sent_to_login(client):
    for url in [*AREAS.values(), "/"]:
        response = client.get(url)
        assert response.status_code == 302
        assert response.url.startswith(reverse("login"))


@pytest.mark.django_db
def test_wrong_password_shows_one_error_that_reveals_nothing(client):
    make_user(AGENTS, username="agent")
    for username, password in [("agent", "wrong-password"), ("nobody", "a-long-password-42")]:
        response = client.post(reverse("login"), {"username": username, "password": password})
        assert response.status_code == 200
        html = response.content.decode()
        assert "do not match an account" in html
        assert "_auth_user_id" not in client.session
    # The same message for a wrong password and an unknown user: nothing tells them apart.


@pytest.mark.django_db
def test_login_then_logout(client):
    make_user(AGENTS, username="agent")
    response = client.post(
        reverse("login"), {"username": "agent", "password": "a-long-password-42"}
    )
    assert response.status_code == 302
    assert client.get("/console/").status_code == 200
    client.post(reverse("logout"))
    assert client.get("/console/").status_code == 302


@pytest.mark.django_db
def test_healthz_reports_every_part(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    # Embedded (eager Celery): no beat runs, so none is reported, well or failing.
    assert set(body["checks"]) == {
        "database", "channel_layer", "broker", "worker", "owed_answers"
    }
    assert all(check["ok"] for check in body["checks"].values())


@pytest.mark.django_db
def test_healthz_answers_503_when_a_part_is_down(client, monkeypatch):
    def broken():
        return {"ok": False, "backend": "redis", "ms": 1.0, "error": "ConnectionError"}

    monkeypatch.setattr(health, "check_broker", broken)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["broker"]["error"] == "ConnectionError"


@pytest.mark.django_db
def test_pages_carry_a_strict_content_security_policy(client):
    response = client.get(reverse("login"))
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp


@pytest.mark.django_db
def test_demo_store_embeds_the_widget_snippet(client, demo):
    html = client.get("/demo/").content.decode()
    assert 'data-widget="demo"' in html
    assert "/static/chat/widget.js" in html


@pytest.mark.django_db
def test_a_403_is_logged_in_one_line_without_a_traceback(client, caplog):
    """Issue 15, item 8: every refused page logged a 60-line traceback."""
    client.force_login(make_user(MANAGERS))
    with caplog.at_level("WARNING", logger="django.request"):
        assert client.get("/console/").status_code == 403
    refused = [r for r in caplog.records if r.name == "django.request"]
    assert refused and all(r.exc_info is None for r in refused)
    assert "Traceback" not in caplog.text


@pytest.mark.django_db
def test_a_server_error_keeps_its_traceback():
    import logging

    from supportdesk.reporting import ClientErrorTracebackFilter

    try:
        raise RuntimeError("boom")
    except RuntimeError:
        import sys

        exc_info = sys.exc_info()
    for status, kept in ((500, True), (403, False), (None, True)):
        record = logging.LogRecord("django.request", 40, __file__, 1, "x", (), exc_info)
        if status is not None:
            record.status_code = status
        assert ClientErrorTracebackFilter().filter(record)
        assert (record.exc_info is not None) is kept
