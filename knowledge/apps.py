from typing import Any

from django.apps import AppConfig


def _login_locked_out(sender: Any, *, request: Any, username: str | None, ip_address: str | None,
                      **kwargs: Any) -> None:
    from axes.helpers import get_cool_off

    from .audit import audit_login_lockout

    audit_login_lockout(
        username=username or "", ip_address=ip_address or "", cooloff=get_cool_off(request)
    )


class KnowledgeConfig(AppConfig):
    name = "knowledge"
    verbose_name = "Knowledge and taxonomy"

    def ready(self) -> None:
        from axes.signals import user_locked_out

        # The audit log keeps every login lockout django-axes decides (on the login page and
        # the admin alike).
        user_locked_out.connect(_login_locked_out, dispatch_uid="knowledge-login-lockout")
