"""Provider webhooks: delivery receipts and inbound messages (README, "Providers").

No API key: each request carries its provider's own proof (a signature, or a token in
the URL), which the provider's handler verifies before anything is read; a request
without it is 401 and changes nothing. Every verified request is answered 200, even for
ids we do not know (a provider retries anything else), and is idempotent.
"""

import hmac

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import PlainTextResponse

from campaign_dispatch import metrics
from campaign_dispatch.api.deps import ResourcesDep
from campaign_dispatch.errors import NotFound, Unauthorized
from campaign_dispatch.providers import whatsapp_cloud
from campaign_dispatch.providers.events import WebhookRejected, WebhookRequest

router = APIRouter(prefix="/webhooks", include_in_schema=False)

_TWIML_EMPTY = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


async def _ingest(request: Request, resources: ResourcesDep, segment: str) -> int:
    handler = resources.webhook_handlers.get(segment)
    if handler is None:
        raise NotFound(f"No {segment} webhook here: its provider's secret is not configured")
    query = f"?{request.url.query}" if request.url.query else ""
    hook = WebhookRequest(
        method=request.method,
        url=f"{resources.settings.public_base_url.rstrip('/')}{request.url.path}{query}",
        headers={k.lower(): v for k, v in request.headers.items()},
        query=dict(request.query_params),
        body=await request.body(),
    )
    try:
        handler.verify(hook)
    except WebhookRejected as exc:
        metrics.WEBHOOKS_REJECTED.labels(segment).inc()
        raise Unauthorized(f"{segment} webhook: {exc}") from exc
    events = handler.parse(hook)
    await resources.webhook_ingest.submit(segment, events)  # answered once committed
    return len(events)


@router.post("/africastalking/{kind}")
async def africastalking(kind: str, request: Request, resources: ResourcesDep) -> dict[str, int]:
    return {"received": await _ingest(request, resources, "africastalking")}


@router.post("/twilio/{kind}")
async def twilio(kind: str, request: Request, resources: ResourcesDep) -> Response:
    await _ingest(request, resources, "twilio")
    return Response(_TWIML_EMPTY, media_type="text/xml")  # an inbound SMS gets no reply


@router.post("/webhook/{kind}")
async def gateway(kind: str, request: Request, resources: ResourcesDep) -> dict[str, int]:
    return {"received": await _ingest(request, resources, "webhook")}


@router.post("/whatsapp")
async def whatsapp(request: Request, resources: ResourcesDep) -> dict[str, int]:
    return {"received": await _ingest(request, resources, whatsapp_cloud.ROUTE)}


@router.get("/whatsapp", response_class=PlainTextResponse)
async def whatsapp_verification(
    resources: ResourcesDep,
    mode: str = Query("", alias="hub.mode"),
    token: str = Query("", alias="hub.verify_token"),
    challenge: str = Query("", alias="hub.challenge"),
) -> str:
    """Meta's subscription handshake: echo the challenge when the token is ours."""
    expected = resources.settings.whatsapp_verify_token
    if not expected or mode != "subscribe" or not hmac.compare_digest(token, expected):
        raise Unauthorized("whatsapp webhook: hub.verify_token does not match")
    return challenge
