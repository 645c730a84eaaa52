#!/usr/bin/env python
"""CPU of the bot task alone: ``chat.tasks.answer_message`` run in this process, no Celery.

    .venv/bin/python bench/bench_task.py --messages 600            # CPU ms per task
    .venv/bin/python bench/bench_task.py --messages 600 --profile  # cProfile, by cumulative time

Runs against the database ``bench/bench_chat.py`` leaves behind (migrated, with the demo
company and its trained classifier): it opens 20 conversations there, stores customer messages
without queueing the task, then answers them one after another, closing stale connections
around each as Celery's Django fixup does. The bot's real-time sends go to Redis as in the
worker. Compare two versions of the code by running this from each tree in turn.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# The same questions as bench_chat.py: answered from the knowledge base without a follow-up.
TEXTS = [
    "How long does standard shipping take?",
    "What is your return policy?",
    "Do you ship to Canada?",
    "How do I reset my password?",
    "Which payment methods do you accept?",
]
WARM_UP = 40


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    # bench_chat.py's database, which it leaves migrated with the demo company.
    parser.add_argument("--database-url",
                        default="postgres://postgres@127.0.0.1:5432/sd_console_bench")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/5")
    parser.add_argument("--messages", type=int, default=600)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    if args.messages <= WARM_UP:
        parser.error(f"--messages must be more than {WARM_UP} (the warm-up)")
    os.environ.update(
        DATABASE_URL=args.database_url, REDIS_URL=args.redis_url, CHANNEL_PREFIX="sdbench",
        CELERY_TASK_ALWAYS_EAGER="0", BOT_MAX_TURNS="1000000", BOT_MAX_FALLBACKS="1000000",
        LOG_LEVEL="WARNING", DJANGO_SETTINGS_MODULE="supportdesk.settings",
    )
    os.environ.pop("ANTHROPIC_API_KEY", None)

    import django

    django.setup()
    from django.db import close_old_connections

    from chat import realtime, services, tasks
    from chat.models import Widget

    realtime.use_private_loop()
    widget = Widget.objects.get(public_key="demo")
    conversations = [services.conversation_start(widget=widget)[0] for _ in range(20)]
    ids = [
        services.message_create_incoming(
            conversation=conversations[i % 20], text=TEXTS[i % len(TEXTS)],
            client_id=uuid.uuid4(), queue_bot=False,
        )[0].pk
        for i in range(args.messages)
    ]
    for message_id in ids[:WARM_UP]:
        tasks.answer_message.run(message_id)

    def run() -> None:
        for message_id in ids[WARM_UP:]:
            close_old_connections()
            tasks.answer_message.run(message_id)

    if args.profile:
        profiler = cProfile.Profile(time.process_time)
        profiler.runcall(run)
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(45)
        return
    started = time.process_time()
    run()
    per_task = (time.process_time() - started) * 1000 / (args.messages - WARM_UP)
    print(f"answer_message in-process: {per_task:.3f} ms of CPU per task "
          f"({args.messages - WARM_UP} tasks, {WARM_UP} warm-up)")


if __name__ == "__main__":
    main()
