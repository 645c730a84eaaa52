"""SupportDesk's settings with the changes ``bench_chat.py --experiment`` measures.

Only the benchmark uses this module, to measure a proposed change before it is made:

* ``pubsub``: channels_redis's pub/sub layer. The core layer's ``group_send`` runs a Lua
  script over a sorted set of members and every receive polls a list; the pub/sub layer
  publishes once per group and Redis pushes to the subscribed processes.
* ``asynccommit``: the Celery worker's transactions (the bot's reply, its trace and events)
  commit without waiting for the WAL flush (``synchronous_commit=off``). The customer's
  message, written by Daphne, still waits: it is acknowledged only once it is durable.
"""

import os

from supportdesk.settings import *  # noqa: F403
from supportdesk.settings import DATABASES, REDIS_URL

EXPERIMENTS = {
    name.strip() for name in os.environ.get("SD_BENCH_EXPERIMENTS", "").split(",") if name.strip()
}

if "pubsub" in EXPERIMENTS:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": "sdbench"},
        }
    }

if "asynccommit" in EXPERIMENTS and os.environ.get("SD_BENCH_ROLE") == "worker":
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c synchronous_commit=off"
