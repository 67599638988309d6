from fastapi import APIRouter

from campaign_dispatch.api.deps import ResourcesDep
from campaign_dispatch.api.errors import BODY_ERRORS, error_responses
from campaign_dispatch.schemas.campaign import (
    PlaceholderList,
    PreviewResponse,
    TemplatePreviewRequest,
)
from campaign_dispatch.services import previews, templates

router = APIRouter(prefix="/templates", tags=["templates"])


@router.get("/placeholders", response_model=PlaceholderList)
async def list_placeholders() -> PlaceholderList:
    """The customer fields a template can use, as `{name}` or `{name|fallback}`."""
    return templates.placeholders()


@router.post(
    "/preview", response_model=PreviewResponse, responses=error_responses(404, *BODY_ERRORS)
)
async def preview_template(
    body: TemplatePreviewRequest, resources: ResourcesDep
) -> PreviewResponse:
    """Render a template for a customer before any campaign exists (the create form's preview)."""
    return await previews.preview_template(
        resources.database.sessions, resources.personalizer, body
    )
