from typing import Annotated

from fastapi import APIRouter, Query, Response, UploadFile, status

from campaign_dispatch.api.deps import CustomerId, PageDep, ResourcesDep, SessionDep
from campaign_dispatch.api.errors import BODY_ERRORS, error_responses
from campaign_dispatch.api.paths import CUSTOMER_ID_SEGMENT
from campaign_dispatch.schemas.common import Page
from campaign_dispatch.schemas.customer import (
    CustomerCreate,
    CustomerDetail,
    CustomerImportResult,
    CustomerRead,
)
from campaign_dispatch.services import customers

router = APIRouter(prefix="/customers", tags=["customers"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=CustomerRead,
    responses=error_responses(*BODY_ERRORS),
)
async def create_customer(
    body: CustomerCreate, session: SessionDep, resources: ResourcesDep, response: Response
) -> CustomerRead:
    """The phone may be typed in any format; it is stored as E.164, national formats read
    as DEFAULT_REGION's. A number that does not exist is 422 naming it."""
    customer = await customers.create(session, body, resources.settings.default_region)
    response.headers["Location"] = f"/customers/{customer.id}"
    return customer


@router.get("", response_model=Page[CustomerRead])
async def list_customers(
    session: SessionDep,
    resources: ResourcesDep,
    page: PageDep,
    q: Annotated[
        str | None,
        Query(
            max_length=100,
            description="Search names, location, product, and phone (in any format)",
        ),
    ] = None,
    opted_out: Annotated[
        bool | None, Query(description="Only customers who have (true) or have not opted out")
    ] = None,
) -> Page[CustomerRead]:
    region = resources.settings.default_region
    return await customers.list_page(session, page, q, region, opted_out)


@router.get(
    f"/{CUSTOMER_ID_SEGMENT}", response_model=CustomerDetail, responses=error_responses(404)
)
async def get_customer(customer_id: CustomerId, session: SessionDep) -> CustomerDetail:
    """The customer and their consent history (the latest 50 changes, newest first)."""
    return await customers.get(session, customer_id)


@router.post(
    f"/{CUSTOMER_ID_SEGMENT}/opt-out",
    response_model=CustomerDetail,
    responses=error_responses(404),
)
async def opt_out(customer_id: CustomerId, session: SessionDep) -> CustomerDetail:
    """Nothing more is sent to the customer. Repeating it changes nothing (the first
    opt-out's time is kept)."""
    return await customers.set_opted_out(session, customer_id, opted_out=True)


@router.post(
    f"/{CUSTOMER_ID_SEGMENT}/opt-in",
    response_model=CustomerDetail,
    responses=error_responses(404),
)
async def opt_in(customer_id: CustomerId, session: SessionDep) -> CustomerDetail:
    """The customer may be sent messages again. A customer not opted out is unchanged."""
    return await customers.set_opted_out(session, customer_id, opted_out=False)


@router.post(
    "/import", response_model=CustomerImportResult, responses=error_responses(*BODY_ERRORS)
)
async def import_customers(
    file: UploadFile, session: SessionDep, resources: ResourcesDep
) -> CustomerImportResult:
    """CSV with a header row: phone (required), first_name, last_name, location,
    preferred_product, timezone (IANA). Bad rows (an invalid phone or time zone, say) are
    reported by row number; duplicate phones, in whatever format, are skipped."""
    region = resources.settings.default_region
    return await customers.import_csv(session, await file.read(), region)
