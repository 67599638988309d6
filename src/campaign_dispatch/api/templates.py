from fastapi import APIRouter

from campaign_dispatch.api.deps import RuntimeDep, SessionDep
from campaign_dispatch.schemas.campaign import PreviewResponse, TemplatePreviewRequest
from campaign_dispatch.services import customers, templates

router = APIRouter(prefix="/templates", tags=["templates"])


@router.post("/preview", response_model=PreviewResponse)
async def preview_template(
    body: TemplatePreviewRequest, session: SessionDep, runtime: RuntimeDep
) -> PreviewResponse:
    """Render a template for a customer before any campaign exists (the create form's preview)."""
    async with session.begin():
        customer = await customers.get(session, body.customer_id)
    return await templates.preview(runtime.personalizer, body.template, customer, "sms", "template")
