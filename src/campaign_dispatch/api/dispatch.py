import hashlib
import json
from typing import Annotated

from fastapi import APIRouter, Header, status
from fastapi.responses import JSONResponse

from campaign_dispatch.api.deps import RuntimeDep, SessionDep
from campaign_dispatch.api.idempotency import respond_once
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
    response = await respond_once(
        session,
        scope=f"send:{campaign_id}",
        key=idempotency_key,
        fingerprint=_fingerprint(body),
        status_code=status.HTTP_202_ACCEPTED,
        action=lambda: dispatch.send(session, campaign_id, body.customer_ids),
    )
    runtime.wake_relay()
    return response
