"""What happens to a batch of attempts: a pure function of their results, the retry
policy and the time. The processor does the I/O these decisions call for."""

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from campaign_dispatch.queue import Job
from campaign_dispatch.repositories.outcomes import Outcome
from campaign_dispatch.statuses import FailureCode, MessageStatus, ProviderOutcome

ACCOUNT_HOLD_SECONDS = 30.0
"""A message held by an account error waits this long before it could go again: its
campaign is paused first (which parks it); should the pause never commit (the worker
died), the message is tried again and pauses the campaign then."""


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int
    base_delay_ms: int
    jitter: Callable[[], float] = random.random
    """A fraction in [0, 1): where in its upper half each delay falls."""

    def retries_allowed(self, lease_expiries: int) -> int:
        """MAX_RETRIES, plus one attempt once a claim on the message has run out: an
        expiry is not a failure (the provider may have taken the message, or nothing was
        tried), and the provider's idempotency key covers a duplicate. Only one: a message
        whose claims keep running out must still end."""
        return self.max_retries + min(lease_expiries, 1)

    def delay_seconds(self, retry_number: int) -> float:
        """Delay before retry n (1-based): base * 2^(n-1), jittered into its upper half.

        The jitter spreads a burst of failures so their retries don't arrive as one burst;
        keeping the lower bound at half the nominal delay keeps the backoff meaningful.
        """
        if retry_number < 1:
            raise ValueError("retry_number starts at 1")
        nominal = self.base_delay_ms * (1 << (retry_number - 1)) / 1000
        return nominal * (0.5 + 0.5 * self.jitter())


@dataclass(frozen=True)
class AttemptResult:
    """One claimed attempt after rendering and sending (`error` None = the provider took it)."""

    message_id: int
    campaign_id: int
    attempt: int
    rendered: str | None
    error: str | None = None
    retryable: bool = True
    lease_expiries: int = 0  # the message's claims that ran out before this attempt
    error_code: FailureCode | None = None
    series_start: int = 0  # the attempt its series began at (retry-failed starts another)
    outcome: ProviderOutcome | None = None  # the provider's answer, when one was asked
    provider: str | None = None
    provider_message_id: str | None = None
    retry_after: float | None = None  # throttled: what the provider asked for


@dataclass(frozen=True)
class Retry:
    job: Job
    delay_seconds: float


@dataclass(frozen=True)
class DeadLetter:
    job: Job
    reason: str


@dataclass
class Decisions:
    outcomes: list[Outcome] = field(default_factory=list)
    retries: list[Retry] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    finished_campaigns: set[int] = field(default_factory=set)
    """Campaigns that had a message reach a final status: check them for completion."""
    failing_campaigns: set[int] = field(default_factory=set)
    """Campaigns that had an attempt fail: check them for the automatic pause."""
    account_errors: dict[int, str] = field(default_factory=dict)
    """Campaigns whose provider account refused a send, with what it said: pause them."""

    @property
    def sent(self) -> int:
        return sum(o.status == MessageStatus.SENT for o in self.outcomes)

    @property
    def failed(self) -> int:
        return sum(o.status == MessageStatus.FAILED for o in self.outcomes)


def decide(results: Sequence[AttemptResult], policy: RetryPolicy) -> Decisions:
    """Each provider outcome class has one behaviour, the same for every provider:
    accepted: sent. Retryable: pending again after a backoff while the series has retries
    left, else failed for good with a copy for the dead-letter queue. Throttled: pending
    again after the provider's Retry-After (or the backoff), a new attempt that does not
    count toward MAX_RETRIES. Terminal and opted out: failed at once. Account: pending
    again with no attempt counted, and the campaign pauses."""
    decisions = Decisions()
    for r in results:
        outcome = _outcome(r, policy, decisions)
        decisions.outcomes.append(outcome)
        if outcome.status != MessageStatus.PENDING:
            decisions.finished_campaigns.add(r.campaign_id)
        if r.error is not None and r.outcome not in (
            ProviderOutcome.THROTTLED,
            ProviderOutcome.ACCOUNT,
        ):
            decisions.failing_campaigns.add(r.campaign_id)
    return decisions


def _outcome(r: AttemptResult, policy: RetryPolicy, decisions: Decisions) -> Outcome:
    def outcome(
        status: MessageStatus,
        retry_in: float | None = None,
        counted: bool = True,
        free: bool = False,
    ) -> Outcome:
        return Outcome(
            r.message_id,
            r.attempt,
            status,
            r.rendered,
            r.error,
            retry_in,
            r.error_code,
            provider=r.provider,
            provider_message_id=r.provider_message_id,
            counted=counted,
            free=free,
            campaign_id=r.campaign_id,
        )

    if r.error is None:
        return outcome(MessageStatus.SENT)
    if r.outcome == ProviderOutcome.ACCOUNT:
        decisions.account_errors.setdefault(r.campaign_id, r.error)
        return outcome(MessageStatus.PENDING, ACCOUNT_HOLD_SECONDS, counted=False)
    if r.outcome == ProviderOutcome.THROTTLED:
        delay = r.retry_after or policy.delay_seconds(1)
        decisions.retries.append(Retry(Job(r.message_id, r.attempt + 1), delay))
        return outcome(MessageStatus.PENDING, delay, free=True)
    used = r.attempt - r.series_start
    if r.retryable and used < policy.retries_allowed(r.lease_expiries):
        retry_number = r.attempt + 1
        delay = policy.delay_seconds(used + 1)
        decisions.retries.append(Retry(Job(r.message_id, retry_number), delay))
        return outcome(MessageStatus.PENDING, delay)
    reason = (
        f"failed after {used} retries: {r.error}"
        if r.retryable
        else f"failed (not retryable): {r.error}"
    )
    decisions.dead_letters.append(DeadLetter(Job(r.message_id, r.attempt), reason))
    return outcome(MessageStatus.FAILED)
