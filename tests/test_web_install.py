"""The installed app does not change under the person: the service worker (sw.js).

The app is served by a real aiohttp server on loopback from a copy of
relay_server/web/, so that a test can serve another release at the same origin, as a
relay upgraded (or turned against its users) would.
"""

import asyncio
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from aiohttp import web

from relay_server.web_app import WEB_DIR, WebApp
from stream.demo.local_relay import free_port
from tests.browser import chromium_or_skip, chromium_page

if TYPE_CHECKING:
    from playwright.sync_api import Page


class AppServer:
    """WebApp(root) on a fixed loopback port, in a thread; restartable with another root."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._runner: web.AppRunner | None = None
        self.app = WebApp(root)

    def start(self) -> None:
        self.app = WebApp(self.root)

        async def run() -> web.AppRunner:
            application = web.Application()
            application.add_routes(self.app.route_table())
            runner = web.AppRunner(application)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", self.port).start()
            return runner

        self._runner = asyncio.run_coroutine_threadsafe(run(), self._loop).result(10)

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
            self._runner = None

    def close(self) -> None:
        self.stop()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[AppServer]:
    chromium_or_skip()
    root = tmp_path / "web"
    shutil.copytree(WEB_DIR, root, ignore=shutil.ignore_patterns("node_modules"))
    server = AppServer(root)
    server.start()
    yield server
    server.close()


def controlled(page: "Page") -> None:
    """Wait until the service worker is active, then reload under it."""
    page.evaluate("async () => { await navigator.serviceWorker.ready; }")
    page.reload()
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")


def test_the_app_opens_from_the_installed_release_when_the_relay_is_gone(
    served: AppServer, tmp_path: Path
) -> None:
    with chromium_page(tmp_path / "profile") as page:
        page.goto(served.url + "/app/phone/")
        page.locator(f"body[data-release='{served.app.release}']").wait_for(timeout=20_000)
        controlled(page)
        served.stop()  # nothing answers at this origin any more
        page.reload()
        page.locator("#check #verdict[data-ready]").wait_for()
        assert page.locator("h1").text_content() == "Testigo"


def test_another_release_waits_for_the_person_and_shows_its_id(
    served: AppServer, tmp_path: Path
) -> None:
    first = served.app.release
    with chromium_page(tmp_path / "profile") as page:
        page.goto(served.url + "/app/phone/")
        page.locator(f"body[data-release='{first}']").wait_for(timeout=20_000)
        controlled(page)

        # the relay now serves other code (an upgrade, or a relay turned hostile)
        served.stop()
        style = served.root / "phone" / "style.css"
        style.write_text(style.read_text() + "\n/* release two */\n")
        served.start()
        second = served.app.release
        assert second != first

        page.reload()
        banner = page.locator("#update:not([hidden])")
        banner.wait_for(timeout=20_000)
        shown = page.locator("#update-release").text_content() or ""
        assert shown.replace("-", "") == second[:16]
        # not accepted: the page still runs the installed release's files
        css = page.evaluate("async () => (await fetch('/app/phone/style.css')).text()")
        assert "release two" not in css
        page.reload()
        css = page.evaluate("async () => (await fetch('/app/phone/style.css')).text()")
        assert "release two" not in css

        with page.expect_navigation(timeout=30_000):
            page.click("#update-install")
        page.locator(f"body[data-release='{second}']").wait_for(timeout=20_000)
        css = page.evaluate("async () => (await fetch('/app/phone/style.css')).text()")
        assert "release two" in css


def test_a_file_that_is_not_in_its_release_is_not_installed(
    served: AppServer, tmp_path: Path
) -> None:
    # a server that changes a file after announcing its release: the worker refuses it
    served.app.files["phone/style.css"] = served.app.files["phone/style.css"].__class__(
        b"body{}", "text/css; charset=utf-8", '"changed"'
    )
    with chromium_page(tmp_path / "profile") as page:
        page.goto(served.url + "/app/phone/")
        page.locator("#check #verdict[data-ready]").wait_for()
        state = page.evaluate(INSTALL_OUTCOME)
    assert state == "refused"


INSTALL_OUTCOME = """
async () => {
  const registration = await navigator.serviceWorker.getRegistration("/app/");
  const worker = registration
    && (registration.installing || registration.waiting || registration.active);
  if (!worker) return "refused";
  if (worker.state === "activated") return "installed";
  return await new Promise((resolve) => worker.addEventListener("statechange", () => {
    if (worker.state === "redundant") resolve("refused");
    if (worker.state === "activated") resolve("installed");
  }));
}
"""
