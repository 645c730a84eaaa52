"""chat/console/services.py: an agent's presence across sockets and crashed processes."""

from datetime import timedelta

import pytest
from django.utils import timezone

from chat.console.services import presence_connect, presence_disconnect, presence_touch
from chat.models import AgentPresence, PresenceStatus
from chat.selectors import agents_online_count

from .conftest import make_user

pytestmark = pytest.mark.django_db


def _age(agent, **delta) -> None:
    AgentPresence.objects.filter(user=agent).update(last_seen=timezone.now() - timedelta(**delta))


def test_sockets_are_counted_and_the_last_one_out_goes_offline():
    agent = make_user("agents")
    presence_connect(agent=agent)
    presence_connect(agent=agent)
    assert AgentPresence.objects.get(user=agent).connections == 2
    assert agents_online_count() == 1
    presence_disconnect(agent=agent)
    presence_disconnect(agent=agent)
    presence = AgentPresence.objects.get(user=agent)
    assert (presence.connections, presence.status) == (0, PresenceStatus.OFFLINE)
    assert agents_online_count() == 0


def test_a_presence_whose_heartbeat_stopped_is_not_online(settings):
    settings.CONSOLE_PRESENCE_HEARTBEAT_SECONDS = 30
    agent = make_user("agents")
    presence_connect(agent=agent)
    _age(agent, seconds=89)
    assert agents_online_count() == 1
    _age(agent, seconds=91)  # three beats missed: the process that held it is gone
    assert agents_online_count() == 0
    presence_touch(agent=agent)
    assert agents_online_count() == 1


def test_reconnecting_after_a_crash_does_not_inherit_dead_sockets(settings):
    settings.CONSOLE_PRESENCE_HEARTBEAT_SECONDS = 30
    agent = make_user("agents")
    for _ in range(3):
        presence_connect(agent=agent)  # three sockets of a process that then crashed
    _age(agent, minutes=10)
    presence_connect(agent=agent)
    assert AgentPresence.objects.get(user=agent).connections == 1
    presence_disconnect(agent=agent)
    assert AgentPresence.objects.get(user=agent).status == PresenceStatus.OFFLINE
