"""JSON from outside, read so that hostile input gets a clear refusal instead of a server error.

Python's ``json`` raises ``RecursionError`` on deep nesting (100,000 ``[``), ``ValueError`` on
integers of more than 4,300 digits, and accepts integers no database column holds, ``NaN`` and
``Infinity``. :func:`loads_checked` refuses all of them with :class:`UnsafeJSON`, whose message
can be shown to the person who sent the text.

Strings are checked too: a NUL character cannot be stored in PostgreSQL (text or ``jsonb``),
and a lone UTF-16 surrogate (half an emoji, the JSON escape ``"\\ud83d"`` alone) cannot be
encoded as UTF-8 for any database. :func:`has_unstorable` is that check, shared with the chat
sockets (``chat.frames``).
"""

from __future__ import annotations

import json
import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db import models
from django.forms.fields import InvalidJSONInput

# A JSON integer longer than this does not fit a 64-bit column (19 digits); nothing the desk
# reads needs more.
MAX_INT_DIGITS = 18
MAX_DEPTH = 32
# A key shown in the path of a refused string is cut to this many characters.
PATH_KEY_CHARS = 40

# NUL cannot be stored in PostgreSQL text; a lone surrogate half cannot be encoded as UTF-8.
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
UNSTORABLE_REASON = "a NUL character or half of an emoji (a lone UTF-16 surrogate)"


class UnsafeJSON(ValueError):
    """The text is not JSON the desk accepts; ``str(exc)`` says why, for the sender."""


class UnstorableText(UnsafeJSON):
    """A string in the JSON (a key or a value) holds what no database column can store."""


def has_unstorable(text: str) -> bool:
    """Whether ``text`` holds a NUL character or a lone UTF-16 surrogate (U+D800 to U+DFFF).

    A well-formed emoji decoded from JSON is one code point, never a surrogate, so only a
    half pair (or a surrogate escaped on its own) is found. Such text cannot be stored:
    PostgreSQL refuses NUL, and UTF-8 cannot encode a surrogate.
    """
    return UNSTORABLE.search(text) is not None


def _parse_int(max_digits: int):
    def parse(text: str) -> int:
        if len(text.lstrip("-")) > max_digits:
            raise UnsafeJSON(
                f"A number has {len(text.lstrip('-')):,} digits; at most {max_digits} are accepted."
            )
        return int(text)

    return parse


def _parse_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise UnsafeJSON("A number is too large.")
    return value


def _parse_constant(name: str) -> Any:
    raise UnsafeJSON(f"{name} is not a JSON number.")


def depth_of(value: Any) -> int:
    """How deeply lists and objects nest in ``value``: a scalar is 0, ``[[]]`` is 2.

    Iterative, so a value too deep for Python's recursion is measured all the same.
    """
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in children)
    return deepest


def _path_text(path: tuple[Any, Any] | None) -> str:
    """``intents[3].phrases[0]`` from the linked path ``(parent, key)`` of :func:`check_tree`."""
    parts: list[str] = []
    while path is not None:
        path, key = path
        if isinstance(key, int):
            parts.append(f"[{key}]")
        else:
            shown = key if len(key) <= PATH_KEY_CHARS else key[:PATH_KEY_CHARS] + "…"
            parts.append(f".{shown}")
    return "".join(reversed(parts)).lstrip(".") or "the top level"


def check_tree(value: Any, *, max_depth: int = MAX_DEPTH) -> None:
    """Raise :class:`UnsafeJSON` if lists and objects in ``value`` nest deeper than
    ``max_depth``, or :class:`UnstorableText` if any string in it (an object's key or a value)
    holds a NUL character or a lone surrogate; the message names where (``intents[3].name``).

    Iterative, so a value too deep for Python's recursion is checked all the same. The keys of
    an object are checked before anything inside it, so a path never shows a refused key.
    """
    # (item, level, path): path is a linked (parent path, key) pair, built in O(1) per item.
    stack: list[tuple[Any, int, tuple[Any, Any] | None]] = [(value, 1, None)]
    while stack:
        item, level, path = stack.pop()
        if isinstance(item, str):
            if has_unstorable(item):
                raise UnstorableText(
                    f"The text at {_path_text(path)} holds {UNSTORABLE_REASON}, "
                    "which cannot be stored."
                )
            continue
        if not isinstance(item, (dict, list)):
            continue
        if level > max_depth:
            raise UnsafeJSON(f"Lists or objects nest too deeply; at most {max_depth} levels.")
        if isinstance(item, dict):
            for key in item:
                if isinstance(key, str) and has_unstorable(key):
                    raise UnstorableText(
                        f"A key of the object at {_path_text(path)} holds {UNSTORABLE_REASON}, "
                        "which cannot be stored."
                    )
            stack.extend((child, level + 1, (path, key)) for key, child in item.items())
        else:
            stack.extend((child, level + 1, (path, index)) for index, child in enumerate(item))


def loads_checked(
    text: str | bytes, *, max_depth: int = MAX_DEPTH, max_int_digits: int = MAX_INT_DIGITS
) -> Any:
    """``json.loads`` that raises :class:`UnsafeJSON` for what the desk does not accept.

    Refused: invalid JSON (the message names line and column), nesting deeper than
    ``max_depth`` lists or objects, integers of more than ``max_int_digits`` digits, ``NaN``,
    ``Infinity`` and floats out of range (all :class:`UnsafeJSON`), and any string, key or
    value, holding a NUL character or a lone UTF-16 surrogate (:class:`UnstorableText`, a
    subclass): what is returned can be stored in PostgreSQL and SQLite.
    """
    try:
        value = json.loads(
            text,
            parse_int=_parse_int(max_int_digits),
            parse_float=_parse_float,
            parse_constant=_parse_constant,
        )
    except UnsafeJSON:
        raise
    except json.JSONDecodeError as exc:
        raise UnsafeJSON(
            f"Line {exc.lineno}, column {exc.colno}: not valid JSON ({exc.msg})."
        ) from None
    except RecursionError:
        raise UnsafeJSON(f"Lists or objects nest too deeply; at most {max_depth} levels.") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise UnsafeJSON(f"Not readable as JSON ({exc}).") from None
    check_tree(value, max_depth=max_depth)
    return value


class CheckedJSONFormField(forms.JSONField):
    """Django's form ``JSONField`` that refuses what :func:`loads_checked` refuses, with its reason.

    Django's field answers a server error for 100,000 nested brackets (``RecursionError``) and
    a 5,000-digit integer (``ValueError``); this one shows the form again with the message. Use
    it for every JSON field an admin form edits: ``formfield_overrides = CHECKED_JSON``.
    """

    def to_python(self, value: Any) -> Any:
        if isinstance(value, str) and not self.disabled and value not in self.empty_values:
            try:
                loads_checked(value)
            except UnsafeJSON as exc:
                raise ValidationError(str(exc), code="invalid") from None
        return super().to_python(value)

    def bound_data(self, data: Any, initial: Any) -> Any:
        if isinstance(data, str) and not self.disabled:
            try:
                loads_checked(data)
            except UnsafeJSON:
                return InvalidJSONInput(data)
        return super().bound_data(data, initial)


# ``ModelAdmin.formfield_overrides`` for models with JSON fields.
CHECKED_JSON: dict[type, dict[str, Any]] = {
    models.JSONField: {"form_class": CheckedJSONFormField}
}
