# ReportingEvent.conversation and .widget lose their own indexes: event_conversation_idx
# (conversation, name) and event_widget_idx (widget, name, occurred_at) begin with them, so
# each event writes two indexes fewer. Dropped by name (the same on both databases) rather
# than by AlterField, which on SQLite would rebuild the table.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("analytics", "0005_rollup"),
        ("chat", "0003_drop_covered_fk_indexes"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="reportingevent",
                    name="conversation",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="events",
                        to="chat.conversation",
                    ),
                ),
                migrations.AlterField(
                    model_name="reportingevent",
                    name="widget",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="chat.widget",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    sql=[
                        "DROP INDEX IF EXISTS analytics_reportingevent_conversation_id_5bd842c3",
                        "DROP INDEX IF EXISTS analytics_reportingevent_widget_id_5722d96b",
                    ],
                    reverse_sql=[
                        "CREATE INDEX IF NOT EXISTS analytics_reportingevent_conversation_id_5bd842c3"
                        " ON analytics_reportingevent (conversation_id)",
                        "CREATE INDEX IF NOT EXISTS analytics_reportingevent_widget_id_5722d96b"
                        " ON analytics_reportingevent (widget_id)",
                    ],
                ),
            ],
        ),
    ]
