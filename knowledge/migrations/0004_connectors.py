from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("knowledge", "0003_intent_escalation_policy_angry")]

    operations = [
        migrations.CreateModel(
            name="Connector",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False,
                                           verbose_name="ID")),
                ("name", models.CharField(max_length=120, unique=True)),
                ("description", models.TextField(
                    blank=True,
                    help_text="What the Claude backend reads to decide when to use it.")),
                ("needs", models.JSONField(blank=True, default=list)),
                ("method", models.CharField(choices=[("GET", "GET"), ("POST", "POST")],
                                            default="GET", max_length=8)),
                ("url_template", models.CharField(max_length=1000)),
                ("allowed_hosts", models.JSONField(blank=True, default=list)),
                ("headers", models.JSONField(blank=True, default=dict, editable=False)),
                ("timeout_seconds", models.FloatField(default=3.0)),
                ("verified_only", models.BooleanField(default=False)),
                ("reply_template", models.TextField()),
                ("fallback_text", models.CharField(
                    blank=True, max_length=500,
                    help_text="Said when the API finds nothing (404) or a field the template "
                    "uses is missing.")),
                ("is_active", models.BooleanField(default=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                ("intents", models.ManyToManyField(blank=True, related_name="connectors",
                                                   to="knowledge.intent")),
            ],
            options={"ordering": ["name"]},
        ),
    ]
