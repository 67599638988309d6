from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from campaign_dispatch.api.deps import PageDep, RuntimeDep, SessionDep
from campaign_dispatch.api.pages import to_page
from campaign_dispatch.schemas.campaign import (
    CampaignCreate,
    CampaignDetail,
    CampaignStatus,
    CampaignSummary,
    Channel,
    MessageRead,
    MessageStatus,
    PreviewRequest,
    PreviewResponse,
)
from campaign_dispatch.schemas.common import Page
from campaign_dispatch.services import campaigns, customers, templates

router = APIRouter(prefix="/campaigns", tags=["campaigns"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=CampaignDetail)
async def create_campaign(
    body: CampaignCreate, session: SessionDep, response: Response
) -> CampaignDetail:
    async with session.begin():
        campaign = await campaigns.create(session, body)
        detail = await campaigns.detail(session, campaign.id)
    response.headers["Location"] = f"/campaigns/{campaign.id}"
    return detail


@router.get("", response_model=Page[CampaignSummary])
async def list_campaigns(
    session: SessionDep,
    page: PageDep,
    channel: Annotated[Channel | None, Query()] = None,
    status: Annotated[CampaignStatus | None, Query()] = None,
) -> Page[CampaignSummary]:
    async with session.begin():
        result = await campaigns.list_page(session, page, channel, status)
    return to_page(result, CampaignSummary.model_validate)


@router.get("/{campaign_id}", response_model=CampaignDetail)
async def get_campaign(campaign_id: int, session: SessionDep) -> CampaignDetail:
    async with session.begin():
        return await campaigns.detail(session, campaign_id)


@router.post("/{campaign_id}/personalized-preview", response_model=PreviewResponse)
async def personalized_preview(
    campaign_id: int, body: PreviewRequest, session: SessionDep, runtime: RuntimeDep
) -> PreviewResponse:
    async with session.begin():
        campaign = await campaigns.get(session, campaign_id)
        customer = await customers.get(session, body.customer_id)
    field = "override_template" if body.override_template is not None else "base_template"
    template = (
        body.override_template if body.override_template is not None else campaign.base_template
    )
    return await templates.preview(
        runtime.personalizer, template, customer, campaign.channel, field
    )


@router.get("/{campaign_id}/messages", response_model=Page[MessageRead])
async def list_messages(
    campaign_id: int,
    session: SessionDep,
    page: PageDep,
    status: Annotated[MessageStatus | None, Query()] = None,
) -> Page[MessageRead]:
    async with session.begin():
        result = await campaigns.messages_page(session, campaign_id, page, status)
    return to_page(result, MessageRead.model_validate)
