from django.apps import AppConfig


class SupportDeskConfig(AppConfig):
    """The project itself: settings, URLs, the ASGI and Celery entry points, the health
    report and the demo. It sits above the apps: it may import them, none imports it."""

    name = "supportdesk"
    verbose_name = "SupportDesk"
