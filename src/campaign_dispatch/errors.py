"""One error hierarchy: each error knows its HTTP status and its envelope code."""

from typing import Any


class AppError(Exception):
    status_code = 500
    code = "INTERNAL_ERROR"

    def __init__(
        self,
        message: str,
        *,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        self.headers = headers


class NotFound(AppError):
    status_code = 404
    code = "NOT_FOUND"


class CampaignNotFound(NotFound):
    code = "CAMPAIGN_NOT_FOUND"

    def __init__(self, campaign_id: int) -> None:
        super().__init__(f"Campaign with ID {campaign_id} not found")


class CustomerNotFound(NotFound):
    code = "CUSTOMER_NOT_FOUND"

    def __init__(self, customer_id: int) -> None:
        super().__init__(f"Customer with ID {customer_id} not found")


class ValidationFailed(AppError):
    status_code = 422
    code = "VALIDATION_ERROR"


class MalformedJson(ValidationFailed):
    code = "MALFORMED_JSON"


class InvalidTemplate(ValidationFailed):
    code = "INVALID_TEMPLATE"


class UnknownCustomers(ValidationFailed):
    code = "CUSTOMERS_NOT_FOUND"


class Conflict(AppError):
    status_code = 409
    code = "CONFLICT"


class CampaignNotSendable(Conflict):
    code = "CAMPAIGN_NOT_SENDABLE"


class IdempotencyKeyReused(Conflict):
    code = "IDEMPOTENCY_KEY_REUSED"


class PayloadTooLarge(AppError):
    status_code = 413
    code = "PAYLOAD_TOO_LARGE"


class UnsupportedMediaType(AppError):
    status_code = 415
    code = "UNSUPPORTED_MEDIA_TYPE"


class Unauthorized(AppError):
    status_code = 401
    code = "UNAUTHORIZED"


class RateLimited(AppError):
    status_code = 429
    code = "RATE_LIMITED"


class ServiceUnavailable(AppError):
    status_code = 503
    code = "SERVICE_UNAVAILABLE"
