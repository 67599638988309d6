"""End to end: the dashboard's Customers page, served by a real `campaign-dispatch serve`, in
Chromium. One seeded server for the module (12 customers, phones +2547000000NN); the tests
run in file order. Screenshots go to artifacts/screenshots/ beside the other screens'.
"""

import re

import httpx
import pytest
from playwright.async_api import Locator, Page, expect

from tests.e2e.browser import Pages
from tests.e2e.test_dashboard_browser import assert_no_horizontal_scroll, screenshot

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}

NEW_PHONE = "+254799000111"

# Line 1 is the header. Line 3's phone is not a number and line 4's is a seeded customer's.
IMPORT_CSV = (
    b"phone,first_name,last_name,location,preferred_product\n"
    b"+254799000201,Imani,Otieno,Eldoret,Backpack\n"
    b"12ab,Bad,Row,Nowhere,\n"
    b"+254700000001,Alice,Again,Nairobi,\n"
    b"+254799000202,Baraka,Mutua,Thika,Sunglasses\n"
)


def rows(page: Page) -> Locator:
    return page.locator("main table:not(.import-errors__table) tbody tr")


async def wait_for_list(page: Page) -> None:
    await expect(page.locator("nav[aria-label='Customer pages']")).to_contain_text("Page 1 of")
    await expect(page.locator("main .is-stale")).to_have_count(0)
    await expect(page.locator("main table[aria-busy]")).to_have_count(0)


async def find(api: httpx.AsyncClient, q: str) -> list[dict[str, object]]:
    response = await api.get("/customers", params={"q": q})
    response.raise_for_status()
    return list(response.json()["data"])


async def test_create_a_customer_then_find_them(pages: Pages, api: httpx.AsyncClient) -> None:
    page = await pages.open(DESKTOP, "/")
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Customers").click()
    await expect(page).to_have_url(re.compile(r"/customers$"))
    await expect(page.get_by_role("heading", level=1, name="Customers")).to_be_visible()
    await wait_for_list(page)
    await expect(page.locator(".page-header__meta")).to_have_text("12 customers")
    await expect(rows(page)).to_have_count(12)

    await page.get_by_role("button", name="Add customer").click()
    form = page.get_by_role("form", name="Add a customer")
    await expect(form.get_by_label("Phone")).to_be_focused()
    await form.get_by_label("Phone").fill("+254 799-000 111")  # the API stores it compacted
    await form.get_by_label("First name").fill("Zawadi")
    await form.get_by_label("Last name").fill("Njeri")
    await form.get_by_label("Location").fill("Eldoret")
    await form.get_by_role("button", name="Add customer").click()
    await expect(form.get_by_role("status")).to_have_text(f"Added Zawadi Njeri ({NEW_PHONE}).")
    await expect(form.get_by_label("Phone")).to_have_value("")
    # Newest first: the new customer heads the list, and the count went up.
    await expect(page.locator(".page-header__meta")).to_have_text("13 customers")
    await expect(rows(page).first).to_contain_text("Zawadi Njeri")
    await expect(rows(page).first).to_contain_text(NEW_PHONE)
    await screenshot(page, "desktop-customers-created")

    stored = await find(api, "Zawadi")
    assert [(c["phone"], c["last_name"], c["location"]) for c in stored] == [
        (NEW_PHONE, "Njeri", "Eldoret")
    ]

    # The same phone again: the API's 422 names the field, and the form shows it there.
    await form.get_by_label("Phone").fill(NEW_PHONE)
    await form.get_by_role("button", name="Add customer").click()
    await expect(form.get_by_role("alert")).to_have_text("Please fix the highlighted fields.")
    phone = form.get_by_label("Phone")
    await expect(phone).to_have_attribute("aria-invalid", "true")
    await expect(form.locator("#customer-phone-error")).to_have_text("already exists")
    await expect(phone).to_be_focused()
    assert len(await find(api, "Zawadi")) == 1
    await form.get_by_role("button", name="Close").click()
    await expect(form).to_have_count(0)

    # Search: the list narrows to her once typing pauses, and the URL keeps the search.
    await page.get_by_label("Search").fill("zawadi")
    await expect(page).to_have_url(re.compile(r"/customers\?q=zawadi$"))
    await wait_for_list(page)
    await expect(rows(page)).to_have_count(1)
    await expect(rows(page)).to_contain_text("Zawadi Njeri")
    await expect(page.locator(".page-header__meta")).to_have_text("1 customer matching “zawadi”")
    await screenshot(page, "desktop-customers-search")

    # A search that finds no one says so; reloading keeps the search.
    await page.get_by_label("Search").fill("nobody-by-this-name")
    await expect(page.get_by_text("No customers match “nobody-by-this-name”")).to_be_visible()
    await page.reload()
    await expect(page.get_by_label("Search")).to_have_value("nobody-by-this-name")
    await page.get_by_role("button", name="Clear search").click()
    await expect(page).to_have_url(re.compile(r"/customers$"))
    await wait_for_list(page)
    await expect(rows(page)).to_have_count(13)


async def test_import_a_csv_with_a_bad_row(pages: Pages, api: httpx.AsyncClient) -> None:
    page = await pages.open(DESKTOP, "/customers")
    await wait_for_list(page)
    before = (await api.get("/customers")).json()["pagination"]["total_count"]

    await page.get_by_role("button", name="Import CSV").click()
    form = page.get_by_role("form", name="Import customers from CSV")
    await form.get_by_label("CSV file").set_input_files(
        {"name": "new-customers.csv", "mimeType": "text/csv", "buffer": IMPORT_CSV}
    )
    await form.get_by_role("button", name="Import").click()

    report = form.get_by_role("region", name="Results for “new-customers.csv”")
    await expect(report.get_by_test_id("import-created")).to_have_text("2")
    await expect(report.get_by_test_id("import-skipped")).to_have_text("1")
    await expect(report.get_by_test_id("import-bad")).to_have_text("1")
    error_rows = report.locator("table tbody tr")
    await expect(error_rows).to_have_count(1)
    await expect(error_rows.locator("td").first).to_have_text("3")
    await expect(error_rows.locator("td").nth(1)).to_contain_text("phone")
    await screenshot(page, "desktop-customers-import")

    # The two good rows are customers now, at the top of the list; the bad one is not.
    await expect(page.locator(".page-header__meta")).to_have_text(f"{before + 2} customers")
    await expect(rows(page).nth(0)).to_contain_text("Baraka Mutua")
    await expect(rows(page).nth(1)).to_contain_text("Imani Otieno")
    assert [c["phone"] for c in await find(api, "Imani")] == ["+254799000201"]
    assert await find(api, "Bad") == []
    assert [c["last_name"] for c in await find(api, "+254700000001")] == ["Wanjiru"]

    # A file the API refuses whole: nothing imported, and the reason is shown.
    await form.get_by_label("CSV file").set_input_files(
        {"name": "wrong.csv", "mimeType": "text/csv", "buffer": b"phone,email\n+254799000300,x\n"}
    )
    await form.get_by_role("button", name="Import").click()
    alert = form.get_by_role("alert")
    await expect(alert).to_contain_text("Nothing was imported: Unknown CSV column(s): email")
    await expect(alert).to_contain_text("allowed columns:")
    await expect(form.get_by_role("region")).to_have_count(0)
    assert await find(api, "+254799000300") == []


async def test_customers_page_fits_a_phone(pages: Pages) -> None:
    page = await pages.open(PHONE, "/customers")
    await wait_for_list(page)
    # Stacked cards: no column headers, each cell labelled instead.
    await expect(page.locator("main table thead")).to_be_hidden()
    await assert_no_horizontal_scroll(page)
    await screenshot(page, "phone-customers")

    await page.get_by_role("button", name="Add customer").click()
    form = page.get_by_role("form", name="Add a customer")
    await form.get_by_role("button", name="Add customer").click()
    await expect(form.locator("#customer-phone-error")).to_be_visible()
    await assert_no_horizontal_scroll(page)
    await screenshot(page, "phone-customers-create")

    await page.get_by_role("button", name="Import CSV").click()
    form = page.get_by_role("form", name="Import customers from CSV")
    long_message_row = "+" + "9" * 40 + ",Long,Phone\n"
    await form.get_by_label("CSV file").set_input_files(
        {
            "name": "a-rather-long-file-name-for-a-phone-screen.csv",
            "mimeType": "text/csv",
            "buffer": ("phone,first_name,last_name\n" + long_message_row * 3).encode(),
        }
    )
    await form.get_by_role("button", name="Import").click()
    await expect(form.locator(".import-errors tbody tr")).to_have_count(3)
    await assert_no_horizontal_scroll(page)
    await screenshot(page, "phone-customers-import")
