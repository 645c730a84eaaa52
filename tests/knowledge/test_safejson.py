"""Hostile JSON at every door that reads JSON: a clear refusal, never a server error."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from chat.models import Conversation, Widget
from knowledge.safejson import UnsafeJSON, depth_of, loads_checked

HOSTILE = {
    "deep lists": ("[" * 100_000, "nest too deeply"),
    "deep objects": ('{"a": ' * 3000 + "1" + "}" * 3000, "nest too deeply"),
    "a 4,300-digit integer": ("[" + "4" * 4300 + "]", "4,300 digits"),
    "a 5,000-digit integer": ("[" + "5" * 5000 + "]", "5,000 digits"),
    "a float out of range": ("[1e400]", "too large"),
    "NaN": ('{"a": NaN}', "NaN"),
    "-Infinity": ("[-Infinity]", "-Infinity"),
    "broken": ('{"a": [1, 2}', "Line 1, column"),
    "bad bytes": (b'["\xff"]', "JSON"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_loads_checked_refuses_with_a_reason(case):
    text, reason = HOSTILE[case]
    with pytest.raises(UnsafeJSON) as caught:
        loads_checked(text)
    assert reason in str(caught.value)


def test_loads_checked_reads_ordinary_json_and_its_limits():
    assert loads_checked('{"a": [1, -2.5, "x", null, true]}') == {"a": [1, -2.5, "x", None, True]}
    assert loads_checked("[" + "9" * 18 + "]") == [10**18 - 1]
    assert loads_checked("[[[]]]", max_depth=3) == [[[]]]
    with pytest.raises(UnsafeJSON):
        loads_checked("[[[[]]]]", max_depth=3)
    assert depth_of({"a": [{"b": 1}]}) == 3 and depth_of(5) == 0


@pytest.mark.django_db
@pytest.mark.parametrize("case", ["deep lists", "a 5,000-digit integer", "NaN"])
def test_the_django_admin_json_field_shows_the_reason_and_saves_nothing(client, case):
    client.force_login(User.objects.create_superuser("root", password="a-long-password-42"))
    text, reason = HOSTILE[case]
    response = client.post(
        "/admin/chat/widget/add/",
        {"public_key": "k1", "name": "Shop", "allowed_origins": text, "greeting": "",
         "is_active": "on"},
    )
    assert response.status_code == 200  # the admin shows its form again with the error
    assert reason in response.content.decode()
    assert not Widget.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("case", ["deep lists", "a 5,000-digit integer"])
def test_the_conversation_api_answers_bad_json(client, case):
    Widget.objects.create(public_key="acme", name="Acme", allowed_origins=["https://shop.example"])
    text, _ = HOSTILE[case]
    response = client.post(
        "/api/widget/conversations/", text[:2000], content_type="application/json",
        HTTP_ORIGIN="https://shop.example",
    )
    assert response.status_code == 400
    assert response.json()["error"] == "bad_json"
    assert not Conversation.objects.exists()
