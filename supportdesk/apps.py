from django.apps import AppConfig
from django.db.models.signals import post_migrate


class SupportDeskConfig(AppConfig):
    name = "supportdesk"
    verbose_name = "SupportDesk"

    def ready(self) -> None:
        from .roles import ensure_role_groups

        # Groups and their permissions must exist on every database, including a test one.
        post_migrate.connect(ensure_role_groups, sender=self)
