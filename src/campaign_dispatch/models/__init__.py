from campaign_dispatch.models.base import Base
from campaign_dispatch.models.campaign import (
    CAMPAIGN_STATUSES,
    CHANNELS,
    Campaign,
    CampaignAudience,
    CampaignCount,
)
from campaign_dispatch.models.customer import Customer
from campaign_dispatch.models.idempotency import IdempotencyRecord
from campaign_dispatch.models.message import MESSAGE_STATUSES, OutboundMessage

__all__ = [
    "CAMPAIGN_STATUSES",
    "CHANNELS",
    "MESSAGE_STATUSES",
    "Base",
    "Campaign",
    "CampaignAudience",
    "CampaignCount",
    "Customer",
    "IdempotencyRecord",
    "OutboundMessage",
]
