"""Template validation and previews, turning engine errors into API errors."""

from campaign_dispatch.errors import InvalidTemplate
from campaign_dispatch.models import Customer
from campaign_dispatch.schemas.campaign import PreviewResponse
from campaign_dispatch.schemas.customer import CustomerRead
from campaign_dispatch.templating import (
    CUSTOMER_FIELDS,
    Personalizer,
    TemplateError,
    sms_info,
    validate,
)


def check_template(template: str, field: str) -> None:
    try:
        validate(template)
    except TemplateError as exc:
        raise InvalidTemplate(str(exc), details=[{"field": field, "message": str(exc)}]) from exc


def customer_values(customer: Customer) -> dict[str, object | None]:
    return {name: getattr(customer, name) for name in CUSTOMER_FIELDS}


async def preview(
    personalizer: Personalizer, template: str, customer: Customer, channel: str, field: str
) -> PreviewResponse:
    check_template(template, field)
    rendered = await personalizer.personalize(template, customer_values(customer), channel=channel)
    info = sms_info(rendered)
    return PreviewResponse(
        rendered_message=rendered,
        used_template=template,
        customer=CustomerRead.model_validate(customer),
        characters=info.characters,
        encoding=info.encoding,
        segments=info.segments,
    )
