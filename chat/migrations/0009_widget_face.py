"""The widget's face: the company's display name in the header, and quick replies under a bot
message (issue 14)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("chat", "0008_workspace"),
    ]

    operations = [
        migrations.AddField(
            model_name="widget",
            name="display_name",
            field=models.CharField(
                blank=True,
                help_text="The company's name as customers see it in the widget's header "
                "(the internal name when empty).",
                max_length=80,
            ),
        ),
        migrations.AddField(
            model_name="message",
            name="quick_replies",
            # Nullable, no default: SQLite adds the column in place instead of rebuilding
            # chat_message, which would drop the analytics' partial index on it.
            field=models.JSONField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name="widget",
            name="name",
            field=models.CharField(help_text="Internal name, seen by staff only.", max_length=120),
        ),
    ]
