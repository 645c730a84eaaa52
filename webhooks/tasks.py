"""Celery tasks of the webhooks: thin doors onto ``webhooks.delivery`` and the dispatcher.

``deliver_endpoint`` runs on ``WEBHOOK_QUEUE`` (Procfile's ``webhooks`` worker), never in a
chat turn. On the embedded defaults (eager Celery) a queued delivery runs in a thread of its
own after the commit, so a slow receiver delays no chat there either.
"""

from __future__ import annotations

import threading

from celery import shared_task
from django.conf import settings
from django.db import connections

from . import services
from .delivery import endpoint_deliver

# Retries sooner than this are queued with a countdown; later ones wait for the dispatcher
# (a long countdown would outlast the broker's visibility timeout and be redelivered early).
SHORT_RETRY_SECONDS = 60.0


@shared_task(name="webhooks.tasks.deliver_endpoint", ignore_result=True)
def deliver_endpoint(endpoint_id: int) -> None:
    """Sends one endpoint's due deliveries in order, then queues itself again if more are
    due or a short retry is coming."""
    run = endpoint_deliver(endpoint_id, budget_seconds=settings.WEBHOOK_TASK_BUDGET_SECONDS)
    if deliver_endpoint.app.conf.task_always_eager:
        # Embedded (no broker, maybe no beat): a timer thread stands in for the countdown.
        if run.more or (run.retry_in is not None and run.retry_in <= SHORT_RETRY_SECONDS):
            timer = threading.Timer(0 if run.more else run.retry_in, _run_eager, (endpoint_id,))
            timer.daemon = True
            timer.start()
        return
    if run.more:
        deliver_endpoint.apply_async((endpoint_id,), queue=settings.WEBHOOK_QUEUE or None)
    elif run.retry_in is not None and run.retry_in <= SHORT_RETRY_SECONDS:
        deliver_endpoint.apply_async(
            (endpoint_id,), countdown=run.retry_in, queue=settings.WEBHOOK_QUEUE or None
        )


@shared_task(name="webhooks.tasks.deliveries_dispatch", ignore_result=True)
def deliveries_dispatch() -> int:
    """Beat: queues the delivery task for every endpoint with a delivery due and no task on
    it (a retry after a long backoff, a queueing that failed); returns how many."""
    due = services.endpoints_due()
    for endpoint_id in due:
        deliver_endpoint_enqueue(endpoint_id)
    return len(due)


def _run_eager(endpoint_id: int) -> None:
    try:
        deliver_endpoint.apply((endpoint_id,))
    finally:
        connections.close_all()


def deliver_endpoint_enqueue(endpoint_id: int, countdown: float = 0.0) -> None:
    """Queues ``deliver_endpoint`` on ``WEBHOOK_QUEUE`` to start in ``countdown`` seconds; with
    eager Celery, starts it at once in a thread of its own instead (the caller, a chat write's
    commit, does not wait for it; one process and no broker: nothing to gather)."""
    if deliver_endpoint.app.conf.task_always_eager:
        threading.Thread(
            target=_run_eager, args=(endpoint_id,), name="webhook-delivery", daemon=True
        ).start()
        return
    deliver_endpoint.apply_async((endpoint_id,), countdown=countdown or None,
                                 queue=settings.WEBHOOK_QUEUE or None)


services.register_queue(deliver_endpoint_enqueue)
