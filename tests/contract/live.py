"""The embedded service on a loopback port, in a thread: what the contract tests call.

`campaign-dispatch serve` in miniature: create_app() owns its Resources and starts every
background service (relay, worker, recovery, scheduler) in its lifespan, on SQLite with
the in-process queue, behind a real uvicorn, so that requests cross a real HTTP parser.
"""

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from campaign_dispatch.app import create_app
from campaign_dispatch.config import Settings
from campaign_dispatch.db.migrate import upgrade

STARTUP_TIMEOUT_S = 30.0


def service_settings(database_url: str, **overrides: Any) -> Settings:
    """The settings the contract runs serve with: nothing from a .env file, and nothing
    from the environment that would change what is served (a broker, keys, hosts)."""
    values: dict[str, Any] = {
        "database_url": database_url,
        "amqp_url": None,
        "api_keys": None,
        "allowed_hosts": None,
        "allow_unauthenticated": False,
        "web_dist_dir": Path("/nonexistent/no-dashboard"),
        "mock_sender_failure_rate": 0.0,
        "retry_base_delay_ms": 10,
        "log_level": "WARNING",
        **overrides,
    }
    return Settings(**values, _env_file=None)


def embedded_settings(directory: Path, **overrides: Any) -> Settings:
    """A fresh, migrated SQLite file in `directory`."""
    url = f"sqlite:///{directory / 'contract.db'}"
    upgrade(url)
    return service_settings(url, **overrides)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve(settings: Settings) -> Iterator[str]:
    """Run the app until the block ends; yields its base URL."""
    port = _free_port()
    config = uvicorn.Config(
        create_app(settings),
        host="127.0.0.1",
        port=port,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="contract-server", daemon=True)
    thread.start()
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the server did not start within {STARTUP_TIMEOUT_S}s")
        time.sleep(0.05)
    try:
        assert httpx.get(f"{base_url}/health", timeout=5).status_code == 200
        yield base_url
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        if thread.is_alive():
            raise RuntimeError("the server did not stop within 30 s")
