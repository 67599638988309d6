"""The send pipeline's repositories, one per stage, built once for the database's dialect.

Every state change in them is a conditional UPDATE on the expected current state, so two
workers, two relays or a redelivered job can never both win.
"""

from dataclasses import dataclass

from campaign_dispatch.repositories.claims import ClaimRepository, PostgresClaimRepository
from campaign_dispatch.repositories.outbox import OutboxRepository, PostgresOutboxRepository
from campaign_dispatch.repositories.outcomes import OutcomeRepository, PostgresOutcomeRepository
from campaign_dispatch.repositories.recovery import (
    PostgresRecoveryRepository,
    RecoveryRepository,
)


@dataclass(frozen=True)
class PipelineRepositories:
    outbox: OutboxRepository
    claims: ClaimRepository
    outcomes: OutcomeRepository
    recovery: RecoveryRepository

    @classmethod
    def for_dialect(cls, dialect: str) -> "PipelineRepositories":
        """PostgreSQL gets one-statement claims and outcomes (arrays, CTEs), NOTIFY, and
        the database's clock for leases and due times; SQLite the portable SQL."""
        if dialect == "postgresql":
            return cls(
                PostgresOutboxRepository(),
                PostgresClaimRepository(),
                PostgresOutcomeRepository(),
                PostgresRecoveryRepository(),
            )
        return cls(OutboxRepository(), ClaimRepository(), OutcomeRepository(), RecoveryRepository())
