"""Pause, resume, cancel and retry-failed: a sent campaign's controls."""

import hashlib
from typing import Annotated

from fastapi import APIRouter, Body, status
from fastapi.responses import JSONResponse

from campaign_dispatch.api.deps import CampaignId, ResourcesDep, SessionDep, after_commit
from campaign_dispatch.api.dispatch import IdempotencyKey
from campaign_dispatch.api.errors import BODY_ERRORS, error_responses
from campaign_dispatch.schemas.campaign import CampaignDetail, PauseRequest, RetryResponse
from campaign_dispatch.services import control
from campaign_dispatch.services.idempotency import respond_once

router = APIRouter(prefix="/campaigns", tags=["campaigns"])
_CONFLICTS = error_responses(404, 409)


@router.post(
    "/{campaign_id}/pause",
    response_model=CampaignDetail,
    responses=error_responses(404, 409, *BODY_ERRORS),
)
async def pause_campaign(
    campaign_id: CampaignId,
    session: SessionDep,
    body: Annotated[PauseRequest | None, Body()] = None,
) -> CampaignDetail:
    """sending → paused: once this answers, no worker claims another of its messages;
    attempts already in flight finish and are recorded (409 unless sending)."""
    return await control.pause(session, campaign_id, body.reason if body else None)


@router.post("/{campaign_id}/resume", response_model=CampaignDetail, responses=_CONFLICTS)
async def resume_campaign(
    campaign_id: CampaignId, session: SessionDep, resources: ResourcesDep
) -> CampaignDetail:
    """paused → sending: the rest go out, none twice (409 unless paused)."""
    answer = await control.resume(session, resources.repositories.outbox, campaign_id)
    after_commit(session, resources.outbox_signal.wake)
    return answer


@router.post("/{campaign_id}/cancel", response_model=CampaignDetail, responses=_CONFLICTS)
async def cancel_campaign(campaign_id: CampaignId, session: SessionDep) -> CampaignDetail:
    """draft, scheduled, sending or paused → cancelled: every message not yet attempted is
    cancelled and never sent; attempts in flight keep their outcome."""
    return await control.cancel(session, campaign_id)


@router.post(
    "/{campaign_id}/retry-failed",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RetryResponse,
    responses=_CONFLICTS,
)
async def retry_failed(
    campaign_id: CampaignId,
    session: SessionDep,
    resources: ResourcesDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Send the failed messages again (not those that cannot succeed: an invalid number,
    an opt-out, an expiry or a template error), as a new attempt series; the campaign is
    sending again. 409 unless the campaign is sent or failed."""
    outbox = resources.repositories.outbox
    answer = await respond_once(
        session,
        scope=f"retry-failed:{campaign_id}",
        key=idempotency_key,
        fingerprint=hashlib.sha256(b"retry-failed").hexdigest(),
        status_code=status.HTTP_202_ACCEPTED,
        action=lambda: control.retry_failed(session, outbox, campaign_id),
    )
    after_commit(session, resources.outbox_signal.wake)
    return JSONResponse(answer.body, status_code=answer.status_code)
