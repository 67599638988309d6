"""What the pipeline needs from a queue; RabbitMQ and the in-process queue provide it."""

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

SEND_QUEUE = "campaign_sends"
MAX_MESSAGE_ID = 2**63 - 1  # BIGINT
MAX_ATTEMPT = 2**31 - 1  # INTEGER retry_count


class QueueUnavailable(Exception):
    """The broker cannot take or give messages right now; the caller retries later."""


# encode()'s bytes exactly, as JSON spells numbers (no leading zeros); the digits are
# bounded, so int() stays cheap, and the range check below still applies.
_ENCODED = re.compile(
    rb'\{"outbound_message_id": ([1-9][0-9]{0,18}), "attempt": (0|[1-9][0-9]{0,9})\}'
)


@dataclass(frozen=True)
class Job:
    """One send attempt: the message's id and the retry_count it was published for.

    The attempt lets a worker recognise a stale duplicate (an earlier attempt's job
    delivered again) without letting it skip a retry's backoff.
    """

    message_id: int
    attempt: int

    def encode(self) -> bytes:
        # Byte for byte what json.dumps({"outbound_message_id": …, "attempt": …}) gives,
        # without the encoder's overhead (the relay encodes thousands per second).
        return b'{"outbound_message_id": %d, "attempt": %d}' % (self.message_id, self.attempt)

    @classmethod
    def decode(cls, body: bytes) -> "Job":
        exact = _ENCODED.fullmatch(body)
        if exact is not None:  # what encode() wrote: a third of json.loads' time
            message_id, attempt = int(exact[1]), int(exact[2])
        else:  # any other JSON spelling of a job (another publisher's, or by hand)
            try:
                data = json.loads(body)
                message_id, attempt = data["outbound_message_id"], data.get("attempt", 0)
            except (ValueError, TypeError, KeyError, AttributeError, RecursionError):
                # RecursionError: a deeply nested body ("[[[[…") is malformed too, not a
                # crash that would hand the job back for ever.
                raise ValueError(f"not a job: {body[:100]!r}") from None
        in_range = (
            type(message_id) is int  # not bool, not float
            and type(attempt) is int
            and 1 <= message_id <= MAX_MESSAGE_ID
            and 0 <= attempt <= MAX_ATTEMPT
        )
        if not in_range:
            raise ValueError(f"not a job: {body[:100]!r}")
        return cls(message_id, attempt)


class Delivery(Protocol):
    @property
    def body(self) -> bytes: ...

    async def ack(self) -> None: ...

    async def release(self) -> None:
        """Give an unprocessed job back to the queue (used only when shutting down)."""


DeliveryCallback = Callable[[Delivery], None]


class JobQueue(Protocol):
    async def connect(self) -> None: ...

    async def close(self) -> None: ...

    async def unavailable_reason(self) -> str | None:
        """None when jobs can be published and consumed; else why not (for /ready)."""

    async def waiting(self) -> int:
        """Jobs in the send queue not yet delivered to a consumer (QueueUnavailable if unknown)."""

    async def publish(self, jobs: Sequence[Job]) -> None:
        """Publish durably; returns once the broker has confirmed every job."""

    async def publish_retry(self, job: Job, delay_seconds: float) -> None:
        """Deliver `job` to the send queue again after `delay_seconds`."""

    async def dead_letter(self, body: bytes, reason: str) -> None: ...

    async def start_consuming(self, on_delivery: DeliveryCallback, prefetch: int) -> None: ...

    async def stop_consuming(self) -> None: ...
