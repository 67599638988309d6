"""Fixtures for the browser test: a real `campaign-dispatch serve` and a headless Chromium.

The server is a subprocess on a free port with its own SQLite file, seeded with the sample
data; Chromium is Debian's (never a downloaded one). Both start once per module.
"""

import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, async_playwright, expect

from tests.e2e.browser import REPO_ROOT, Pages
from tests.services import REQUIRED

WEB_DIST = REPO_ROOT / "web" / "dist"
CHROMIUM_PATH = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
STARTUP_TIMEOUT_S = 30.0

expect.set_options(timeout=10_000)


def _skip_or_fail(reason: str) -> None:
    if REQUIRED:
        pytest.fail(f"{reason} and REQUIRE_SERVICES=1", pytrace=False)
    pytest.skip(f"{reason} (set REQUIRE_SERVICES=1 to fail instead)")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _server_env(database_url: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        # Nothing from the developer's shell may turn on a broker or API keys.
        if k not in {"AMQP_URL", "API_KEYS", "DATABASE_URL", "WEB_DIST_DIR", "HOST", "PORT"}
    }
    env.update(
        DATABASE_URL=database_url,
        WEB_DIST_DIR=str(WEB_DIST),
        MOCK_SENDER_FAILURE_RATE="0",
        MOCK_SENDER_LATENCY_MS="20",
        # Receipts would move the stats the tests read exactly: an hour away.
        MOCK_DELIVERY_DELAY_MS="3600000",
        RETRY_BASE_DELAY_MS="50",
        LOG_LEVEL="WARNING",
        SEND_RATE_LIMIT_PER_MINUTE="0",
        PYTHONUNBUFFERED="1",
    )
    return env


@dataclass
class LiveServer:
    base_url: str
    log_path: Path

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def _wait_for_health(server: LiveServer, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(
                f"the server exited with {process.returncode}:\n{server.log_tail()}", pytrace=False
            )
        try:
            if httpx.get(f"{server.base_url}/health", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail(f"/health did not answer in {STARTUP_TIMEOUT_S}s:\n{server.log_tail()}")


@pytest.fixture(scope="module")
def chromium_path() -> str:
    if not (os.path.isfile(CHROMIUM_PATH) and os.access(CHROMIUM_PATH, os.X_OK)):
        _skip_or_fail(f"Chromium is not installed at {CHROMIUM_PATH} (set CHROMIUM_PATH)")
    return CHROMIUM_PATH


@pytest.fixture(scope="module")
def dashboard_built() -> None:
    if not (WEB_DIST / "index.html").is_file():
        message = f"{WEB_DIST / 'index.html'} is missing: run `make test` (it builds the dashboard)"
        if REQUIRED:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


@contextmanager
def _serve(workdir: Path, extra_env: dict[str, str] | None = None) -> Iterator[LiveServer]:
    """`campaign-dispatch serve` (API, dashboard, relay, worker, scheduler) plus the seed."""
    env = {**_server_env(f"sqlite:///{workdir / 'e2e.db'}"), **(extra_env or {})}
    port = _free_port()
    server = LiveServer(base_url=f"http://127.0.0.1:{port}", log_path=workdir / "server.log")
    cli = [sys.executable, "-m", "campaign_dispatch.cli"]
    with server.log_path.open("wb") as log:
        process = subprocess.Popen(
            [*cli, "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_for_health(server, process)
            seeded = subprocess.run(
                [*cli, "seed"],
                cwd=workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=60,
                check=False,
            )
            if seeded.returncode != 0:
                pytest.fail(f"seed failed:\n{seeded.stderr.decode(errors='replace')}")
            yield server
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture(scope="module")
def live_server(
    chromium_path: str, dashboard_built: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """The server without API keys (cwd a fresh directory, so no `.env` of the repo is read)."""
    with _serve(tmp_path_factory.mktemp("e2e")) as server:
        yield server


E2E_API_KEY = "e2e-key-4f9c1d"


@pytest.fixture(scope="module")
def keyed_server(
    chromium_path: str, dashboard_built: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """The same, with API_KEYS set: the dashboard must ask for the key."""
    with _serve(tmp_path_factory.mktemp("e2e-keyed"), {"API_KEYS": E2E_API_KEY}) as server:
        yield server


@pytest.fixture(scope="module")
async def api(live_server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=live_server.base_url, timeout=10.0) as client:
        yield client


@pytest.fixture(scope="module")
async def browser(chromium_path: str) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            await browser.close()


async def _pages(browser: Browser, server: LiveServer) -> AsyncIterator[Pages]:
    opened = Pages(browser, server.base_url)
    try:
        yield opened
    finally:
        await opened.close()
    assert not opened.errors, f"uncaught errors in the page: {opened.errors}"
    assert not opened.foreign_requests, (
        f"requests outside {server.base_url}: {opened.foreign_requests}"
    )
    assert not opened.csp_violations, f"blocked by the CSP: {opened.csp_violations}"


@pytest.fixture
async def pages(browser: Browser, live_server: LiveServer) -> AsyncIterator[Pages]:
    async for opened in _pages(browser, live_server):
        yield opened


@pytest.fixture
async def keyed_pages(browser: Browser, keyed_server: LiveServer) -> AsyncIterator[Pages]:
    async for opened in _pages(browser, keyed_server):
        yield opened
