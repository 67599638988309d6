"""Rate limit on POST /campaigns/{id}/send: a token bucket per client, in memory.

Each API process counts on its own, so N replicas allow up to N times the limit; a
shared limit would need a shared store (Redis, or the database). The client is its API
key when it presents a valid one, else its IP address: the socket's peer, since
forwarded headers are not trusted (behind a proxy, all clients share the proxy's bucket).

Which requests count is decided by the path's shape, the same pattern the router matches
the send route with (`/campaigns/<any segment>/send`), not by whether the id is valid: a
request the route would reject still costs a token, so no spelling of an id can reach
the route without passing the bucket.
"""

import hashlib
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Collection

from starlette.datastructures import Headers
from starlette.routing import compile_path
from starlette.types import ASGIApp, Receive, Scope, Send

from campaign_dispatch.api.errors import error_response
from campaign_dispatch.api.paths import route_path
from campaign_dispatch.api.security import is_valid_key, presented_key
from campaign_dispatch.errors import RateLimited

SEND_ROUTE = "/campaigns/{campaign_id}/send"
SEND_PATH = compile_path(SEND_ROUTE)[0]  # the pattern the router matches the route by


class TokenBuckets:
    """`per_minute` tokens per client, refilled evenly; a full bucket allows a burst of all.

    The least recently seen clients are forgotten beyond `max_clients`: forgetting one
    only hands it a full bucket, and memory stays bounded whatever the callers send.
    """

    def __init__(
        self,
        per_minute: int,
        clock: Callable[[], float] = time.monotonic,
        max_clients: int = 10_000,
    ) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.clock = clock
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, client: str) -> float:
        """Take a token: 0.0 when granted, else the seconds until one will be available."""
        now = self.clock()
        tokens, updated = self._buckets.pop(client, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - updated) * self.rate)
        wait = 0.0
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait = (1.0 - tokens) / self.rate
        self._buckets[client] = (tokens, now)
        if len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)
        return wait


class SendRateLimit:
    def __init__(self, app: ASGIApp, per_minute: int, api_keys: Collection[str]) -> None:
        self.app = app
        self.per_minute = per_minute
        self.api_keys = frozenset(api_keys)
        self.buckets = TokenBuckets(per_minute)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or not SEND_PATH.match(route_path(scope))
        ):
            await self.app(scope, receive, send)
            return
        wait = self.buckets.take(self._client(scope))
        if wait <= 0:
            await self.app(scope, receive, send)
            return
        retry_after = max(1, math.ceil(wait))
        response = error_response(
            RateLimited(
                f"At most {self.per_minute} send requests per minute; retry in {retry_after} s",
                headers={"Retry-After": str(retry_after)},
            )
        )
        await response(scope, receive, send)

    def _client(self, scope: Scope) -> str:
        if self.api_keys:
            headers = Headers(scope=scope)
            key = presented_key(headers.get("authorization"), headers.get("x-api-key"))
            if is_valid_key(key, self.api_keys):
                assert key is not None
                return "key:" + hashlib.sha256(key.encode()).hexdigest()
        client = scope.get("client")
        return "ip:" + (client[0] if client else "unknown")
