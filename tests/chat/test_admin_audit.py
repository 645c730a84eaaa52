"""chat.admin: widget changes in the Django admin reach the audit log; the identity secret's
rotation is recorded with who and when, never the secret."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from accounts.roles import ADMINS
from chat.identity import widget_secret_rotate
from chat.models import Widget
from knowledge.models import AuditLogEntry

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/chat/widget/"


def test_rotating_the_identity_secret_is_audited_without_the_secret(admin_client, admin_user,
                                                                   widget):
    response = admin_client.post(CHANGELIST, {"action": "rotate_identity_secret",
                                              "_selected_action": [widget.pk]})
    # The message that carries the secret to the next page waits in the server-side session,
    # never in a cookie (signed, not encrypted).
    assert response.status_code == 302
    assert "messages" not in response.cookies
    response = admin_client.get(response["Location"])
    widget.refresh_from_db()
    assert widget.identity_secret and widget.identity_secret in response.content.decode()
    entry = AuditLogEntry.objects.get(action="widget.secret_rotate")
    assert (entry.actor, entry.object_id, entry.object_repr) == (admin_user, str(widget.pk),
                                                                  "acme")
    assert entry.created_at is not None
    assert widget.identity_secret not in str(entry.changes)
    admin_user.groups.add(Group.objects.get(name=ADMINS))
    page = admin_client.get("/knowledge/audit/").content.decode()
    assert "widget.secret_rotate" in page and widget.identity_secret not in page


def widget_form(widget, **changes):
    data = {"public_key": widget.public_key, "name": widget.name,
            "display_name": widget.display_name, "allowed_origins": '["https://shop.example"]',
            "greeting": widget.greeting, "is_active": "on"}
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def test_changing_allowed_origins_and_turning_a_widget_off_is_audited(admin_client, admin_user,
                                                                      widget):
    response = admin_client.post(
        f"{CHANGELIST}{widget.pk}/change/",
        widget_form(widget, allowed_origins='["https://evil.example"]', is_active=None),
    )
    assert response.status_code == 302
    entry = AuditLogEntry.objects.get(action="widget.update")
    assert entry.actor == admin_user
    assert entry.changes["allowed_origins"] == [["https://shop.example", "self"],
                                                ["https://evil.example"]]
    assert entry.changes["is_active"] == [True, False]
    assert "identity_secret" not in entry.changes


def test_a_refused_widget_change_changes_nothing_and_audits_nothing(admin_client, widget):
    response = admin_client.post(f"{CHANGELIST}{widget.pk}/change/",
                                 widget_form(widget, allowed_origins='["not an origin"]'))
    assert response.status_code == 200  # the form again, with the error
    widget.refresh_from_db()
    assert widget.allowed_origins == ["https://shop.example", "self"]
    assert not AuditLogEntry.objects.exists()


def test_widget_create_and_delete_are_audited(admin_client, admin_user):
    response = admin_client.post(f"{CHANGELIST}add/", {
        "public_key": "beta", "name": "Beta", "display_name": "", "greeting": "",
        "allowed_origins": '["self"]', "is_active": "on"})
    assert response.status_code == 302
    created = Widget.objects.get(public_key="beta")
    assert AuditLogEntry.objects.get(action="widget.create").changes["allowed_origins"] == [
        None, ["self"]]
    admin_client.post(f"{CHANGELIST}{created.pk}/delete/", {"post": "yes"})
    assert not Widget.objects.filter(public_key="beta").exists()
    assert AuditLogEntry.objects.get(action="widget.delete").object_repr == "beta"


def test_the_audit_log_cannot_be_edited_or_erased_in_the_admin(admin_client, widget):
    widget_secret_rotate(actor=None, widget=widget)
    entry = AuditLogEntry.objects.get()
    url = f"/admin/knowledge/auditlogentry/{entry.pk}/"
    assert admin_client.get(url + "change/").status_code == 200  # readable
    admin_client.post(url + "change/", {"action": "nothing", "object_type": "x"})
    assert admin_client.post(url + "delete/", {"post": "yes"}).status_code == 403
    admin_client.post("/admin/knowledge/auditlogentry/", {
        "action": "delete_selected", "_selected_action": [entry.pk], "post": "yes"})
    assert AuditLogEntry.objects.get().action == "widget.secret_rotate"
