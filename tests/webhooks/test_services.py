"""webhooks.services: endpoints refused or saved (audited, secret kept out), events written in
the chat's own transaction, retries and the disabling of an endpoint that fails for a day."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.db import transaction
from django.utils import timezone

from chat import services as chat_services
from knowledge import connector_network
from knowledge.models import AuditLogEntry
from webhooks import services
from webhooks.models import Delivery, DeliveryStatus, Endpoint, Event

pytestmark = pytest.mark.django_db

PUBLIC = "93.184.216.34"  # a globally routed address; no test connects to it


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://127.0.0.1:9000/hook", "private or loopback"),
        ("http://localhost/hook", "private or loopback"),
        ("https://10.1.2.3/hook", "private or loopback"),
        ("http://[::1]:8000/hook", "private or loopback"),
        ("http://169.254.169.254/latest/meta-data", "private or loopback"),
        ("http://0177.0.0.1/hook", "four decimal numbers"),
        ("http://8.8.8.010/hook", "four decimal numbers"),
        ("http://2130706433/hook", "four decimal numbers"),
        ("http://0x08.8.8.8/hook", "four decimal numbers"),
        ("http://api.localhost/hook", "private or loopback"),
        ("http://[::ffff:127.0.0.1]/hook", "private or loopback"),
        ("http://[64:ff9b::7f00:1]/hook", "private or loopback"),
        ("http://[2002:a9fe:a9fe::1]/hook", "private or loopback"),
        ("http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/hook", "private or loopback"),
        ("http://[::10.0.0.1]/hook", "private or loopback"),
        ("ftp://example.com/hook", "http:// or https://"),
        ("https://hooks.example.com/in#token=SECRET", "#fragment is never sent"),
        ("https://hooks.example.com/in#", "#fragment is never sent"),
        ("https://user:pw@example.com/hook", "user name or password"),
        ("https://exa mple.com/", "Not a URL"),
        ("", "Enter the URL"),
        ("https://" + "a" * 1000 + ".com/", "Not a URL"),
        # An international domain name: refused with the ASCII spelling that is accepted.
        ("https://例え.jp/hook", '"xn--r8jz45g.jp"'),
        ("https://Bücher.example/hook", '"xn--bcher-kva.example"'),
        # A name that does not resolve (.invalid never does, RFC 2606): every delivery would fail.
        ("https://no-such-host.invalid/hook", '"no-such-host.invalid" does not resolve'),
        ("https://Hooks.No-Such-Host.invalid:8443/in", '"hooks.no-such-host.invalid" does not'),
    ],
)
def test_a_refused_url_is_said_and_nothing_is_written(admin_user, url, says):
    with pytest.raises(services.EndpointInvalid, match=says) as raised:
        services.endpoint_create(actor=admin_user, url=url, events=["message.created"])
    assert raised.value.field == "url"
    assert not Endpoint.objects.exists()
    assert not AuditLogEntry.objects.exists()


def test_the_ascii_spelling_of_an_international_name_is_accepted(admin_user, monkeypatch):
    # No DNS here: the name resolves to a public address for the test; the spelling is checked.
    monkeypatch.setattr(connector_network, "system_resolve", lambda host, port: [PUBLIC])
    endpoint, _ = services.endpoint_create(
        actor=admin_user, url="https://xn--bcher-kva.example/hook", events=["message.created"]
    )
    assert endpoint.url == "https://xn--bcher-kva.example/hook"


def test_the_url_help_says_public_only_where_private_addresses_are_refused(settings):
    from webhooks.forms import EndpointForm

    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    assert "Public addresses only" in EndpointForm().fields["url"].help_text
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    assert "Public addresses only" not in EndpointForm().fields["url"].help_text
    assert "Public addresses only" not in EndpointForm.base_fields["url"].help_text


def test_loopback_is_allowed_only_with_the_setting(admin_user, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    endpoint, _ = services.endpoint_create(
        actor=admin_user, url="http://127.0.0.1:9000/hook", events=["message.created"]
    )
    assert endpoint.is_enabled


def test_a_host_that_does_not_resolve_is_refused_even_where_private_addresses_are_allowed(
    admin_user, settings
):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    with pytest.raises(services.EndpointInvalid, match=r'"no-such-host\.invalid" does not resolve'):
        services.endpoint_create(actor=admin_user, url="http://no-such-host.invalid:9000/hook",
                                 events=["message.created"])
    assert not Endpoint.objects.exists()
    # A loopback name resolves on this machine (no network needed): accepted with the setting.
    endpoint, _ = services.endpoint_create(actor=admin_user, url="http://localhost:9000/hook",
                                           events=["message.created"])
    with pytest.raises(services.EndpointInvalid, match=r'"gone\.invalid" does not resolve'):
        services.endpoint_update(actor=admin_user, endpoint=endpoint,
                                 url="https://gone.invalid/hook", events=["message.created"])
    endpoint.refresh_from_db()
    assert endpoint.url == "http://localhost:9000/hook"


def test_a_resolver_that_does_not_answer_in_time_refuses_the_host(admin_user, monkeypatch):
    released = threading.Event()

    def hanging(host: str, port: int) -> list[str]:  # a nameserver that never answers
        released.wait(10)
        return [PUBLIC]

    monkeypatch.setattr(connector_network, "system_resolve", hanging)
    monkeypatch.setattr(connector_network, "RESOLVE_SECONDS", 0.05)
    try:
        with pytest.raises(services.EndpointInvalid, match=r'"slow\.example" did not resolve'):
            services.endpoint_create(actor=admin_user, url="https://slow.example/hook",
                                     events=["message.created"])
    finally:
        released.set()
    assert not Endpoint.objects.exists()


def test_a_name_is_refused_when_any_of_its_addresses_is_private(admin_user, monkeypatch):
    monkeypatch.setattr(connector_network, "system_resolve",
                        lambda host, port: [PUBLIC, "10.0.0.7"])
    with pytest.raises(services.EndpointInvalid, match=r'"mixed\.example" is a private'):
        services.endpoint_create(actor=admin_user, url="https://mixed.example/hook",
                                 events=["message.created"])
    monkeypatch.setattr(connector_network, "system_resolve", lambda host, port: [PUBLIC])
    endpoint, _ = services.endpoint_create(actor=admin_user, url="https://mixed.example/hook",
                                           events=["message.created"])
    assert endpoint.url == "https://mixed.example/hook"


def test_a_numeric_host_is_refused_even_where_private_addresses_are_allowed(
    admin_user, settings
):
    # The resolver and the HTTP client read 0177.0.0.1 differently: no setting makes it valid.
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    with pytest.raises(services.EndpointInvalid, match="four decimal numbers"):
        services.endpoint_create(actor=admin_user, url="http://0177.0.0.1:9000/hook",
                                 events=["message.created"])
    assert not Endpoint.objects.exists()


def test_a_public_ipv6_literal_is_accepted(admin_user, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    endpoint, _ = services.endpoint_create(
        actor=admin_user, url="https://[2001:4860:4860::8888]/hook", events=["message.created"]
    )
    assert endpoint.url == "https://[2001:4860:4860::8888]/hook"


@pytest.mark.parametrize("events", [[], ["message.deleted"], "message.created", None])
def test_unknown_or_no_events_are_refused(admin_user, events):
    with pytest.raises(services.EndpointInvalid) as raised:
        services.endpoint_create(actor=admin_user, url="https://93.184.215.14/h", events=events)
    assert raised.value.field == "events"
    assert not Endpoint.objects.exists()


def test_creation_returns_the_secret_once_and_the_audit_log_never_holds_it(admin_user):
    endpoint, secret = services.endpoint_create(
        actor=admin_user, url="https://93.184.215.14/hook",
        events=["rating.created", "conversation.created"], description="CRM",
    )
    assert secret.startswith("whsec_") and endpoint.secret == secret
    assert endpoint.events == ["conversation.created", "rating.created"]  # documented order
    services.endpoint_update(actor=admin_user, endpoint=endpoint, url="https://93.184.215.15/h",
                             events=["rating.created"], description="CRM 2")
    services.endpoint_set_enabled(actor=admin_user, endpoint=endpoint, enabled=False)
    entries = list(AuditLogEntry.objects.order_by("id"))
    assert [e.action for e in entries] == [
        "webhook_created", "webhook_changed", "webhook_disabled"
    ]
    assert entries[1].changes["url"] == ["https://93.184.215.14/hook", "https://93.184.215.15/h"]
    for entry in entries:
        assert secret not in str(entry.changes) and secret not in entry.object_repr


def test_events_are_written_with_the_chat_fact_and_only_for_subscribers(admin_user, widget,
                                                                        settings):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    crm, _ = services.endpoint_create(actor=admin_user, url="http://127.0.0.1:1/a",
                                      events=["conversation.created", "message.created"])
    services.endpoint_create(actor=admin_user, url="http://127.0.0.1:1/b",
                             events=["rating.created"])
    off, _ = services.endpoint_create(actor=admin_user, url="http://127.0.0.1:1/c",
                                      events=["message.created"])
    services.endpoint_set_enabled(actor=admin_user, endpoint=off, enabled=False)
    conversation, _ = chat_services.conversation_start(widget=widget)
    chat_services.message_create_incoming(
        conversation=conversation, text="Where is my order?", client_id=None, queue_bot=False
    )
    events = list(Event.objects.order_by("id"))
    assert [e.name for e in events] == ["conversation.created", "message.created"]
    assert events[1].payload["data"]["message"]["text"] == "Where is my order?"
    assert events[1].payload["data"]["conversation"]["id"] == str(conversation.public_id)
    assert events[1].payload["id"] == events[1].public_id
    assert set(Delivery.objects.values_list("endpoint_id", flat=True)) == {crm.pk}


def test_a_chat_write_rolled_back_leaves_no_event(admin_user, conversation, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    services.endpoint_create(actor=admin_user, url="http://127.0.0.1:1/a",
                             events=["message.created"])
    with pytest.raises(RuntimeError), transaction.atomic():
        chat_services.message_create_incoming(
            conversation=conversation, text="hello", client_id=None, queue_bot=False
        )
        assert Event.objects.count() == 1  # written in the chat's transaction
        raise RuntimeError("the chat write fails after the fact")
    assert not Event.objects.exists() and not Delivery.objects.exists()


def test_retry_delays_grow_exponentially_with_jitter_and_a_ceiling(settings):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 10
    settings.WEBHOOK_RETRY_MAX_SECONDS = 3600
    for attempts, ceiling in ((1, 10), (2, 20), (5, 160), (20, 3600)):
        delays = {services.retry_delay(attempts) for _ in range(20)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(delays) > 1  # jittered


def _pending(admin_user, conversation, settings) -> Delivery:
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    services.endpoint_create(actor=admin_user, url="http://127.0.0.1:1/a",
                             events=["rating.created"])
    chat_services.conversation_rate(conversation=conversation, score=4)
    return Delivery.objects.get()


def test_a_failure_schedules_a_retry_and_a_success_clears_the_failing_mark(
    admin_user, conversation, settings
):
    delivery = _pending(admin_user, conversation, settings)
    services.attempt_record(delivery=delivery, ok=False, status_code=500, error="HTTP 500",
                            body_excerpt="boom", duration_ms=3.0)
    delivery.refresh_from_db()
    endpoint = Endpoint.objects.get()
    assert delivery.status == DeliveryStatus.PENDING and delivery.attempts == 1
    assert delivery.next_attempt_at > timezone.now()
    assert endpoint.failing_since is not None and endpoint.retry_at == delivery.next_attempt_at
    services.attempt_record(delivery=delivery, ok=True, status_code=200, error="",
                            body_excerpt="ok", duration_ms=3.0)
    delivery.refresh_from_db()
    endpoint.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED and delivery.attempts == 2
    assert endpoint.failing_since is None and endpoint.retry_at is None


def test_an_endpoint_failing_for_a_day_is_disabled_and_the_admins_are_told(
    admin_user, conversation, settings, django_capture_on_commit_callbacks
):
    settings.ADMINS = [("Ops", "ops@desk.example")]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    delivery = _pending(admin_user, conversation, settings)
    Endpoint.objects.update(failing_since=timezone.now() - timedelta(days=1, seconds=1))
    with django_capture_on_commit_callbacks(execute=True):
        services.attempt_record(delivery=delivery, ok=False, status_code=503, error="HTTP 503",
                                body_excerpt="", duration_ms=3.0)
    endpoint = Endpoint.objects.get()
    assert not endpoint.is_enabled and "HTTP 503" in endpoint.disabled_reason
    assert Delivery.objects.get().status == DeliveryStatus.PENDING  # kept for later
    recipients = sorted(address for message in mail.outbox for address in message.to)
    assert recipients == ["ada@desk.example", "ops@desk.example"]
    assert endpoint.secret not in "".join(m.body + m.subject for m in mail.outbox)
    assert AuditLogEntry.objects.filter(action="webhook_disabled", actor=None).exists()
    # Enabling it again forgets the failures and makes the kept delivery due at once.
    services.endpoint_set_enabled(actor=admin_user, endpoint=endpoint, enabled=True)
    endpoint.refresh_from_db()
    assert endpoint.is_enabled and endpoint.failing_since is None
    assert services.endpoints_due() == [endpoint.pk]


def test_a_burst_of_events_queues_one_task_until_it_gives_the_endpoint_back(monkeypatch):
    queued: list[int] = []
    monkeypatch.setattr(services, "_queue", lambda pk, countdown: queued.append(pk))
    for _ in range(5):
        services.queue_delivery(7)
    services.queue_delivery(8)
    assert queued == [7, 8]
    services.queued_mark_clear(7)  # the task is done: the next event queues another
    services.queue_delivery(7)
    assert queued == [7, 8, 7]


@pytest.mark.parametrize("endpoint_failing", [True, False])
def test_an_attempt_for_a_deleted_endpoint_is_not_recorded(admin_user, conversation, settings,
                                                           endpoint_failing):
    delivery = _pending(admin_user, conversation, settings)
    services.endpoint_delete(actor=admin_user, endpoint=Endpoint.objects.get())
    assert services.attempt_record(delivery=delivery, ok=True, status_code=200, error="",
                                   body_excerpt="", duration_ms=1.0,
                                   endpoint_failing=endpoint_failing) is None
    assert not Event.objects.exists()


# --- Who subscribes: cached, and renewed by every change of an endpoint ----------------------


def _generation_lose() -> None:
    """The store forgets the generation (evicted, or Redis restarted without persistence)."""
    from django.core.cache import cache

    from chat import shared_redis

    client = shared_redis.client()
    if client is None:
        cache.delete(services.SUBSCRIPTIONS_GENERATION_KEY)
    else:
        client.delete(shared_redis.key(services.SUBSCRIPTIONS_GENERATION_KEY))


def _subscribed() -> set[int]:
    return {pk for pk, _ in services.subscriptions()}


def test_the_subscriptions_cost_one_cache_read_once_cached(admin_user, conversation, settings,
                                                            django_assert_num_queries):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    endpoint, _ = services.endpoint_create(actor=admin_user, url="http://127.0.0.1:1/a",
                                           events=["rating.created"])
    assert _subscribed() == {endpoint.pk}  # read and cached
    with django_assert_num_queries(0):
        assert _subscribed() == {endpoint.pk}
        assert services.events_record(name="message.created", conversation=conversation,
                                      at=timezone.now()) is None


def test_rows_a_racing_reader_kept_after_the_change_are_not_used(admin_user, settings):
    """A reader that read the endpoints just before a change committed and kept them just
    after: the next read does not take them (they carry the older generation)."""
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    assert _subscribed() == set()
    before = services._generation_get()
    assert before is not None
    endpoint, _ = services.endpoint_create(actor=admin_user, url="http://127.0.0.1:1/a",
                                           events=["message.created"])
    services._read = (before, [])
    assert _subscribed() == {endpoint.pk}
    kept = services._read[0]
    services.endpoint_set_enabled(actor=admin_user, endpoint=endpoint, enabled=False)
    services._read = (kept, [(endpoint.pk, ["message.created"])])
    assert _subscribed() == set()


def test_a_chat_write_reads_only_the_generation_from_the_store(conversation, settings,
                                                                 django_assert_num_queries):
    """Once this process holds the rows of the current generation, an event costs one read
    of the generation and no statement; another process's change is seen at the next read."""
    from chat import shared_redis

    assert _subscribed() == set()
    with django_assert_num_queries(0):
        assert _subscribed() == set()
    # Another process's change: only the generation moves (no signal runs here).
    Endpoint.objects.bulk_create([Endpoint(url="https://93.184.215.14/h", secret="whsec_x",
                                           events=["message.created"])])
    assert _subscribed() == set()  # the rows this process kept, under the same generation
    services._generation_set("set-by-another-process")
    assert len(_subscribed()) == 1
    if shared_redis.client() is not None:
        stored = shared_redis.client().get(
            shared_redis.key(services.SUBSCRIPTIONS_GENERATION_KEY))
        assert stored == b"set-by-another-process"


def test_any_save_or_deletion_of_an_endpoint_renews_the_subscriptions(
    django_assert_num_queries
):
    """Not only the services: a save from the shell or ``loaddata`` too. A save of fields
    that subscriptions do not read keeps the cached rows."""
    assert _subscribed() == set()
    endpoint = Endpoint.objects.create(url="https://93.184.215.14/h", secret="whsec_x",
                                       events=["message.created"])
    assert _subscribed() == {endpoint.pk}
    endpoint.description = "CRM"
    endpoint.save(update_fields=["description"])
    with django_assert_num_queries(0):
        assert _subscribed() == {endpoint.pk}
    endpoint.is_enabled = False
    endpoint.save(update_fields=["is_enabled"])
    assert _subscribed() == set()
    endpoint.is_enabled = True
    endpoint.save()
    assert _subscribed() == {endpoint.pk}
    endpoint.delete()
    assert _subscribed() == set()


def test_the_subscriptions_survive_a_lost_generation(admin_user, settings):
    """A cache that lost the generation (evicted, restarted) reads the endpoints again."""
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    assert _subscribed() == set()
    _generation_lose()
    endpoint, _ = services.endpoint_create(actor=admin_user, url="http://127.0.0.1:1/a",
                                           events=["message.created"])
    _generation_lose()
    assert _subscribed() == {endpoint.pk}
    assert _subscribed() == {endpoint.pk}


def test_a_change_that_bypasses_the_model_is_followed_within_the_lifetime(
    admin_user, settings, monkeypatch
):
    """``QuerySet.update`` (or a flush, raw SQL) sends no signal: the generation stays, but a
    process reads the endpoints again once its copy is ``SUBSCRIPTIONS_SECONDS`` old, so a
    chat write never goes on naming an endpoint that is gone."""
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    endpoint, _ = services.endpoint_create(actor=admin_user, url="http://127.0.0.1:1/a",
                                           events=["message.created"])
    assert _subscribed() == {endpoint.pk}
    Endpoint.objects.filter(pk=endpoint.pk).update(is_enabled=False)  # no signal
    assert _subscribed() == {endpoint.pk}  # this process's copy, under the same generation
    later = services.time.monotonic() + services.SUBSCRIPTIONS_SECONDS + 1
    monkeypatch.setattr(services.time, "monotonic", lambda: later)
    assert _subscribed() == set()


# --- Recording: two plain statements; a stale list of subscribers breaks no chat write -------


def _endpoints(admin_user, settings, count: int, events=("message.created",)) -> list[int]:
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    return [
        services.endpoint_create(actor=admin_user, url=f"http://127.0.0.1:1/{n}",
                                 events=list(events))[0].pk
        for n in range(count)
    ]


def _delete_without_signal(endpoint_id: int) -> None:
    """As ``manage.py flush`` or an operator's SQL would: no signal, the generation stays."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM webhooks_endpoint WHERE id = %s", [endpoint_id])


@pytest.mark.django_db(transaction=True)
def test_an_endpoint_deleted_without_a_signal_does_not_break_the_chat_write(
    admin_user, widget, settings, monkeypatch
):
    """The process still names the gone endpoint (same generation, copy not yet a minute old);
    the chat's write commits, with deliveries for the endpoints that are left only."""
    monkeypatch.setattr(services, "_queue", lambda endpoint_id, countdown: None)
    gone, kept = _endpoints(admin_user, settings, 2)
    conversation, _ = chat_services.conversation_start(widget=widget)
    assert _subscribed() == {gone, kept}  # kept by this process
    _delete_without_signal(gone)
    _, created = chat_services.message_create_incoming(
        conversation=conversation, text="hello", client_id=None, queue_bot=False
    )  # commits (a transactional test): a foreign key to the gone endpoint would fail here
    assert created
    assert list(Delivery.objects.values_list("endpoint_id", "event__name")) == [
        (kept, "message.created")
    ]
    assert _subscribed() == {kept}  # and this process read them afresh


@pytest.mark.django_db(transaction=True)
def test_when_every_subscriber_is_gone_no_event_is_left(admin_user, widget, settings,
                                                        monkeypatch):
    queued: list[int] = []
    monkeypatch.setattr(services, "_queue", lambda pk, countdown: queued.append(pk))
    (gone,) = _endpoints(admin_user, settings, 1)
    conversation, _ = chat_services.conversation_start(widget=widget)
    assert _subscribed() == {gone}
    _delete_without_signal(gone)
    chat_services.message_create_incoming(
        conversation=conversation, text="hello", client_id=None, queue_bot=False
    )
    assert not Event.objects.filter(name="message.created").exists()
    assert not Delivery.objects.exists() and queued == []


def test_an_event_costs_two_statements_and_writes_what_the_orm_would(
    admin_user, conversation, settings, django_assert_num_queries
):
    pks = _endpoints(admin_user, settings, 3)
    message, _ = chat_services.message_create_incoming(
        conversation=conversation, text="hi", client_id=None, queue_bot=False
    )
    assert _subscribed() == set(pks)
    at = timezone.now()
    with django_assert_num_queries(2):
        event = services.events_record(name="message.created", conversation=conversation,
                                       message=message, at=at)
    assert event is not None
    stored = Event.objects.get(pk=event.pk)
    assert (stored.public_id, stored.name, stored.created_at) == (event.public_id,
                                                                 "message.created", at)
    assert stored.payload == event.payload and stored.payload["data"]["message"]["text"] == "hi"
    deliveries = list(Delivery.objects.filter(event=stored).order_by("endpoint_id"))
    assert [d.endpoint_id for d in deliveries] == pks
    for delivery in deliveries:
        assert delivery.status == DeliveryStatus.PENDING and delivery.attempts == 0
        assert delivery.delivered_at is None
        assert at <= delivery.next_attempt_at == delivery.created_at <= timezone.now()


def test_a_disabled_endpoint_still_in_the_list_gets_no_delivery(admin_user, conversation,
                                                                 settings):
    on, off = _endpoints(admin_user, settings, 2)
    assert _subscribed() == {on, off}
    Endpoint.objects.filter(pk=off).update(is_enabled=False)  # no signal: the list is stale
    event = services.events_record(name="conversation.resolved", conversation=conversation,
                                   at=timezone.now())
    assert event is None  # nobody subscribes to this one
    services.events_record(name="message.created", conversation=conversation,
                           at=timezone.now())
    assert list(Delivery.objects.values_list("endpoint_id", flat=True)) == [on]


# --- Queue marks: one round trip per commit, a task per endpoint per burst --------------------


class _CountingRedis:
    """The desk's redis-py client, counting round trips: a command, or a pipeline's execute."""

    def __init__(self, client) -> None:
        self.client, self.round_trips, self.commands = client, 0, 0

    def pipeline(self, *args, **kwargs):
        outer = self
        pipe = self.client.pipeline(*args, **kwargs)

        class Pipe:
            def __getattr__(self, name):
                attribute = getattr(pipe, name)
                if name == "execute":
                    def execute(*a, **k):
                        outer.round_trips += 1
                        outer.commands += len(pipe)
                        return attribute(*a, **k)
                    return execute
                return attribute

        return Pipe()

    def __getattr__(self, name):
        attribute = getattr(self.client, name)
        if not callable(attribute):
            return attribute

        def command(*args, **kwargs):
            self.round_trips += 1
            self.commands += 1
            return attribute(*args, **kwargs)

        return command


def test_a_commit_sets_every_mark_in_one_round_trip_and_queues_each_endpoint_once(
    admin_user, conversation, settings, monkeypatch, django_capture_on_commit_callbacks
):
    from chat import shared_redis

    pks = _endpoints(admin_user, settings, 5)
    assert _subscribed() == set(pks)
    queued: list[int] = []
    monkeypatch.setattr(services, "_queue", lambda pk, countdown: queued.append(pk))
    counting = None
    if shared_redis.client() is not None:
        counting = _CountingRedis(shared_redis.client())
        monkeypatch.setattr(shared_redis, "client", lambda: counting)
    monkeypatch.setattr(services, "subscriptions", lambda: [(pk, ["message.created"])
                                                            for pk in pks])

    def burst() -> None:
        with django_capture_on_commit_callbacks(execute=True):
            for _ in range(3):  # three events of one transaction, each for the five endpoints
                services.events_record(name="message.created", conversation=conversation,
                                       at=timezone.now())

    burst()
    assert queued == pks  # once each
    if counting is not None:
        assert (counting.round_trips, counting.commands) == (1, 5)
        assert counting.client.exists(*(shared_redis.key(services.queued_key(pk))
                                         for pk in pks)) == 5
    burst()  # the tasks are queued and have not given the endpoints back: no new task
    assert queued == pks
    services.queued_mark_clear(pks[2])  # that task is done
    burst()
    assert queued == [*pks, pks[2]]


def test_a_transaction_rolled_back_leaves_the_next_commit_queueing(
    admin_user, conversation, settings, monkeypatch, django_capture_on_commit_callbacks
):
    first, second = _endpoints(admin_user, settings, 2)
    queued: list[int] = []
    monkeypatch.setattr(services, "_queue", lambda pk, countdown: queued.append(pk))
    monkeypatch.setattr(services, "subscriptions", lambda: [(first, ["message.created"])])
    with pytest.raises(RuntimeError), transaction.atomic():
        services.events_record(name="message.created", conversation=conversation,
                               at=timezone.now())
        raise RuntimeError("rolled back")
    monkeypatch.setattr(services, "subscriptions", lambda: [(second, ["message.created"])])
    with django_capture_on_commit_callbacks(execute=True):
        services.events_record(name="message.created", conversation=conversation,
                               at=timezone.now())
    assert second in queued  # (the rolled-back one's endpoint may be queued too: harmless)


def test_a_store_or_broker_failure_is_logged_and_queues_the_rest(monkeypatch, caplog):
    from chat import shared_redis

    queued: list[int] = []

    def queue(endpoint_id: int, countdown: float) -> None:
        if endpoint_id == 2:
            raise ConnectionError("the broker is down")
        queued.append(endpoint_id)

    monkeypatch.setattr(services, "_queue", queue)
    services.queue_deliveries([3, 1, 2, 3])
    assert queued == [1, 3] and "endpoint 2" in caplog.text

    class Broken:
        def pipeline(self, *args, **kwargs):
            raise ConnectionError("Redis is down")

    queued.clear()
    with monkeypatch.context() as broken:
        broken.setattr(shared_redis, "client", Broken)
        broken.setattr(services.cache, "add", Broken().pipeline)
        services.queue_deliveries([1, 3])  # marks held, but the store fails: queued anyway
    assert queued == [1, 3] and "queue marks failed" in caplog.text


def test_a_chat_event_queues_its_task_a_moment_later_and_an_admin_action_at_once(
    admin_user, conversation, settings, monkeypatch, django_capture_on_commit_callbacks
):
    (pk,) = _endpoints(admin_user, settings, 1)
    calls: list[tuple[int, float]] = []
    monkeypatch.setattr(services, "_queue", lambda pk, countdown: calls.append((pk, countdown)))
    with django_capture_on_commit_callbacks(execute=True):
        services.events_record(name="message.created", conversation=conversation,
                               at=timezone.now())
    assert calls == [(pk, services.EVENT_GATHER_SECONDS)]  # later events find it queued
    endpoint = Endpoint.objects.get(pk=pk)
    services.endpoint_set_enabled(actor=admin_user, endpoint=endpoint, enabled=False)
    with django_capture_on_commit_callbacks(execute=True):
        services.endpoint_set_enabled(actor=admin_user, endpoint=endpoint, enabled=True)
    assert calls[1:] == [(pk, 0.0)]


def test_the_delivery_task_is_published_with_the_countdown(monkeypatch):
    from webhooks import tasks

    published = []
    monkeypatch.setattr(tasks.deliver_endpoint, "apply_async",
                        lambda args, **options: published.append((args, options["countdown"])))
    conf = tasks.deliver_endpoint.app.conf
    eager, conf.task_always_eager = conf.task_always_eager, False
    try:
        tasks.deliver_endpoint_enqueue(7, 0.5)
        tasks.deliver_endpoint_enqueue(8)
    finally:
        conf.task_always_eager = eager
    assert published == [((7,), 0.5), ((8,), None)]


@pytest.mark.django_db
def test_an_event_names_the_widget_without_loading_it(django_assert_num_queries):
    """A bot reply's conversation comes without its widget (the drain reads conversations in
    plain statements): the payload reads the widget's key in one plain statement, and none
    when the widget is loaded."""
    from chat.models import Conversation, Widget
    from webhooks.payloads import conversation_data, widget_key

    widget = Widget.objects.create(public_key="acme-shop", name="Acme",
                                   allowed_origins=["self"])
    conversation, _ = chat_services.conversation_start(widget=widget)
    bare = Conversation.objects.raw(
        "SELECT * FROM chat_conversation WHERE id = %s", [conversation.pk]
    )[0]
    with django_assert_num_queries(1):
        assert widget_key(bare) == "acme-shop"
    loaded = Conversation.objects.select_related("widget").get(pk=conversation.pk)
    with django_assert_num_queries(0):
        assert widget_key(loaded) == "acme-shop"
        assert conversation_data(loaded)["widget"] == "acme-shop"
    Widget.objects.filter(pk=widget.pk).update(public_key="acme-renamed")
    assert widget_key(bare) == "acme-renamed"  # read, never kept
