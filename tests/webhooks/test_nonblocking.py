"""A receiver that does not answer delays no chat: the chat's write returns while the delivery
waits (eager Celery, as on the embedded defaults, runs the delivery in a thread of its own).

On PostgreSQL (the services pass): the test's in-memory SQLite database, shared between
threads, locks whole tables without waiting ("database table is locked"), which a real
SQLite file (WAL and a busy timeout) does not."""

from __future__ import annotations

import threading
import time

import pytest

from chat import services as chat_services
from webhooks import services
from webhooks.models import Delivery, DeliveryStatus

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services]


def _wait(predicate, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_chat_writes_return_while_the_receiver_holds_the_delivery(
    admin_user, receiver, widget, loopback_allowed
):
    receiver.hold = threading.Event()
    endpoint, receiver.secret = services.endpoint_create(
        actor=admin_user, url=receiver.url, events=["conversation.created", "message.created"],
    )
    conversation, _ = chat_services.conversation_start(widget=widget)
    assert receiver.arrived.wait(10)  # the delivery is in flight, held by the receiver
    chat_services.message_create_incoming(
        conversation=conversation, text="still here?", client_id=None, queue_bot=False
    )
    # Both writes came back while the first delivery was still unanswered.
    assert receiver.received == []
    assert Delivery.objects.filter(status=DeliveryStatus.PENDING).count() == 2
    receiver.hold.set()
    assert _wait(lambda: not Delivery.objects.filter(status=DeliveryStatus.PENDING).exists())
    assert [r.event for r in receiver.received] == ["conversation.created", "message.created"]
    assert all(r.signature_ok for r in receiver.received)
    del endpoint
