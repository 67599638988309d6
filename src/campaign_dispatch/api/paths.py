"""Paths as the router sees them, for the middlewares that answer before routing."""

from starlette.types import Scope

IMPORT_PATH = "/customers/import"
"""The CSV upload: the one route that takes a form, and a body beyond MAX_BODY_BYTES."""


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
