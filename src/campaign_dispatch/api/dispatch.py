import hashlib
import json
from typing import Annotated

from fastapi import APIRouter, Header, status
from fastapi.responses import JSONResponse

from campaign_dispatch.api.deps import CampaignId, ResourcesDep, SessionDep, after_commit
from campaign_dispatch.api.errors import BODY_ERRORS, error_responses
from campaign_dispatch.schemas.campaign import SendRequest, SendResponse
from campaign_dispatch.services import dispatch
from campaign_dispatch.services.idempotency import respond_once

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
    if body.segment is None:  # as before segments: keys stored then still replay
        return hashlib.sha256(json.dumps(ids).encode()).hexdigest()
    segment = sorted((k, v.lower()) for k, v in body.segment.filters().items())
    return hashlib.sha256(json.dumps({"segment": segment}).encode()).hexdigest()


@router.post(
    "/{campaign_id}/send",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=SendResponse,
    responses=error_responses(404, 409, *BODY_ERRORS, 429),
)
async def send_campaign(
    campaign_id: CampaignId,
    body: SendRequest,
    session: SessionDep,
    resources: ResourcesDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Queue one message per customer and return at once; workers do the sending."""
    outbox = resources.repositories.outbox
    answer = await respond_once(
        session,
        scope=f"send:{campaign_id}",
        key=idempotency_key,
        fingerprint=_fingerprint(body),
        status_code=status.HTTP_202_ACCEPTED,
        action=lambda: dispatch.send(
            session,
            outbox,
            campaign_id,
            body.customer_ids,
            body.segment.filters() if body.segment is not None else None,
        ),
    )
    after_commit(session, resources.outbox_signal.wake)
    return JSONResponse(answer.body, status_code=answer.status_code)
