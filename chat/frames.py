"""Decoding and checking an inbound WebSocket frame, for both sockets (docs/protocol.md).

A frame is a flat JSON object. Whatever a client sends, ``decode_frame`` either returns a dict
whose strings can be stored (no NUL, no lone surrogate half) and whose numbers are ordinary, or
raises ``FrameError`` with the error code to answer: nothing reaches a handler or the database
that would fail there, so bad input is answered, not logged as a failure.

Size counts characters after decoding, so the same text weighs the same however the client
escaped it: ``"😀"`` sent as the 12-character escape ``\\ud83d\\ude00`` is one character.
"""

from __future__ import annotations

import json
import math
from typing import Any

from knowledge.safejson import has_unstorable

# The most escaped spelling of one character is a surrogate pair of \u escapes: 12 characters.
ESCAPE_FACTOR = 12
# Room for the frame's other fields (type, client_id, token, seq...) beside its text.
FRAME_OVERHEAD_CHARS = 1024
# Frames are flat objects: {"type": ..., "text": ...}; a little room for a future list field.
MAX_DEPTH = 3
# Numbers a client may send: within JavaScript's safe integers, so both sides read the same.
MAX_SAFE_INTEGER = 2**53 - 1


class FrameError(ValueError):
    """A frame refused before any handler ran; ``code`` is its error code (chat.events)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _parse_int(digits: str) -> int:
    # Checked on the digits, before int() builds a number of thousands of digits.
    if len(digits.lstrip("-")) > 16 or abs(int(digits)) > MAX_SAFE_INTEGER:
        raise FrameError("bad_json", "Numbers must be whole numbers below 2^53.")
    return int(digits)


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise FrameError("bad_json", "Numbers must be finite.")
    return value


def _refuse_constant(name: str) -> float:
    raise FrameError("bad_json", f"{name} is not JSON.")


def _check(value: Any, depth: int) -> int:
    """Checks nested values; returns the number of characters of their strings."""
    if depth > MAX_DEPTH:
        raise FrameError("bad_json", "The frame is nested too deeply.")
    if isinstance(value, str):
        if has_unstorable(value):
            raise FrameError(
                "bad_text", "Text may not contain NUL characters or half of an emoji."
            )
        return len(value)
    if isinstance(value, dict):
        return sum(_check(k, depth + 1) + _check(v, depth + 1) for k, v in value.items())
    if isinstance(value, list):
        return sum(_check(item, depth + 1) for item in value)
    return 0


def raw_limit(max_chars: int) -> int:
    """The most characters a frame may arrive as: every character of a ``max_chars`` text
    escaped in the longest way, plus the other fields."""
    return max_chars * ESCAPE_FACTOR + FRAME_OVERHEAD_CHARS * ESCAPE_FACTOR


def decode_frame(text_data: str | None, *, max_chars: int) -> dict[str, Any]:
    """The JSON object of a text frame, checked.

    ``max_chars`` is the longest text a frame may carry (a message); the decoded strings of a
    frame may add up to ``max_chars`` plus ``FRAME_OVERHEAD_CHARS``.

    Raises ``FrameError`` with code ``bad_json`` (binary frame, not JSON, not an object,
    nesting deeper than ``MAX_DEPTH``, an integer beyond ±2^53, NaN or Infinity),
    ``frame_too_large`` (over the limit, counted on decoded characters) or ``bad_text`` (a
    string with NUL or a lone UTF-16 surrogate).
    """
    if text_data is None:
        raise FrameError("bad_json", "Send JSON text frames, not binary ones.")
    if len(text_data) > raw_limit(max_chars):
        raise FrameError("frame_too_large", "The frame is larger than the server accepts.")
    try:
        frame = json.loads(
            text_data,
            parse_int=_parse_int,
            parse_float=_parse_float,
            parse_constant=_refuse_constant,
        )
    except FrameError:
        raise
    except (ValueError, RecursionError) as exc:
        raise FrameError("bad_json", "The frame is not a JSON object.") from exc
    if not isinstance(frame, dict):
        raise FrameError("bad_json", "The frame is not a JSON object.")
    if _check(frame, 1) > max_chars + FRAME_OVERHEAD_CHARS:
        raise FrameError("frame_too_large", "The frame is larger than the server accepts.")
    return frame
