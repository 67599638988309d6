"""Message templates: placeholder rendering, length bounds, SMS metadata and the personalizer
hook."""

from campaign_dispatch.templating.bounds import (
    MAX_RENDERED_LENGTH,
    MAX_SMS_LENGTH,
    MAX_WHATSAPP_LENGTH,
    check_rendered_length,
)
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
    "MAX_RENDERED_LENGTH",
    "MAX_SMS_LENGTH",
    "MAX_TEMPLATE_LENGTH",
    "MAX_WHATSAPP_LENGTH",
    "CompiledTemplate",
    "Encoding",
    "Personalizer",
    "SmsInfo",
    "TemplateError",
    "TemplatePersonalizer",
    "check_rendered_length",
    "parse",
    "render",
    "sms_info",
    "validate",
]
