"""End to end: the dashboard's compliance screens, served by a real `campaign-dispatch serve`,
in Chromium. Opting a customer out from the Customers page (the badge, the filter and the
consent history), and a campaign created with a send window and an expiry in the form:
the detail page shows both, the delivery funnel after a send, and the messages that wait
for a window that is shut.

One seeded server for the module (the seed's customers, found by name: their phone
numbers are not relied on). The seed's numbers are Kenyan, so their clocks are
Africa/Nairobi's; the windows below are chosen around that clock, wide enough either way
that a few minutes of test time cannot move them.
"""

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.async_api import Locator, Page, expect

from tests.e2e.browser import Pages
from tests.e2e.test_dashboard_browser import screenshot

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 800}
NAIROBI = ZoneInfo("Africa/Nairobi")
DASH = "\N{EN DASH}"  # between a window's start and end, as the dashboard writes it
SEND_TIMEOUT_MS = 30_000


def hh_mm(moment: datetime) -> str:
    return moment.strftime("%H:%M")


async def customer_by_name(api: httpx.AsyncClient, first: str, last: str) -> dict[str, object]:
    response = await api.get("/customers", params={"q": first})
    response.raise_for_status()
    found = [
        c for c in response.json()["data"] if (c["first_name"], c["last_name"]) == (first, last)
    ]
    assert len(found) == 1, f"{first} {last}: {found}"
    return dict(found[0])


async def wait_for_customers(page: Page) -> None:
    await expect(page.locator("nav[aria-label='Customer pages']")).to_contain_text("Page 1 of")
    await expect(page.locator("main .is-stale")).to_have_count(0)
    await expect(page.locator("main table[aria-busy]")).to_have_count(0)


def customer_row(page: Page, name: str) -> Locator:
    return page.locator("main table tbody tr").filter(
        has=page.get_by_role("button", name=f"{name}: details and consent history")
    )


async def test_opt_a_customer_out_and_back_in(pages: Pages, api: httpx.AsyncClient) -> None:
    name = "Khadija Hassan"
    khadija = await customer_by_name(api, "Khadija", "Hassan")
    assert khadija["opted_out_at"] is None

    page = await pages.open(DESKTOP, "/customers")
    await wait_for_customers(page)
    row = customer_row(page, name)
    await expect(row.locator(".badge")).to_have_text("Subscribed")

    await row.get_by_role("button", name=f"Opt out {name}").click()
    await expect(row.locator(".badge")).to_contain_text("Opted out")
    await expect(row.get_by_role("button", name=f"Opt in {name}")).to_be_visible()
    stored = (await api.get(f"/customers/{khadija['id']}")).json()
    assert stored["opted_out_at"] is not None
    # The badge shows the API's time.
    await expect(row.locator(".badge time")).to_have_attribute("datetime", stored["opted_out_at"])
    await screenshot(page, "desktop-customers-opted-out")

    # The filter: only she is opted out.
    await page.get_by_label("Consent", exact=True).select_option(label="Opted out")
    await expect(page).to_have_url(re.compile(r"/customers\?opted_out=true$"))
    await wait_for_customers(page)
    await expect(page.locator("main table tbody tr")).to_have_count(1)
    await expect(customer_row(page, name)).to_be_visible()

    # The history, in the drawer: one opt-out, from the dashboard.
    await (
        customer_row(page, name)
        .get_by_role("button", name=f"{name}: details and consent history")
        .click()
    )
    drawer = page.get_by_role("dialog", name=name)
    history = drawer.get_by_role("table", name="Consent history")
    await expect(history.locator("tbody tr")).to_have_count(1)
    cells = history.locator("tbody tr").first.locator("td")
    await expect(cells.nth(1)).to_have_text("Opted out")
    await expect(cells.nth(2)).to_have_text("Dashboard or API")
    assert [(e["opted_out"], e["source"]) for e in stored["consent_history"]] == [(True, "api")]
    await screenshot(page, "desktop-customers-consent-history")

    # Back in, after the confirmation: the history has both, newest first.
    await drawer.get_by_role("button", name=f"Opt in {name}").click()
    await drawer.get_by_role("button", name="Confirm opt in").click()
    await expect(drawer.locator(".badge")).to_have_text("Subscribed")
    await expect(history.locator("tbody tr")).to_have_count(2)
    await expect(history.locator("tbody tr").first.locator("td").nth(1)).to_have_text("Opted in")
    await page.keyboard.press("Escape")
    await expect(page.get_by_role("dialog")).to_have_count(0)
    # Opted back in, she leaves the opted-out list.
    await expect(page.get_by_text("No one has opted out")).to_be_visible()
    assert (await api.get(f"/customers/{khadija['id']}")).json()["opted_out_at"] is None

    # Out again, for good: the campaigns below must not reach her.
    await page.get_by_label("Consent", exact=True).select_option(label="All customers")
    await wait_for_customers(page)
    await customer_row(page, name).get_by_role("button", name=f"Opt out {name}").click()
    await expect(customer_row(page, name).locator(".badge")).to_contain_text("Opted out")


async def test_create_a_campaign_with_a_send_window_and_send_it(
    pages: Pages, api: httpx.AsyncClient
) -> None:
    # A window open now on a Nairobi clock: it starts 11 hours ago and ends in 12.
    nairobi_now = datetime.now(UTC).astimezone(NAIROBI)
    start, end = hh_mm(nairobi_now - timedelta(hours=11)), hh_mm(nairobi_now + timedelta(hours=12))
    expires_local = (datetime.now(UTC) + timedelta(days=2)).replace(second=0, microsecond=0)
    name = "E2E Quiet Hours"

    page = await pages.open(DESKTOP, "/campaigns/new")
    await page.get_by_label("Name").fill(name)
    await page.get_by_label("Message template").fill("Hi {first_name}, we keep to your hours.")
    await page.get_by_label("From (customer's local time)").fill(start)
    await page.get_by_label("Until (customer's local time)").fill(end)
    await expect(page.get_by_text(f"Send only between {start} and {end}")).to_contain_text(
        "in each customer's local time"
    )
    # The browser's clock is UTC (the context's), so the local input is the UTC time.
    await page.get_by_label("Expires").fill(expires_local.strftime("%Y-%m-%dT%H:%M"))
    await screenshot(page, "desktop-create-send-window")
    await page.get_by_role("button", name="Create campaign").click()

    await expect(page).to_have_url(re.compile(r"/campaigns/\d+$"))
    campaign_id = int(page.url.rsplit("/", 1)[1])
    await expect(page.get_by_role("heading", level=1)).to_have_text(name)
    await expect(page.get_by_test_id("send-window")).to_have_text(
        re.compile(rf"^{start}{DASH}{end} each customer's local time")
    )
    year = "" if expires_local.year == datetime.now(UTC).year else f" {expires_local.year}"
    await expect(page.get_by_test_id("expiry")).to_have_text(
        f"Expires {expires_local.day} {expires_local:%b}{year} {expires_local:%H:%M}"
    )
    stored = (await api.get(f"/campaigns/{campaign_id}")).json()
    assert stored["send_window"] == {"start": start, "end": end}
    assert stored["expires_at"] == expires_local.strftime("%Y-%m-%dT%H:%M:00Z")

    # Send to two customers (and the opted-out one, who is left out): the funnel appears.
    alice = await customer_by_name(api, "Alice", "Wanjiru")
    brian = await customer_by_name(api, "Brian", "Otieno")
    khadija = await customer_by_name(api, "Khadija", "Hassan")
    sent = await api.post(
        f"/campaigns/{campaign_id}/send",
        json={"customer_ids": [alice["id"], brian["id"], khadija["id"]]},
    )
    assert sent.status_code == 202, sent.text
    assert (sent.json()["messages_queued"], sent.json()["skipped_opted_out"]) == (2, 1)

    await expect(page.locator(".page-header__meta .badge")).to_have_text(
        "Sent", timeout=SEND_TIMEOUT_MS
    )
    funnel = page.get_by_role("group", name="Receipts")
    await expect(funnel).to_be_visible()
    await expect(funnel.locator(".stat--funnel-sent dd")).to_have_text("2")
    await expect(page.get_by_test_id("waiting-for-window")).to_have_count(0)
    await screenshot(page, "desktop-detail-send-window-sent")


async def test_messages_wait_for_a_shut_window(pages: Pages, api: httpx.AsyncClient) -> None:
    # Shut now on a Nairobi clock (and on UTC's): it opens in 6 hours, for an hour.
    nairobi_now = datetime.now(UTC).astimezone(NAIROBI)
    window = {
        "start": hh_mm(nairobi_now + timedelta(hours=6)),
        "end": hh_mm(nairobi_now + timedelta(hours=7)),
    }
    created = await api.post(
        "/campaigns",
        json={
            "name": "E2E Shut Window",
            "channel": "sms",
            "base_template": "Hi {first_name}",
            "send_window": window,
        },
    )
    assert created.status_code == 201, created.text
    campaign_id = created.json()["id"]
    ids = [
        (await customer_by_name(api, first, last))["id"]
        for first, last in (("Chloé", "Mwangi"), ("David", "Kamau"))
    ]
    sent = await api.post(f"/campaigns/{campaign_id}/send", json={"customer_ids": ids})
    assert sent.status_code == 202, sent.text

    page = await pages.open(DESKTOP, f"/campaigns/{campaign_id}")
    waiting = page.get_by_test_id("waiting-for-window")
    await expect(waiting).to_have_text(
        re.compile(
            r"^2 messages wait for their recipient's send window; "
            r"the next opens at \d{1,2} [A-Z][a-z]{2} \d\d:\d\d\.$"
        ),
        timeout=SEND_TIMEOUT_MS,
    )
    detail = (await api.get(f"/campaigns/{campaign_id}")).json()
    assert detail["waiting_for_window"] == 2
    await expect(waiting.locator("time")).to_have_attribute(
        "datetime", detail["next_window_opens_at"]
    )
    await expect(page.get_by_test_id("send-window")).to_have_text(
        re.compile(rf"^{window['start']}{DASH}{window['end']} each customer's local time")
    )
    await screenshot(page, "desktop-detail-waiting-for-window")
