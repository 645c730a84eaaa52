"""Quick replies: an intent's topic button in the widget's greeting (issue 14)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("knowledge", "0004_connectors"),
    ]

    operations = [
        migrations.AddField(
            model_name="intent",
            name="button_label",
            field=models.CharField(
                blank=True,
                help_text='A topic button in the widget\'s greeting (e.g. "Track my order"); '
                "empty for none. The widget shows at most five.",
                max_length=40,
            ),
        ),
    ]
