"""A repository's page of rows as the API's Page[T]; a bad cursor is a 422."""

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from campaign_dispatch.errors import ValidationFailed
from campaign_dispatch.repositories.pagination import InvalidCursor, PageResult
from campaign_dispatch.schemas.common import Page, Pagination

T = TypeVar("T")


def cursor_error(exc: InvalidCursor) -> ValidationFailed:
    return ValidationFailed(
        f"Invalid cursor: it {exc.why}", details=[{"field": "cursor", "message": str(exc)}]
    )


async def paged(fetch: Awaitable[PageResult], convert: Callable[[Any], T]) -> Page[T]:
    try:
        result = await fetch
    except InvalidCursor as exc:
        raise cursor_error(exc) from None
    return Page[T](
        data=[convert(item) for item in result.items],
        pagination=Pagination(
            page=result.page,
            page_size=result.page_size,
            total_count=result.total_count,
            total_pages=result.total_pages,
            snapshot_id=result.snapshot_id,
            next_cursor=result.next_cursor,
        ),
    )
