"""e164 phones: existing customers' phones rewritten as E.164

Customers created before phones were parsed hold them as typed, compacted: `0712345678`,
`254712345678`, `+254712345678`. Each is parsed with `phonenumbers`, national formats as
DEFAULT_REGION's (the environment's, else `KE`, as the service reads new ones), and
rewritten as E.164 (`+254712345678`), in batches of BATCH rows by id.

Nothing is dropped and no unique constraint can fail:
- a phone that does not parse, or is not a valid number, is left as it is;
- a phone whose E.164 form another customer already has (or takes earlier in this
  migration: the lower id wins) is left as it is.
Both are reported as warnings on the `alembic` logger, naming each row's id and phone,
for someone to merge or fix by hand.

A row already in E.164 is its own form: it is never changed, so it is never the duplicate
that a changed row collides with.

Downgrade does nothing: the phones' earlier spellings are not kept, and E.164 is a valid
phone for every earlier revision (they stored what matched `^\\+?[0-9]{6,20}$`).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 19:30:00
"""

import logging
import os
from collections.abc import Sequence

import phonenumbers
import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 500
SHOWN = 1000  # rows named per warning; the count says how many more

log = logging.getLogger("alembic.runtime.migration.0009")

_BATCH = sa.text("SELECT id, phone FROM customers WHERE id > :after ORDER BY id LIMIT :n")
_TAKEN = sa.text("SELECT phone FROM customers WHERE phone IN :phones").bindparams(
    sa.bindparam("phones", expanding=True)
)
_UPDATE = sa.text("UPDATE customers SET phone = :phone WHERE id = :id")


def _region() -> str:
    region = (os.environ.get("DEFAULT_REGION") or "KE").strip().upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise RuntimeError(f"DEFAULT_REGION {region!r} is not a region phonenumbers knows")
    return region


def _e164(phone: str, region: str) -> str | None:
    try:
        number = phonenumbers.parse(phone, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _report(rows: list[tuple[int, str, str | None]], why: str) -> None:
    if not rows:
        return
    shown = ", ".join(
        f"id {i} {phone!r}" + (f" (-> {target})" if target else "")
        for i, phone, target in rows[:SHOWN]
    )
    more = f" …and {len(rows) - SHOWN} more" if len(rows) > SHOWN else ""
    message = f"0009: {len(rows)} customer phone(s) left unchanged, {why}: {shown}{more}"
    log.warning(message)


def upgrade() -> None:
    bind = op.get_bind()
    region = _region()
    unparsed: list[tuple[int, str, str | None]] = []
    collided: list[tuple[int, str, str | None]] = []
    changed = 0
    after = 0
    while True:
        rows = bind.execute(_BATCH, {"after": after, "n": BATCH}).all()
        if not rows:
            break
        after = int(rows[-1][0])
        wanted: dict[str, int] = {}  # E.164 form -> the lowest id in the batch wanting it
        for customer_id, phone in rows:
            target = _e164(phone, region)
            if target is None:
                unparsed.append((customer_id, phone, None))
            elif target != phone:
                if target in wanted:
                    collided.append((customer_id, phone, target))
                else:
                    wanted[target] = customer_id
        if not wanted:
            continue
        taken = set(bind.execute(_TAKEN, {"phones": list(wanted)}).scalars().all())
        updates = []
        by_id = {int(r[0]): str(r[1]) for r in rows}
        for target, customer_id in wanted.items():
            if target in taken:
                collided.append((customer_id, by_id[customer_id], target))
            else:
                updates.append({"id": customer_id, "phone": target})
        if updates:
            bind.execute(_UPDATE, updates)
            changed += len(updates)
    collided.sort()
    log.info("0009: %d customer phone(s) rewritten as E.164 (region %s)", changed, region)
    _report(unparsed, "not a valid phone number")
    _report(collided, "another customer has the number already")


def downgrade() -> None:
    # Nothing to undo: the earlier spellings are gone, and E.164 is valid in every
    # earlier revision.
    pass
