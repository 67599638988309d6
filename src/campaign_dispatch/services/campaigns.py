from collections.abc import Callable, Collection
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from campaign_dispatch.clock import utcnow
from campaign_dispatch.errors import (
    AppError,
    CampaignNotDeletable,
    CampaignNotEditable,
    CampaignNotFound,
    Conflict,
    MessageNotFound,
    ValidationFailed,
)
from campaign_dispatch.models import Campaign
from campaign_dispatch.repositories import campaigns as repo
from campaign_dispatch.repositories import messages as messages_repo
from campaign_dispatch.repositories import wakeups
from campaign_dispatch.repositories.claims import CampaignTemplate
from campaign_dispatch.repositories.pagination import PageRequest
from campaign_dispatch.schemas.campaign import (
    AttemptRead,
    CampaignCreate,
    CampaignDetail,
    CampaignStats,
    CampaignSummary,
    CampaignUpdate,
    MessageDetail,
    MessageRead,
    SendWindowSpec,
    WhatsAppTemplate,
)
from campaign_dispatch.schemas.common import Page
from campaign_dispatch.services.customers import require_existing
from campaign_dispatch.services.paging import paged
from campaign_dispatch.services.templates import check_template
from campaign_dispatch.statuses import (
    SENDABLE,
    WAITING_FOR_WINDOW,
    CampaignStatus,
    Channel,
    DeliveryStatus,
    MessageStatus,
)

_MESSAGE_STATUSES = frozenset(MessageStatus)


async def _get(session: AsyncSession, campaign_id: int) -> Campaign:
    campaign = await repo.get(session, campaign_id)
    if campaign is None:
        raise CampaignNotFound(campaign_id)
    return campaign


async def template(session: AsyncSession, campaign_id: int) -> CampaignTemplate:
    """The campaign's template and channel (404 for an unknown campaign)."""
    campaign = await _get(session, campaign_id)
    return CampaignTemplate(campaign.base_template, Channel(campaign.channel))


async def create(session: AsyncSession, data: CampaignCreate) -> CampaignDetail:
    """A campaign starts as `draft`, or `scheduled` when `scheduled_at` lies in the future."""
    check_template(data.base_template, "base_template")
    _check_whatsapp_template(data.whatsapp_template)
    scheduled_at = data.scheduled_at
    _check_expiry(data.expires_at, scheduled_at)
    audience = sorted(set(data.customer_ids or []))
    if audience:
        await require_existing(session, audience, "customer_ids")
    in_future = scheduled_at is not None and scheduled_at > utcnow()
    campaign = await repo.add(
        session,
        {
            "name": data.name,
            "channel": data.channel,
            "base_template": data.base_template,
            "scheduled_at": scheduled_at,
            "status": CampaignStatus.SCHEDULED if in_future else CampaignStatus.DRAFT,
            "segment": data.segment.filters() if data.segment is not None else None,
            "whatsapp_template": _stored(data.whatsapp_template),
            "send_window": _window(data.send_window),
            "expires_at": data.expires_at,
        },
    )
    if audience:
        await repo.set_audience(session, campaign.id, audience)
    if campaign.status == CampaignStatus.SCHEDULED:
        await wakeups.notify_schedule(session)  # schedulers elsewhere read the new due time
    return await detail(session, campaign.id)


async def lock_in(
    session: AsyncSession,
    campaign_id: int,
    allowed: Collection[CampaignStatus],
    refusal: Callable[[Campaign], AppError],
) -> Campaign:
    """The campaign, locked until the transaction ends, if its status is in `allowed`: 404
    if unknown, `refusal(campaign)` otherwise. The lock orders sends, edits, deletes,
    control steps and the scheduler's dispatch: whichever comes second sees the first's
    outcome."""
    campaign = await repo.lock(session, campaign_id)
    if campaign is None:
        raise CampaignNotFound(campaign_id)
    if campaign.status not in allowed:
        raise refusal(campaign)
    return campaign


async def lock_unsent(
    session: AsyncSession, campaign_id: int, refusal: Callable[[Campaign], AppError]
) -> Campaign:
    """The campaign, locked, if it has not been sent yet (`SENDABLE`): see `lock_in`."""
    return await lock_in(session, campaign_id, SENDABLE, refusal)


def _not_changeable(error: type[Conflict]) -> Callable[[Campaign], AppError]:
    def refusal(campaign: Campaign) -> AppError:
        return error(
            f"campaign {campaign.id} is {campaign.status}: only a draft or scheduled "
            "campaign can be changed or deleted"
        )

    return refusal


async def update(session: AsyncSession, campaign_id: int, data: CampaignUpdate) -> CampaignDetail:
    """Change the given fields of a draft or scheduled campaign (409 once it was sent)."""
    campaign = await lock_unsent(session, campaign_id, _not_changeable(CampaignNotEditable))
    given = data.model_fields_set
    if data.base_template is not None:
        check_template(data.base_template, "base_template")
    _check_whatsapp_template(data.whatsapp_template)
    if "whatsapp_template" in given:
        campaign.whatsapp_template = _stored(data.whatsapp_template)
    if "customer_ids" in given and data.customer_ids:
        audience = sorted(set(data.customer_ids))
        await require_existing(session, audience, "customer_ids")
    for name in ("name", "channel", "base_template", "expires_at"):
        if name in given:
            setattr(campaign, name, getattr(data, name))
    if "send_window" in given:
        campaign.send_window = _window(data.send_window)
    if "scheduled_at" in given:
        scheduled_at = data.scheduled_at
        campaign.scheduled_at = scheduled_at
        in_future = scheduled_at is not None and scheduled_at > utcnow()
        campaign.status = CampaignStatus.SCHEDULED if in_future else CampaignStatus.DRAFT
    if {"expires_at", "scheduled_at"} & given and campaign.expires_at is not None:
        _check_expiry(campaign.expires_at, campaign.scheduled_at)
    # Either kind of audience replaces the other; null clears the one named.
    if "customer_ids" in given:
        await repo.clear_audience(session, campaign_id)
        if data.customer_ids:
            await repo.set_audience(session, campaign_id, sorted(set(data.customer_ids)))
            campaign.segment = None
    if "segment" in given:
        campaign.segment = data.segment.filters() if data.segment is not None else None
        if data.segment is not None:
            await repo.clear_audience(session, campaign_id)
    if campaign.status == CampaignStatus.SCHEDULED:
        await wakeups.notify_schedule(session)  # schedulers elsewhere read the new due time
    await session.flush()
    return await detail(session, campaign_id)


def _check_whatsapp_template(template: WhatsAppTemplate | None) -> None:
    for i, param in enumerate(template.body_params if template is not None else ()):
        check_template(param, f"whatsapp_template.body_params[{i}]")


def _window(window: SendWindowSpec | None) -> dict[str, str] | None:
    return None if window is None else window.model_dump()


def _check_expiry(expires_at: datetime | None, scheduled_at: datetime | None) -> None:
    """A campaign's expiry must lie ahead, and after its scheduled time."""
    if expires_at is None:
        return
    if expires_at <= utcnow():
        raise ValidationFailed(
            "expires_at must be in the future",
            details=[{"field": "expires_at", "message": "must be in the future"}],
        )
    if scheduled_at is not None and expires_at <= scheduled_at:
        raise ValidationFailed(
            "expires_at must be after scheduled_at",
            details=[{"field": "expires_at", "message": "must be after scheduled_at"}],
        )


def _stored(template: WhatsAppTemplate | None) -> dict[str, object] | None:
    return None if template is None else template.model_dump(exclude_none=True)


async def delete(session: AsyncSession, campaign_id: int) -> None:
    """Delete a draft or scheduled campaign that has no messages (409 otherwise)."""
    campaign = await lock_unsent(session, campaign_id, _not_changeable(CampaignNotDeletable))
    if await repo.has_messages(session, campaign_id):
        raise CampaignNotDeletable(f"campaign {campaign_id} has messages")
    await repo.remove(session, campaign)


async def detail(session: AsyncSession, campaign_id: int) -> CampaignDetail:
    campaign = await _get(session, campaign_id)
    counts = await repo.message_stats(session, campaign_id)
    # One table counts both: messages per status, and per delivery status.
    by_status = {key: n for key, n in counts.items() if key in _MESSAGE_STATUSES}
    stats = CampaignStats(
        total=sum(by_status.values()),
        delivered=counts.get(DeliveryStatus.DELIVERED, 0) + counts.get(DeliveryStatus.READ, 0),
        undelivered=counts.get(DeliveryStatus.UNDELIVERED, 0),
        **by_status,
    )
    waiting = counts.get(WAITING_FOR_WINDOW, 0)
    return CampaignDetail.model_validate(
        {
            **{
                k: getattr(campaign, k) for k in CampaignDetail.model_fields if hasattr(campaign, k)
            },
            "audience_size": await repo.audience_size(session, campaign_id),
            "stats": stats,
            "waiting_for_window": waiting,
            "next_window_opens_at": (
                await messages_repo.next_window_opening(session, campaign_id) if waiting else None
            ),
        }
    )


async def list_page(
    session: AsyncSession,
    request: PageRequest,
    channel: Channel | None,
    status: CampaignStatus | None,
) -> Page[CampaignSummary]:
    fetch = repo.list_page(session, request, channel, status)
    return await paged(fetch, CampaignSummary.model_validate)


async def messages_page(
    session: AsyncSession, campaign_id: int, request: PageRequest, status: MessageStatus | None
) -> Page[MessageRead]:
    await _get(session, campaign_id)  # 404 for an unknown campaign, not an empty page
    fetch = messages_repo.list_page(session, campaign_id, request, status)
    return await paged(fetch, MessageRead.model_validate)


async def message_detail(session: AsyncSession, campaign_id: int, message_id: int) -> MessageDetail:
    """One message of the campaign with every attempt (404 if the campaign has none such)."""
    await _get(session, campaign_id)
    message = await messages_repo.get_in_campaign(session, campaign_id, message_id)
    if message is None:
        raise MessageNotFound(campaign_id, message_id)
    attempts = await messages_repo.attempts(session, message_id)
    return MessageDetail.model_validate(
        {
            **MessageRead.model_validate(message).model_dump(),
            "attempts": [AttemptRead.model_validate(a) for a in attempts],
        }
    )
