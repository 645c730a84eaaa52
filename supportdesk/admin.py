"""Staff accounts in the Django admin, with every change of a role or an access flag audited.

Django's own ``UserAdmin``, unchanged but for ``save_related`` (which runs after the groups
are saved): a new account, and a change of its roles (groups), permissions, ``is_staff``,
``is_superuser`` or ``is_active``, goes to the knowledge audit log (``knowledge.audit``), as
do password changes made in the admin (who and when, never the password).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.http import HttpRequest, HttpResponse

from knowledge.audit import audit_record

ACCESS_FIELDS = ("groups", "user_permissions", "is_staff", "is_superuser", "is_active")
User = get_user_model()


def access_value(value: Any) -> Any:
    """A field's value as the audit log shows it: sorted names for groups and permissions."""
    if isinstance(value, bool) or value is None:
        return value
    return sorted(str(item) for item in value)


class AuditedUserAdmin(UserAdmin):
    """``UserAdmin`` whose changes of access are audited (see the module)."""

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        """Saves the groups and permissions, then audits the access fields that changed."""
        super().save_related(request, form, formsets, change)
        user = form.instance
        if not change:
            audit_record(actor=request.user, action="user.create", obj=user)
            return
        changes = {
            name: [access_value(form.initial.get(name)), access_value(form.cleaned_data.get(name))]
            for name in ACCESS_FIELDS if name in form.changed_data
        }
        if changes:
            audit_record(actor=request.user, action="user.access_change", obj=user,
                         changes=changes)

    def user_change_password(
        self, request: HttpRequest, id: str, form_url: str = ""
    ) -> HttpResponse:
        """Django's password page; a password set there is audited (never the password)."""
        response = super().user_change_password(request, id, form_url)
        if request.method == "POST" and response.status_code == 302:
            user = User.objects.filter(pk=id).first()
            if user is not None:
                audit_record(actor=request.user, action="user.password_set", obj=user)
        return response

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        """Deletes the account, with an audit entry."""
        audit_record(actor=request.user, action="user.delete", obj=obj)
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        """The bulk delete action, with one audit entry per account."""
        for user in queryset:
            audit_record(actor=request.user, action="user.delete", obj=user)
        super().delete_queryset(request, queryset)


if admin.site.is_registered(User):
    admin.site.unregister(User)
admin.site.register(User, AuditedUserAdmin)
