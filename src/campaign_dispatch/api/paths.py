"""Paths as the router sees them, for the middlewares that answer before routing."""

from starlette.convertors import StringConvertor, register_url_convertor
from starlette.types import Scope

IMPORT_PATH = "/customers/import"
WEBHOOKS_PREFIX = "/webhooks/"
"""The CSV upload: the one route that takes a form, and a body beyond MAX_BODY_BYTES."""

_IMPORT_SEGMENT = IMPORT_PATH.rsplit("/", 1)[1]


class _CustomerIdSegment(StringConvertor):
    """The `{customer_id}` of /customers/{customer_id}: any one segment but `import`.

    OpenAPI matches a concrete path before a templated one, and so does this router: every
    method of /customers/import is the import's (GET is 405, `Allow: POST`), never a
    lookup of a customer whose id is spelled "import".
    """

    regex = rf"(?!{_IMPORT_SEGMENT}(?:/|$))[^/]+"


register_url_convertor("customer_id", _CustomerIdSegment())
CUSTOMER_ID_SEGMENT = "{customer_id:customer_id}"
"""The path segment for a customer id, in a route path under /customers."""


def route_path(scope: Scope) -> str:
    """The path the router matches: without the root path a proxy mounts the app under.

    The same rule as Starlette's routing, so a middleware's decision and the route that
    will answer always agree on what path was asked for.
    """
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    if root_path and path.startswith(root_path):
        rest = path[len(root_path) :]
        if not rest or rest.startswith("/"):
            return rest
    return path
