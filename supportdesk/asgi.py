"""ASGI entry point: HTTP through Django, WebSockets through the Channels routers of ``chat``."""

import os
import threading

from django.conf import settings
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "supportdesk.settings")

django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from chat.routing import websocket_urlpatterns  # noqa: E402
from chat.tasks import bot_preload  # noqa: E402

if settings.CELERY_TASK_ALWAYS_EAGER:
    # The embedded defaults answer in this process: load the bot now, not for the first customer.
    threading.Thread(target=bot_preload, name="bot-preload", daemon=True).start()
from chat.origins import AllowedHostsValidator  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # Host is checked here against ALLOWED_HOSTS for both sockets. Origins are checked per
        # widget (customers) or as the exact server origin (staff) by the consumers themselves:
        # a site-wide validator cannot know each widget's allow-list.
        "websocket": AllowedHostsValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
