from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from campaign_dispatch.api.deps import (
    CampaignId,
    MessageId,
    PageDep,
    ResourcesDep,
    SessionDep,
    after_commit,
)
from campaign_dispatch.api.errors import BODY_ERRORS, error_responses
from campaign_dispatch.schemas.campaign import (
    CampaignCreate,
    CampaignDetail,
    CampaignSummary,
    CampaignUpdate,
    MessageDetail,
    MessageRead,
    PreviewRequest,
    PreviewResponse,
)
from campaign_dispatch.schemas.common import Page
from campaign_dispatch.services import campaigns, previews
from campaign_dispatch.statuses import CampaignStatus, Channel, MessageStatus

router = APIRouter(prefix="/campaigns", tags=["campaigns"])
_NOT_FOUND = error_responses(404)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=CampaignDetail,
    responses=error_responses(*BODY_ERRORS),
)
async def create_campaign(
    body: CampaignCreate, session: SessionDep, resources: ResourcesDep, response: Response
) -> CampaignDetail:
    detail = await campaigns.create(session, body)
    if detail.status == CampaignStatus.SCHEDULED:  # this process's scheduler, at commit
        after_commit(session, resources.outbox_signal.wake)
    response.headers["Location"] = f"/campaigns/{detail.id}"
    return detail


@router.get("", response_model=Page[CampaignSummary])
async def list_campaigns(
    session: SessionDep,
    page: PageDep,
    channel: Annotated[Channel | None, Query()] = None,
    status: Annotated[CampaignStatus | None, Query()] = None,
) -> Page[CampaignSummary]:
    return await campaigns.list_page(session, page, channel, status)


@router.get("/{campaign_id}", response_model=CampaignDetail, responses=_NOT_FOUND)
async def get_campaign(campaign_id: CampaignId, session: SessionDep) -> CampaignDetail:
    return await campaigns.detail(session, campaign_id)


@router.patch(
    "/{campaign_id}",
    response_model=CampaignDetail,
    responses=error_responses(404, 409, *BODY_ERRORS),
)
async def update_campaign(
    campaign_id: CampaignId, body: CampaignUpdate, session: SessionDep, resources: ResourcesDep
) -> CampaignDetail:
    """Change a draft or scheduled campaign: only the fields given (409 once sent)."""
    detail = await campaigns.update(session, campaign_id, body)
    if detail.status == CampaignStatus.SCHEDULED:  # this process's scheduler, at commit
        after_commit(session, resources.outbox_signal.wake)
    return detail


@router.delete(
    "/{campaign_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=error_responses(404, 409),
)
async def delete_campaign(campaign_id: CampaignId, session: SessionDep) -> Response:
    """Delete a draft or scheduled campaign that has no messages (409 otherwise)."""
    await campaigns.delete(session, campaign_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{campaign_id}/personalized-preview",
    response_model=PreviewResponse,
    responses=error_responses(404, *BODY_ERRORS),
)
async def personalized_preview(
    campaign_id: CampaignId, body: PreviewRequest, resources: ResourcesDep
) -> PreviewResponse:
    return await previews.preview_campaign(
        resources.database.sessions, resources.personalizer, campaign_id, body
    )


@router.get("/{campaign_id}/messages", response_model=Page[MessageRead], responses=_NOT_FOUND)
async def list_messages(
    campaign_id: CampaignId,
    session: SessionDep,
    page: PageDep,
    status: Annotated[MessageStatus | None, Query()] = None,
) -> Page[MessageRead]:
    return await campaigns.messages_page(session, campaign_id, page, status)


@router.get(
    "/{campaign_id}/messages/{message_id}",
    response_model=MessageDetail,
    responses=_NOT_FOUND,
)
async def get_message(
    campaign_id: CampaignId, message_id: MessageId, session: SessionDep
) -> MessageDetail:
    """The message and its attempts, oldest first."""
    return await campaigns.message_detail(session, campaign_id, message_id)
