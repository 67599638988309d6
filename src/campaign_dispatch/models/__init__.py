from campaign_dispatch.models.base import Base
from campaign_dispatch.models.campaign import (
    Campaign,
    CampaignAudience,
    CampaignCount,
    CampaignMessageCount,
)
from campaign_dispatch.models.customer import ConsentEvent, Customer
from campaign_dispatch.models.idempotency import IdempotencyRecord
from campaign_dispatch.models.message import (
    EarlyReceipt,
    InboundMessage,
    MessageAttempt,
    OutboundMessage,
    ProviderRate,
)
from campaign_dispatch.models.relay_batch import OutboxRange, RelayBatch

__all__ = [
    "Base",
    "Campaign",
    "CampaignAudience",
    "CampaignCount",
    "CampaignMessageCount",
    "ConsentEvent",
    "Customer",
    "EarlyReceipt",
    "IdempotencyRecord",
    "InboundMessage",
    "MessageAttempt",
    "OutboundMessage",
    "OutboxRange",
    "ProviderRate",
    "RelayBatch",
]
