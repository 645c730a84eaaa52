from django.apps import AppConfig


class ApiConfig(AppConfig):
    """The REST API (``/api/v1/``): per-user tokens, and read and write doors over the other
    apps' selectors and services. It sits above ``chat``, ``analytics`` and ``knowledge``."""

    name = "api"
    verbose_name = "REST API"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the token scheme with drf-spectacular (an OpenAPI security scheme).
        from . import schema  # noqa: F401
