"""End to end: campaign control in the dashboard, served by a real `campaign-dispatch serve`,
in Chromium: send to a segment, pause, resume and cancel while the worker is sending, the
progress followed live over the event stream, and retry-failed.

Two seeded servers (12 customers each), started for this module. A slow one sends one
message at a time, 400 ms each, so a campaign takes about five seconds and a pause or a
cancel lands while it is sending. A failing one fails every attempt for good (no retries,
no automatic pause), so a campaign ends `failed` with every message failed.
"""

import asyncio
import re
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from playwright.async_api import Browser, Locator, Page, Request, expect

from tests.e2e.browser import Pages
from tests.e2e.conftest import LiveServer, _pages, _serve
from tests.e2e.test_dashboard_browser import screenshot

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 800}
CUSTOMERS = 12  # the seed's
FINISH_TIMEOUT_MS = 30_000

SLOW_ENV = {
    "MOCK_SENDER_LATENCY_MS": "400",
    "WORKER_CONCURRENCY": "1",
    "WORKER_BATCH_SIZE": "1",
}
FAILING_ENV = {
    "MOCK_SENDER_FAILURE_RATE": "1",
    "MAX_RETRIES": "0",
    "AUTO_PAUSE_FAILURE_RATE": "1",  # 1.0 never pauses: the campaign must end failed
}


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def slow_server(
    chromium_path: str, dashboard_built: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    with _serve(tmp_path_factory.mktemp("e2e-control-slow"), SLOW_ENV) as server:
        yield server


@pytest.fixture(scope="module")
def failing_server(
    chromium_path: str, dashboard_built: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    with _serve(tmp_path_factory.mktemp("e2e-control-failing"), FAILING_ENV) as server:
        yield server


@pytest.fixture
async def slow_api(slow_server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=slow_server.base_url, timeout=10.0) as client:
        yield client


@pytest.fixture
async def failing_api(failing_server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=failing_server.base_url, timeout=10.0) as client:
        yield client


@pytest.fixture
async def slow_pages(browser: Browser, slow_server: LiveServer) -> AsyncIterator[Pages]:
    async for opened in _pages(browser, slow_server):
        yield opened


@pytest.fixture
async def failing_pages(browser: Browser, failing_server: LiveServer) -> AsyncIterator[Pages]:
    async for opened in _pages(browser, failing_server):
        yield opened


# ---------------------------------------------------------------- helpers


class DetailRequests:
    """Counts the page's GETs of one campaign's detail (polling), apart from its stream."""

    def __init__(self, page: Page) -> None:
        self.paths: list[str] = []
        page.on("request", self._record)

    def _record(self, request: Request) -> None:
        if request.method == "GET":
            self.paths.append(re.sub(r"^https?://[^/]+", "", request.url).split("?")[0])

    def details(self, campaign_id: int) -> int:
        return self.paths.count(f"/campaigns/{campaign_id}")

    def streams(self, campaign_id: int) -> int:
        return self.paths.count(f"/campaigns/{campaign_id}/events")


def badge(page: Page) -> Locator:
    return page.locator(".page-header__meta .badge")


def stat(page: Page, key: str) -> Locator:
    return page.locator(f".stat--{key} dd")


def live_indicator(page: Page) -> Locator:
    return page.locator(".live-indicator", has_text="Live")


async def detail(api: httpx.AsyncClient, campaign_id: int) -> dict[str, object]:
    response = await api.get(f"/campaigns/{campaign_id}")
    response.raise_for_status()
    return dict(response.json())


async def stats(api: httpx.AsyncClient, campaign_id: int) -> dict[str, int]:
    return dict((await detail(api, campaign_id))["stats"])  # type: ignore[arg-type]


async def create(api: httpx.AsyncClient, name: str) -> int:
    response = await api.post(
        "/campaigns", json={"name": name, "channel": "sms", "base_template": "Hi {first_name}"}
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


async def send_to_everyone(api: httpx.AsyncClient, campaign_id: int) -> None:
    response = await api.post(f"/campaigns/{campaign_id}/send", json={"segment": {}})
    assert response.status_code == 202, response.text
    assert response.json()["messages_queued"] == CUSTOMERS


async def wait_for_status(api: httpx.AsyncClient, campaign_id: int, status: str) -> None:
    for _ in range(300):
        if (await detail(api, campaign_id))["status"] == status:
            return
        await asyncio.sleep(0.1)
    pytest.fail(f"campaign {campaign_id} never became {status}")


def campaign_id_of(page: Page) -> int:
    match = re.search(r"/campaigns/(\d+)$", page.url)
    assert match, page.url
    return int(match.group(1))


# ---------------------------------------------------------------- tests


async def test_send_to_a_segment_pause_resume_and_finish_live(
    slow_pages: Pages, slow_api: httpx.AsyncClient
) -> None:
    page = await slow_pages.open(DESKTOP, "/campaigns/new")
    requests = DetailRequests(page)
    await page.get_by_label("Name").fill("Control: pause and resume")
    await page.get_by_label("Message template").fill("Hi {first_name}, a pause is coming")
    await page.get_by_role("button", name="Create campaign").click()
    await expect(page).to_have_url(re.compile(r"/campaigns/\d+$"))
    campaign_id = campaign_id_of(page)
    await expect(badge(page)).to_have_text("Draft")

    # Send to a segment: every customer.
    await page.get_by_role("button", name="Send…").click()
    dialog = page.get_by_role("dialog", name="Send “Control: pause and resume”")
    await dialog.get_by_label("A segment").check()
    await expect(dialog.get_by_label("Every customer")).to_be_checked()
    await dialog.get_by_role("button", name="Send to every customer").click()
    queued = page.get_by_role("dialog", name="Campaign is sending")
    await expect(queued.get_by_role("status")).to_contain_text(f"{CUSTOMERS} messages queued")
    await expect(queued).to_contain_text("No opted-out customer was left out.")
    await queued.get_by_role("button", name="Watch live progress").click()

    # Followed live: the stream's events move the numbers.
    await expect(live_indicator(page)).to_be_visible()
    await expect(badge(page)).to_have_text("Sending")
    await expect(stat(page, "sent")).not_to_have_text("0")

    await page.get_by_role("button", name="Pause…").click()
    pause = page.get_by_role("dialog", name="Pause “Control: pause and resume”?")
    await pause.get_by_label("Reason").fill("Checking the coupon code")
    await pause.get_by_role("button", name="Pause campaign").click()
    await expect(pause).to_be_hidden()
    await expect(badge(page)).to_have_text("Paused")
    banner = page.get_by_role("status").filter(has_text="Checking the coupon code")
    await expect(banner).to_contain_text("Paused")
    await expect(page.get_by_role("progressbar")).to_have_class(re.compile(r"progress--paused"))

    # Paused mid-campaign: once the attempt in flight is recorded, nothing more goes out.
    await asyncio.sleep(1.0)
    held = await stats(slow_api, campaign_id)
    assert 0 < held["sent"] < CUSTOMERS, held
    assert held["pending"] > 0, held
    await asyncio.sleep(1.5)
    assert await stats(slow_api, campaign_id) == held
    await expect(stat(page, "sent")).to_have_text(str(held["sent"]))
    await screenshot(page, "control-paused-desktop")

    await page.get_by_role("button", name="Resume").click()
    await expect(badge(page)).to_have_text("Sending")
    await expect(banner).to_be_hidden()
    await expect(live_indicator(page)).to_be_visible()

    # Completion, seen on the page as it happens.
    await expect(badge(page)).to_have_text("Sent", timeout=FINISH_TIMEOUT_MS)
    bar = page.get_by_role("progressbar", name="Messages processed")
    await expect(bar).to_have_attribute("aria-valuenow", "100")
    await expect(stat(page, "sent")).to_have_text(str(CUSTOMERS))
    await expect(live_indicator(page)).to_be_hidden()
    assert (await stats(slow_api, campaign_id))["sent"] == CUSTOMERS

    # About five seconds of sending at one poll a second would be five or more fetches of the
    # detail; with the stream open there were only the page's first load and the refetch
    # after the send (pause and resume answer with the detail itself).
    assert requests.details(campaign_id) <= 3, requests.paths
    assert requests.streams(campaign_id) >= 1, requests.paths
    assert not await page.get_by_text("Refreshing").is_visible()


async def test_cancel_while_sending(slow_pages: Pages, slow_api: httpx.AsyncClient) -> None:
    campaign_id = await create(slow_api, "Control: cancel me")
    await send_to_everyone(slow_api, campaign_id)
    page = await slow_pages.open(DESKTOP, f"/campaigns/{campaign_id}")
    await expect(live_indicator(page)).to_be_visible()

    await page.get_by_role("button", name="Cancel campaign…").click()
    dialog = page.get_by_role("dialog", name="Cancel “Control: cancel me”?")
    await expect(dialog).to_contain_text("can't be undone")
    await dialog.get_by_role("button", name="Cancel campaign").click()
    await expect(dialog).to_be_hidden()

    await expect(badge(page)).to_have_text("Cancelled")
    await expect(
        page.get_by_role("group", name="Campaign actions").get_by_role("button")
    ).to_have_count(0)
    await expect(stat(page, "cancelled")).not_to_have_text("0")
    await expect(page.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "100")
    await expect(live_indicator(page)).to_be_hidden()

    after = await stats(slow_api, campaign_id)
    assert after["cancelled"] > 0 and after["sent"] < CUSTOMERS, after
    assert after["sent"] + after["failed"] + after["cancelled"] == CUSTOMERS, after
    await asyncio.sleep(1.0)
    assert await stats(slow_api, campaign_id) == after

    # The list shows the new status with its own badge.
    await page.get_by_role("link", name="← All campaigns").click()
    row = page.locator("tbody tr", has_text="Control: cancel me")
    await expect(row.locator(".badge")).to_have_text("Cancelled")
    await expect(row.locator(".badge")).to_have_class(re.compile(r"badge--cancelled"))


async def test_retry_failed_messages(failing_pages: Pages, failing_api: httpx.AsyncClient) -> None:
    campaign_id = await create(failing_api, "Control: retry the failed")
    await send_to_everyone(failing_api, campaign_id)
    await wait_for_status(failing_api, campaign_id, "failed")

    page = await failing_pages.open(DESKTOP, f"/campaigns/{campaign_id}")
    retry_posts: list[Request] = []
    page.on(
        "request",
        lambda r: retry_posts.append(r) if r.method == "POST" and "retry-failed" in r.url else None,
    )
    await expect(badge(page)).to_have_text("Failed")
    await expect(stat(page, "failed")).to_have_text(str(CUSTOMERS))

    await page.get_by_role("button", name=f"Retry {CUSTOMERS} failed messages").click()
    await expect(page.get_by_role("status").filter(has_text="queued again")).to_have_text(
        f"{CUSTOMERS} failed messages queued again."
    )
    assert len(retry_posts) == 1
    assert re.fullmatch(r"[0-9a-f-]{36}", retry_posts[0].headers.get("idempotency-key", ""))

    # Sending again, every attempt failing again: the page follows it back to failed.
    await expect(badge(page)).to_have_text("Failed", timeout=FINISH_TIMEOUT_MS)
    assert (await detail(failing_api, campaign_id))["status"] == "failed"

    # A message's history shows both series: the first send and the retry.
    await page.locator("table[aria-busy]").wait_for(state="detached")
    await page.get_by_role("table", name="Messages").locator("tbody tr").first.click()
    drawer = page.get_by_role("dialog", name=re.compile(r"^Message #\d+$"))
    attempts = drawer.get_by_role("table", name="Attempts").locator("tbody tr")
    await expect(attempts).to_have_count(2)
    await expect(attempts.nth(0)).to_contain_text("Failed")
    await expect(attempts.nth(1)).to_contain_text("Failed")
    await expect(attempts.nth(1)).to_contain_text("mock provider")
    await screenshot(page, "control-message-drawer-desktop")
    await page.keyboard.press("Escape")
    await expect(drawer).to_be_hidden()
