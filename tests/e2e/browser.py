"""What the browser tests share besides fixtures: the repository root and `Pages`."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from playwright.async_api import Browser, ConsoleMessage, Page, Request

REPO_ROOT = Path(__file__).resolve().parents[2]


# Reports every Content-Security-Policy violation of a page as a console message.
_CSP_MARK = "csp-violation:"
_REPORT_CSP = f"""
document.addEventListener("securitypolicyviolation", (e) => {{
  console.error("{_CSP_MARK}", e.violatedDirective, e.blockedURI, e.sample);
}});
"""


@dataclass
class Pages:
    """Opens pages at a given viewport. Uncaught page errors fail the test, and so do any
    request that leaves the server's origin (nothing may come from a CDN) and anything
    the server's Content-Security-Policy blocked (the policy must fit every page)."""

    browser: Browser
    base_url: str
    errors: list[str] = field(default_factory=list)
    foreign_requests: list[str] = field(default_factory=list)
    csp_violations: list[str] = field(default_factory=list)
    _closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    async def open(self, viewport: dict[str, int], path: str = "/") -> Page:
        context = await self.browser.new_context(
            viewport=viewport, base_url=self.base_url, locale="en-GB", timezone_id="UTC"
        )
        context.set_default_timeout(10_000)
        self._closers.append(context.close)
        context.on("request", self._check_origin)
        await context.add_init_script(_REPORT_CSP)
        page = await context.new_page()
        page.on("pageerror", lambda exc: self.errors.append(f"{page.url}: {exc}"))
        page.on("console", lambda message: self._check_csp(page, message))
        await page.goto(path)
        return page

    def _check_csp(self, page: Page, message: ConsoleMessage) -> None:
        # Chromium also logs each refusal itself ("Refused to …"), before page scripts run.
        text = message.text
        if text.startswith(_CSP_MARK) or "Content Security Policy" in text:
            self.csp_violations.append(f"{page.url}: {text}")

    def _check_origin(self, request: Request) -> None:
        url = request.url
        if url.startswith(("data:", "blob:")):
            return
        if urlsplit(url)[:2] != urlsplit(self.base_url)[:2]:
            self.foreign_requests.append(url)

    async def close(self) -> None:
        for close in reversed(self._closers):
            await close()
