"""What happens to a batch of attempts: a pure function of their results, the retry
policy and the time. The processor does the I/O these decisions call for."""

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from campaign_dispatch.queue import Job
from campaign_dispatch.repositories.outcomes import Outcome
from campaign_dispatch.statuses import FailureCode, MessageStatus


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

    @property
    def sent(self) -> int:
        return sum(o.status == MessageStatus.SENT for o in self.outcomes)

    @property
    def failed(self) -> int:
        return sum(o.status == MessageStatus.FAILED for o in self.outcomes)


def decide(results: Sequence[AttemptResult], policy: RetryPolicy) -> Decisions:
    """sent; or pending again after a backoff while retries remain and the error may pass;
    or failed for good, with a copy for the dead-letter queue."""
    decisions = Decisions()
    for r in results:
        if r.error is None:
            status, retry_in = MessageStatus.SENT, None
        elif r.retryable and r.attempt - r.series_start < policy.retries_allowed(r.lease_expiries):
            retry_number = r.attempt + 1
            delay = policy.delay_seconds(retry_number)
            status, retry_in = MessageStatus.PENDING, delay
            decisions.retries.append(Retry(Job(r.message_id, retry_number), delay))
        else:
            status, retry_in = MessageStatus.FAILED, None
            reason = (
                f"failed after {r.attempt - r.series_start} retries: {r.error}"
                if r.retryable
                else f"failed (not retryable): {r.error}"
            )
            decisions.dead_letters.append(DeadLetter(Job(r.message_id, r.attempt), reason))
        decisions.outcomes.append(
            Outcome(r.message_id, r.attempt, status, r.rendered, r.error, retry_in, r.error_code)
        )
        if status != MessageStatus.PENDING:
            decisions.finished_campaigns.add(r.campaign_id)
        if r.error is not None:
            decisions.failing_campaigns.add(r.campaign_id)
    return decisions
