"""Exact reconciliation after a fault, from the database, the API and the provider's side.

From the database: every message of the campaigns is final (sent or failed, or cancelled
in a cancelled campaign); each campaign is finished (`sent` with at least one message
sent, else `failed`; or `cancelled`, as a test that cancels it expects); its counts add
up to what was sent; no message used more attempts than MAX_RETRIES + 1 plus the one
that its first lease expiry grants; a failed message used up its retries (unless its
campaign was cancelled, which ends a retry early); the trigger-kept `campaign_counts`
agree with the campaigns table, and `campaign_message_counts` with the messages (their
statuses, and the delivery statuses the mock's receipts set). From the API: the
campaign's `stats` say the same. From the provider's side (the send log that
tests/faults/sendlog/sitecustomize.py makes each worker write): no message got more
provider calls than its claimed attempts, a message recorded `sent` was taken by the
provider, a second delivery happened only where a lease expired (a record was lost),
and a message whose claims never expired shows exactly the calls and outcomes the
database recorded for it.

What the provider side cannot show: a process killed between the mock's decision and its
log line (one synchronous step, no await between them) would lose that line; and each
worker process has its own mock, so a message delivered by two processes counts as two
deliveries here where a real provider would drop the repeat by its idempotency key.
"""

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import asyncpg
import httpx

if TYPE_CHECKING:
    from tests.faults.processes import Cluster, ServiceProcess

_EXAMPLES = 5


@dataclass
class Calls:
    delivered: int = 0  # D: the mock delivered it
    repeated: int = 0  # P: accepted again, already delivered by this process's mock
    failed: int = 0  # F: a retryable answer
    other: int = 0  # X: raised something else, or cancelled

    @property
    def total(self) -> int:
        return self.delivered + self.repeated + self.failed + self.other

    @property
    def accepted(self) -> int:
        return self.delivered + self.repeated


def read_send_log(directory: Path) -> dict[int, Calls]:
    calls: dict[int, Calls] = defaultdict(Calls)
    for path in sorted(directory.glob("sends-*.log")):
        for line in path.read_text().splitlines():
            message_id, outcome = line.split()
            if outcome == "S":  # a call started; its outcome is its own line
                continue
            entry = calls[int(message_id)]
            if outcome == "D":
                entry.delivered += 1
            elif outcome == "P":
                entry.repeated += 1
            elif outcome == "F":
                entry.failed += 1
            else:
                entry.other += 1
    return dict(calls)


@dataclass
class Reconciliation:
    expected: dict[int, int]
    messages: int = 0
    sent: int = 0
    failed: int = 0
    cancelled: int = 0
    unfinished: int = 0
    lease_expiries: int = 0
    messages_with_expiry: int = 0
    max_retry_count: int = 0
    provider_calls: int | None = None
    deliveries: int | None = None
    second_deliveries: int | None = None
    repeats: int | None = None
    failed_after_delivery: int | None = None
    statuses: dict[int, str] = field(default_factory=dict)
    _problems: dict[str, list[str]] = field(default_factory=dict)
    _problem_counts: Counter[str] = field(default_factory=Counter)

    def problem(self, check: str, example: str) -> None:
        self._problem_counts[check] += 1
        examples = self._problems.setdefault(check, [])
        if len(examples) < _EXAMPLES:
            examples.append(example)

    @property
    def problems(self) -> list[str]:
        return [
            f"{check}: {self._problem_counts[check]} (e.g. {'; '.join(examples)})"
            for check, examples in self._problems.items()
        ]

    @property
    def failed_checks(self) -> set[str]:
        return set(self._problems)

    @property
    def ok(self) -> bool:
        return not self._problems

    def summary(self) -> str:
        provider = (
            "provider side not checked"
            if self.provider_calls is None
            else (
                f"provider calls {self.provider_calls}, deliveries {self.deliveries} "
                f"(second deliveries {self.second_deliveries}, repeats the mock dropped "
                f"{self.repeats}, failed after a delivery {self.failed_after_delivery})"
            )
        )
        verdict = "OK" if self.ok else "PROBLEMS:\n  " + "\n  ".join(self.problems)
        return (
            f"{len(self.expected)} campaign(s) {sorted(set(self.statuses.values()))}, "
            f"{self.messages} messages: {self.sent} sent + {self.failed} failed + "
            f"{self.cancelled} cancelled, "
            f"{self.unfinished} unfinished; lease expiries {self.lease_expiries} on "
            f"{self.messages_with_expiry} messages; max retry_count {self.max_retry_count}; "
            f"{provider}. {verdict}"
        )


async def reconcile(
    database_url: str,
    expected: dict[int, int],
    max_retries: int,
    send_log: Path | None = None,
    api_url: str | None = None,
) -> Reconciliation:
    """`expected`: campaign id → the number of messages it was sent to."""
    result = Reconciliation(dict(expected))
    ids = sorted(expected)
    connection = await asyncpg.connect(database_url)
    try:
        # One snapshot: the mock's receipts keep landing while this reads.
        async with connection.transaction(isolation="repeatable_read", readonly=True):
            campaigns = {
                r["id"]: r["status"]
                for r in await connection.fetch(
                    "SELECT id, status FROM campaigns WHERE id = ANY($1::bigint[])", ids
                )
            }
            rows = await connection.fetch(
                """SELECT id, campaign_id, status, retry_count, lease_expiries, delivery_status
                   FROM outbound_messages WHERE campaign_id = ANY($1::bigint[])""",
                ids,
            )
            counters = {
                (r["channel"], r["status"]): r["n"]
                for r in await connection.fetch("SELECT channel, status, n FROM campaign_counts")
            }
            message_counters = {
                (r["campaign_id"], r["status"]): r["n"]
                for r in await connection.fetch(
                    "SELECT campaign_id, status, n FROM campaign_message_counts "
                    "WHERE campaign_id = ANY($1::bigint[]) AND n <> 0",
                    ids,
                )
            }
            actual = {
                (r["channel"], r["status"]): r["n"]
                for r in await connection.fetch(
                    "SELECT channel, status, count(*) AS n FROM campaigns GROUP BY 1, 2"
                )
            }
    finally:
        await connection.close()
    result.statuses = campaigns

    per_campaign: dict[int, Counter[str]] = {cid: Counter() for cid in ids}
    per_delivery: dict[int, Counter[str]] = {cid: Counter() for cid in ids}
    for row in rows:
        per_campaign[row["campaign_id"]][row["status"]] += 1
        if row["delivery_status"] is not None:  # the mock's receipts
            per_delivery[row["campaign_id"]][row["delivery_status"]] += 1
    for cid in ids:
        counts, status = per_campaign[cid], campaigns.get(cid)
        total = sum(counts.values())
        if status is None:
            result.problem("campaign missing", f"campaign {cid}")
            continue
        want = "cancelled" if status == "cancelled" else "sent" if counts["sent"] else "failed"
        if status != want:
            result.problem("campaign not finished as its messages say", f"{cid} {status}!={want}")
        if total != expected[cid]:
            result.problem("wrong number of messages", f"campaign {cid}: {total}!={expected[cid]}")
        if counts["sent"] + counts["failed"] + counts["cancelled"] != total:
            result.problem("counts do not add up", f"campaign {cid}: {dict(counts)}")
        if counts["cancelled"] and status != "cancelled":
            result.problem("cancelled messages in a campaign not cancelled", f"{cid} {status}")
        kept = {s: n for (c, s), n in message_counters.items() if c == cid}
        real = {s: n for s, n in (counts + per_delivery[cid]).items() if n}
        if kept != real:
            result.problem("campaign_message_counts disagree", f"{cid}: {kept} != {real}")
    for key in set(counters) | set(actual):
        if counters.get(key, 0) != actual.get(key, 0):
            result.problem(
                "campaign_counts disagree with campaigns",
                f"{key}: {counters.get(key, 0)}!={actual.get(key, 0)}",
            )

    by_id = {row["id"]: row for row in rows}
    for row in rows:
        mid, status = row["id"], row["status"]
        retries, expiries = row["retry_count"], row["lease_expiries"]
        result.messages += 1
        result.sent += status == "sent"
        result.failed += status == "failed"
        result.cancelled += status == "cancelled"
        cancelled = campaigns.get(row["campaign_id"]) == "cancelled"
        result.lease_expiries += expiries
        result.messages_with_expiry += expiries > 0
        result.max_retry_count = max(result.max_retry_count, retries)
        if status not in ("sent", "failed", "cancelled"):
            result.unfinished += 1
            result.problem("message not final", f"{mid} {status}")
        if retries > max_retries + min(expiries, 1):
            result.problem(
                "more attempts than MAX_RETRIES + 1 (+1 after a lease expiry)",
                f"{mid} retry_count {retries} lease_expiries {expiries}",
            )
        if status == "failed" and retries < max_retries and not cancelled:
            result.problem("failed before its retries were used", f"{mid} retry_count {retries}")

    if send_log is not None:
        _reconcile_provider(result, by_id, read_send_log(send_log), max_retries)
    if api_url is not None:
        await _reconcile_api(result, api_url, per_campaign)
    return result


def _reconcile_provider(
    result: Reconciliation,
    rows: dict[int, asyncpg.Record],
    calls: dict[int, Calls],
    max_retries: int,
) -> None:
    result.provider_calls = sum(c.total for c in calls.values())
    result.deliveries = sum(c.delivered for c in calls.values())
    result.second_deliveries = sum(max(0, c.delivered - 1) for c in calls.values())
    result.repeats = sum(c.repeated for c in calls.values())
    result.failed_after_delivery = 0
    for mid in calls.keys() - rows.keys():
        result.problem("provider called for a message not in the database", str(mid))
    for mid, row in rows.items():
        c = calls.get(mid, Calls())
        status, retries, expiries = row["status"], row["retry_count"], row["lease_expiries"]
        what = f"{mid} {status} retry_count {retries} lease_expiries {expiries} calls {c}"
        if c.total > retries + 1:
            result.problem("more provider calls than claimed attempts", what)
        if c.total > max_retries + 1 + expiries:
            result.problem("more provider calls than MAX_RETRIES + 1 + lease expiries", what)
        if status == "sent" and c.accepted == 0:
            result.problem("recorded sent, never taken by the provider", what)
        if status == "cancelled" and c.accepted:
            result.problem("a cancelled message was taken by the provider", what)
        if c.delivered > 1 + expiries:
            result.problem("delivered again without a lost record (lease expiry)", what)
        if status == "failed" and c.accepted:
            result.failed_after_delivery += 1
        if expiries:
            continue
        # No claim ever ran out: every attempt was sent once and recorded as it ended.
        if status == "sent" and (c.delivered, c.repeated, c.failed, c.other) != (1, 0, retries, 0):
            result.problem("provider calls differ from the recorded attempts (sent)", what)
        if status == "failed" and (c.accepted, c.failed, c.other) != (0, retries + 1, 0):
            result.problem("provider calls differ from the recorded attempts (failed)", what)
        # Cancelled while pending: its earlier attempts (if any) all failed.
        if status == "cancelled" and (c.accepted, c.failed, c.other) != (0, retries, 0):
            result.problem("provider calls differ from the recorded attempts (cancelled)", what)


async def _reconcile_api(
    result: Reconciliation, api_url: str, per_campaign: dict[int, Counter[str]]
) -> None:
    async with httpx.AsyncClient(base_url=api_url, timeout=30) as http:
        for cid, counts in per_campaign.items():
            response = await http.get(f"/campaigns/{cid}")
            if response.status_code != 200:
                result.problem("API cannot show the campaign", f"{cid}: {response.status_code}")
                continue
            body = response.json()
            stats = body["stats"]
            want = {
                "total": sum(counts.values()),
                **{s: counts[s] for s in ("pending", "sending", "sent", "failed", "cancelled")},
            }
            got = {k: stats[k] for k in want}
            if got != want or body["status"] != result.statuses.get(cid):
                result.problem(
                    "API stats differ from the database",
                    f"{cid}: {body['status']} {got} != {result.statuses.get(cid)} {want}",
                )


async def finish_and_reconcile(
    cluster: "Cluster", api: "ServiceProcess", campaign: int, messages: int, timeout: float
) -> tuple[float, Reconciliation]:
    """Wait until `campaign` is finished (seconds taken), then reconcile it against the
    database, the API and the cluster's send log."""
    from tests.faults.campaigns import wait_finished

    seconds = await wait_finished(cluster.database_url, [campaign], timeout=timeout)
    result = await reconcile(
        cluster.database_url,
        {campaign: messages},
        max_retries=int(cluster.settings["MAX_RETRIES"]),
        send_log=cluster.send_log_dir,
        api_url=api.url,
    )
    return seconds, result
