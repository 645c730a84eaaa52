"""One verified contact per widget and customer id (rows made twice before were merged by
0012)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("chat", "0012_contact_verified_merge"),
    ]

    operations = [
        migrations.AddConstraint(
            model_name="contact",
            constraint=models.UniqueConstraint(
                condition=models.Q(("is_verified", True)),
                fields=("widget", "external_id"),
                name="contact_verified_unique",
            ),
        ),
    ]
