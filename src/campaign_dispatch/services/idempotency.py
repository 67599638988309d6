"""Idempotency-Key handling for a POST: the first response is stored with the request's
effect, in the same transaction, and replayed for retries with the same key and body."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from campaign_dispatch.errors import AppError, IdempotencyKeyReused
from campaign_dispatch.repositories import idempotency


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    body: dict[str, Any]


async def _replay(
    session: AsyncSession, scope: str, key: str, fingerprint: str
) -> StoredResponse | None:
    record = await idempotency.get(session, scope, key)
    if record is None:
        return None
    if record.request_hash != fingerprint:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was already used with a different request body"
        )
    return StoredResponse(record.status_code, record.response_body)


async def respond_once(
    session: AsyncSession,
    *,
    scope: str,
    key: str | None,
    fingerprint: str,
    status_code: int,
    action: Callable[[], Awaitable[BaseModel]],
) -> StoredResponse:
    """Run `action` and answer `status_code`, at most once per key (in the request's
    transaction, which the caller commits)."""
    if key is not None and (earlier := await _replay(session, scope, key, fingerprint)):
        return earlier
    try:
        async with session.begin_nested():
            payload: dict[str, Any] = (await action()).model_dump(mode="json")
            if key is not None:
                await idempotency.save(session, scope, key, fingerprint, status_code, payload)
    except (AppError, IntegrityError):
        # A concurrent request with the same key may have won the race (it committed
        # while we waited on the campaign's lock): answer as it did.
        if key is not None and (earlier := await _replay(session, scope, key, fingerprint)):
            return earlier
        raise
    return StoredResponse(status_code, payload)
