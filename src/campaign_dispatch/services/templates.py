"""Template validation and the placeholder list; engine errors become API errors."""

from campaign_dispatch.errors import InvalidTemplate
from campaign_dispatch.schemas.campaign import Placeholder, PlaceholderList
from campaign_dispatch.templating import CUSTOMER_FIELDS, TemplateError, validate


def check_template(template: str, field: str) -> None:
    try:
        validate(template)
    except TemplateError as exc:
        raise InvalidTemplate(str(exc), details=[{"field": field, "message": str(exc)}]) from exc


def placeholders() -> PlaceholderList:
    return PlaceholderList(
        placeholders=[
            Placeholder(name=name, label=name.replace("_", " ").capitalize())
            for name in CUSTOMER_FIELDS
        ]
    )
