"""Masks card numbers already stored in customer messages and rating comments.

New text is masked before it is stored (``chat.text.mask_card_numbers``); this does the same
once for what was stored before. Only rows with 13 or more digits in a run of digits, spaces
and dashes are read. Irreversible: the numbers are gone, as they should be.
"""

from django.db import migrations

from chat.text import mask_card_numbers

BATCH = 500
# At least 13 digits, each group separated by at most one space or dash (both databases).
CANDIDATE = r"[0-9]([ -]?[0-9]){12}"


def mask_stored(apps, schema_editor):
    Message = apps.get_model("chat", "Message")
    Conversation = apps.get_model("chat", "Conversation")
    changed = []
    for message in Message.objects.filter(author="customer", text__regex=CANDIDATE).only(
        "pk", "text"
    ).iterator(chunk_size=BATCH):
        masked = mask_card_numbers(message.text)
        if masked != message.text:
            message.text = masked
            changed.append(message)
        if len(changed) >= BATCH:
            Message.objects.bulk_update(changed, ["text"])
            changed = []
    Message.objects.bulk_update(changed, ["text"])
    rated = []
    for conversation in Conversation.objects.filter(rating_comment__regex=CANDIDATE).only(
        "pk", "rating_comment"
    ).iterator(chunk_size=BATCH):
        masked = mask_card_numbers(conversation.rating_comment)
        if masked != conversation.rating_comment:
            conversation.rating_comment = masked
            rated.append(conversation)
    Conversation.objects.bulk_update(rated, ["rating_comment"], batch_size=BATCH)


class Migration(migrations.Migration):
    dependencies = [("chat", "0005_owed_answer")]

    operations = [migrations.RunPython(mask_stored, migrations.RunPython.noop, elidable=True)]
