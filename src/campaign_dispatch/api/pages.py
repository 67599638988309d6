from collections.abc import Callable
from typing import Any, TypeVar

from campaign_dispatch.repositories.pagination import PageResult
from campaign_dispatch.schemas.common import Page, Pagination

T = TypeVar("T")


def to_page(result: PageResult, convert: Callable[[Any], T]) -> Page[T]:
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
