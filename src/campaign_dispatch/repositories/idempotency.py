from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from campaign_dispatch.models import IdempotencyRecord


async def get(session: AsyncSession, scope: str, key: str) -> IdempotencyRecord | None:
    return await session.get(IdempotencyRecord, (scope, key))


async def save(
    session: AsyncSession,
    scope: str,
    key: str,
    request_hash: str,
    status_code: int,
    body: dict[str, Any],
) -> None:
    session.add(
        IdempotencyRecord(
            scope=scope,
            key=key,
            request_hash=request_hash,
            status_code=status_code,
            response_body=body,
        )
    )
    await session.flush()
