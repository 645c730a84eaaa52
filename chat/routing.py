from django.urls import path

from .console.consumers import ConsoleConsumer
from .consumers import ChatConsumer

websocket_urlpatterns = [
    path("ws/chat/", ChatConsumer.as_asgi()),
    path("ws/console/", ConsoleConsumer.as_asgi()),
]
