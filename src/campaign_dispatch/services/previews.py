"""Previews: a template rendered for one customer, with its SMS length and encoding.

A preview reads in a short transaction of its own and renders after it has ended: a
personalizer may take its time (an AI model, say) and must not hold a database
connection, or on SQLite the write lock, meanwhile.
"""

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from campaign_dispatch.errors import InvalidTemplate
from campaign_dispatch.schemas.campaign import (
    PreviewRequest,
    PreviewResponse,
    TemplatePreviewRequest,
)
from campaign_dispatch.schemas.customer import CustomerRead
from campaign_dispatch.services import campaigns, customers
from campaign_dispatch.services.templates import check_template
from campaign_dispatch.statuses import Channel
from campaign_dispatch.templating import CUSTOMER_FIELDS, Personalizer, TemplateError, sms_info


async def preview_campaign(
    sessions: async_sessionmaker[AsyncSession],
    personalizer: Personalizer,
    campaign_id: int,
    body: PreviewRequest,
) -> PreviewResponse:
    async with sessions.begin() as session:
        campaign = await campaigns.template(session, campaign_id)
        customer = await customers.get(session, body.customer_id)
    if body.override_template is not None:
        return await _preview(
            personalizer, body.override_template, customer, campaign.channel, "override_template"
        )
    return await _preview(
        personalizer, campaign.template, customer, campaign.channel, "base_template"
    )


async def preview_template(
    sessions: async_sessionmaker[AsyncSession],
    personalizer: Personalizer,
    body: TemplatePreviewRequest,
) -> PreviewResponse:
    async with sessions.begin() as session:
        customer = await customers.get(session, body.customer_id)
    return await _preview(personalizer, body.template, customer, body.channel, "template")


async def _preview(
    personalizer: Personalizer, template: str, customer: CustomerRead, channel: Channel, field: str
) -> PreviewResponse:
    check_template(template, field)
    values = {name: getattr(customer, name) for name in CUSTOMER_FIELDS}
    try:
        rendered = await personalizer.personalize(template, values, channel=channel)
    except TemplateError as exc:  # e.g. longer than the channel carries, for this customer
        raise InvalidTemplate(str(exc), details=[{"field": field, "message": str(exc)}]) from exc
    info = sms_info(rendered)
    return PreviewResponse(
        rendered_message=rendered,
        used_template=template,
        customer=customer,
        characters=info.characters,
        encoding=info.encoding,
        segments=info.segments,
    )
