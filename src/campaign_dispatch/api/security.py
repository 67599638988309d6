"""API keys (API_KEYS): a dependency on the protected routers, so OpenAPI shows the schemes.

A key is accepted as `Authorization: Bearer <key>` or `X-API-Key: <key>`, and compared
with every configured key in constant time.
"""

import hmac
from collections.abc import Awaitable, Callable, Collection
from typing import Annotated

from fastapi import Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from campaign_dispatch.errors import Unauthorized

_bearer = HTTPBearer(auto_error=False, description="An API key from API_KEYS")
_api_key_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="An API key from API_KEYS"
)


def is_valid_key(presented: str | None, keys: Collection[str]) -> bool:
    if not presented:
        return False
    candidate = presented.encode()
    matches = [hmac.compare_digest(candidate, key.encode()) for key in keys]
    return any(matches)


def presented_key(authorization: str | None, x_api_key: str | None) -> str | None:
    """The key a request carries, from either header (the form the middleware sees)."""
    if authorization:
        scheme, _, credentials = authorization.partition(" ")
        if scheme.lower() == "bearer" and credentials.strip():
            return credentials.strip()
    return x_api_key or None


def require_api_key(keys: Collection[str]) -> Callable[..., Awaitable[None]]:
    frozen = frozenset(keys)

    async def check(
        bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
        api_key: Annotated[str | None, Security(_api_key_header)],
    ) -> None:
        presented = bearer.credentials if bearer is not None else None
        if is_valid_key(presented, frozen) or is_valid_key(api_key, frozen):
            return
        raise Unauthorized(
            "Invalid API key"
            if presented or api_key
            else "Missing API key: send Authorization: Bearer <key> or X-API-Key: <key>",
            headers={"WWW-Authenticate": "Bearer"},
        )

    return check
