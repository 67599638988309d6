"""One batch of jobs: claim in the database, render, send, record, then acknowledge.

The processor does the I/O; what each attempt comes to is decided by `decisions.decide`.
Acks come only after the outcome is committed. A job whose message is unknown, final,
or already past that attempt is acknowledged and ignored, never retried.
"""

import asyncio
import time
from collections.abc import Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog

from campaign_dispatch import metrics
from campaign_dispatch.clock import utcnow
from campaign_dispatch.compliance.rules import Hold, Rules
from campaign_dispatch.db import Database
from campaign_dispatch.providers import (
    Sender,
    SendRequest,
    SendResult,
    WhatsAppTemplateMessage,
)
from campaign_dispatch.queue import Delivery, Job, JobQueue, QueueUnavailable
from campaign_dispatch.repositories import compliance as compliance_repo
from campaign_dispatch.repositories.claims import CampaignTemplate, Claim
from campaign_dispatch.repositories.consent import ConsentChange, record_consent
from campaign_dispatch.repositories.outbox import DueMessage
from campaign_dispatch.repositories.pipeline import PipelineRepositories
from campaign_dispatch.statuses import Channel, ConsentSource, ProviderOutcome
from campaign_dispatch.statuses import FailureCode as Code
from campaign_dispatch.templating import Personalizer, TemplateError, sms_info
from campaign_dispatch.worker.decisions import AttemptResult, Decisions, RetryPolicy, decide
from campaign_dispatch.worker.rate_limit import SharedRateLimit

log = structlog.get_logger(__name__)

_FAILURES = {  # each refusing class: its error code, and whether trying again may help
    ProviderOutcome.RETRYABLE: (Code.PROVIDER_ERROR, True),
    ProviderOutcome.THROTTLED: (Code.PROVIDER_THROTTLED, True),
    ProviderOutcome.TERMINAL: (Code.PROVIDER_REJECTED, False),
    ProviderOutcome.OPTED_OUT: (Code.OPTED_OUT, False),
    ProviderOutcome.ACCOUNT: (Code.PROVIDER_ACCOUNT, True),
}


class _Deadline:
    """One timer for a batch's attempts, where `asyncio.timeout` would arm one per
    attempt (a timer handle armed and cancelled per message, about a tenth of the
    worker's time per message). When it fires, each attempt still running is cancelled;
    the attempt, catching that, asks `passed()`, which also tells the deadline's own
    cancellation from anyone else's (a shutdown's), as `asyncio.timeout` does."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self._tasks: set[asyncio.Task[AttemptResult]] = set()
        self._fired: set[asyncio.Task[AttemptResult]] = set()
        loop = asyncio.get_running_loop()
        self._timer = loop.call_at(loop.time() + seconds, self._fire)

    def watch(self, attempt: Coroutine[None, None, AttemptResult]) -> asyncio.Task[AttemptResult]:
        task = asyncio.ensure_future(attempt)
        self._tasks.add(task)
        return task

    def release(self) -> None:
        """The calling attempt is past what the deadline bounds: it is not cancelled."""
        task = asyncio.current_task()
        if task is not None:
            self._tasks.discard(task)

    def passed(self) -> bool:
        """In an attempt that was cancelled: True if by this deadline alone (its
        cancellation is then withdrawn, so the attempt may return a result)."""
        task = asyncio.current_task()
        if task is None or task not in self._fired:
            return False
        self._fired.discard(task)
        return task.uncancel() == 0

    def cancel(self) -> None:
        self._timer.cancel()

    def _fire(self) -> None:
        for task in self._tasks:
            if not task.done():
                task.cancel()
                self._fired.add(task)


@dataclass(frozen=True)
class AutoPause:
    """Pause a campaign once more than `rate` of its last `window` attempts failed."""

    rate: float
    window: int


@dataclass
class BatchProcessor:
    database: Database
    repositories: PipelineRepositories
    queue: JobQueue
    senders: Mapping[Channel, Sender]
    personalizer: Personalizer
    policy: RetryPolicy
    lease_seconds: float
    auto_pause: AutoPause
    rate_limit: SharedRateLimit | None = None
    rules: Rules = field(default_factory=lambda: Rules(None, "UTC"))
    completion_interval: float = 0.25
    _templates: dict[int, CampaignTemplate] = field(default_factory=dict)
    _unchecked: set[int] = field(default_factory=set)
    _checked_at: float = 0.0

    async def process(self, deliveries: Sequence[Delivery]) -> None:
        jobs: dict[int, tuple[Job, Delivery]] = {}
        ignored: list[Delivery] = []
        for delivery in deliveries:
            try:
                job = Job.decode(delivery.body)
            except ValueError as exc:
                await self._dead_letter(delivery.body, f"malformed job: {exc}")
                ignored.append(delivery)
                continue
            seen = jobs.get(job.message_id)
            if seen is None:
                jobs[job.message_id] = (job, delivery)
            elif job.attempt > seen[0].attempt:
                # Two attempts of one message in a batch (a stale duplicate beside the
                # current job): only the latest can be current; the other claims nothing.
                ignored.append(seen[1])
                jobs[job.message_id] = (job, delivery)
            else:  # the same job twice, or an older attempt
                ignored.append(delivery)

        claims, templates = await self._claim([job for job, _ in jobs.values()])
        claimed = {c.message_id for c in claims}
        ignored += [d for mid, (_, d) in jobs.items() if mid not in claimed]
        if len(claimed) < len(jobs):
            log.debug("ignored stale jobs", count=len(jobs) - len(claimed))
        claims = await self._screen(claims, templates)

        metrics.IN_FLIGHT.inc(len(claims))
        # Rendering and sending share one deadline well inside the lease: a slow
        # personalizer or provider cannot outlive the claim.
        deadline = _Deadline(self.lease_seconds / 2)
        try:
            attempts = [deadline.watch(self._attempt(c, templates, deadline)) for c in claims]
            results = await asyncio.gather(*attempts)
        finally:
            deadline.cancel()
            metrics.IN_FLIGHT.dec(len(claims))
        if results:
            decisions = decide(results, self.policy)
            # Shielded: once providers have been called, their outcome must be written
            # even if this task is cancelled at shutdown.
            await asyncio.shield(self._apply(decisions))
            await asyncio.shield(self._opt_out(results, claims))
        for delivery in [*ignored, *(jobs[mid][1] for mid in claimed)]:
            await delivery.ack()
        await self.complete_finished()

    async def _claim(self, jobs: list[Job]) -> tuple[list[Claim], dict[int, CampaignTemplate]]:
        """The claims, and the templates of their campaigns: this batch's own mapping, so
        that another lane clearing the shared cache cannot take one away mid-batch."""
        if not jobs:
            return [], {}
        lease = timedelta(seconds=self.lease_seconds)
        async with self.database.statement_sessions.begin() as session:
            claims = await self.repositories.claims.claim(session, jobs, utcnow(), lease)
            if not claims:
                return [], {}
            wanted = {c.campaign_id for c in claims}
            missing = wanted - self._templates.keys()
            if missing:
                found = await self.repositories.claims.templates(session, sorted(missing))
                if len(self._templates) + len(found) > 10_000:  # bounded
                    self._templates.clear()
                self._templates.update(found)
        cached = self._templates
        return claims, {cid: cached[cid] for cid in wanted if cid in cached}

    async def _screen(
        self, claims: list[Claim], templates: Mapping[int, CampaignTemplate]
    ) -> list[Claim]:
        """The claims that may be sent now. Checked at the moment of sending, whatever was
        true when the campaign was sent: one whose customer opted out, or whose campaign
        expired, fails without reaching a provider; one outside its recipient's send
        window goes back to wait for it (one statement per opening time)."""
        now = utcnow()
        ready: list[Claim] = []
        holds: list[tuple[int, datetime]] = []
        refusals: list[tuple[int, Code, str]] = []
        for claim in claims:
            campaign = templates.get(claim.campaign_id)
            if campaign is None or claim.customer is None:  # _attempt says why
                ready.append(claim)
                continue
            verdict = self.rules.check(
                now,
                opted_out_at=claim.opted_out_at,
                timezone=claim.timezone,
                phone=str(claim.customer.get("phone") or ""),
                window=campaign.send_window,
                expires_at=campaign.expires_at,
            )
            if verdict is None:
                ready.append(claim)
            elif isinstance(verdict, Hold):
                holds.append((claim.message_id, verdict.until))
            else:
                refusals.append((claim.message_id, verdict.code, verdict.error))
        if holds or refusals:
            async with self.database.statement_sessions.begin() as session:
                await compliance_repo.hold(session, holds, now)
                await compliance_repo.refuse(session, refusals, now)
            for _, code, _ in refusals:
                metrics.MESSAGES_REFUSED.labels(code).inc()
            metrics.MESSAGES_HELD.inc(len(holds))
            refused = {mid for mid, _, _ in refusals}
            self._unchecked |= {c.campaign_id for c in claims if c.message_id in refused}
        return ready

    async def _attempt(
        self, claim: Claim, templates: Mapping[int, CampaignTemplate], deadline: _Deadline
    ) -> AttemptResult:
        def result(
            rendered: str | None,
            error: str | None,
            code: Code | None = None,
            retryable: bool = True,
            answer: SendResult | None = None,
            provider: str | None = None,
        ) -> AttemptResult:
            return AttemptResult(
                claim.message_id,
                claim.campaign_id,
                claim.attempt,
                rendered,
                error,
                retryable,
                claim.lease_expiries,
                code,
                claim.series_start,
                outcome=None if answer is None else answer.outcome,
                provider=provider,
                provider_message_id=None if answer is None else answer.provider_message_id,
                retry_after=None if answer is None else answer.retry_after,
            )

        campaign = templates.get(claim.campaign_id)
        if campaign is None:  # the campaign row is gone
            return result(None, "campaign not found", Code.CAMPAIGN_NOT_FOUND, retryable=False)
        if claim.customer is None:
            return result(None, "customer not found", Code.CUSTOMER_NOT_FOUND, retryable=False)
        sender = self.senders[campaign.channel]
        rendered: str | None = None
        with metrics.SEND_ATTEMPT_SECONDS.time():
            try:
                try:
                    rendered = await self.personalizer.personalize(
                        campaign.template, claim.customer, channel=campaign.channel
                    )
                    template = await self._whatsapp_template(campaign, claim)
                except TemplateError as exc:  # cannot get better by retrying
                    return result(
                        None, f"template error: {exc}", Code.TEMPLATE_ERROR, retryable=False
                    )
                except Exception as exc:  # a personalizer fault fails this attempt only
                    log.exception("personalizer raised unexpectedly", message_id=claim.message_id)
                    return result(
                        None, f"personalization failed: {exc!r}", Code.PERSONALIZATION_FAILED
                    )
                deferred = await self._wait_for_rate(campaign.channel, rendered)
                if deferred is not None:
                    error = "deferred: no slot of the shared rate limit within the lease"
                    return result(rendered, error, Code.PROVIDER_THROTTLED, answer=deferred)
                answer = await sender.send(
                    SendRequest(
                        claim.message_id,
                        campaign.channel,
                        str(claim.customer["phone"]),
                        rendered,
                        template,
                    )
                )
            except asyncio.CancelledError:
                if not deadline.passed():
                    raise  # shutdown, not the deadline
                if rendered is None:
                    error = f"personalizer timed out after {deadline.seconds:g}s"
                    return result(None, error, Code.PERSONALIZATION_FAILED)
                error = f"provider timed out after {deadline.seconds:g}s"
                return result(rendered, error, Code.PROVIDER_TIMEOUT, provider=sender.name)
            except TimeoutError as exc:  # a sender's own time limit (the HTTP ones answer)
                error = f"provider timed out: {exc!r}"
                return result(rendered, error, Code.PROVIDER_TIMEOUT, provider=sender.name)
            except Exception as exc:
                log.exception("sender raised unexpectedly", message_id=claim.message_id)
                error = f"unexpected sender error: {exc!r}"
                return result(rendered, error, Code.PROVIDER_ERROR, provider=sender.name)
        deadline.release()
        metrics.PROVIDER_OUTCOMES.labels(sender.name, answer.outcome).inc()
        if answer.outcome == ProviderOutcome.THROTTLED and self.rate_limit is not None:
            await self.rate_limit.throttled(campaign.channel, answer.retry_after)
        if answer.outcome == ProviderOutcome.ACCEPTED:
            return result(rendered, None, answer=answer, provider=sender.name)
        code, retryable = _FAILURES[answer.outcome]
        said = answer.detail or answer.code or "no detail"
        error = f"{sender.name} provider: {said}"
        return result(rendered, error, code, retryable, answer, sender.name)

    async def _wait_for_rate(self, channel: Channel, rendered: str) -> SendResult | None:
        """Wait for this message's slot of the shared rate limit (an SMS takes one per
        segment); a throttled result, sent nowhere, when none is free in time."""
        if self.rate_limit is None or not self.rate_limit.limits(channel):
            return None
        cost = sms_info(rendered).segments if channel == Channel.SMS else 1
        granted, seconds = await self.rate_limit.wait(channel, cost)
        if granted:
            return None
        return SendResult(ProviderOutcome.THROTTLED, code="rate-limit", retry_after=seconds)

    async def _whatsapp_template(
        self, campaign: CampaignTemplate, claim: Claim
    ) -> WhatsAppTemplateMessage | None:
        """The campaign's WhatsApp template with each body parameter rendered for the
        customer, as base_template is."""
        spec = campaign.whatsapp_template
        if campaign.channel != Channel.WHATSAPP or not spec or claim.customer is None:
            return None
        params = [
            await self.personalizer.personalize(
                str(param), claim.customer, channel=campaign.channel
            )
            for param in spec.get("body_params") or ()
        ]
        content_sid = spec.get("content_sid")
        return WhatsAppTemplateMessage(
            str(spec["name"]),
            str(spec["language"]),
            tuple(params),
            str(content_sid) if content_sid else None,
        )

    async def _apply(self, decisions: Decisions) -> None:
        async with self.database.statement_sessions.begin() as session:
            await self.repositories.outcomes.record(session, decisions.outcomes, utcnow())
        metrics.MESSAGES_SENT.inc(decisions.sent)
        metrics.MESSAGES_FAILED.inc(decisions.failed)
        metrics.MESSAGES_RETRIED.inc(len(decisions.retries))
        await self._schedule_retries(decisions)
        for letter in decisions.dead_letters:
            await self._dead_letter(letter.job.encode(), letter.reason)
        self._unchecked |= decisions.finished_campaigns
        if decisions.account_errors:
            async with self.database.statement_sessions.begin() as session:
                paused = await self.repositories.outcomes.pause_for_account(
                    session, decisions.account_errors, utcnow()
                )
            for campaign_id in paused:
                log.warning(
                    "campaign paused: provider account error",
                    campaign_id=campaign_id,
                    error=decisions.account_errors[campaign_id],
                )
        # Last: its round trip must not delay the retries and dead-letter copies above.
        if decisions.failing_campaigns and self.auto_pause.rate < 1:
            async with self.database.statement_sessions.begin() as session:
                paused = await self.repositories.outcomes.pause_failing(
                    session,
                    sorted(decisions.failing_campaigns),
                    self.auto_pause.window,
                    self.auto_pause.rate,
                    utcnow(),
                )
            for campaign_id in paused:
                log.warning("campaign paused: too many failures", campaign_id=campaign_id)

    async def _opt_out(self, results: Sequence[AttemptResult], claims: Sequence[Claim]) -> None:
        """A provider's "the recipient opted out" opts the customer out here too: their
        other messages, queued or in later campaigns, are left alone from now on."""
        refused = {r.message_id: r for r in results if r.outcome == ProviderOutcome.OPTED_OUT}
        if not refused:
            return
        changes = [
            ConsentChange(
                c.customer_id,
                None,
                True,
                ConsentSource.PROVIDER,
                refused[c.message_id].error,
            )
            for c in claims
            if c.message_id in refused
        ]
        async with self.database.statement_sessions.begin() as session:
            changed = await record_consent(session, changes, utcnow())
        if changed:
            log.info("customers opted out by the provider", count=len(changed))

    async def complete_finished(self, now: bool = False) -> None:
        """Complete the campaigns this worker recorded final outcomes for, if finished.

        Checked after the outcomes committed, so of the workers recording a campaign's
        last messages, the last to commit sees them all. While jobs keep coming the check
        runs at most every `completion_interval` seconds (a campaign finishes once); the
        worker asks for it `now` whenever it runs out of jobs and when it stops.
        """
        if not self._unchecked:
            return
        clock = time.monotonic()
        if not now and clock - self._checked_at < self.completion_interval:
            return
        campaigns, self._unchecked = sorted(self._unchecked), set()
        self._checked_at = clock
        try:
            async with self.database.sessions.begin() as session:
                outcomes = self.repositories.outcomes
                done = await outcomes.complete_campaigns(session, campaigns, utcnow())
        except BaseException:
            self._unchecked.update(campaigns)  # the recovery sweep is the backstop
            raise
        for campaign_id in done:
            log.info("campaign finished", campaign_id=campaign_id)

    async def _schedule_retries(self, decisions: Decisions) -> None:
        """Hand retries to the delay queues; any not handed over, the relay publishes when due."""
        published: list[DueMessage] = []
        for retry in decisions.retries:
            try:
                await self.queue.publish_retry(retry.job, retry.delay_seconds)
            except QueueUnavailable as exc:
                log.warning(
                    "retry left to the outbox", message_id=retry.job.message_id, error=str(exc)
                )
                break
            published.append(DueMessage(retry.job.message_id, retry.job.attempt))
        if published:
            async with self.database.statement_sessions.begin() as session:
                await self.repositories.outbox.mark_enqueued(session, published, utcnow())

    async def _dead_letter(self, body: bytes, reason: str) -> None:
        try:
            await self.queue.dead_letter(body, reason)
        except QueueUnavailable as exc:  # the database already holds the outcome
            log.warning("dead-letter copy not published", reason=reason, error=str(exc))
