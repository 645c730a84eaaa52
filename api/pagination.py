"""Cursor pagination for every list: stable while rows are added, and a bad cursor or page
size is a 400 with a JSON error instead of a silent default."""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


class ApiCursorPagination(CursorPagination):
    """``?cursor=`` (opaque, from ``next``/``previous``) and ``?page_size=`` (1 to 200)."""

    page_size = PAGE_SIZE
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE
    ordering = "-id"

    def get_page_size(self, request: Any) -> int:
        value = request.query_params.get(self.page_size_query_param)
        if value is None:
            return self.page_size
        if not value.isascii() or not value.isdigit() or not 1 <= int(value) <= MAX_PAGE_SIZE:
            raise ValidationError(
                {"page_size": [f"A whole number from 1 to {MAX_PAGE_SIZE}."]}
            )
        return int(value)

    def decode_cursor(self, request: Any) -> Any:
        message = {"cursor": ["Not a cursor this API gave out: use the next or previous link."]}
        try:
            cursor = super().decode_cursor(request)
        except NotFound:
            raise ValidationError(message) from None
        # DRF reads any text it cannot parse as "the first page"; the links it gives out for
        # later pages always carry a position, an offset or a direction.
        given = request.query_params.get(self.cursor_query_param)
        if given and cursor is not None and (
            cursor.offset == 0 and not cursor.reverse and cursor.position is None
        ):
            raise ValidationError(message)
        return cursor


def paginated(ordering: str | tuple[str, ...]) -> type[ApiCursorPagination]:
    """A pagination class ordered by ``ordering`` (a unique, unchanging field first)."""
    return type("ApiCursorPagination", (ApiCursorPagination,), {"ordering": ordering})
