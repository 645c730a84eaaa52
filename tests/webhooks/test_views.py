"""The webhooks admin pages: admins only, the secret shown once, bad input refused, the
delivery log with Send again, and the notice of an endpoint the desk disabled."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from chat import services as chat_services
from knowledge.models import AuditLogEntry
from webhooks import services
from webhooks.models import Delivery, DeliveryAttempt, DeliveryStatus, Endpoint, Event

pytestmark = pytest.mark.django_db


def test_agents_get_403_and_anonymous_visitors_the_login_page(client, agent_user):
    url = reverse("webhooks:endpoint_list")
    assert client.get(url).status_code == 302
    client.force_login(agent_user)
    assert client.get(url).status_code == 403
    assert client.post(reverse("webhooks:endpoint_create"),
                       {"url": "https://93.184.215.14/h", "events": ["rating.created"]}
                       ).status_code == 403
    assert not Endpoint.objects.exists()


def test_the_secret_is_shown_once_and_on_no_later_page(admin_client, loopback_allowed):
    response = admin_client.post(reverse("webhooks:endpoint_create"), {
        "url": "http://127.0.0.1:9/hook", "description": "CRM",
        "events": ["message.created", "conversation.resolved"],
    })
    endpoint = Endpoint.objects.get()
    # Post/redirect/get: a reload of the page that shows the secret registers nothing more.
    created = reverse("webhooks:endpoint_created", args=[endpoint.pk])
    assert response.status_code == 302 and response["Location"] == created
    response = admin_client.get(created)
    assert endpoint.secret in response.content.decode()
    assert ">CRM</span> created</h1>" in response.content.decode()
    assert "no-store" in response.headers["Cache-Control"]
    reloaded = admin_client.get(created).content.decode()
    assert endpoint.secret not in reloaded and 'data-sd="webhook-secret-gone"' in reloaded
    assert Endpoint.objects.count() == 1
    assert endpoint.secret not in str(dict(admin_client.session))
    for name, args in (("endpoint_list", []), ("endpoint_edit", [endpoint.pk]),
                       ("delivery_list", [endpoint.pk])):
        page = admin_client.get(reverse(f"webhooks:{name}", args=args))
        assert page.status_code == 200
        assert endpoint.secret not in page.content.decode()
    audit = admin_client.get(reverse("knowledge:audit_log")).content.decode()
    assert "webhook_created" in audit and endpoint.secret not in audit


def test_a_private_url_is_refused_with_the_reason_and_nothing_saved(admin_client):
    response = admin_client.post(reverse("webhooks:endpoint_create"), {
        "url": "http://127.0.0.1:9/hook", "events": ["message.created"],
    })
    assert response.status_code == 400
    assert "private or loopback address" in response.content.decode()
    assert not Endpoint.objects.exists() and not AuditLogEntry.objects.exists()
    response = admin_client.post(reverse("webhooks:endpoint_create"), {
        "url": "https://93.184.215.14/h", "events": ["nonsense"],
    })
    assert response.status_code == 400 and not Endpoint.objects.exists()


def test_a_host_that_does_not_resolve_is_refused_on_the_form_naming_it(
    admin_client, admin_user, loopback_allowed
):
    response = admin_client.post(reverse("webhooks:endpoint_create"), {
        "url": "https://no-such-host.invalid/hook", "events": ["message.created"],
    })
    assert response.status_code == 400
    assert "&quot;no-such-host.invalid&quot; does not resolve" in response.content.decode()
    assert not Endpoint.objects.exists() and not AuditLogEntry.objects.exists()
    endpoint, _ = services.endpoint_create(actor=admin_user, url="http://127.0.0.1:9/a",
                                           events=["message.created"])
    response = admin_client.post(reverse("webhooks:endpoint_edit", args=[endpoint.pk]), {
        "url": "https://typo.invalid/a", "events": ["message.created"],
    })
    assert response.status_code == 400
    assert "&quot;typo.invalid&quot; does not resolve" in response.content.decode()
    endpoint.refresh_from_db()
    assert endpoint.url == "http://127.0.0.1:9/a"


def test_edit_enable_disable_and_delete(admin_client, admin_user, loopback_allowed):
    endpoint, _ = services.endpoint_create(actor=admin_user, url="http://127.0.0.1:9/a",
                                           events=["message.created"])
    edit = reverse("webhooks:endpoint_edit", args=[endpoint.pk])
    response = admin_client.post(edit, {"url": "http://127.0.0.1:9/b",
                                        "events": ["rating.created"]})
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.url.endswith("/b") and endpoint.events == ["rating.created"]
    toggle = reverse("webhooks:endpoint_enable", args=[endpoint.pk])
    admin_client.post(toggle, {"enabled": "0"})
    assert not Endpoint.objects.get().is_enabled
    admin_client.post(toggle, {"enabled": "maybe"})
    assert not Endpoint.objects.get().is_enabled
    admin_client.post(toggle, {"enabled": "1"})
    assert Endpoint.objects.get().is_enabled
    assert admin_client.get(toggle).status_code == 405
    delete = reverse("webhooks:endpoint_delete", args=[endpoint.pk])
    assert f'action="{delete}"' in admin_client.get(edit).content.decode()
    # The edit page's button asks first: GET shows what the deletion stops, deletes nothing.
    confirm = admin_client.get(delete)
    page = confirm.content.decode()
    assert confirm.status_code == 200 and "http://127.0.0.1:9/b" in page
    assert "delivery log are removed" in page and f'action="{delete}"' in page
    assert f'href="{edit}"' in page  # cancel goes back
    assert Endpoint.objects.exists()
    done = admin_client.post(delete, follow=True)
    assert "Endpoint http://127.0.0.1:9/b deleted." in done.content.decode()
    assert not Endpoint.objects.exists()
    entry = AuditLogEntry.objects.get(action="webhook_deleted")
    assert entry.changes["url"] == ["http://127.0.0.1:9/b", None]
    assert entry.changes["events"] == ["rating.created", None]


def test_the_delivery_log_shows_attempts_and_send_again_queues_the_event(
    admin_client, admin_user, widget, loopback_allowed, django_assert_max_num_queries
):
    endpoint, _ = services.endpoint_create(actor=admin_user, url="http://127.0.0.1:9/a",
                                           events=["message.created"])
    conversation, _ = chat_services.conversation_start(widget=widget)
    for number in range(5):
        chat_services.message_create_incoming(conversation=conversation, text=f"m{number}",
                                              client_id=None, queue_bot=False)
    for delivery in Delivery.objects.all():
        services.attempt_record(delivery=delivery, ok=False, status_code=500,
                                error="HTTP 500", body_excerpt="<b>down</b>", duration_ms=12)
    url = reverse("webhooks:delivery_list", args=[endpoint.pk])
    with django_assert_max_num_queries(12):  # no query per row
        page = admin_client.get(url).content.decode()
    assert page.count('data-sd="delivery-attempt"') == 5
    assert "HTTP 500" in page and "&lt;b&gt;down&lt;/b&gt;" in page  # escaped, never markup
    delivery = Delivery.objects.order_by("event_id").first()
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now().replace(
        year=2100))
    response = admin_client.post(reverse("webhooks:delivery_resend", args=[delivery.pk]))
    assert response.status_code == 302
    delivery.refresh_from_db()
    assert delivery.next_attempt_at <= timezone.now()
    assert AuditLogEntry.objects.filter(action="webhook_resent").exists()
    assert DeliveryAttempt.objects.count() == 5


def test_a_failed_connection_reads_as_its_reason_and_an_unsent_event_offers_no_resend(
    admin_client, admin_user, widget, loopback_allowed
):
    """Newcomer n61: "no answer (connection failed: ...)" wrapped the reason, and rows never
    sent offered "Send again", which does nothing for them."""
    endpoint, _ = services.endpoint_create(actor=admin_user, url="http://127.0.0.1:9/a",
                                           events=["conversation.created"])
    for _ in range(2):
        chat_services.conversation_start(widget=widget)
    first, second = Delivery.objects.order_by("event_id")
    services.attempt_record(delivery=first, ok=False, status_code=None, body_excerpt="",
                            error="connection to 127.0.0.1 failed: Connection refused",
                            duration_ms=3)
    page = admin_client.get(reverse("webhooks:delivery_list", args=[endpoint.pk])).content
    rows = page.decode().split('data-sd="delivery-row"')[1:]
    by_event = {row.split('data-event="')[1].split('"')[0]: row for row in rows}
    tried, untried = by_event[first.event.public_id], by_event[second.event.public_id]
    assert "· connection to 127.0.0.1 failed: Connection refused ·" in tried
    assert "no answer" not in tried and 'data-sd="delivery-resend"' in tried
    assert "not sent yet" in untried and 'data-sd="delivery-resend"' not in untried


def test_an_endpoint_the_desk_disabled_is_announced_on_the_admin_pages(
    admin_client, admin_user, loopback_allowed
):
    endpoint, _ = services.endpoint_create(actor=admin_user, url="http://127.0.0.1:9/a",
                                           events=["message.created"])
    page = admin_client.get(reverse("knowledge:index")).content.decode()
    assert "webhook-disabled-notice" not in page
    Endpoint.objects.filter(pk=endpoint.pk).update(
        is_enabled=False, failing_since=timezone.now(), disabled_at=timezone.now(),
        disabled_reason="Failed since yesterday (last: HTTP 503).",
    )
    services.disabled_notice_refresh()  # what the disabling's commit does
    for url in (reverse("knowledge:index"), reverse("webhooks:endpoint_list")):
        page = admin_client.get(url).content.decode()
        assert 'data-sd="webhook-disabled-notice"' in page and "HTTP 503" in page
    Endpoint.objects.update(failing_since=None)  # disabled by an admin: no notice
    services.disabled_notice_refresh()
    assert "webhook-disabled-notice" not in admin_client.get(
        reverse("webhooks:endpoint_list")).content.decode()


@pytest.mark.django_db(transaction=True)
def test_the_very_next_event_after_a_change_on_the_pages_follows_it(
    admin_client, widget, receiver, loopback_allowed, deliver_on_commit
):
    """Committed for real (each page's transaction, then the chat's): adding, editing,
    disabling, enabling and deleting an endpoint each decide the next event."""

    def say(text: str) -> set[int]:
        """A customer message; the endpoints its event was owed to."""
        before = set(Event.objects.values_list("pk", flat=True))
        chat_services.message_create_incoming(conversation=conversation, text=text,
                                              client_id=None, queue_bot=False)
        new = Event.objects.exclude(pk__in=before).filter(name="message.created")
        return set(Delivery.objects.filter(event__in=new).values_list("endpoint_id", flat=True))

    def received() -> list[str]:
        return [r.body["data"]["message"]["text"] for r in receiver.received]

    conversation, _ = chat_services.conversation_start(widget=widget)
    assert say("no endpoint yet") == set()  # the empty subscriptions are cached now
    response = admin_client.post(reverse("webhooks:endpoint_create"), {
        "url": receiver.url, "events": ["message.created"],
    })
    assert response.status_code == 302
    endpoint = Endpoint.objects.get()
    receiver.secret = endpoint.secret
    assert say("added") == {endpoint.pk}
    assert received() == ["added"]
    edit = reverse("webhooks:endpoint_edit", args=[endpoint.pk])
    admin_client.post(edit, {"url": receiver.url, "events": ["rating.created"]})
    assert say("unsubscribed") == set()
    admin_client.post(edit, {"url": receiver.url, "events": ["message.created"]})
    assert say("subscribed again") == {endpoint.pk}
    toggle = reverse("webhooks:endpoint_enable", args=[endpoint.pk])
    admin_client.post(toggle, {"enabled": "0"})
    assert say("disabled") == set()
    admin_client.post(toggle, {"enabled": "1"})
    assert say("enabled") == {endpoint.pk}
    admin_client.post(reverse("webhooks:endpoint_delete", args=[endpoint.pk]))
    assert say("deleted") == set()
    assert received() == ["added", "subscribed again", "enabled"]
    assert all(r.signature_ok for r in receiver.received)


def test_send_again_behind_an_undelivered_older_event_says_what_it_waits_for(
    admin_client, admin_user, widget, loopback_allowed
):
    """Deliveries go in event order: an event sent again behind an older one that keeps
    failing goes nowhere until that one is received. The page says so before the click, and
    the answer to the click says so instead of "will be sent again"."""
    endpoint, _ = services.endpoint_create(actor=admin_user, url="http://127.0.0.1:9/a",
                                           events=["message.created"])
    conversation, _ = chat_services.conversation_start(widget=widget)
    for number in range(3):
        chat_services.message_create_incoming(conversation=conversation, text=f"m{number}",
                                              client_id=None, queue_bot=False)
    head, middle, last = Delivery.objects.select_related("event").order_by("event_id")
    services.attempt_record(delivery=head, ok=False, status_code=500, error="",
                            body_excerpt="down", duration_ms=5)
    services.attempt_record(delivery=last, ok=True, status_code=200, error="",
                            body_excerpt="", duration_ms=5)
    head.refresh_from_db()
    head_id = head.event.public_id
    url = reverse("webhooks:delivery_list", args=[endpoint.pk])

    page = admin_client.get(url).content.decode()
    assert 'data-sd="delivery-blocked"' in page
    assert f"{head_id} (message.created) has not been received yet" in page
    assert "the 1 later event waits for it" in page
    assert page.count(f"waits for {head_id}") == 1  # the middle one, pending behind it
    assert page.count(f"goes after {head_id}") == 1  # Send again on the delivered last one
    # One action per row: the head's row offers "Try now", the notice no second button for it.
    rows = {row.split('data-event="')[1].split('"')[0]: row
            for row in page.split('data-sd="delivery-row"')[1:]}
    assert 'data-sd="delivery-head-resend"' not in page
    assert page.count(reverse("webhooks:delivery_resend", args=[head.pk])) == 1
    assert ">Try now</button>" in rows[head_id] and "Send again</button>" not in rows[head_id]
    assert ">Send again</button>" in rows[last.event.public_id]
    assert "<button" not in rows[middle.event.public_id]  # never sent: no action

    response = admin_client.post(reverse("webhooks:delivery_resend", args=[last.pk]),
                                 follow=True)
    said = [str(m) for m in response.context["messages"]]
    assert len(said) == 1 and f"waits for {head_id}" in said[0]
    assert "will be sent again" not in said[0] and "next try is at" in said[0]
    assert f'"Try now" on {head_id} tries it at once' in said[0]
    last.refresh_from_db()
    assert last.status == DeliveryStatus.PENDING
    assert response.content.decode().count(f"waits for {head_id}") == 3  # the message and 2 rows

    response = admin_client.post(reverse("webhooks:delivery_resend", args=[head.pk]),
                                 follow=True)
    said = [str(m) for m in response.context["messages"]]
    assert said == [f"{head_id} is being sent again now; reload the page to see the attempt."]
    head.refresh_from_db()
    assert head.next_attempt_at <= timezone.now()

    services.endpoint_set_enabled(actor=admin_user, endpoint=endpoint, enabled=False)
    page = admin_client.get(url).content.decode()
    assert 'data-sd="delivery-disabled"' in page and 'data-sd="delivery-blocked"' not in page
    assert "Its 3 undelivered events are kept" in page
    # Nothing is sent while disabled: no row offers an action, none tells of a next try.
    assert 'data-sd="delivery-resend"' not in page and "next try" not in page
    assert "held while the endpoint is disabled" in page
    response = admin_client.post(reverse("webhooks:delivery_resend", args=[middle.pk]),
                                 follow=True)
    said = [str(m) for m in response.context["messages"]]
    assert len(said) == 1 and "once this endpoint is enabled" in said[0]


@pytest.mark.parametrize(("url_name", "legend"), [
    ("webhooks:endpoint_create", "Events"),
    ("knowledge:connector_create", "Details it needs"),
])
def test_a_group_of_checkboxes_is_named_by_a_legend_not_an_empty_label(
    admin_client, url_name, legend
):
    """Newcomer n61: the Events checkboxes had a ``<label for="">``, which names nothing."""
    page = admin_client.get(reverse(url_name)).content.decode()
    assert 'for=""' not in page
    fieldset = page.split('<fieldset class="kn-field">')[1].split("</fieldset>")[0]
    assert f"<legend>{legend}</legend>" in fieldset  # as the other fields' labels: no colon
    assert 'type="checkbox"' in fieldset


@pytest.mark.parametrize(("zone", "abbreviation"), [("UTC", "UTC"), ("Europe/Berlin", "CET")])
def test_the_pages_name_the_endpoint_and_the_time_zone_of_their_times(
    admin_client, admin_user, widget, loopback_allowed, settings, zone, abbreviation
):
    settings.TIME_ZONE = zone
    endpoint, _ = services.endpoint_create(actor=admin_user, url="http://127.0.0.1:9/crm",
                                           events=["message.created"], description="CRM sync")
    bare, _ = services.endpoint_create(actor=admin_user, url="http://127.0.0.1:8125/x",
                                       events=["message.created"])
    conversation, _ = chat_services.conversation_start(widget=widget)
    chat_services.message_create_incoming(conversation=conversation, text="hello",
                                          client_id=None, queue_bot=False)
    delivery = Delivery.objects.get(endpoint=endpoint)
    services.attempt_record(delivery=delivery, ok=False, status_code=503, error="",
                            body_excerpt="", duration_ms=5)
    Endpoint.objects.filter(pk=endpoint.pk).update(
        failing_since=datetime.datetime(2026, 12, 1, 9, 30, tzinfo=datetime.UTC))
    page = admin_client.get(reverse("webhooks:delivery_list", args=[endpoint.pk])).content.decode()
    assert "<title>Deliveries to CRM sync" in page
    assert f" {abbreviation} · failed · HTTP 503" in page
    form = admin_client.get(reverse("webhooks:endpoint_edit", args=[endpoint.pk])).content.decode()
    expected = "09:30 UTC" if zone == "UTC" else "10:30 CET"
    assert f"failing since 2026-12-01 {expected}" in form
    assert ">CRM sync</span></h1>" in form
    other = admin_client.get(reverse("webhooks:delivery_list", args=[bare.pk])).content.decode()
    assert "<title>Deliveries to 127.0.0.1:8125/x ·" in other


def test_the_notice_offers_try_now_only_when_the_failed_event_is_on_another_page(
    admin_client, admin_user, widget, loopback_allowed, monkeypatch
):
    from webhooks import views

    monkeypatch.setattr(views, "DELIVERIES_PER_PAGE", 2)
    endpoint, _ = services.endpoint_create(actor=admin_user, url="http://127.0.0.1:9/a",
                                           events=["conversation.created"])
    for _ in range(4):
        chat_services.conversation_start(widget=widget)
    head = Delivery.objects.select_related("event").order_by("event_id").first()
    services.attempt_record(delivery=head, ok=False, status_code=503, error="",
                            body_excerpt="", duration_ms=4)
    url = reverse("webhooks:delivery_list", args=[endpoint.pk])
    resend = reverse("webhooks:delivery_resend", args=[head.pk])

    first = admin_client.get(url).content.decode()  # the two newest: the head is not here
    assert f'data-event="{head.event.public_id}"' not in first
    assert 'data-sd="delivery-head-resend">Try now</button>' in first
    assert first.count(resend) == 1 and "<button" not in first.split("<tbody>")[1]

    last = admin_client.get(url, {"page": 2}).content.decode()  # the head's own row
    assert 'data-sd="delivery-head-resend"' not in last
    assert last.count(resend) == 1 and last.count(">Try now</button>") == 1


def test_a_host_name_part_over_63_characters_is_named_with_the_limit(admin_client):
    label = "hooks" + "y" * 65  # 70 characters
    response = admin_client.post(reverse("webhooks:endpoint_create"), {
        "url": f"https://{label}.crm.example/in", "events": ["message.created"],
    })
    assert response.status_code == 400
    assert (f"its part &quot;hooks{'y' * 21}…{'y' * 12}&quot; is 70 characters long; a part "
            "between dots has at most 63 characters.") in response.content.decode()
    response = admin_client.post(reverse("webhooks:endpoint_create"), {
        "url": "https://-crm.example/in", "events": ["message.created"],
    })
    assert "its part &quot;-crm&quot; starts with a hyphen" in response.content.decode()
    assert not Endpoint.objects.exists()


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_the_delivery_log_never_shows_a_status_older_than_its_attempts(
    admin_client, admin_user, widget, loopback_allowed, monkeypatch
):
    """Newcomer: after "Send again" the page showed "Pending · Attempts 1" beside the new OK
    line: the delivery task committed its status and its log line between the page's read of
    the deliveries and its read of the attempts. The page reads one snapshot."""
    import threading

    from django.db import connection as db

    from webhooks import selectors

    # No delivery task of its own: this test plays the task.
    monkeypatch.setattr(services, "_queue_on_commit", lambda endpoint_ids, **timing: None)
    endpoint, _ = services.endpoint_create(actor=admin_user, url="http://127.0.0.1:9/a",
                                           events=["conversation.created"])
    chat_services.conversation_start(widget=widget)
    delivery = Delivery.objects.get()
    first = services.Delivered(delivery_id=delivery.pk, at=timezone.now(), status_code=200,
                               body_excerpt="first", duration_ms=5)
    assert services.successes_record([first]) == 1
    services.delivery_resend(actor=admin_user, delivery=delivery)

    def task_commits_meanwhile():  # the worker's own connection, its own transaction
        try:
            services.successes_record([services.Delivered(
                delivery_id=delivery.pk, at=timezone.now(), status_code=200,
                body_excerpt="second", duration_ms=5)])
        finally:
            db.close()

    reads = selectors.attempts_for

    def attempts_after_the_task(deliveries):
        worker = threading.Thread(target=task_commits_meanwhile)
        worker.start()
        worker.join()
        return reads(deliveries)

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING
    logged = DeliveryAttempt.objects.filter(delivery=delivery).count()
    assert logged == 1
    monkeypatch.setattr(selectors, "attempts_for", attempts_after_the_task)
    page = admin_client.get(reverse("webhooks:delivery_list", args=[endpoint.pk])).content
    row = page.decode().split('data-sd="delivery-row"')[1]
    # The page as of one moment: still pending, with the attempts it had then.
    assert row.count('data-sd="delivery-attempt"') == logged and "second" not in row
    monkeypatch.setattr(selectors, "attempts_for", reads)
    row = admin_client.get(reverse("webhooks:delivery_list", args=[endpoint.pk])).content
    row = row.decode().split('data-sd="delivery-row"')[1]
    assert row.count('data-sd="delivery-attempt"') == logged + 1 and "second" in row
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED
