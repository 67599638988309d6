import asyncio
import csv
import io
from collections.abc import Callable
from functools import partial
from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from campaign_dispatch import phones
from campaign_dispatch.clock import utcnow
from campaign_dispatch.errors import CustomerNotFound, UnknownCustomers, ValidationFailed
from campaign_dispatch.models import Customer
from campaign_dispatch.repositories import customers as repo
from campaign_dispatch.repositories.consent import ConsentChange, record_consent
from campaign_dispatch.repositories.pagination import PageRequest
from campaign_dispatch.schemas.common import MAX_ERROR_DETAILS, Page, more_not_shown
from campaign_dispatch.schemas.customer import (
    CONSENT_HISTORY_SHOWN,
    ConsentEventRead,
    CustomerCreate,
    CustomerDetail,
    CustomerImportResult,
    CustomerRead,
    ImportRowError,
)
from campaign_dispatch.services.paging import paged
from campaign_dispatch.statuses import ConsentSource

IMPORT_MAX_ROWS = 200_000


async def _get(session: AsyncSession, customer_id: int) -> Customer:
    customer = await repo.get(session, customer_id)
    if customer is None:
        raise CustomerNotFound(customer_id)
    return customer


async def _detail(session: AsyncSession, customer: Customer) -> CustomerDetail:
    history = await repo.consent_history(session, customer.id, CONSENT_HISTORY_SHOWN)
    fields = {name: getattr(customer, name) for name in CustomerRead.model_fields}
    return CustomerDetail(
        **fields, consent_history=[ConsentEventRead.model_validate(e) for e in history]
    )


async def get(session: AsyncSession, customer_id: int) -> CustomerDetail:
    """The customer with their latest opt-outs and opt-ins."""
    return await _detail(session, await _get(session, customer_id))


async def set_opted_out(session: AsyncSession, customer_id: int, opted_out: bool) -> CustomerDetail:
    """Opt the customer out (or back in) through the API; a repeat changes nothing."""
    customer = await _get(session, customer_id)
    change = ConsentChange(customer_id, None, opted_out, ConsentSource.API)
    if await record_consent(session, [change], utcnow()):
        await session.refresh(customer)
    return await _detail(session, customer)


def _invalid_phone(exc: phones.InvalidPhone) -> ValidationFailed:
    return ValidationFailed(
        f"Invalid phone number: {exc}", details=[{"field": "phone", "message": str(exc)}]
    )


def _duplicate_phone(phone: str) -> ValidationFailed:
    return ValidationFailed(
        f"A customer with phone {phone} already exists",
        details=[{"field": "phone", "message": "already exists"}],
    )


async def create(session: AsyncSession, data: CustomerCreate, region: str) -> CustomerRead:
    """A new customer, the phone stored as E.164 (national formats read as `region`'s)."""
    try:
        phone = phones.normalize(data.phone, region)
    except phones.InvalidPhone as exc:
        raise _invalid_phone(exc) from None
    if await repo.existing_phones(session, [phone]):
        raise _duplicate_phone(phone)
    try:
        async with session.begin_nested():
            customer = await repo.add(session, {**data.model_dump(), "phone": phone})
    except IntegrityError:  # a concurrent request took the phone after the check
        raise _duplicate_phone(phone) from None
    return CustomerRead.model_validate(customer)


async def require_existing(session: AsyncSession, customer_ids: list[int], field: str) -> None:
    missing = await repo.missing_ids(session, customer_ids)
    if missing:
        shown = ", ".join(map(str, missing[:20])) + more_not_shown(len(missing), 20)
        raise UnknownCustomers(
            f"{len(missing)} customer id(s) do not exist: {shown}",
            details=[
                {"field": field, "message": f"customer {i} not found"}
                for i in missing[:MAX_ERROR_DETAILS]
            ],
        )


def _row_error(
    row: int, exc: ValidationError | None, phone: phones.InvalidPhone | None
) -> ImportRowError:
    parts = [f"phone: {phone}"] if phone is not None else []
    if exc is not None:
        parts += [f"{'.'.join(map(str, e['loc'])) or 'row'}: {e['msg']}" for e in exc.errors()]
    return ImportRowError(row=row, message="; ".join(parts))


def _phone_error(raw: object, region: str) -> tuple[str | None, phones.InvalidPhone | None]:
    """A row's phone as E.164, or why it is not one (None, None: not a text at all)."""
    if not isinstance(raw, str):
        return None, None
    try:
        return phones.normalize(raw, region), None
    except phones.InvalidPhone as exc:
        return None, exc


class _Rows:
    """A CSV file's rows: the valid ones, and the first bad ones with a count of the rest."""

    def __init__(self) -> None:
        self.valid: list[dict[str, Any]] = []
        self.errors: list[ImportRowError] = []
        self.bad = 0

    def reject(self, error: Callable[[], ImportRowError]) -> None:
        # Only the rows that will be shown get a message built: a file of 200 000 bad
        # rows costs a counter, not 200 000 formatted errors.
        self.bad += 1
        if len(self.errors) < MAX_ERROR_DETAILS:
            self.errors.append(error())


def _read_rows(content: bytes, region: str) -> _Rows:
    # Decoded as it is read, not into one string first (a StringIO of a 32 MiB file
    # holds four bytes a character). newline="": the csv module then ends lines at \n,
    # \r\n and a lone \r (old Mac and some spreadsheet exports), and keeps line breaks
    # inside quoted fields.
    text = io.TextIOWrapper(io.BytesIO(content), encoding="utf-8-sig", newline="")
    reader = csv.DictReader(text)
    fields = set(CustomerCreate.model_fields)
    try:
        header = reader.fieldnames
        if header:
            reader.fieldnames = header = [name.strip().lower() for name in header]
        if not header or "phone" not in header:
            raise ValidationFailed(
                "The CSV needs a header row with at least a 'phone' column",
                details=[{"field": "file", "message": f"allowed columns: {_listed(fields)}"}],
            )
        unknown = [name for name in header if name not in fields]
        if unknown:
            raise ValidationFailed(
                f"Unknown CSV column(s): {', '.join(unknown)}",
                details=[{"field": "file", "message": f"allowed columns: {_listed(fields)}"}],
            )
        rows = _Rows()
        for count, row in enumerate(reader, start=1):
            if count > IMPORT_MAX_ROWS:
                raise ValidationFailed(f"The CSV has more than {IMPORT_MAX_ROWS} rows")
            line = reader.line_num  # the file's line, blank lines included
            extra = row.pop(None, None)
            if extra:
                message = f"row has {len(extra)} more value(s) than the header"
                rows.reject(partial(ImportRowError, row=line, message=message))
                continue
            cleaned = {k: (v.strip() or None) if isinstance(v, str) else v for k, v in row.items()}
            phone, bad_phone = _phone_error(cleaned.get("phone"), region)
            try:
                values = CustomerCreate.model_validate(cleaned).model_dump()
            except ValidationError as exc:
                rows.reject(partial(_row_error, line, exc, bad_phone))
                continue
            if bad_phone is not None or phone is None:
                rows.reject(partial(_row_error, line, None, bad_phone))
                continue
            values["phone"] = phone
            rows.valid.append(values)
    except UnicodeDecodeError:  # decoded in blocks, ahead of the line being read
        raise ValidationFailed("The CSV file must be UTF-8 encoded") from None
    except csv.Error as exc:
        # A field over the parser's limit (131 072 characters), say: the file as a whole
        # cannot be read past this point, so none of it is imported. The reader counts
        # a line once it has parsed it, so the line it failed on is the next one.
        raise ValidationFailed(
            f"The CSV could not be read at line {reader.line_num + 1}: {exc}",
            details=[{"field": "file", "message": str(exc)}],
        ) from None
    return rows


def _listed(fields: set[str]) -> str:
    return ", ".join(sorted(fields))


async def import_csv(session: AsyncSession, content: bytes, region: str) -> CustomerImportResult:
    """Create customers from CSV rows; a bad row is reported and skipped, never half-imported.

    Phones are stored as E.164 (national formats read as `region`'s); a row whose phone is
    not a valid number is a bad row. Rows whose phone already exists (in the database or
    earlier in the file, in whatever format) are skipped. The first 100 bad rows are
    listed; `errors_not_shown` counts the rest.
    """
    # Parsing and validating 200 000 rows takes seconds of CPU: in a thread, so that the
    # event loop (in the embedded mode, the worker's too) keeps serving meanwhile.
    rows = await asyncio.to_thread(_read_rows, content, region)
    existing = await repo.existing_phones(session, [values["phone"] for values in rows.valid])
    seen: set[str] = set(existing)
    to_insert = []
    for values in rows.valid:
        if values["phone"] not in seen:
            seen.add(values["phone"])
            to_insert.append(values)
    created = await repo.insert_many(session, to_insert)
    return CustomerImportResult(
        created=created,
        skipped=len(rows.valid) - created,
        errors=rows.errors,
        errors_not_shown=rows.bad - len(rows.errors),
    )


async def list_page(
    session: AsyncSession,
    request: PageRequest,
    q: str | None,
    region: str,
    opted_out: bool | None = None,
) -> Page[CustomerRead]:
    """Customers newest first; `q` also finds a phone typed in any format (as `region`'s
    national format, international, with separators), `opted_out` narrows to either."""
    text = q.strip() or None if q else None
    phone, digits = phones.search_forms(text, region) if text else (None, None)
    where = repo.CustomerFilter(q=text, phone=phone, phone_digits=digits, opted_out=opted_out)
    return await paged(repo.list_page(session, request, where), CustomerRead.model_validate)
