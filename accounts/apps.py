from typing import Any

from django.apps import AppConfig, apps
from django.db.models.signals import post_migrate


def _after_last_app_migrated(app_config: AppConfig, **kwargs: Any) -> None:
    # post_migrate fires once per app with models; the permissions of every app exist only
    # after the last one, so the role groups are granted then.
    with_models = [config for config in apps.get_app_configs() if config.models_module]
    if app_config is with_models[-1]:
        from .roles import ensure_role_groups

        ensure_role_groups()


class AccountsConfig(AppConfig):
    """The staff roles (``roles.py``): the lowest app, which every other app may import."""

    name = "accounts"
    verbose_name = "Staff roles"

    def ready(self) -> None:
        # Groups and their permissions must exist on every database, including a test one.
        post_migrate.connect(_after_last_app_migrated, dispatch_uid="supportdesk-roles")
