# The dashboard's customer turns count each cohort conversation's customer messages; this
# partial index holds just those (conversation_id only), so PostgreSQL answers from the index
# (index-only scan) and SQLite from a covering index, without reading message texts. The
# statement is the same on both databases.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("analytics", "0003_conversation_order_index"),
        ("chat", "0001_initial"),
    ]

    operations = [
        migrations.RunSQL(
            sql=(
                "CREATE INDEX IF NOT EXISTS analytics_customer_message_idx "
                "ON chat_message (conversation_id) WHERE author = 'customer'"
            ),
            reverse_sql="DROP INDEX IF EXISTS analytics_customer_message_idx",
        ),
    ]
