"""One error hierarchy: each error class carries its HTTP status and its envelope code.

Nothing else in the code base maps a status to a code: the exception handlers, the
middlewares that answer before routing, and the OpenAPI document all read them here.
"""

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    INTERNAL_ERROR = "INTERNAL_ERROR"
    BAD_REQUEST = "BAD_REQUEST"
    UNAUTHORIZED = "UNAUTHORIZED"
    CROSS_SITE_REQUEST = "CROSS_SITE_REQUEST"
    NOT_FOUND = "NOT_FOUND"
    CAMPAIGN_NOT_FOUND = "CAMPAIGN_NOT_FOUND"
    CUSTOMER_NOT_FOUND = "CUSTOMER_NOT_FOUND"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    NOT_ACCEPTABLE = "NOT_ACCEPTABLE"
    HOST_NOT_ALLOWED = "HOST_NOT_ALLOWED"
    CONFLICT = "CONFLICT"
    CAMPAIGN_NOT_SENDABLE = "CAMPAIGN_NOT_SENDABLE"
    CAMPAIGN_NOT_EDITABLE = "CAMPAIGN_NOT_EDITABLE"
    CAMPAIGN_NOT_DELETABLE = "CAMPAIGN_NOT_DELETABLE"
    CAMPAIGN_NOT_PAUSABLE = "CAMPAIGN_NOT_PAUSABLE"
    CAMPAIGN_NOT_RESUMABLE = "CAMPAIGN_NOT_RESUMABLE"
    CAMPAIGN_NOT_CANCELLABLE = "CAMPAIGN_NOT_CANCELLABLE"
    CAMPAIGN_NOT_RETRYABLE = "CAMPAIGN_NOT_RETRYABLE"
    MESSAGE_NOT_FOUND = "MESSAGE_NOT_FOUND"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
    VALIDATION_ERROR = "VALIDATION_ERROR"
    MALFORMED_JSON = "MALFORMED_JSON"
    INVALID_TEMPLATE = "INVALID_TEMPLATE"
    CUSTOMERS_NOT_FOUND = "CUSTOMERS_NOT_FOUND"
    RATE_LIMITED = "RATE_LIMITED"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
    HTTP_ERROR = "HTTP_ERROR"


class AppError(Exception):
    status_code = 500
    code = ErrorCode.INTERNAL_ERROR

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


class BadRequest(AppError):
    status_code = 400
    code = ErrorCode.BAD_REQUEST


class Unauthorized(AppError):
    status_code = 401
    code = ErrorCode.UNAUTHORIZED


class CrossSiteRequest(AppError):
    """A state-changing request that a page of another site had the browser send."""

    status_code = 403
    code = ErrorCode.CROSS_SITE_REQUEST


class NotFound(AppError):
    status_code = 404
    code = ErrorCode.NOT_FOUND


class MessageNotFound(NotFound):
    code = ErrorCode.MESSAGE_NOT_FOUND

    def __init__(self, campaign_id: int, message_id: int) -> None:
        super().__init__(f"Campaign {campaign_id} has no message with ID {message_id}")


class CampaignNotFound(NotFound):
    code = ErrorCode.CAMPAIGN_NOT_FOUND

    def __init__(self, campaign_id: int) -> None:
        super().__init__(f"Campaign with ID {campaign_id} not found")


class CustomerNotFound(NotFound):
    code = ErrorCode.CUSTOMER_NOT_FOUND

    def __init__(self, customer_id: int) -> None:
        super().__init__(f"Customer with ID {customer_id} not found")


class MethodNotAllowed(AppError):
    status_code = 405
    code = ErrorCode.METHOD_NOT_ALLOWED


class NotAcceptable(AppError):
    status_code = 406
    code = ErrorCode.NOT_ACCEPTABLE


class HostNotAllowed(AppError):
    """421 Misdirected Request: this server does not answer for the Host the request names."""

    status_code = 421
    code = ErrorCode.HOST_NOT_ALLOWED


class Conflict(AppError):
    status_code = 409
    code = ErrorCode.CONFLICT


class CampaignNotSendable(Conflict):
    code = ErrorCode.CAMPAIGN_NOT_SENDABLE


class CampaignNotEditable(Conflict):
    code = ErrorCode.CAMPAIGN_NOT_EDITABLE


class CampaignNotDeletable(Conflict):
    code = ErrorCode.CAMPAIGN_NOT_DELETABLE


class CampaignNotPausable(Conflict):
    code = ErrorCode.CAMPAIGN_NOT_PAUSABLE


class CampaignNotResumable(Conflict):
    code = ErrorCode.CAMPAIGN_NOT_RESUMABLE


class CampaignNotCancellable(Conflict):
    code = ErrorCode.CAMPAIGN_NOT_CANCELLABLE


class CampaignNotRetryable(Conflict):
    code = ErrorCode.CAMPAIGN_NOT_RETRYABLE


class IdempotencyKeyReused(Conflict):
    code = ErrorCode.IDEMPOTENCY_KEY_REUSED


class PayloadTooLarge(AppError):
    status_code = 413
    code = ErrorCode.PAYLOAD_TOO_LARGE


class UnsupportedMediaType(AppError):
    status_code = 415
    code = ErrorCode.UNSUPPORTED_MEDIA_TYPE


class ValidationFailed(AppError):
    status_code = 422
    code = ErrorCode.VALIDATION_ERROR


class MalformedJson(ValidationFailed):
    code = ErrorCode.MALFORMED_JSON


class InvalidTemplate(ValidationFailed):
    code = ErrorCode.INVALID_TEMPLATE


class UnknownCustomers(ValidationFailed):
    code = ErrorCode.CUSTOMERS_NOT_FOUND


class RateLimited(AppError):
    status_code = 429
    code = ErrorCode.RATE_LIMITED


class ServiceUnavailable(AppError):
    status_code = 503
    code = ErrorCode.SERVICE_UNAVAILABLE


class UnexpectedHttpStatus(AppError):
    """A routing error with a status none of the classes above has."""

    code = ErrorCode.HTTP_ERROR

    def __init__(self, status_code: int, message: str, headers: dict[str, str]) -> None:
        super().__init__(message, headers=headers)
        self.status_code = status_code


class DatabaseUnreachable(Exception):
    """Opening a database connection failed (refused, unreachable, timed out)."""


# The routing errors Starlette raises as HTTPException(status), by status.
ROUTING_ERRORS: dict[int, type[AppError]] = {
    cls.status_code: cls
    for cls in (
        BadRequest,
        Unauthorized,
        NotFound,
        MethodNotAllowed,
        NotAcceptable,
        PayloadTooLarge,
        UnsupportedMediaType,
        RateLimited,
    )
}
