"""A Celery worker whose bot is a constant: the benchmark's ``--fake-bot`` measures the stack
(sockets, channel layer, database, task queue) apart from the pipeline's own cost."""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "supportdesk.settings")


def constant_answer_turn(*, text, context, on_delta=None):
    from chat.bot.types import TurnResult

    return TurnResult(
        decision="reply",
        reply_text="Standard shipping takes three to five working days.",
        intent="shipping_info",
        confidence=0.9,
        top_intents=[],
        is_fallback=False,
        entities={},
        sentiment="neutral",
        urgency="low",
        signals=[],
        articles=[],
        handoff_reason="",
        handoff_category="",
        dialog_state={},
        backend="offline",
        trace={},
        total_ms=0.0,
    )


if __name__ == "__main__":
    import django

    django.setup()
    import chat.tasks

    chat.tasks.answer_turn = constant_answer_turn
    from supportdesk.celery import app

    app.worker_main(["worker", *sys.argv[1:]])
