"""Message templates: placeholder rendering, SMS metadata and the personalizer hook."""

from campaign_dispatch.templating.engine import (
    CUSTOMER_FIELDS,
    MAX_TEMPLATE_LENGTH,
    CompiledTemplate,
    TemplateError,
    parse,
    render,
    validate,
)
from campaign_dispatch.templating.personalizer import Personalizer, TemplatePersonalizer
from campaign_dispatch.templating.sms import Encoding, SmsInfo, sms_info

__all__ = [
    "CUSTOMER_FIELDS",
    "MAX_TEMPLATE_LENGTH",
    "CompiledTemplate",
    "Encoding",
    "Personalizer",
    "SmsInfo",
    "TemplateError",
    "TemplatePersonalizer",
    "parse",
    "render",
    "sms_info",
    "validate",
]
