import hashlib
import json
from typing import Annotated, Any

from fastapi import APIRouter, Header, status
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError

from campaign_dispatch.api.deps import RuntimeDep, SessionDep
from campaign_dispatch.errors import AppError, IdempotencyKeyReused
from campaign_dispatch.repositories import idempotency
from campaign_dispatch.schemas.campaign import SendRequest, SendResponse
from campaign_dispatch.services import dispatch

router = APIRouter(prefix="/campaigns", tags=["campaigns"])

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=200,
        description="Retries with the same key and body replay the first response",
    ),
]


def _fingerprint(body: SendRequest) -> str:
    ids = sorted(set(body.customer_ids)) if body.customer_ids is not None else None
    return hashlib.sha256(json.dumps(ids).encode()).hexdigest()


@router.post(
    "/{campaign_id}/send",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=SendResponse,
    responses={409: {"description": "The campaign is not draft or scheduled"}},
)
async def send_campaign(
    campaign_id: int,
    body: SendRequest,
    session: SessionDep,
    runtime: RuntimeDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Queue one message per customer and return at once; workers do the sending."""
    scope, fingerprint = f"send:{campaign_id}", _fingerprint(body)

    async def replay() -> JSONResponse | None:
        if idempotency_key is None:
            return None
        async with session.begin():
            record = await idempotency.get(session, scope, idempotency_key)
        if record is None:
            return None
        if record.request_hash != fingerprint:
            raise IdempotencyKeyReused(
                "This Idempotency-Key was already used with a different request body"
            )
        return JSONResponse(record.response_body, status_code=record.status_code)

    if (earlier := await replay()) is not None:
        return earlier
    try:
        async with session.begin():
            result = await dispatch.send(session, campaign_id, body.customer_ids)
            payload: dict[str, Any] = result.model_dump(mode="json")
            if idempotency_key is not None:
                await idempotency.save(session, scope, idempotency_key, fingerprint, 202, payload)
    except (AppError, IntegrityError):
        # A concurrent request with the same key may have won the race: answer as it did.
        if (earlier := await replay()) is not None:
            return earlier
        raise
    runtime.wake_relay()
    return JSONResponse(payload, status_code=status.HTTP_202_ACCEPTED)
