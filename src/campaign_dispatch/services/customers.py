import csv
import io
from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from campaign_dispatch.errors import CustomerNotFound, UnknownCustomers, ValidationFailed
from campaign_dispatch.models import Customer
from campaign_dispatch.repositories import customers as repo
from campaign_dispatch.repositories.pagination import PageRequest
from campaign_dispatch.schemas.common import Page
from campaign_dispatch.schemas.customer import (
    CustomerCreate,
    CustomerImportResult,
    CustomerRead,
    ImportRowError,
)
from campaign_dispatch.services.paging import paged

IMPORT_MAX_ROWS = 50_000


async def _get(session: AsyncSession, customer_id: int) -> Customer:
    customer = await repo.get(session, customer_id)
    if customer is None:
        raise CustomerNotFound(customer_id)
    return customer


async def get(session: AsyncSession, customer_id: int) -> CustomerRead:
    return CustomerRead.model_validate(await _get(session, customer_id))


def _duplicate_phone(phone: str) -> ValidationFailed:
    return ValidationFailed(
        f"A customer with phone {phone} already exists",
        details=[{"field": "phone", "message": "already exists"}],
    )


async def create(session: AsyncSession, data: CustomerCreate) -> CustomerRead:
    if await repo.existing_phones(session, [data.phone]):
        raise _duplicate_phone(data.phone)
    try:
        async with session.begin_nested():
            customer = await repo.add(session, data.model_dump())
    except IntegrityError:  # a concurrent request took the phone after the check
        raise _duplicate_phone(data.phone) from None
    return CustomerRead.model_validate(customer)


async def require_existing(session: AsyncSession, customer_ids: list[int], field: str) -> None:
    missing = await repo.missing_ids(session, customer_ids)
    if missing:
        shown = ", ".join(map(str, missing[:20])) + (" …" if len(missing) > 20 else "")
        raise UnknownCustomers(
            f"{len(missing)} customer id(s) do not exist: {shown}",
            details=[{"field": field, "message": f"customer {i} not found"} for i in missing[:100]],
        )


def _row_error(row: int, exc: ValidationError) -> ImportRowError:
    parts = [f"{'.'.join(map(str, e['loc'])) or 'row'}: {e['msg']}" for e in exc.errors()]
    return ImportRowError(row=row, message="; ".join(parts))


async def import_csv(session: AsyncSession, content: bytes) -> CustomerImportResult:
    """Create customers from CSV rows; a bad row is reported and skipped, never half-imported.

    Rows whose phone already exists (in the database or earlier in the file) are skipped.
    """
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationFailed("The CSV file must be UTF-8 encoded") from None
    reader = csv.DictReader(io.StringIO(text))
    fields = set(CustomerCreate.model_fields)
    if reader.fieldnames:
        reader.fieldnames = [name.strip().lower() for name in reader.fieldnames]
    if not reader.fieldnames or "phone" not in reader.fieldnames:
        raise ValidationFailed(
            "The CSV needs a header row with at least a 'phone' column",
            details=[{"field": "file", "message": f"allowed columns: {', '.join(sorted(fields))}"}],
        )
    unknown = [name for name in reader.fieldnames if name not in fields]
    if unknown:
        raise ValidationFailed(
            f"Unknown CSV column(s): {', '.join(unknown)}",
            details=[{"field": "file", "message": f"allowed columns: {', '.join(sorted(fields))}"}],
        )

    valid: list[tuple[int, dict[str, Any]]] = []
    errors: list[ImportRowError] = []
    for count, row in enumerate(reader, start=1):
        if count > IMPORT_MAX_ROWS:
            raise ValidationFailed(f"The CSV has more than {IMPORT_MAX_ROWS} rows")
        row_number = reader.line_num  # the file's line, blank lines included
        extra = row.pop(None, None)
        if extra:
            message = f"row has {len(extra)} more value(s) than the header"
            errors.append(ImportRowError(row=row_number, message=message))
            continue
        cleaned = {k: (v.strip() or None) if isinstance(v, str) else v for k, v in row.items()}
        try:
            valid.append((row_number, CustomerCreate.model_validate(cleaned).model_dump()))
        except ValidationError as exc:
            errors.append(_row_error(row_number, exc))

    existing = await repo.existing_phones(session, [values["phone"] for _, values in valid])
    seen: set[str] = set(existing)
    to_insert = []
    for _, values in valid:
        if values["phone"] not in seen:
            seen.add(values["phone"])
            to_insert.append(values)
    created = await repo.insert_many(session, to_insert)
    return CustomerImportResult(created=created, skipped=len(valid) - created, errors=errors)


async def list_page(
    session: AsyncSession, request: PageRequest, q: str | None
) -> Page[CustomerRead]:
    fetch = repo.list_page(session, request, q.strip() or None if q else None)
    return await paged(fetch, CustomerRead.model_validate)
