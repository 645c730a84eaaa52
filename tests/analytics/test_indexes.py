"""The schema's indexes after the migrations, on either database."""

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db


def _indexes_on(table: str, columns: list[str]) -> set[str]:
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    return {
        name for name, c in constraints.items()
        if (c["index"] or c["unique"]) and not c["primary_key"] and c["columns"] == columns
    }


def test_foreign_keys_led_by_a_composite_index_have_none_of_their_own():
    # Message.conversation: message_seq_unique (conversation_id, seq) leads with it; the
    # analytics' partial index on customer messages stays.
    assert _indexes_on("chat_message", ["conversation_id"]) == {"analytics_customer_message_idx"}
    assert _indexes_on("chat_message", ["conversation_id", "seq"])
    assert _indexes_on("analytics_reportingevent", ["conversation_id"]) == set()
    assert _indexes_on("analytics_reportingevent", ["widget_id"]) == set()
    assert _indexes_on("analytics_reportingevent", ["conversation_id", "name"]) == {
        "event_conversation_idx"
    }
    assert _indexes_on("analytics_reportingevent", ["widget_id", "name", "occurred_at"]) == {
        "event_widget_idx"
    }
