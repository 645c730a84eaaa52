"""The Celery broker transport: kombu's Redis transport, made to survive a broker restart.

kombu 5.7.0's Redis channel crashes the worker when Redis goes away under it: on the connection
error Celery collects the connection, which detaches kombu's transport from it (``client`` set
to ``None``); a channel the collect did not close (its close failed on the dead socket) is
closed again later, and its close restores its unacknowledged messages, or a finished task
acknowledges a message of that channel. Both need a new Redis connection built from the
detached transport's ``client``, and fail with ``AttributeError: 'NoneType' object has no
attribute 'hostname'``, which no part of Celery expects: the worker logs "Unrecoverable error"
and stops consuming for good (the same failure as celery/kombu#582).

This channel overrides only documented members of kombu's virtual channel (``close``,
``basic_ack``, ``basic_reject``) and changes nothing while they work. When one of them fails
that way on a channel whose transport is detached, the failure is raised as a connection error
instead (:class:`DetachedChannelError`, a ``redis.ConnectionError``), which Celery and kombu
expect from a broker that went away: the worker logs "Couldn't ack" and reconnects. The
messages stay in Redis's unacked index and the worker's new connection restores them after the
visibility timeout (``CELERY_VISIBILITY_TIMEOUT_SECONDS``); the outbox's dispatcher queues
their owed answers again much sooner, and an answer already stored is never stored twice.

Used through ``CELERY_BROKER_TRANSPORT`` (``supportdesk.broker:Transport``) whenever the broker
URL is ``redis://`` or ``rediss://`` (for ``rediss://`` the settings ask for verified TLS through
``CELERY_BROKER_USE_SSL``: a named transport no longer takes TLS from the scheme).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from kombu.transport import redis as kombu_redis
from redis.exceptions import ConnectionError as RedisConnectionError


class DetachedChannelError(RedisConnectionError):
    """The channel's broker connection was closed; the broker redelivers its messages."""


class Channel(kombu_redis.Channel):
    """kombu's Redis channel whose failures once detached are connection errors."""

    def detached(self) -> bool:
        """True when this channel's transport no longer belongs to a connection.

        A detached channel cannot open a Redis connection: the parameters were the connection's.
        """
        transport = self.connection
        return transport is None or transport.client is None

    @contextlib.contextmanager
    def detached_failures(self, action: str) -> Iterator[None]:
        """Raises kombu's ``AttributeError`` of a detached channel as a connection error.

        ``action`` names what failed ("cannot acknowledge"). Any other ``AttributeError``, or
        one while still attached, propagates unchanged.
        """
        try:
            yield
        except AttributeError as error:
            if not self.detached():
                raise
            raise DetachedChannelError(
                f"{action}: this channel's broker connection was closed"
            ) from error

    def close(self) -> None:
        """Closes the channel, restoring its unacknowledged messages when it still can.

        Raises:
            DetachedChannelError: the restore needed a new Redis connection and the channel is
                detached (the messages stay in the broker's unacked index).
        """
        with self.detached_failures("closed without restoring"):
            super().close()

    def basic_ack(self, delivery_tag: str, multiple: bool = False) -> None:
        """Acknowledges a message.

        Raises:
            DetachedChannelError: as for ``close`` (Celery logs it and goes on; the message is
                redelivered after the visibility timeout).
        """
        with self.detached_failures("cannot acknowledge"):
            super().basic_ack(delivery_tag, multiple=multiple)

    def basic_reject(self, delivery_tag: str, requeue: bool = False) -> None:
        """Rejects a message.

        Raises:
            DetachedChannelError: as for ``basic_ack``.
        """
        with self.detached_failures("cannot reject"):
            super().basic_reject(delivery_tag, requeue=requeue)


class Transport(kombu_redis.Transport):
    """kombu's Redis transport with :class:`Channel`."""

    Channel = Channel
