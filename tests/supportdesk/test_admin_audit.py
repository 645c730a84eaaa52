"""supportdesk.admin: a staff account's roles and access flags, changed in the Django admin,
reach the audit log (who, when, before and after); a password set there is audited without
the password."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User

from accounts.roles import ADMINS
from knowledge.models import AuditLogEntry

pytestmark = pytest.mark.django_db


def change_form(user, **changes):
    data = {"username": user.username, "first_name": "", "last_name": "", "email": "",
            "is_active": "on", "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00",
            "initial-date_joined_0": "2026-01-01", "initial-date_joined_1": "00:00:00"}
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def test_granting_a_role_is_audited(admin_client, admin_user):
    agent = User.objects.create_user("ana", password="pw-1-long-enough")
    admins = Group.objects.get(name=ADMINS)
    response = admin_client.post(f"/admin/auth/user/{agent.pk}/change/",
                                 change_form(agent, groups=[admins.pk], is_staff="on"))
    assert response.status_code == 302, response.content.decode()[:2000]
    assert list(agent.groups.values_list("name", flat=True)) == [ADMINS]
    entry = AuditLogEntry.objects.get(action="user.access_change")
    assert entry.actor == admin_user and entry.object_repr == "ana"
    assert entry.changes["groups"] == [[], [ADMINS]]
    assert entry.changes["is_staff"] == [False, True]


def test_a_change_without_access_fields_is_not_audited(admin_client):
    agent = User.objects.create_user("bo", password="pw-1-long-enough")
    admin_client.post(f"/admin/auth/user/{agent.pk}/change/",
                      change_form(agent, first_name="Bo"))
    assert User.objects.get(pk=agent.pk).first_name == "Bo"
    assert not AuditLogEntry.objects.filter(action="user.access_change").exists()


def test_a_password_set_in_the_admin_is_audited_without_it(admin_client, admin_user):
    agent = User.objects.create_user("cy", password="pw-1-long-enough")
    new = "Another-long-passw0rd!"
    response = admin_client.post(f"/admin/auth/user/{agent.pk}/password/",
                                 {"password1": new, "password2": new,
                                  "usable_password": "true"})
    assert response.status_code == 302
    entry = AuditLogEntry.objects.get(action="user.password_set")
    assert entry.actor == admin_user and entry.object_repr == "cy"
    assert new not in str(entry.changes) and new not in entry.object_repr
