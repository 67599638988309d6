"""`GET /campaigns/{id}/events`: a campaign's progress as server-sent events."""

import json
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, Request
from sse_starlette import EventSourceResponse, ServerSentEvent
from sse_starlette.sse import SendTimeoutError
from starlette.types import Receive, Scope, Send

from campaign_dispatch.api.deps import CampaignId, ResourcesDep
from campaign_dispatch.api.errors import error_responses
from campaign_dispatch.schemas.campaign import CampaignDetail
from campaign_dispatch.services import campaigns
from campaign_dispatch.services.events import ProgressHub

log = structlog.get_logger(__name__)

router = APIRouter(prefix="/campaigns", tags=["campaigns"])

PING_INTERVAL_S = 15
"""A comment line this often keeps proxies and load balancers from closing a quiet stream."""

SEND_TIMEOUT_S = 30.0
"""A client that has not taken an event (or a ping) within this long has stopped reading:
its stream is closed rather than left to hold the poller and the connection."""

_STREAM_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": (
            "A `text/event-stream`: `progress` events, each with the campaign's detail"
            " (the body of `GET /campaigns/{campaign_id}`) as its JSON `data`, and `:` ping"
            " comments; the server ends it after the event of a final status."
        ),
        # `schema` describes one event, as documents before OpenAPI 3.2 (which has
        # `itemSchema` for it) describe an event stream.
        "content": {
            "text/event-stream": {
                "schema": {
                    "type": "object",
                    "required": ["event", "data"],
                    "properties": {
                        "event": {"type": "string", "enum": ["progress"]},
                        "data": {
                            "type": "string",
                            "contentMediaType": "application/json",
                            "contentSchema": {"$ref": "#/components/schemas/CampaignDetail"},
                        },
                    },
                }
            }
        },
    },
}


def progress_hub(request: Request, resources: ResourcesDep) -> ProgressHub:
    """The app's hub, made with its first stream: one per process (per app), for the
    pollers to be shared by every client of a campaign."""
    hub: ProgressHub | None = getattr(request.app.state, "progress_hub", None)
    if hub is None or hub.sessions is not resources.database.sessions:
        hub = request.app.state.progress_hub = ProgressHub(resources.database.sessions)
    return hub


HubDep = Annotated[ProgressHub, Depends(progress_hub)]


class _ProgressStream(EventSourceResponse):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        except SendTimeoutError:
            # Not an error of ours to report as one: the response has started, so all
            # that is left is to drop the stream (the generator's cleanup has run).
            log.info("event stream closed: the client stopped reading", path=scope["path"])


def _progress(detail: CampaignDetail) -> ServerSentEvent:
    # Compact JSON is one line, so it is one `data:` line.
    data = json.dumps(detail.model_dump(mode="json"), separators=(",", ":"))
    return ServerSentEvent(data=data, event="progress")


@router.get(
    "/{campaign_id}/events",
    response_class=EventSourceResponse,
    responses={**_STREAM_RESPONSE, **error_responses(404)},
)
async def campaign_events(
    campaign_id: CampaignId, resources: ResourcesDep, hub: HubDep
) -> EventSourceResponse:
    """The campaign's progress as server-sent events (`text/event-stream`).

    - `event: progress`: its `data` is the campaign's detail as JSON, exactly what
      `GET /campaigns/{campaign_id}` returns. One is sent on connect, then one whenever the
      detail (its status, its stats) changes, at most one every 500 ms.
    - A comment (`: ping …`) every 15 s keeps the connection open through proxies.
    - The server ends the stream after the `progress` event of a final status (`sent`,
      `failed` or `cancelled`); for a campaign already in one, that event is the only
      one. It also ends if the campaign is deleted while watched.

    An unknown campaign is a 404 envelope before the stream starts. With API keys set, the
    key goes in a header as on every route (a browser reads the stream with `fetch`, not
    `EventSource`, which cannot send headers).
    """
    # The stream's first event and the 404: a session of its own, returned before the
    # stream starts, so that none is held for the stream's life.
    async with resources.database.sessions() as session:
        first = await campaigns.detail(session, campaign_id)

    async def events() -> AsyncIterator[ServerSentEvent]:
        # Closed explicitly: when the response closes this generator at a yield, the
        # hub's must run its cleanup (unsubscribe) now, not whenever it is collected.
        async with aclosing(hub.stream(campaign_id, first)) as details:
            async for detail in details:
                yield _progress(detail)

    return _ProgressStream(events(), ping=PING_INTERVAL_S, send_timeout=SEND_TIMEOUT_S)
