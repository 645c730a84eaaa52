"""One verified contact per widget and customer id.

Before the constraint, two conversations started at the same moment for one signed-in customer
could each make a verified contact. The older row of each such pair is kept: the newer ones'
conversations move to it, and it takes their e-mail address or name where it has none; then
they are deleted. The constraint comes in the next migration, in a transaction of its own
(PostgreSQL creates no index on a table with foreign-key checks still pending from these
deletes).
"""

from django.db import migrations, models


def merge_duplicate_verified_contacts(apps, schema_editor):
    Contact = apps.get_model("chat", "Contact")
    Conversation = apps.get_model("chat", "Conversation")
    duplicated = (
        Contact.objects.filter(is_verified=True)
        .values("widget_id", "external_id")
        .annotate(rows=models.Count("pk"))
        .filter(rows__gt=1)
    )
    for group in duplicated:
        kept, *others = Contact.objects.filter(
            is_verified=True, widget_id=group["widget_id"], external_id=group["external_id"]
        ).order_by("pk")
        for other in others:
            kept.email = kept.email or other.email
            kept.name = kept.name or other.name
        kept.save(update_fields=["email", "name"])
        Conversation.objects.filter(contact__in=others).update(contact=kept)
        Contact.objects.filter(pk__in=[other.pk for other in others]).delete()


class Migration(migrations.Migration):

    dependencies = [
        ("chat", "0011_email_outbox"),
    ]

    operations = [
        migrations.RunPython(merge_duplicate_verified_contacts, migrations.RunPython.noop),
    ]
