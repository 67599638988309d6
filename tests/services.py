"""Where the real PostgreSQL and RabbitMQ are, and what to do when they are not there.

Unreachable services skip their tests with the reason, unless REQUIRE_SERVICES=1
(CI sets it after starting both): then the tests fail instead of skipping.
"""

import os
import socket
from urllib.parse import urlsplit

import pytest

POSTGRES_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
AMQP_URL = os.environ.get("TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
REQUIRED = os.environ.get("REQUIRE_SERVICES") == "1"


def reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or default_port), 2
        ):
            return True
    except OSError:
        return False


def require(url: str, default_port: int, what: str) -> None:
    if reachable(url, default_port):
        return
    message = f"{what} is not reachable at {url}"
    if REQUIRED:
        pytest.fail(f"{message} and REQUIRE_SERVICES=1", pytrace=False)
    pytest.skip(f"{message} (set REQUIRE_SERVICES=1 to fail instead)")
