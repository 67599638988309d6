"""End to end: the built dashboard, served by a real `campaign-dispatch serve`, in Chromium.

Runs in file order against one seeded server (12 customers; "Welcome Series" draft,
"Winter Jacket Launch" scheduled, "Summer Sale 2025" sent). Full-page screenshots of every
screen at desktop and phone widths go to artifacts/screenshots/. Every page, the API docs
included, must load with nothing from outside the server (see `Pages` in browser.py).
"""

import math
import re
from typing import Any

import httpx
import pytest
from playwright.async_api import Locator, Page, expect

from tests.e2e.browser import REPO_ROOT, Pages

pytestmark = pytest.mark.browser

SCREENSHOTS = REPO_ROOT / "artifacts" / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
PAGE_SIZE = 20  # the dashboard's campaign page size
SEND_TIMEOUT_MS = 20_000


# ---------------------------------------------------------------- helpers


async def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)


# Elements whose right edge passes the viewport, outside any clipping/scrolling box. The body
# has `overflow-x: hidden`, which would hide such overflow from scrollWidth alone.
_OVERFLOWING_JS = """
() => {
  const limit = window.innerWidth + 1;
  const clips = (el) => {
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      if (getComputedStyle(p).overflowX !== "visible") return true;
    }
    return false;
  };
  const out = [];
  for (const el of document.body.querySelectorAll("*")) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0 || r.right <= limit) continue;
    if (el.closest(".visually-hidden, .skip-link") || clips(el)) continue;
    const id = el.id ? "#" + el.id : "";
    const cls = el.classList.length ? "." + [...el.classList].join(".") : "";
    out.push(`${el.tagName.toLowerCase()}${id}${cls} right=${Math.round(r.right)}`);
  }
  return out.slice(0, 10);
}
"""


async def assert_no_horizontal_scroll(page: Page) -> None:
    widths = await page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"{page.url}: scrollWidth {widths[0]} > innerWidth {widths[1]}"
    assert await page.evaluate(_OVERFLOWING_JS) == [], f"{page.url}: content past the viewport"


async def create_campaign(
    api: httpx.AsyncClient, name: str, template: str, channel: str = "sms"
) -> int:
    response = await api.post(
        "/campaigns", json={"name": name, "channel": channel, "base_template": template}
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


async def campaign_id_by_name(api: httpx.AsyncClient, name: str) -> int:
    response = await api.get("/campaigns", params={"page_size": 100})
    response.raise_for_status()
    ids = [c["id"] for c in response.json()["data"] if c["name"] == name]
    assert ids, f"no campaign named {name!r}"
    return int(ids[0])


async def customer_option(api: httpx.AsyncClient, first_name: str) -> str:
    """The label of a customer in the preview's "Preview as" select."""
    response = await api.get("/customers", params={"q": first_name})
    response.raise_for_status()
    c: dict[str, Any] = response.json()["data"][0]
    name = " ".join(p for p in (c["first_name"], c["last_name"]) if p)
    return f"{name} · {c['phone']}"


def rows(page: Page) -> Locator:
    return page.locator("main table tbody tr")


async def campaign_rows(page: Page) -> list[tuple[int, str, str]]:
    """(id, name, status label) of each campaign row on screen."""
    out = []
    for row in await rows(page).all():
        link = row.locator("td.table__primary a")
        href = await link.get_attribute("href") or ""
        match = re.fullmatch(r"/campaigns/(\d+)", href)
        assert match, f"unexpected row link {href!r}"
        status = (await row.locator(".badge").inner_text()).strip()
        out.append((int(match.group(1)), (await link.inner_text()).strip(), status))
    return out


async def wait_for_list(page: Page, page_number: int) -> None:
    await expect(page.locator("nav[aria-label='Campaign pages']")).to_contain_text(
        f"Page {page_number} of"
    )
    await expect(page.locator("main .is-stale")).to_have_count(0)
    await expect(page.locator("main table[aria-busy]")).to_have_count(0)


def stat(page: Page, label: str) -> Locator:
    return (
        page.locator(".stats__grid .stat")
        .filter(has=page.locator("dt", has_text=re.compile(f"^{label}$")))
        .locator("dd")
    )


# ---------------------------------------------------------------- (1) list, filter, paging


async def test_list_shows_seeded_campaigns_filters_and_pages(
    pages: Pages, api: httpx.AsyncClient
) -> None:
    page = await pages.open(DESKTOP, "/")
    await expect(page.get_by_role("heading", level=1, name="Campaigns")).to_be_visible()
    await wait_for_list(page, 1)

    listed = {name: status for _, name, status in await campaign_rows(page)}
    assert listed["Welcome Series"] == "Draft"
    assert listed["Winter Jacket Launch"] == "Scheduled"
    assert listed["Summer Sale 2025"] == "Sent"
    total = (await api.get("/campaigns")).json()["pagination"]["total_count"]
    await expect(page.locator(".page-header__meta")).to_have_text(f"{total} campaigns")
    await screenshot(page, "desktop-01-list")

    # Filter by status: the list narrows and the filter lands in the URL.
    await page.get_by_label("Status").select_option("sent")
    await expect(page).to_have_url(re.compile(r"[?&]status=sent(&|$)"))
    await wait_for_list(page, 1)
    sent = await api.get("/campaigns", params={"status": "sent"})
    sent_total = sent.json()["pagination"]["total_count"]
    await expect(rows(page)).to_have_count(sent_total)
    filtered = await campaign_rows(page)
    assert {status for _, _, status in filtered} == {"Sent"}
    names = {name for _, name, _ in filtered}
    assert "Summer Sale 2025" in names
    assert not names & {"Welcome Series", "Winter Jacket Launch"}
    await expect(page.locator(".page-header__meta")).to_have_text(
        f"{sent_total} campaign" + ("" if sent_total == 1 else "s")
    )
    await screenshot(page, "desktop-02-list-filtered-sent")

    # A reload keeps the filter (it lives in the URL); clearing it brings everything back.
    await page.reload()
    await expect(page.get_by_label("Status")).to_have_value("sent")
    await expect(rows(page)).to_have_count(sent_total)
    await page.get_by_role("button", name="Clear filters").click()
    await expect(page).not_to_have_url(re.compile(r"status="))
    await expect(rows(page)).to_have_count(total)

    # Paging: enough campaigns for two pages.
    for i in range(1, 26):
        await create_campaign(
            api, f"Paging check {i:02d}", "Hi {first_name|there}, sale no. " + str(i)
        )
    total = (await api.get("/campaigns")).json()["pagination"]["total_count"]
    assert total > PAGE_SIZE
    await page.goto("/")
    await wait_for_list(page, 1)
    await expect(page.locator(".pagination__info")).to_have_text(
        f"Page 1 of {math.ceil(total / PAGE_SIZE)}"
    )
    await expect(page.get_by_role("button", name="← Prev")).to_be_disabled()
    first = await campaign_rows(page)
    assert len(first) == PAGE_SIZE
    assert first[0][1] == "Paging check 25"  # newest first
    snapshot_ids = {c["id"] for c in await _all_campaigns(api)}

    # A campaign created while paging must neither appear on page 2 nor push a row there.
    late_id = await create_campaign(api, "Created while paging", "Hello {first_name|there}")

    await page.get_by_role("button", name="Next →").click()
    await expect(page).to_have_url(re.compile(r"[?&]cursor="))
    await wait_for_list(page, 2)
    second = await campaign_rows(page)
    assert second, "page 2 is empty"
    first_ids = {cid for cid, _, _ in first}
    second_ids = {cid for cid, _, _ in second}
    assert not first_ids & second_ids, "a row repeats between pages 1 and 2"
    assert late_id not in second_ids
    if total <= 2 * PAGE_SIZE:
        assert first_ids | second_ids == snapshot_ids, "paging skipped a campaign"
    await screenshot(page, "desktop-03-list-page-2")

    await page.get_by_role("button", name="← Prev").click()
    await expect(page).to_have_url(re.compile(r"[?&]page=1(&|$)"))
    await expect(page).to_have_url(re.compile(r"[?&]snapshot_id=\d+"))
    await wait_for_list(page, 1)
    assert await campaign_rows(page) == first, "page 1 changed after Next and Prev"


async def _all_campaigns(api: httpx.AsyncClient) -> list[dict[str, Any]]:
    response = await api.get("/campaigns", params={"page_size": 100})
    response.raise_for_status()
    body = response.json()
    assert body["pagination"]["total_pages"] == 1
    return list(body["data"])


# ---------------------------------------------------------------- (2) create form


async def test_create_campaign_with_live_preview_and_template_error(
    pages: Pages, api: httpx.AsyncClient
) -> None:
    name = "E2E Spring Promo"
    template = "Hi {first_name}, discover {preferred_product|our range} today!"
    page = await pages.open(DESKTOP, "/campaigns/new")
    await expect(page.get_by_role("heading", level=1, name="New campaign")).to_be_visible()

    # The placeholder chips are the API's list (GET /templates/placeholders), plus the
    # fallback form; a chip inserts at the caret.
    listed = (await api.get("/templates/placeholders")).json()["placeholders"]
    assert {p["name"] for p in listed} >= {"first_name", "preferred_product"}
    chips = page.get_by_role("group", name="Insert placeholder").get_by_role("button")
    await expect(chips).to_have_text([f"{{{p['name']}}}" for p in listed] + ["{first_name|there}"])
    await screenshot(page, "desktop-04-create-empty")
    editor = page.get_by_label("Message template")
    await editor.fill("Hi !")
    await editor.evaluate("el => el.setSelectionRange(3, 3)")
    await chips.filter(has_text=re.compile(r"^\{first_name\}$")).click()
    await expect(editor).to_have_value("Hi {first_name}!")

    await page.get_by_label("Name").fill(name)
    await editor.fill(template)

    # Irene has no preferred product: the fallback shows.
    preview = page.get_by_test_id("preview-text")
    await page.get_by_label("Preview as").select_option(label=await customer_option(api, "Irene"))
    irene = "Hi Irene, discover our range today!"
    await expect(preview).to_have_text(irene)
    meta = page.locator(".preview__meta")
    await expect(meta.locator("div", has_text="Characters").locator("dd")).to_have_text(
        str(len(irene))
    )
    await expect(meta.locator("div", has_text="Encoding").locator("dd")).to_have_text("GSM-7")
    await expect(meta.locator("div", has_text="SMS segments").locator("dd")).to_have_text("1")

    # Brian has one: it is used.
    await page.get_by_label("Preview as").select_option(label=await customer_option(api, "Brian"))
    await expect(preview).to_have_text("Hi Brian, discover Winter Jacket today!")
    await expect(page.locator(".preview__result.is-stale")).to_have_count(0)
    await screenshot(page, "desktop-05-create-preview")

    # An unknown placeholder: the preview says why, and submitting marks the template field.
    await editor.fill("Hi {frist_name}, discover {preferred_product|our range} today!")
    warning = page.locator(".preview .state--warning")
    await expect(warning).to_contain_text("Template can't be rendered")
    await expect(warning).to_contain_text("frist_name")
    await page.get_by_role("button", name="Create campaign").click()
    field_error = page.locator("#campaign-template-error")
    await expect(field_error).to_contain_text("Unknown placeholder {frist_name}")
    # "Next to the field": inside the template's own field, and the textarea points at it.
    await expect(
        page.locator(".field.field--invalid").filter(has=page.locator("#campaign-template"))
    ).to_contain_text("frist_name")
    await expect(editor).to_have_attribute("aria-invalid", "true")
    await expect(editor).to_have_attribute(
        "aria-describedby", re.compile("campaign-template-error")
    )
    await expect(editor).to_be_focused()
    await expect(page.get_by_role("alert")).to_have_text("Please fix the highlighted fields.")
    await expect(page).to_have_url(re.compile(r"/campaigns/new$"))
    await screenshot(page, "desktop-06-create-invalid-placeholder")

    # Fixing it clears the error and brings the preview back; submitting creates the campaign.
    await editor.fill(template)
    await expect(field_error).to_have_count(0)
    await expect(editor).not_to_have_attribute("aria-invalid", "true")
    await expect(preview).to_have_text("Hi Brian, discover Winter Jacket today!")
    await page.get_by_role("button", name="Create campaign").click()

    await expect(page).to_have_url(re.compile(r"/campaigns/\d+$"))
    campaign_id = int(page.url.rsplit("/", 1)[1])
    await expect(page.get_by_role("heading", level=1)).to_have_text(name)
    await expect(page.locator(".page-header__meta .badge")).to_have_text("Draft")
    await expect(page.locator("pre.template-text")).to_have_text(template)
    await expect(page.get_by_text("No messages yet")).to_be_visible()
    await screenshot(page, "desktop-07-detail-created-draft")

    stored = (await api.get(f"/campaigns/{campaign_id}")).json()
    assert (stored["name"], stored["base_template"], stored["status"]) == (name, template, "draft")


# ---------------------------------------------------------------- (3) send and watch


async def test_send_dialog_sends_and_progress_reaches_sent(
    pages: Pages, api: httpx.AsyncClient
) -> None:
    name = "E2E Send Flow"
    campaign_id = await create_campaign(
        api, name, "Hi {first_name}, your {preferred_product|favourite item} is waiting!"
    )
    page = await pages.open(DESKTOP, f"/campaigns/{campaign_id}")
    await expect(page.get_by_role("heading", level=1)).to_have_text(name)
    await expect(page.locator(".page-header__meta .badge")).to_have_text("Draft")

    await page.get_by_role("button", name="Send…").click()
    dialog = page.get_by_role("dialog", name=f"Send “{name}”")
    await expect(dialog).to_be_visible()
    send_button = dialog.locator(".modal__footer .button--primary")
    await expect(send_button).to_have_text("Send to 0 customers")
    await expect(send_button).to_be_disabled()

    # Search for two customers (newest first: they are not on the first page), tick each,
    # then clear the search and tick one more; the selection survives the searches.
    search = dialog.get_by_label("Search customers")
    items = dialog.locator("ul.picker__list li")
    chosen = ["Alice Wanjiru", "Brian Otieno", "Chloé Mwangi"]
    for person in chosen[:2]:
        await search.fill(person.split()[0])
        await expect(items).to_have_count(1)
        await expect(items).to_contain_text(person)
        await expect(dialog.locator(".is-stale")).to_have_count(0)
        await items.get_by_role("checkbox").check()
    await search.fill("")
    await expect(items).to_have_count(10)
    await expect(dialog.locator(".is-stale")).to_have_count(0)
    await items.filter(has_text=chosen[2]).get_by_role("checkbox").check()
    await expect(dialog.locator(".picker__count")).to_have_text("3 customers selected")
    await expect(send_button).to_have_text("Send to 3 customers")
    await screenshot(page, "desktop-08-send-dialog-picked")

    await send_button.click()
    done = page.get_by_role("dialog", name="Campaign is sending")
    await expect(done).to_contain_text(f"3 messages queued for “{name}”")
    await screenshot(page, "desktop-09-send-dialog-queued")
    await done.get_by_role("button", name="Watch live progress").click()
    await expect(page.get_by_role("dialog")).to_have_count(0)

    # The page polls until the worker has sent all three.
    await expect(page.locator(".page-header__meta .badge")).to_have_text(
        "Sent", timeout=SEND_TIMEOUT_MS
    )
    await expect(stat(page, "Total")).to_have_text("3")
    await expect(stat(page, "Sent")).to_have_text("3")
    await expect(stat(page, "Failed")).to_have_text("0")
    await expect(stat(page, "Pending")).to_have_text("0")
    progress = page.get_by_role("progressbar", name="Messages processed")
    await expect(progress).to_have_attribute("aria-valuenow", "100")
    await expect(page.locator(".stats__caption")).to_have_text("100% processed")
    await expect(page.get_by_role("button", name="Send…")).to_have_count(0)

    messages = page.locator("section[aria-labelledby='messages-title']")
    await expect(messages.get_by_role("heading", name=re.compile("Messages"))).to_contain_text(
        "3 messages"
    )
    message_rows = messages.locator("tbody tr")
    await expect(message_rows).to_have_count(3)
    await expect(message_rows.locator(".badge")).to_have_text(["Sent", "Sent", "Sent"])
    contents = sorted(await message_rows.locator("td.table__content").all_inner_texts())
    assert contents == [
        "Hi Alice, your Running Shoes is waiting!",
        "Hi Brian, your Winter Jacket is waiting!",
        "Hi Chloé, your Sunglasses is waiting!",
    ]
    await screenshot(page, "desktop-10-detail-sent")

    stats = (await api.get(f"/campaigns/{campaign_id}")).json()["stats"]
    assert stats == {
        "total": 3,
        "pending": 0,
        "sending": 0,
        "sent": 3,
        "failed": 0,
        "cancelled": 0,
        "delivered": 0,
        "undelivered": 0,
    }


# ---------------------------------------------------------------- (4) every screen, both widths


@pytest.mark.parametrize(
    ("width", "viewport"), [("phone", PHONE), ("desktop", DESKTOP)], ids=["phone", "desktop"]
)
async def test_screens_fit_the_viewport(
    pages: Pages, api: httpx.AsyncClient, width: str, viewport: dict[str, int]
) -> None:
    """List, filtered list, detail (sent and draft), send dialog, create form and 404."""
    summer = await campaign_id_by_name(api, "Summer Sale 2025")
    welcome = await campaign_id_by_name(api, "Welcome Series")

    page = await pages.open(viewport, "/")
    await wait_for_list(page, 1)
    await expect(rows(page).first.locator(".badge")).to_be_visible()
    await assert_no_horizontal_scroll(page)
    await screenshot(page, f"{width}-list")
    if width == "phone":
        # Tables become stacked cards: no column headers, each cell labelled instead.
        await expect(page.locator("main table thead")).to_be_hidden()

    await page.goto("/?status=sent")
    await wait_for_list(page, 1)
    await expect(page.locator("main table tbody .badge").first).to_have_text("Sent")
    await assert_no_horizontal_scroll(page)
    await screenshot(page, f"{width}-list-filtered-sent")

    # The seeded sent campaign: 9 sent, 1 failed with a long provider error.
    await page.goto(f"/campaigns/{summer}")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Summer Sale 2025")
    await expect(stat(page, "Sent")).to_have_text("9")
    await expect(stat(page, "Failed")).to_have_text("1")
    await expect(page.locator("section[aria-labelledby='messages-title'] tbody tr")).to_have_count(
        10
    )
    await expect(page.get_by_text("carrier rejected the message")).to_be_visible()
    await assert_no_horizontal_scroll(page)
    await screenshot(page, f"{width}-detail-sent")

    await page.goto(f"/campaigns/{welcome}")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Welcome Series")
    await expect(page.locator(".page-header__meta .badge")).to_have_text("Draft")
    await assert_no_horizontal_scroll(page)
    await screenshot(page, f"{width}-detail-draft")

    await page.get_by_role("button", name="Send…").click()
    dialog = page.get_by_role("dialog")
    await expect(dialog.locator("ul.picker__list li")).to_have_count(10)
    await dialog.get_by_label("Select all on this page").check()
    await expect(dialog.locator(".picker__count")).to_have_text("10 customers selected")
    await assert_no_horizontal_scroll(page)
    await screenshot(page, f"{width}-send-dialog")
    await page.keyboard.press("Escape")  # closes without sending
    await expect(page.get_by_role("dialog")).to_have_count(0)
    await expect(page.locator(".page-header__meta .badge")).to_have_text("Draft")

    await page.goto("/campaigns/new")
    await page.get_by_label("Name").fill("Phone check")
    await page.get_by_label("Message template").fill(
        "Hi {first_name|there}, {preferred_product|our range} is back in {location|town}!"
    )
    await expect(page.get_by_test_id("preview-text")).to_contain_text("is back in")
    await assert_no_horizontal_scroll(page)
    await screenshot(page, f"{width}-create-preview")

    await page.goto("/no/such/page")
    await expect(page.get_by_text("Page not found")).to_be_visible()
    await assert_no_horizontal_scroll(page)
    await screenshot(page, f"{width}-not-found")


# ---------------------------------------------------------------- (5) API docs, offline


async def test_api_docs_render_from_local_files(pages: Pages, api: httpx.AsyncClient) -> None:
    """/docs is Swagger UI from the dashboard build (dist/swagger/), not from a CDN."""
    page = await pages.open(DESKTOP, "/docs")
    title = (await api.get("/openapi.json")).json()["info"]["title"]
    await expect(page.locator(".swagger-ui .info .title")).to_contain_text(title)
    await expect(
        page.locator(".opblock-summary-path", has_text=re.compile(r"^/templates/placeholders$"))
    ).to_be_visible()
    await screenshot(page, "desktop-api-docs")
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"):
        response = await api.get(f"/swagger/{asset}")
        assert response.status_code == 200, asset
