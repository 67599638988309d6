"""Snapshot-bounded paging: offset pages and keyset cursors over one frozen set of ids.

A listing's first page fixes `snapshot_id`, the highest id that existed then. Every later
page (by page number with that snapshot_id, or by cursor) only sees ids at or below it,
so rows created meanwhile can neither shift a page (duplicates) nor push a row past
the end (gaps). The cursor also carries the last id served, so a cursor page is an
index range scan whatever its depth.
"""

import base64
import binascii
import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from campaign_dispatch.models.base import MAX_ID


@dataclass(frozen=True)
class PageRequest:
    page: int = 1
    page_size: int = 20
    snapshot_id: int | None = None
    cursor: str | None = None


@dataclass(frozen=True)
class Cursor:
    snapshot_id: int
    after_id: int
    page: int
    total_count: int
    filters: str

    def encode(self) -> str:
        raw = f"{self.snapshot_id}.{self.after_id}.{self.page}.{self.total_count}.{self.filters}"
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> "Cursor":
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
            snapshot, after, page, total, filters = raw.split(".")
            cursor = cls(int(snapshot), int(after), int(page), int(total), filters)
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raise InvalidCursor("is not a cursor this API issued") from None
        numbers = (cursor.snapshot_id, cursor.after_id, cursor.page, cursor.total_count)
        if cursor.page < 2 or not all(0 <= n <= MAX_ID for n in numbers):
            raise InvalidCursor("is not a cursor this API issued")
        return cursor


@dataclass(frozen=True)
class PageResult:
    items: Sequence[Any]
    page: int
    page_size: int
    total_count: int
    snapshot_id: int
    next_cursor: str | None

    @property
    def total_pages(self) -> int:
        return math.ceil(self.total_count / self.page_size)


class InvalidCursor(ValueError):
    """A cursor this API did not issue, or issued for other filters; `why` says which."""

    def __init__(self, why: str) -> None:
        super().__init__(f"cursor {why}")
        self.why = why


def _fingerprint(listing: str, filters: dict[str, object]) -> str:
    text = listing + repr(sorted((k, str(v)) for k, v in filters.items() if v is not None))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


async def paginate(
    session: AsyncSession,
    query: Select[Any],
    id_column: InstrumentedAttribute[int],
    request: PageRequest,
    filters: dict[str, object],
    scope: ColumnElement[bool] | None = None,
    current_total: Select[Any] | None = None,
) -> PageResult:
    """Page through `query` (already filtered) newest first by `id_column`.

    `scope` narrows the snapshot's max-id lookup (e.g. one campaign's messages); any id
    above the true max is harmless, so the unfiltered table max is a valid bound too.
    `current_total`, when given, answers (total, max id) for a fresh page 1 in one
    statement — one snapshot — instead of counting the rows.
    """
    fingerprint = _fingerprint(str(id_column), filters)
    cursor = Cursor.decode(request.cursor) if request.cursor else None
    if cursor is not None and cursor.filters != fingerprint:
        raise InvalidCursor("was issued for other filters")

    if cursor is not None:
        snapshot, page, total = cursor.snapshot_id, cursor.page, cursor.total_count
    else:
        page = request.page
        if request.snapshot_id is None and current_total is not None:
            row = (await session.execute(current_total)).one()
            total, snapshot = int(row[0] or 0), int(row[1] or 0)
        elif request.snapshot_id is not None:
            snapshot = min(request.snapshot_id, MAX_ID)
        else:
            max_query = select(func.max(id_column))
            if scope is not None:
                max_query = max_query.where(scope)
            snapshot = (await session.scalar(max_query)) or 0
        if request.snapshot_id is not None or current_total is None:
            total = (
                await session.scalar(
                    select(func.count()).select_from(query.where(id_column <= snapshot).subquery())
                )
                or 0
            )

    rows_query = query.where(id_column <= snapshot).order_by(id_column.desc())
    if cursor is not None:
        rows_query = rows_query.where(id_column < cursor.after_id)
    else:
        rows_query = rows_query.offset((page - 1) * request.page_size)
    rows = list((await session.scalars(rows_query.limit(request.page_size + 1))).all())

    next_cursor = None
    if len(rows) > request.page_size:
        rows = rows[: request.page_size]
        last_id = getattr(rows[-1], id_column.key)
        next_cursor = Cursor(snapshot, last_id, page + 1, total, fingerprint).encode()
    return PageResult(rows, page, request.page_size, total, snapshot, next_cursor)
