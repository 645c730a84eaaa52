"""SupportDesk's settings with channels_redis's pub/sub layer, for ``--experiment pubsub``.

The core layer's ``group_send`` runs a Lua script over a sorted set of members and each
receive polls a list; the pub/sub layer publishes once per group and pushes to subscribers.
Only the benchmark uses this module, to measure the difference before proposing it.
"""

from supportdesk.settings import *  # noqa: F403
from supportdesk.settings import REDIS_URL

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {"hosts": [REDIS_URL], "prefix": "sdbench"},
    }
}
