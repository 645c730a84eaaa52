# Message.conversation loses its own index: message_seq_unique (conversation_id, seq) begins
# with it and serves every lookup by conversation, so each stored message writes one index
# fewer. The index is dropped by name (the same on both databases) rather than by Django's
# AlterField, which would also drop analytics_customer_message_idx (a partial index on the
# same column that analytics' migration 0004 creates) and, on SQLite, rebuild the table.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("chat", "0002_bottrace_stages_encoder"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="message",
                    name="conversation",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="messages",
                        to="chat.conversation",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    sql="DROP INDEX IF EXISTS chat_message_conversation_id_a1207bf4",
                    reverse_sql=(
                        "CREATE INDEX IF NOT EXISTS chat_message_conversation_id_a1207bf4 "
                        "ON chat_message (conversation_id)"
                    ),
                ),
            ],
        ),
    ]
