"""A Celery worker whose bot is a constant: the benchmark's ``--fake-bot`` measures the stack
(sockets, channel layer, database, task queue) apart from the pipeline's own cost."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "supportdesk.settings")


@dataclass
class ConstantTurn:
    decision: str = "reply"
    reply_text: str = "Standard shipping takes three to five working days."
    intent: str = "shipping_info"
    confidence: float = 0.9
    top_intents: list = field(default_factory=list)
    is_fallback: bool = False
    entities: dict = field(default_factory=dict)
    sentiment: str = "neutral"
    urgency: str = "low"
    signals: list = field(default_factory=list)
    articles: list = field(default_factory=list)
    handoff_reason: str = ""
    handoff_category: str = ""
    dialog_state: dict = field(default_factory=dict)
    backend: str = "offline"
    trace: dict = field(default_factory=dict)
    total_ms: float = 0.0

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def constant_answer_turn(*, text, context, on_delta=None):
    return ConstantTurn()


if __name__ == "__main__":
    import django

    django.setup()
    import chat.tasks

    chat.tasks.answer_turn = constant_answer_turn
    from supportdesk.celery import app

    app.worker_main(["worker", *sys.argv[1:]])
