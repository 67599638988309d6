"""Customers' opt-outs and opt-ins, recorded set-wise with one event per actual change.

A customer is opted out while `customers.opted_out_at` is set. An opt-out of a customer
already opted out keeps the earlier time and records nothing (a second STOP is not news),
and an opt-in of a customer who is not opted out records nothing either. Each change that
happened is one row of customer_consent_events, with where it came from.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    BindParameter,
    Boolean,
    DateTime,
    String,
    Subquery,
    and_,
    bindparam,
    case,
    column,
    func,
    insert,
    null,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from campaign_dispatch.models import ConsentEvent, Customer
from campaign_dispatch.statuses import ConsentSource


@dataclass(frozen=True, slots=True)
class ConsentChange:
    """One opt-out (opted_out=True) or opt-in of the customer with this id, or, when
    customer_id is None, of the customer whose phone is `phone` (E.164)."""

    customer_id: int | None
    phone: str | None
    opted_out: bool
    source: ConsentSource
    detail: str | None = None


async def record_consent(
    session: AsyncSession, changes: Sequence[ConsentChange], now: datetime
) -> list[int]:
    """Apply `changes`; the ids of the customers whose opt-out state changed.

    Several changes for one customer (by the same id, or the same phone) come to the last
    of them. Ids and phones that name no customer are ignored. One UPDATE … FROM …
    RETURNING per kind of key present (ids, phones) and one INSERT of the events, however
    many changes: the keys travel as one array (PostgreSQL) or JSON (SQLite) parameter.
    """
    by_id: dict[int, ConsentChange] = {}
    by_phone: dict[str, ConsentChange] = {}
    for change in changes:
        if change.customer_id is not None:
            by_id[change.customer_id] = change
        elif change.phone is not None:
            by_phone[change.phone] = change
    events: list[dict[str, Any]] = []
    changed: dict[int, None] = {}  # ordered, once each
    if by_id:
        rows = await _apply(session, "id", by_id, now)
        for customer_id, _phone in rows:
            events.append(_event(customer_id, by_id[customer_id], now))
            changed[customer_id] = None
    if by_phone:
        rows = await _apply(session, "phone", by_phone, now)
        for customer_id, phone in rows:
            events.append(_event(customer_id, by_phone[phone], now))
            changed[customer_id] = None
    if events:
        await session.execute(insert(ConsentEvent), events)
    return list(changed)


def _event(customer_id: int, change: ConsentChange, now: datetime) -> dict[str, Any]:
    return {
        "customer_id": customer_id,
        "opted_out": change.opted_out,
        "source": change.source.value,
        "detail": change.detail,
        "at": now,
    }


async def _apply(
    session: AsyncSession,
    key: str,
    wanted: dict[Any, ConsentChange],
    now: datetime,
) -> list[tuple[int, str]]:
    """Move the named customers whose state differs from the wanted one; (id, phone) of
    each moved."""
    source = _wanted_table(session, key, {k: c.opted_out for k, c in wanted.items()})
    target: InstrumentedAttribute[Any] = Customer.id if key == "id" else Customer.phone
    opt_out = source.c.opted_out == true()
    at = bindparam("consent_now", now, type_=DateTime())
    statement = (
        update(Customer)
        .where(
            target == source.c.key,
            or_(
                and_(opt_out, Customer.opted_out_at.is_(None)),
                and_(~opt_out, Customer.opted_out_at.is_not(None)),
            ),
        )
        .values(opted_out_at=case((opt_out, at), else_=null()), updated_at=at)
        .returning(Customer.id, Customer.phone)
    )
    result = await session.execute(statement, execution_options={"synchronize_session": False})
    return [(int(row[0]), str(row[1])) for row in result.all()]


def _wanted_table(session: AsyncSession, key: str, wanted: dict[Any, bool]) -> Subquery:
    """A table `src` (key, opted_out): each customer id or phone and its wanted state.

    In key order: concurrent calls that name the same customers then lock their rows in
    the same order (PostgreSQL updates in the order it reads `src`), and cannot deadlock.
    """
    keys = sorted(wanted)
    states = [wanted[k] for k in keys]
    if session.get_bind().dialect.name == "postgresql":
        key_type = BigInteger() if key == "id" else String()
        unnested = func.unnest(
            bindparam("consent_keys", keys, type_=ARRAY(key_type)),
            bindparam("consent_states", states, type_=ARRAY(Boolean())),
        ).table_valued(column("key", key_type), column("opted_out", Boolean()))
        fn = unnested.render_derived(name="consent_fn", with_types=False)
        return select(fn.c.key, fn.c.opted_out).subquery("src")
    pairs: BindParameter[str] = bindparam(
        "consent_json", json.dumps([[k, s] for k, s in zip(keys, states, strict=True)])
    )
    each = func.json_each(pairs).table_valued("value")
    return select(
        func.json_extract(each.c.value, "$[0]").label("key"),
        func.json_extract(each.c.value, "$[1]").label("opted_out"),
    ).subquery("src")
