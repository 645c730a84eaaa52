#!/usr/bin/env python
"""CPU of an incoming customer message alone: ``chat.services.message_create_incoming``
(what Daphne runs for each message frame, Celery's ``delay`` of the bot task included), in
this process, no sockets.

    .venv/bin/python bench/bench_incoming.py --messages 300            # CPU ms per message
    .venv/bin/python bench/bench_incoming.py --messages 300 --profile  # cProfile, cumulative

Runs against the database ``bench/bench_chat.py`` leaves behind (migrated, with the demo
company): it opens 20 conversations and stores messages in turn, closing stale connections
before each as the consumer's database hop does. The queued tasks go to the given Redis
database, which it empties at the end (give it a database of your own). Compare two versions
of the code by running this from each tree in turn.
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
WARM_UP = 40


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url",
                        default="postgres://postgres@127.0.0.1:5432/sd_console_bench")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/5")
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    os.environ.update(
        DATABASE_URL=args.database_url, REDIS_URL=args.redis_url, CHANNEL_PREFIX="sdbench",
        CELERY_TASK_ALWAYS_EAGER="0", LOG_LEVEL="WARNING",
        DJANGO_SETTINGS_MODULE="supportdesk.settings",
    )

    import django

    django.setup()
    import redis
    from django.db import close_old_connections

    from chat import services
    from chat.models import Widget

    widget = Widget.objects.get(public_key="demo")
    conversations = [services.conversation_start(widget=widget)[0] for _ in range(20)]

    def run(count: int) -> None:
        for i in range(count):
            close_old_connections()
            services.message_create_incoming(
                conversation=conversations[i % 20],
                text="How long does standard shipping take?", client_id=uuid.uuid4(),
            )

    try:
        run(WARM_UP)
        if args.profile:
            profiler = cProfile.Profile(time.process_time)
            profiler.runcall(run, args.messages)
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
            return
        started = time.process_time()
        run(args.messages)
        per_message = (time.process_time() - started) * 1000 / args.messages
        print(f"message_create_incoming in-process: {per_message:.3f} ms of CPU per message "
              f"({args.messages} messages, {WARM_UP} warm-up)")
    finally:
        redis.Redis.from_url(args.redis_url).flushdb()  # the queued tasks nobody will run


if __name__ == "__main__":
    main()
