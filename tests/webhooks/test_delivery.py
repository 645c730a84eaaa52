"""webhooks.delivery against a receiver on a loopback port: signed bodies, retries after 500s,
the order of event ids per endpoint, and a redirecting, slow or unreachable receiver."""

from __future__ import annotations

import socket

import pytest

from chat import services as chat_services
from webhooks import services
from webhooks.delivery import endpoint_deliver
from webhooks.models import Delivery, DeliveryAttempt, DeliveryStatus, Endpoint, Event

pytestmark = pytest.mark.django_db


@pytest.fixture
def endpoint(admin_user, receiver, loopback_allowed):
    endpoint, secret = services.endpoint_create(
        actor=admin_user, url=receiver.url,
        events=["conversation.created", "message.created", "rating.created"],
    )
    receiver.secret = secret
    return endpoint


def _chat(widget, messages: int = 3):
    conversation, _ = chat_services.conversation_start(widget=widget)
    for number in range(messages):
        chat_services.message_create_incoming(
            conversation=conversation, text=f"message {number}", client_id=None,
            queue_bot=False,
        )
    return conversation


def test_every_event_arrives_signed_once_in_id_order(endpoint, receiver, widget):
    _chat(widget)
    run = endpoint_deliver(endpoint.pk)
    assert run.sent == 4 and not run.more and run.retry_in is None
    ids = list(Event.objects.order_by("id").values_list("public_id", flat=True))
    assert receiver.event_ids() == ids
    assert all(r.signature_ok for r in receiver.received)
    assert [r.body["type"] for r in receiver.received] == [
        "conversation.created", "message.created", "message.created", "message.created"
    ]
    assert [r.body["data"]["message"]["text"] for r in receiver.received[1:]] == [
        "message 0", "message 1", "message 2"
    ]
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.DELIVERED}
    assert endpoint_deliver(endpoint.pk).sent == 0  # nothing is sent twice


def test_after_500s_the_same_event_is_retried_before_any_later_one(
    endpoint, receiver, widget, settings
):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 0  # every retry due at once
    receiver.statuses = [200, 500, 500]  # the second event fails twice
    _chat(widget, messages=2)
    endpoint_deliver(endpoint.pk)
    ids = list(Event.objects.order_by("id").values_list("public_id", flat=True))
    assert receiver.event_ids() == [ids[0], ids[1], ids[1], ids[1], ids[2]]
    assert receiver.event_ids(ok_only=True) == ids
    assert all(r.signature_ok for r in receiver.received)
    failed = Delivery.objects.get(event__public_id=ids[1])
    assert failed.status == DeliveryStatus.DELIVERED and failed.attempts == 3
    log = list(failed.log.order_by("id"))
    assert [(a.ok, a.status_code) for a in log] == [(False, 500), (False, 500), (True, 200)]
    assert log[0].body_excerpt == "boom: the receiver failed" and log[0].duration_ms > 0
    assert Endpoint.objects.get().failing_since is None


def test_a_failed_head_holds_back_the_later_events_until_its_retry_is_due(
    endpoint, receiver, widget
):
    receiver.statuses = [500]
    _chat(widget, messages=1)
    run = endpoint_deliver(endpoint.pk)
    assert run.sent == 1 and run.retry_in is not None and run.retry_in > 0
    assert len(receiver.received) == 1
    assert Delivery.objects.filter(status=DeliveryStatus.PENDING).count() == 2
    assert services.endpoints_due() == []  # the dispatcher waits for the retry time too


def test_a_redirect_is_not_followed(endpoint, receiver, widget):
    receiver.redirect_to = "http://other-host.invalid/steal"
    chat_services.conversation_start(widget=widget)
    endpoint_deliver(endpoint.pk)
    attempt = DeliveryAttempt.objects.get()
    assert (attempt.ok, attempt.status_code, attempt.error) == (
        False, 302, "redirect not followed"
    )
    assert len(receiver.received) == 1


def test_a_slow_receiver_times_out(endpoint, receiver, widget, settings):
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.3
    receiver.delay = 2.0
    chat_services.conversation_start(widget=widget)
    endpoint_deliver(endpoint.pk)
    attempt = DeliveryAttempt.objects.get()
    assert (attempt.ok, attempt.error) == (False, "timeout")
    assert 250 < attempt.duration_ms < 1900


def test_an_unreachable_receiver_is_a_failed_attempt(admin_user, widget, loopback_allowed):
    with socket.socket() as sock:  # a port that nothing listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    endpoint, _ = services.endpoint_create(
        actor=admin_user, url=f"http://127.0.0.1:{port}/h", events=["conversation.created"]
    )
    chat_services.conversation_start(widget=widget)
    endpoint_deliver(endpoint.pk)
    attempt = DeliveryAttempt.objects.get()
    assert not attempt.ok
    # The reason, naming the host, without the system's error number or the exception's class.
    assert attempt.error.startswith("connection to 127.0.0.1 failed: ")
    assert "refused" in attempt.error.lower() and "Errno" not in attempt.error


def test_a_host_that_no_longer_resolves_says_so_on_the_delivery_page(
    admin_user, widget, monkeypatch, loopback_allowed
):
    def registered(host, port, *args, **kwargs):  # the name resolved when it was registered
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port))]

    monkeypatch.setattr(socket, "getaddrinfo", registered)
    endpoint, _ = services.endpoint_create(
        actor=admin_user, url="https://hooks.gone.example/h", events=["conversation.created"]
    )

    def no_such_name(host, *args, **kwargs):  # the name's records were removed since
        raise socket.gaierror(socket.EAI_NONAME, f"{host}: Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_name)
    chat_services.conversation_start(widget=widget)
    endpoint_deliver(endpoint.pk)
    attempt = DeliveryAttempt.objects.get()
    assert not attempt.ok
    assert attempt.error.startswith("connection failed: hooks.gone.example does not resolve")
    assert len(attempt.error) <= 200 and "Errno" not in attempt.error


def test_a_private_address_is_refused_at_delivery_time_too(endpoint, receiver, widget,
                                                           settings):
    chat_services.conversation_start(widget=widget)
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False  # turned off after it was registered
    endpoint_deliver(endpoint.pk)
    assert DeliveryAttempt.objects.get().error == "private address refused"
    assert receiver.received == []


def test_a_disabled_or_busy_endpoint_is_left_alone(endpoint, receiver, widget, admin_user):
    chat_services.conversation_start(widget=widget)
    assert services.endpoint_lease(endpoint.pk, seconds=60)
    assert endpoint_deliver(endpoint.pk).sent == 0  # another task holds it
    services.endpoint_release(endpoint.pk)
    services.endpoint_set_enabled(actor=admin_user, endpoint=endpoint, enabled=False)
    assert endpoint_deliver(endpoint.pk).sent == 0
    assert receiver.received == []


def test_send_again_repeats_the_same_event_id_and_body(endpoint, receiver, widget, admin_user):
    chat_services.conversation_start(widget=widget)
    endpoint_deliver(endpoint.pk)
    delivery = Delivery.objects.get()
    services.delivery_resend(actor=admin_user, delivery=delivery)
    endpoint_deliver(endpoint.pk)
    first, second = receiver.received
    assert first.event_id == second.event_id and first.body == second.body
    assert second.signature_ok
    assert Delivery.objects.get().attempts == 2


def test_successes_are_stored_together_each_with_its_own_log_entry(endpoint, receiver, widget):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    _chat(widget, messages=19)  # 20 events
    with CaptureQueriesContext(connection) as queries:
        run = endpoint_deliver(endpoint.pk)
    assert run.sent == 20 and receiver.event_ids() == list(
        Event.objects.order_by("id").values_list("public_id", flat=True))
    # The lease, the endpoint, the batch, then one transaction for the 20 successes (an
    # UPDATE and an INSERT), the release and the last look: not six statements a delivery.
    assert len(queries) <= 12, [q["sql"][:60] for q in queries]
    deliveries = list(Delivery.objects.order_by("event_id").prefetch_related("log"))
    times = []
    for delivery in deliveries:
        (attempt,) = delivery.log.all()
        assert delivery.status == DeliveryStatus.DELIVERED and delivery.attempts == 1
        assert (attempt.ok, attempt.status_code, attempt.body_excerpt) == (
            True, 200, '{"ok": true}')
        assert attempt.duration_ms > 0 and attempt.at == delivery.delivered_at
        times.append(attempt.at)
    assert times == sorted(times) and len(set(times)) == 20  # each its own time


def test_the_successes_before_a_failure_are_stored_before_it(endpoint, receiver, widget):
    receiver.statuses = [200, 200, 500]
    _chat(widget, messages=4)  # 5 events
    run = endpoint_deliver(endpoint.pk)
    assert run.sent == 3 and run.retry_in is not None
    rows = list(Delivery.objects.order_by("event_id").values_list("status", "attempts"))
    assert rows == [("delivered", 1), ("delivered", 1), ("pending", 1), ("pending", 0),
                    ("pending", 0)]
    assert [a.ok for a in DeliveryAttempt.objects.order_by("id")] == [True, True, False]


def test_successes_of_deleted_deliveries_are_not_stored(endpoint, widget):
    from django.utils import timezone

    _chat(widget, messages=1)
    kept, gone = Delivery.objects.order_by("event_id")
    Delivery.objects.filter(pk=gone.pk).delete()
    now = timezone.now()
    successes = [services.Delivered(delivery_id=d.pk, at=now, status_code=204, body_excerpt="",
                                    duration_ms=1.0) for d in (kept, gone)]
    assert services.successes_record(successes) == 1
    assert list(DeliveryAttempt.objects.values_list("delivery_id", "status_code")) == [
        (kept.pk, 204)]
    assert Delivery.objects.get().delivered_at == now


def test_no_delivery_starts_after_its_endpoint_is_deleted_behind_a_slow_answer(
    endpoint, widget, admin_user, monkeypatch
):
    """bench_webhooks (2026-12-01): the endpoint of a receiver answering in 2 s was deleted
    during a POST, and the task still sent the next delivery of its batch, signed with the
    deleted endpoint's secret (the successes were held unstored for FLUSH_SECONDS)."""
    import time

    import httpx2

    from webhooks import delivery

    monkeypatch.setattr(delivery, "FLUSH_SECONDS", 0.05)
    _chat(widget, messages=3)  # 4 events
    sent = []

    def handler(request):
        sent.append(request.headers["SupportDesk-Event-Id"])
        if len(sent) == 1:  # the admin deletes the endpoint while its receiver is answering
            services.endpoint_delete(actor=admin_user, endpoint=Endpoint.objects.get())
        time.sleep(0.1)
        return httpx2.Response(200, json={"ok": True})

    run = endpoint_deliver(endpoint.pk, transport=httpx2.MockTransport(handler))
    assert len(sent) == 1 and run.sent == 1
    assert not Endpoint.objects.exists() and not Delivery.objects.exists()
