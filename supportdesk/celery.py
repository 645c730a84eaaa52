"""The Celery app: configured from Django's settings (``CELERY_*``), tasks found in the apps.

Database connections are kept across tasks (``CELERY_DB_REUSE_MAX``) but checked before each
task and closed after one that failed: Django's ``close_old_connections`` on Celery's
``task_prerun`` and ``task_postrun`` signals, with ``CONN_HEALTH_CHECKS`` on. A worker whose
PostgreSQL restarted reconnects on its next task instead of failing every task after it.
"""

import os
from typing import Any

from celery import Celery
from celery.signals import task_postrun, task_prerun
from django.db import close_old_connections

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "supportdesk.settings")

app = Celery("supportdesk")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
def check_connections_before_task(task: Any = None, **kwargs: Any) -> None:
    """Re-arms the health check of kept connections (and closes broken or expired ones).

    Not for an eager task: it runs inside the web request's (or a test's) own connection use.
    """
    if task is not None and not task.request.is_eager:
        close_old_connections()


@task_postrun.connect
def close_broken_connections_after_task(task: Any = None, **kwargs: Any) -> None:
    """A task that hit a dead connection leaves it marked broken: closed here, not reused."""
    if task is not None and not task.request.is_eager:
        close_old_connections()
