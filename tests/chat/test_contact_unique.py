"""One verified contact per widget and customer id: the constraint, the upsert under
concurrent conversation starts, and the migration that merges rows made before it."""

from __future__ import annotations

import threading

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from chat import services
from chat.identity import Identity
from chat.models import Contact, Widget

BEFORE, AFTER = ("chat", "0011_email_outbox"), ("chat", "0013_contact_verified_unique")


@pytest.mark.django_db
def test_a_second_verified_contact_for_one_customer_is_refused(widget):
    Contact.objects.create(widget=widget, external_id="u-7", is_verified=True)
    # Unverified rows with the id a customer typed, and another widget's customer, are others.
    Contact.objects.create(widget=widget, external_id="u-7", is_verified=False)
    other = Widget.objects.create(public_key="other", name="Other")
    Contact.objects.create(widget=other, external_id="u-7", is_verified=True)
    with pytest.raises(IntegrityError), transaction.atomic():
        Contact.objects.create(widget=widget, external_id="u-7", is_verified=True)
    assert Contact.objects.filter(widget=widget, is_verified=True).count() == 1


@pytest.mark.django_db
def test_the_upsert_finds_the_row_it_would_have_made(widget):
    with transaction.atomic():
        first = services.contact_verified_upsert(
            widget=widget, identity=Identity("u-8", "ann@example.com", "Ann"))
    with transaction.atomic():
        again = services.contact_verified_upsert(
            widget=widget, identity=Identity("u-8", "ann@work.example", ""))
    assert again.pk == first.pk
    again.refresh_from_db()
    assert (again.email, again.name, again.is_verified) == ("ann@work.example", "Ann", True)


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_conversations_started_at_once_for_one_customer_share_one_contact(widget):
    """Threads on their own PostgreSQL connections start conversations for the same new
    customers at the same moment (a barrier before each round)."""
    rounds, threads = 12, 4
    errors: list[BaseException] = []
    barriers = [threading.Barrier(threads) for _ in range(rounds)]

    def start_all() -> None:
        try:
            for number, barrier in enumerate(barriers):
                barrier.wait(timeout=20)
                with transaction.atomic():
                    services.contact_verified_upsert(
                        widget=widget, identity=Identity(f"race-{number}", "", ""))
        except BaseException as exc:  # reported by the test
            errors.append(exc)
        finally:
            connection.close()

    workers = [threading.Thread(target=start_all) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert errors == []
    per_customer = {
        f"race-{number}": Contact.objects.filter(external_id=f"race-{number}").count()
        for number in range(rounds)
    }
    assert set(per_customer.values()) == {1}, per_customer


@pytest.mark.django_db(transaction=True)
def test_the_migration_merges_verified_contacts_made_twice():
    executor = MigrationExecutor(connection)
    executor.migrate([BEFORE])
    apps = executor.loader.project_state([BEFORE]).apps
    OldWidget = apps.get_model("chat", "Widget")
    OldContact = apps.get_model("chat", "Contact")
    OldConversation = apps.get_model("chat", "Conversation")
    widget = OldWidget.objects.create(public_key="merge", name="Merge")
    kept = OldContact.objects.create(widget=widget, external_id="u-9", is_verified=True,
                                     email="")
    twin = OldContact.objects.create(widget=widget, external_id="u-9", is_verified=True,
                                     email="nia@example.com", name="Nia")
    typed = OldContact.objects.create(widget=widget, external_id="u-9", is_verified=False)
    first = OldConversation.objects.create(widget=widget, contact=kept)
    second = OldConversation.objects.create(widget=widget, contact=twin)

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate([AFTER])
    apps = executor.loader.project_state([AFTER]).apps
    Contact_ = apps.get_model("chat", "Contact")
    Conversation_ = apps.get_model("chat", "Conversation")
    verified = list(Contact_.objects.filter(external_id="u-9", is_verified=True))
    assert [c.pk for c in verified] == [kept.pk]
    assert (verified[0].email, verified[0].name) == ("nia@example.com", "Nia")
    assert {c.contact_id for c in Conversation_.objects.filter(pk__in=[first.pk, second.pk])} == {
        kept.pk}
    assert Contact_.objects.filter(pk=typed.pk).exists()  # the unverified one is another
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


def test_the_address_left_is_the_form_s_not_a_verified_customer_s_own(widget):
    """What a rejoin tells the widget (``joined.email_left``): an address left in the form
    replaces the form by "We will reply to ..."; a verified customer's signed address alone
    does not (the form offers it)."""
    conversation, _ = services.conversation_start(widget=widget)
    assert services.address_left(conversation) == ""
    services.conversation_contact_set(conversation=conversation, email="kim@example.com")
    assert services.address_left(conversation) == "kim@example.com"

    verified, _ = services.conversation_start(widget=widget)
    contact = services.contact_verified_upsert(
        widget=widget, identity=Identity("u-9", "sam@example.com", "Sam"))
    type(verified).objects.filter(pk=verified.pk).update(contact=contact)
    assert services.address_left(verified) == ""
    services.conversation_contact_set(conversation=verified, email="sam.home@mail.example")
    assert services.address_left(verified) == "sam.home@mail.example"
    services.conversation_contact_set(conversation=verified, email="SAM@example.com")
    assert services.address_left(verified) == ""  # their own again: replies go there
