"""What the routes depend on: the process's Resources, a request's transaction, paging."""

from collections.abc import AsyncIterator, Callable
from typing import Annotated

from fastapi import Depends, Path, Query, Request
from pydantic import BeforeValidator
from sqlalchemy.ext.asyncio import AsyncSession

from campaign_dispatch.repositories.pagination import PageRequest
from campaign_dispatch.resources import Resources
from campaign_dispatch.schemas.common import MAX_ID, canonical_id

_AFTER_COMMIT = "after_commit"


def get_resources(request: Request) -> Resources:
    resources: Resources = request.app.state.resources
    return resources


ResourcesDep = Annotated[Resources, Depends(get_resources)]


async def transaction(resources: ResourcesDep) -> AsyncIterator[AsyncSession]:
    """The request's one transaction: it begins with the first statement, commits when
    the route returns (before the response is sent, so a failed commit is the answer)
    and rolls back when it raises. Callbacks registered with `after_commit` run then."""
    async with resources.database.sessions() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise
        for callback in session.info.pop(_AFTER_COMMIT, ()):
            callback()


def after_commit(session: AsyncSession, callback: Callable[[], None]) -> None:
    session.info.setdefault(_AFTER_COMMIT, []).append(callback)


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


SessionDep = Annotated[AsyncSession, Depends(transaction, scope="function")]
PageDep = Annotated[PageRequest, Depends(page_request)]


def _path_id(description: str) -> object:
    # Anything but the canonical decimal form is a 422 naming the parameter (as a body
    # id of 0 is); a well-formed id that names nothing is the resource's 404. The bounds
    # come before the validator so that OpenAPI shows them as JSON Schema's.
    return Path(gt=0, le=MAX_ID, description=description)


CampaignId = Annotated[int, _path_id("A campaign's id"), BeforeValidator(canonical_id)]
CustomerId = Annotated[int, _path_id("A customer's id"), BeforeValidator(canonical_id)]
MessageId = Annotated[int, _path_id("A message's id"), BeforeValidator(canonical_id)]
