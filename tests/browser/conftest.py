"""The ops console in a real browser against the real suite (the root `suite` fixture: the four services
as subprocesses, with the short SLA policy of `suite_env`, so a new ticket's timer breaches in seconds).

- `console_url`: devtools.console_server (as `make run` serves it) on a free port, proxying
  /svc/<service>/ to the suite's gateways; the console is built first when its sources changed.
- `browser`: one Debian Chromium for the package (never a browser Playwright downloads); each
  persona gets a context of its own (`console.open_as(...)`), like separate people on separate machines.
- `console`: per test; collects every page error and console error of its pages, and fails the test
  on any but the failed requests a screen is expected to make (403 where a role may not read, the
  409 of a lost claim, the 422 of a refused policy).
- Screenshots go to GS_SCREENSHOTS_DIR (`make screenshots`: docs/screenshots/), else .data/test/screenshots.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("GS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
VIEWPORT = {"width": 1400, "height": 860}
#: Failed requests a screen makes on purpose; anything else in the console is a script error.
EXPECTED = re.compile(r"Failed to load resource: the server responded with a status of (403|409|422)")


def _dictionary(lang: str) -> dict[str, str]:
    """console/src/i18n/<lang>.ts as key → text: the tests find buttons by what the user reads."""
    text = (ROOT / "console" / "src" / "i18n" / f"{lang}.ts").read_text(encoding="utf-8")
    pairs = re.findall(r'^\s*"([^"]+)":\s*("(?:[^"\\]|\\.)*")\s*,?\s*$', text, flags=re.M)
    return {k: json.loads(v) for k, v in pairs}


DICTIONARIES = {"zh-CN": _dictionary("zh-CN"), "en": _dictionary("en")}


def t(key: str, lang: str = "zh-CN", **params: object) -> str:
    text = DICTIONARIES[lang][key]
    for name, value in params.items():
        text = text.replace("{" + name + "}", str(value))
    return text


@pytest.fixture(scope="package")
def console_url(suite: Any) -> Iterator[str]:
    from devtools.console_build import ensure_built
    from devtools.infra import free_port, test_profile
    from devtools.suite import CONSOLE_SERVICES, start_console

    ensure_built()
    logs = test_profile().data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    port = free_port()
    proc = start_console(port, {c: suite.url(s) for c, s in CONSOLE_SERVICES.items()}, logs / "console.log")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        pytest.fail(f"{CHROMIUM} is missing: `make browser` (part of `make test`) installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        # Playwright gives every launch a new, temporary user-data-dir.
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="package")
def screenshots() -> Path:
    out = Path(os.environ.get("GS_SCREENSHOTS_DIR") or ROOT / ".data" / "test" / "screenshots")
    out.mkdir(parents=True, exist_ok=True)
    return out


class Console:
    """The console as several people see it, each in a browser context of their own."""

    def __init__(self, browser: Any, url: str, screenshots: Path) -> None:
        self.browser = browser
        self.url = url
        self.screenshots = screenshots
        self.contexts: list[Any] = []
        self.errors: list[str] = []
        self.inflight: dict[int, set[Any]] = {}

    def page(self, who: str, lang: str | None = "zh-CN") -> Any:
        """A new context's page; `lang` is set as the user's choice on every load (None: the console's
        own choice, persisted by its language switch)."""
        # Berlin on purpose: the console shows Asia/Shanghai times whatever the browser's zone.
        context = self.browser.new_context(viewport=VIEWPORT, locale=lang or "zh-CN", timezone_id="Europe/Berlin")
        context.set_default_timeout(20_000)
        if lang:
            context.add_init_script(f"localStorage.setItem('console.lang', {json.dumps(lang)})")
        self.contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda e: self.errors.append(f"{who}: {e}"))
        page.on("console", lambda m: self.errors.append(f"{who} console: {m.text}") if m.type == "error" else None)
        # requests in flight (the board's event stream never ends: not counted), for `settle`
        inflight: set[Any] = set()
        self.inflight[id(page)] = inflight
        page.on("request", lambda r: None if "/api/v1/stream" in r.url else inflight.add(r))
        page.on("requestfinished", lambda r: inflight.discard(r))
        page.on("requestfailed", lambda r: inflight.discard(r))
        return page

    def settle(self, page: Any, quiet_ms: int = 250, timeout_s: float = 20) -> None:
        """Wait until the page has had no request in flight for `quiet_ms`: the screen has loaded what
        it shows (and would have reported its script errors)."""
        inflight = self.inflight[id(page)]
        deadline = time.monotonic() + timeout_s
        quiet_since = None
        while time.monotonic() < deadline:
            if inflight:
                quiet_since = None
            elif quiet_since is None:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= quiet_ms / 1000:
                return
            page.wait_for_timeout(50)
        raise AssertionError(f"requests still in flight after {timeout_s:.0f}s: {[r.url for r in inflight]}")

    def visit(self, page: Any, path: str) -> None:
        """Open a screen as the user would: through its link in the navigation when there is one (no
        reload), else by its address; then let it load."""
        link = page.locator(f'header nav a[href="{path}"], .subnav a[href="{path}"]')
        if link.count():
            link.first.click()
            page.wait_for_url(lambda u: u.split("?")[0].endswith(path))
        else:
            page.goto(self.url + path)
        page.wait_for_selector("main h1")
        self.settle(page)

    def open_as(self, persona: str, lang: str | None = "zh-CN") -> Any:
        """Log in through the persona picker (the CRM's dev token issuer); lands on the role's home."""
        page = self.page(persona, lang)
        page.goto(f"{self.url}/login")
        page.click(f'[data-persona="{persona}"]')
        page.wait_for_url(lambda u: "/login" not in u)
        page.wait_for_selector("header nav a")
        return page

    def shot(self, page: Any, name: str, *, full_page: bool = False) -> None:
        page.screenshot(path=str(self.screenshots / f"{name}.png"), full_page=full_page, animations="disabled")

    def script_errors(self) -> list[str]:
        return [e for e in self.errors if not EXPECTED.search(e)]

    def close(self) -> None:
        for context in self.contexts:
            context.close()
        self.contexts.clear()


@pytest.fixture
def console(browser: Any, console_url: str, screenshots: Path) -> Iterator[Console]:
    c = Console(browser, console_url, screenshots)
    try:
        yield c
    finally:
        c.close()
    assert c.script_errors() == [], "script errors in the console:\n" + "\n".join(c.script_errors())


def api(suite: Any, service: str, method: str, path: str, who: tuple[str, ...] = ("sup_browser", "supervisor"),
        **kwargs: Any) -> httpx.Response:
    """A call straight to a gateway (what the test needs to know, not what the user does)."""
    return httpx.request(method, suite.url(service) + path, headers=suite.auth(*who), timeout=10, **kwargs)


def eventually(fetch: Any, *, timeout_s: float = 30, what: str = "it") -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = fetch()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout_s:.0f}s")
        time.sleep(0.25)


def ticket_of(suite: Any, origin_id: str) -> dict[str, Any]:
    """The EOMS ticket an order or complaint became (created from its event, a moment later)."""

    def fetch() -> dict[str, Any] | None:
        r = api(suite, "eoms-bridge", "GET", "/api/v1/tickets", params={"origin_id": origin_id})
        items = r.json()["items"] if r.status_code == 200 else []
        return items[0] if items else None

    # The chain (CRM outbox → relay → Kafka → bridge) may still be working off the backlog the other
    # integration tests left on a fresh infrastructure: wait up to two minutes.
    return eventually(fetch, timeout_s=120, what=f"the ticket of {origin_id}")  # type: ignore[no-any-return]
