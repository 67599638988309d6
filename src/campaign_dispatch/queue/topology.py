"""The RabbitMQ queues the pipeline uses, their names and their idempotent declaration.

Kept apart from the connection code because three parties must agree on these names and
arguments: the publisher (retry and dead-letter routing), the consumer, and whoever
cleans up after a run (tests, the bench). `campaign_sends` below is QUEUE_NAME's default.

- `campaign_sends`: the jobs.
- `campaign_sends.retry.<ms>ms`: one delay queue per retry level, with that TTL; expired
  jobs dead-letter back into `campaign_sends`. One queue per delay avoids the
  head-of-line blocking of per-message TTLs in a single queue (a long TTL at the head
  would hold back the shorter ones behind it).
- `campaign_sends.dlq`: copies of finally failed messages, with the reason.

QUEUE_TYPE picks classic queues (the default: one node) or quorum queues (replicated
across a cluster's nodes, RabbitMQ's choice for data that must survive losing one). On
quorum queues the delay queues dead-letter at least once (`x-dead-letter-strategy`,
which needs `x-overflow: reject-publish`): a retry whose delay ran out is confirmed into
`campaign_sends` before the delay queue lets go of it, where the default (at most once)
could drop it if a node failed in between. A queue keeps the type it was created with;
declaring it with another is refused by the broker, so switching means deleting the
queues (they hold only jobs, which the outbox can publish again).
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from aio_pika.abc import AbstractChannel

QueueType = Literal["classic", "quorum"]


@dataclass(frozen=True)
class Topology:
    name: str
    retry_delays_ms: Sequence[int] = field(default_factory=tuple)
    queue_type: QueueType = "classic"

    def __post_init__(self) -> None:
        delays = tuple(sorted(set(self.retry_delays_ms)))
        if delays and delays[0] < 1:
            raise ValueError(f"retry delays must be positive: {delays}")
        object.__setattr__(self, "retry_delays_ms", delays)

    @property
    def dead_letter_name(self) -> str:
        return f"{self.name}.dlq"

    def retry_queue_name(self, delay_ms: int) -> str:
        return f"{self.name}.retry.{delay_ms}ms"

    @property
    def all_names(self) -> list[str]:
        delays = [self.retry_queue_name(ms) for ms in self.retry_delays_ms]
        return [self.name, self.dead_letter_name, *delays]

    def retry_route(self, delay_seconds: float) -> tuple[str, float]:
        """The delay queue for a wait of `delay_seconds`, and the per-message expiration.

        The queue is the shortest level at least as long as the wait (the longest if none
        is); the message's own expiration trims a shorter wait within that level.
        """
        if not self.retry_delays_ms:
            raise ValueError("no retry queues are declared (MAX_RETRIES is 0)")
        delay_ms = max(1, round(delay_seconds * 1000))
        longest = self.retry_delays_ms[-1]
        queue_ms = next((d for d in self.retry_delays_ms if d >= delay_ms), longest)
        return self.retry_queue_name(queue_ms), min(delay_ms, queue_ms) / 1000

    def arguments(self, delay_ms: int | None = None) -> dict[str, Any]:
        """The declaration arguments of the send and dead-letter queues (no delay) or of
        the delay queue for `delay_ms`."""
        arguments: dict[str, Any] = {}
        if self.queue_type == "quorum":
            arguments["x-queue-type"] = "quorum"
        if delay_ms is not None:
            arguments |= {
                "x-message-ttl": delay_ms,
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": self.name,
            }
            if self.queue_type == "quorum":
                arguments |= {
                    "x-dead-letter-strategy": "at-least-once",
                    "x-overflow": "reject-publish",
                }
        return arguments

    async def declare(self, channel: AbstractChannel) -> None:
        await channel.declare_queue(self.name, durable=True, arguments=self.arguments())
        await channel.declare_queue(self.dead_letter_name, durable=True, arguments=self.arguments())
        for delay_ms in self.retry_delays_ms:
            await channel.declare_queue(
                self.retry_queue_name(delay_ms),
                durable=True,
                arguments=self.arguments(delay_ms),
            )
