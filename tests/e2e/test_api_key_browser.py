"""The dashboard against a server with API_KEYS, in Chromium: the key prompt, where the key
is kept (this tab's sessionStorage, never localStorage), a rejected key, and Forget key."""

import pytest
from playwright.async_api import Page, expect

from tests.e2e.browser import Pages
from tests.e2e.conftest import E2E_API_KEY

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 800}
STORAGE_KEY = "campaign-dispatch.api-key"


async def stored(page: Page) -> dict[str, str | None]:
    """The key as each storage holds it, and whether it appears anywhere in localStorage."""
    found: dict[str, str | None] = await page.evaluate(
        """([name, key]) => ({
            session: sessionStorage.getItem(name),
            local: localStorage.getItem(name),
            anywhereLocal: JSON.stringify({ ...localStorage }).includes(key) ? "yes" : null,
        })""",
        [STORAGE_KEY, E2E_API_KEY],
    )
    return found


async def enter_key(page: Page, key: str) -> None:
    await page.get_by_label("API key", exact=True).fill(key)
    await page.get_by_role("button", name="Save key").click()


async def test_the_key_is_asked_for_kept_in_the_tab_and_forgotten(keyed_pages: Pages) -> None:
    page = await keyed_pages.open(DESKTOP, "/")
    await expect(page.get_by_text("This API needs a key")).to_be_visible()
    assert await stored(page) == {"session": None, "local": None, "anywhereLocal": None}

    # A wrong key is refused, not kept, and the prompt says so.
    await enter_key(page, "not-the-key")
    await expect(page.get_by_text("That API key was rejected")).to_be_visible()
    assert (await stored(page))["session"] is None

    await enter_key(page, E2E_API_KEY)
    await expect(page.get_by_role("link", name="Welcome Series")).to_be_visible()
    await expect(page.get_by_text("This API needs a key")).to_have_count(0)
    assert await stored(page) == {"session": E2E_API_KEY, "local": None, "anywhereLocal": None}

    # A reload of the tab keeps it; another tab does not have it.
    await page.reload()
    await expect(page.get_by_role("link", name="Welcome Series")).to_be_visible()
    other = await page.context.new_page()
    await other.goto("/")
    await expect(other.get_by_text("This API needs a key")).to_be_visible()
    await other.close()

    # Forget key: the key and what was fetched with it are gone, and the key is asked for.
    await page.get_by_role("button", name="Forget key").click()
    await expect(page.get_by_text("This API needs a key")).to_be_visible()
    await expect(page.get_by_role("link", name="Welcome Series")).to_have_count(0)
    await expect(page.get_by_role("button", name="Forget key")).to_have_count(0)
    assert await stored(page) == {"session": None, "local": None, "anywhereLocal": None}
