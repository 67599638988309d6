"""Sample data for a first run: idempotent, so running it twice changes nothing."""

from datetime import timedelta

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from campaign_dispatch.clock import utcnow
from campaign_dispatch.models import Campaign, CampaignAudience, Customer, OutboundMessage
from campaign_dispatch.statuses import CampaignStatus, Channel, MessageStatus
from campaign_dispatch.templating import CUSTOMER_FIELDS, render

CUSTOMERS: list[dict[str, str | None]] = [
    {
        "phone": "+254700000001",
        "first_name": "Alice",
        "last_name": "Wanjiru",
        "location": "Nairobi",
        "preferred_product": "Running Shoes",
    },
    {
        "phone": "+254700000002",
        "first_name": "Brian",
        "last_name": "Otieno",
        "location": "Kisumu",
        "preferred_product": "Winter Jacket",
    },
    {
        "phone": "+254700000003",
        "first_name": "Chloé",
        "last_name": "Mwangi",
        "location": "Mombasa",
        "preferred_product": "Sunglasses",
    },
    {
        "phone": "+254700000004",
        "first_name": "David",
        "last_name": "Kamau",
        "location": "Nakuru",
        "preferred_product": "Backpack",
    },
    {
        "phone": "+254700000005",
        "first_name": "Esther",
        "last_name": "Achieng",
        "location": "Eldoret",
        "preferred_product": "Yoga Mat",
    },
    {
        "phone": "+254700000006",
        "first_name": "Farah",
        "last_name": None,
        "location": "Garissa",
        "preferred_product": "Running Shoes",
    },
    {
        "phone": "+254700000007",
        "first_name": "George",
        "last_name": "Njoroge",
        "location": None,
        "preferred_product": "Winter Jacket",
    },
    {
        "phone": "+254700000008",
        "first_name": None,
        "last_name": "Odhiambo",
        "location": "Thika",
        "preferred_product": "Headphones",
    },
    {
        "phone": "+254700000009",
        "first_name": "Irene",
        "last_name": "Chebet",
        "location": "Kericho",
        "preferred_product": None,
    },
    {
        "phone": "+254700000010",
        "first_name": "James",
        "last_name": "Mutua",
        "location": "Machakos",
        "preferred_product": "Smart Watch",
    },
    {
        "phone": "+254700000011",
        "first_name": "Khadija",
        "last_name": "Hassan",
        "location": "Lamu",
        "preferred_product": "Sandals",
    },
    {
        "phone": "+254700000012",
        "first_name": None,
        "last_name": None,
        "location": None,
        "preferred_product": None,
    },
]

WELCOME = "Hi {first_name|there}, welcome to our store in {location|your city}!"
SUMMER = (
    "Hi {first_name|there}, check out {preferred_product|our new arrivals} in {location|your city}!"
)
WINTER = "Hello {first_name|friend}, the {preferred_product|new collection} is back in stock."


async def seed(
    session: AsyncSession, scheduled_in: timedelta = timedelta(minutes=2)
) -> dict[str, int]:
    """Insert what is missing: customers by phone, campaigns by name."""
    now = utcnow()
    known_phones = set((await session.scalars(select(Customer.phone))).all())
    new_customers = [c for c in CUSTOMERS if c["phone"] not in known_phones]
    if new_customers:
        await session.execute(
            insert(Customer), [{**c, "created_at": now, "updated_at": now} for c in new_customers]
        )
    seeded = list(
        (
            await session.scalars(
                select(Customer)
                .where(Customer.phone.in_([c["phone"] for c in CUSTOMERS]))
                .order_by(Customer.id)
            )
        ).all()
    )
    known_names = set((await session.scalars(select(Campaign.name))).all())
    created = 0

    if "Welcome Series" not in known_names:
        session.add(
            Campaign(
                name="Welcome Series",
                channel=Channel.SMS,
                status=CampaignStatus.DRAFT,
                base_template=WELCOME,
            )
        )
        created += 1

    if "Winter Jacket Launch" not in known_names:
        winter = Campaign(
            name="Winter Jacket Launch",
            channel=Channel.WHATSAPP,
            status=CampaignStatus.SCHEDULED,
            base_template=WINTER,
            scheduled_at=now + scheduled_in,
        )
        session.add(winter)
        await session.flush()
        await session.execute(
            insert(CampaignAudience),
            [{"campaign_id": winter.id, "customer_id": c.id} for c in seeded],
        )
        created += 1

    if "Summer Sale 2025" not in known_names:
        summer = Campaign(
            name="Summer Sale 2025",
            channel=Channel.SMS,
            status=CampaignStatus.SENT,
            base_template=SUMMER,
        )
        session.add(summer)
        await session.flush()
        messages = []
        for index, customer in enumerate(seeded[:10]):
            failed = index == 9
            values = {f: getattr(customer, f) for f in CUSTOMER_FIELDS}
            messages.append(
                {
                    "campaign_id": summer.id,
                    "customer_id": customer.id,
                    "status": MessageStatus.FAILED if failed else MessageStatus.SENT,
                    "rendered_content": render(SUMMER, values),
                    "retry_count": 3 if failed else 0,
                    "last_error": "mock provider: carrier rejected the message" if failed else None,
                    "available_at": now,
                    "enqueued_at": now,
                    "created_at": now,
                    "updated_at": now,
                }
            )
        await session.execute(insert(OutboundMessage), messages)
        created += 1

    await session.flush()
    total = await session.scalar(select(func.count()).select_from(Customer)) or 0
    return {
        "customers_created": len(new_customers),
        "campaigns_created": created,
        "customers_total": total,
    }


async def has_customers(session: AsyncSession) -> bool:
    return (await session.scalar(select(Customer.id).limit(1))) is not None
