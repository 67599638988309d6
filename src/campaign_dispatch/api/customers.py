from typing import Annotated

from fastapi import APIRouter, Query, Response, UploadFile, status

from campaign_dispatch.api.deps import CustomerId, PageDep, SessionDep
from campaign_dispatch.api.errors import BODY_ERRORS, error_responses
from campaign_dispatch.api.paths import CUSTOMER_ID_SEGMENT
from campaign_dispatch.schemas.common import Page
from campaign_dispatch.schemas.customer import CustomerCreate, CustomerImportResult, CustomerRead
from campaign_dispatch.services import customers

router = APIRouter(prefix="/customers", tags=["customers"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=CustomerRead,
    responses=error_responses(*BODY_ERRORS),
)
async def create_customer(
    body: CustomerCreate, session: SessionDep, response: Response
) -> CustomerRead:
    customer = await customers.create(session, body)
    response.headers["Location"] = f"/customers/{customer.id}"
    return customer


@router.get("", response_model=Page[CustomerRead])
async def list_customers(
    session: SessionDep,
    page: PageDep,
    q: Annotated[
        str | None, Query(max_length=100, description="Search names, phone, location, product")
    ] = None,
) -> Page[CustomerRead]:
    return await customers.list_page(session, page, q)


@router.get(f"/{CUSTOMER_ID_SEGMENT}", response_model=CustomerRead, responses=error_responses(404))
async def get_customer(customer_id: CustomerId, session: SessionDep) -> CustomerRead:
    return await customers.get(session, customer_id)


@router.post(
    "/import", response_model=CustomerImportResult, responses=error_responses(*BODY_ERRORS)
)
async def import_customers(file: UploadFile, session: SessionDep) -> CustomerImportResult:
    """CSV with a header row: phone (required), first_name, last_name, location,
    preferred_product. Bad rows are reported by row number; duplicate phones are skipped."""
    return await customers.import_csv(session, await file.read())
