from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession

from campaign_dispatch.repositories.pagination import PageRequest
from campaign_dispatch.runtime import Runtime


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def get_session(
    runtime: Annotated[Runtime, Depends(get_runtime)],
) -> AsyncIterator[AsyncSession]:
    async with runtime.sessions() as session:
        yield session


def page_request(
    page: Annotated[int, Query(ge=1, le=1_000_000, description="Page number, from 1")] = 1,
    page_size: Annotated[int, Query(ge=1, le=100, description="Items per page")] = 20,
    snapshot_id: Annotated[
        int | None,
        Query(ge=0, description="From page 1's pagination: pin later pages to that listing"),
    ] = None,
    cursor: Annotated[
        str | None,
        Query(max_length=200, description="A next_cursor: the page after it, same snapshot"),
    ] = None,
) -> PageRequest:
    return PageRequest(page=page, page_size=page_size, snapshot_id=snapshot_id, cursor=cursor)


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]
PageDep = Annotated[PageRequest, Depends(page_request)]
