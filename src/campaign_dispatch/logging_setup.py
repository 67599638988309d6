"""structlog for our logs and the stdlib's (uvicorn, alembic): console or JSON lines.

Every line, ours or a library's, passes mask_phone_numbers last, after exceptions are
rendered to text: a phone number in an error message or a traceback is masked too.
"""

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

# '+' and 6 to 20 digits, or 9 to 20 bare digits (a shorter bare number is more likely a count
# or an id than a phone); never part of a longer word or number.
_PHONE = re.compile(r"(?<![\w+])(?:\+\d{6,20}|\d{9,20})(?!\w)")


def _mask(match: re.Match[str]) -> str:
    number = match.group()
    sign, digits = ("+", number[1:]) if number.startswith("+") else ("", number)
    head = min(4, (len(digits) - 2) // 2)  # at most 4, and never more than half the digits
    return sign + digits[:head] + "*" * (len(digits) - head - 2) + digits[-2:]


def mask_phones(text: str) -> str:
    """'+254700000001' → '+2547******01': the country code and the last two digits stay."""
    return _PHONE.sub(_mask, text)


def _masked(value: Any) -> Any:
    if isinstance(value, str):
        return mask_phones(value)
    if isinstance(value, dict):
        return {k: _masked(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_masked(v) for v in value]
    return value


def mask_phone_numbers(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """A structlog processor: masks phone numbers in every string value, nested ones too."""
    return {key: _masked(value) for key, value in event_dict.items()}


def configure_logging(
    level: str = "INFO", fmt: str = "console", stream: TextIO | None = None
) -> None:
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=(stream or sys.stderr).isatty())
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                mask_phone_numbers,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # Our RequestContext middleware logs each request (with its request id) instead.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
