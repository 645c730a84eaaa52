import os

from celery import Celery
from kombu.transport import redis as kombu_redis

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "supportdesk.settings")


class RedisChannel(kombu_redis.Channel):
    """kombu's Redis channel, with one client per connection pool instead of one per command.

    kombu builds a new ``redis.Redis`` for every publish, every unacked-message bookkeeping
    (acks late: one on delivery, one on ack) and every ack; redis-py's client constructor
    fills a table of a few hundred response callbacks each time, about a tenth of a
    millisecond of CPU. The client holds no connection of its own (each command borrows one
    from the pool, as before), so one per pool is safe across threads; a new pool (after a
    reconnect) gets a new client.
    """

    _sync_client: tuple | None = None

    def _create_client(self, asynchronous: bool = False):
        if asynchronous:
            return super()._create_client(asynchronous=True)
        pool = self.pool
        cached = self._sync_client
        if cached is None or cached[0] is not pool:
            cached = self._sync_client = (pool, super()._create_client())
        return cached[1]


class RedisTransport(kombu_redis.Transport):
    Channel = RedisChannel


app = Celery("supportdesk")
app.config_from_object("django.conf:settings", namespace="CELERY")
if str(app.conf.broker_url or "").startswith(("redis://", "rediss://")) and not (
    app.conf.broker_transport
):
    app.conf.broker_transport = "supportdesk.celery:RedisTransport"
app.autodiscover_tasks()
