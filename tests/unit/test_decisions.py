"""What an attempt comes to, decided without a database: sent, retried after a backoff,
or failed for good with a dead-letter copy; and which campaigns to check for completion."""

import pytest

from campaign_dispatch.queue import Job
from campaign_dispatch.statuses import MessageStatus
from campaign_dispatch.worker.decisions import AttemptResult, RetryPolicy, decide

POLICY = RetryPolicy(max_retries=3, base_delay_ms=1000, jitter=lambda: 1.0)


def attempt(error: str | None = None, *, attempt: int = 0, retryable: bool = True, **kw):
    return AttemptResult(
        kw.get("message_id", 7), kw.get("campaign_id", 2), attempt, "Hi", error, retryable
    )


def test_an_accepted_attempt_is_sent_and_its_campaign_checked():
    decisions = decide([attempt()], POLICY)
    [outcome] = decisions.outcomes
    assert (outcome.status, outcome.error, outcome.retry_in) == (MessageStatus.SENT, None, None)
    assert decisions.retries == decisions.dead_letters == []
    assert decisions.finished_campaigns == {2}
    assert (decisions.sent, decisions.failed) == (1, 0)


@pytest.mark.parametrize(("attempt_number", "delay"), [(0, 1.0), (1, 2.0), (2, 4.0)])
def test_a_failure_with_retries_left_goes_back_to_pending_after_its_backoff(
    attempt_number: int, delay: float
):
    decisions = decide([attempt("carrier busy", attempt=attempt_number)], POLICY)
    [outcome] = decisions.outcomes
    assert outcome.status == MessageStatus.PENDING  # never `failed` between retries
    assert outcome.attempt == attempt_number
    assert outcome.retry_in == delay
    [retry] = decisions.retries
    assert retry.job == Job(7, attempt_number + 1)
    assert retry.delay_seconds == delay
    assert decisions.dead_letters == []
    assert decisions.finished_campaigns == set()  # still in flight: nothing to complete


def test_the_last_retry_failing_fails_for_good_with_a_dead_letter_copy():
    decisions = decide([attempt("carrier busy", attempt=3)], POLICY)
    [outcome] = decisions.outcomes
    assert (outcome.status, outcome.error) == (MessageStatus.FAILED, "carrier busy")
    assert decisions.retries == []
    [letter] = decisions.dead_letters
    assert letter.job == Job(7, 3)
    assert letter.reason == "failed after 3 retries: carrier busy"
    assert decisions.finished_campaigns == {2}


def test_an_error_retrying_cannot_fix_fails_at_once():
    decisions = decide([attempt("template error: x", retryable=False)], POLICY)
    [outcome] = decisions.outcomes
    assert outcome.status == MessageStatus.FAILED
    assert decisions.retries == []
    assert [d.reason for d in decisions.dead_letters] == [
        "failed (not retryable): template error: x"
    ]


def test_a_batch_is_decided_message_by_message():
    results = [
        attempt(message_id=1, campaign_id=10),
        attempt("busy", message_id=2, campaign_id=11),
        attempt("busy", message_id=3, campaign_id=12, attempt=3),
    ]
    decisions = decide(results, POLICY)
    statuses = [(o.message_id, o.status) for o in decisions.outcomes]
    assert statuses == [
        (1, MessageStatus.SENT),
        (2, MessageStatus.PENDING),
        (3, MessageStatus.FAILED),
    ]
    assert decisions.finished_campaigns == {10, 12}
    assert (decisions.sent, decisions.failed) == (1, 1)


def test_zero_retries_allowed_means_the_first_failure_is_final():
    decisions = decide([attempt("busy")], RetryPolicy(0, 1000))
    assert [o.status for o in decisions.outcomes] == [MessageStatus.FAILED]


@pytest.mark.parametrize("fraction", [0.0, 0.5, 0.999])
def test_backoff_doubles_and_jitter_stays_in_the_upper_half(fraction: float):
    policy = RetryPolicy(3, 1000, jitter=lambda: fraction)
    for retry_number, nominal in [(1, 1.0), (2, 2.0), (3, 4.0)]:
        delay = policy.delay_seconds(retry_number)
        assert nominal / 2 <= delay < nominal + 1e-9
        assert delay == pytest.approx(nominal * (0.5 + 0.5 * fraction))


def test_retry_numbers_start_at_one():
    with pytest.raises(ValueError, match="starts at 1"):
        POLICY.delay_seconds(0)


def test_after_a_lease_expiry_one_more_attempt_is_allowed():
    def after_expiry(n: int):
        result = AttemptResult(7, 2, n, "Hi", "busy", True, lease_expiries=1)
        return decide([result], POLICY)

    assert after_expiry(3).outcomes[0].status == MessageStatus.PENDING  # the extra attempt
    assert after_expiry(3).retries[0].job == Job(7, 4)
    assert after_expiry(4).outcomes[0].status == MessageStatus.FAILED
    assert POLICY.retries_allowed(0) == 3
    assert POLICY.retries_allowed(5) == 4  # one extra attempt, however many expiries
