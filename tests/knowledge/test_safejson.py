"""Hostile JSON at every door that reads JSON: a clear refusal, never a server error."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from chat.models import Conversation, Widget
from knowledge.safejson import UnsafeJSON, UnstorableText, depth_of, has_unstorable, loads_checked

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


# Strings no database column stores, written as a client would send them (JSON escapes), each
# with where loads_checked must say it is. Built here, not taken from any other test.
UNSTORABLE_JSON = {
    "a high surrogate alone": (r'{"widget": "\ud83d"}', "at widget"),
    "a low surrogate alone": (r'["ok", "end \ude00"]', "at [1]"),
    "two high halves": (r'["\ud83d\ud83d"]', "at [0]"),
    "a NUL in a value": (r'{"widget": "de\u0000mo"}', "at widget"),
    "a NUL deep inside": (r'{"intents": [{"slug": "a", "phrases": ["x", "y\u0000"]}]}',
                          "at intents[0].phrases[1]"),
    "a NUL in a key": (r'{"intents": [{"na\u0000me": "x"}]}', "key of the object at intents[0]"),
    "a surrogate in a top-level key": (r'{"\udfff": 1}', "key of the object at the top level"),
    "a lone string": (r'"\u0000"', "at the top level"),
}


@pytest.mark.parametrize("case", list(UNSTORABLE_JSON))
def test_loads_checked_refuses_nul_and_lone_surrogates_anywhere_and_says_where(case):
    text, where = UNSTORABLE_JSON[case]
    with pytest.raises(UnstorableText) as caught:
        loads_checked(text)
    assert where in str(caught.value)
    assert "NUL character or half of an emoji" in str(caught.value)
    # The message itself can be shown and stored: it never repeats the bad characters.
    assert not has_unstorable(str(caught.value))
    str(caught.value).encode("utf-8")


def test_a_raw_nul_inside_a_string_is_not_json_at_all():
    with pytest.raises(UnsafeJSON) as caught:
        loads_checked('["a\x00b"]')
    assert "Invalid control character" in str(caught.value)


def test_loads_checked_also_refuses_unstorable_text_in_bytes():
    with pytest.raises(UnstorableText):
        loads_checked(rb'{"widget": "\ud83d"}')


def test_whole_emoji_however_escaped_and_other_control_characters_pass():
    assert loads_checked(r'["\ud83d\ude00", "😀", "tab\there", "\u0001", "\ufffd"]') == [
        "😀", "😀", "tab\there", "\x01", "\ufffd"
    ]


def test_a_long_key_is_cut_in_the_path():
    key = "k" * 500
    with pytest.raises(UnstorableText) as caught:
        loads_checked('{"' + key + r'": ["\u0000"]}')
    assert "k" * 40 + "…[0]" in str(caught.value)
    assert "k" * 41 not in str(caught.value)


def test_has_unstorable():
    assert has_unstorable("a\x00") and has_unstorable("\ud800") and has_unstorable("x\udfffy")
    assert not has_unstorable("") and not has_unstorable("😀 \ufeff \U0010ffff")


@pytest.mark.django_db
@pytest.mark.parametrize("case", ["a high surrogate alone", "a NUL in a value", "a NUL in a key"])
def test_the_django_admin_json_field_refuses_unstorable_text(client, case):
    client.force_login(User.objects.create_superuser("root", password="a-long-password-42"))
    text, _ = UNSTORABLE_JSON[case]
    response = client.post(
        "/admin/chat/widget/add/",
        {"public_key": "k1", "name": "Shop", "allowed_origins": text, "greeting": "",
         "is_active": "on"},
    )
    assert response.status_code == 200
    assert "NUL character or half of an emoji" in response.content.decode()
    assert not Widget.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body", [rb'{"widget": "\ud83d"}', rb'{"widget": "de\u0000mo"}', rb'{"widget\u0000": "acme"}']
)
def test_the_conversation_api_answers_bad_text(client, body):
    Widget.objects.create(public_key="acme", name="Acme", allowed_origins=["https://shop.example"])
    response = client.post(
        "/api/widget/conversations/", body, content_type="application/json",
        HTTP_ORIGIN="https://shop.example",
    )
    assert response.status_code == 400
    assert response.json()["error"] == "bad_text"
    assert "NUL character or half of an emoji" in response.json()["message"]
    assert not Conversation.objects.exists()
