"""A real Chromium for the browser tests: Debian's `chromium`, driven by Playwright.

Each browser test module calls `chromium_or_skip()`: it skips with a one-line reason
when Chromium (or Playwright) is missing, or fails when TESTIGO_REQUIRE_BROWSER=1 (CI
installs Chromium, so there the browser tests must run). No browser is downloaded.
"""

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Final

import pytest

if TYPE_CHECKING:  # imported lazily below, so that its absence is a skip
    from playwright.sync_api import Page

REQUIRE_ENV: Final = "TESTIGO_REQUIRE_BROWSER"

# Facts checked on this kind of machine (BROWSER_NOTES): loopback WebRTC needs
# --allow-loopback-in-peer-connection, the fake camera needs both fake-media flags, and
# without the background-networking flags Chromium keeps calling out to Google.
CHROMIUM_FLAGS: Final = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--allow-loopback-in-peer-connection",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--autoplay-policy=no-user-gesture-required",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


def chromium_path() -> str | None:
    return os.environ.get("TESTIGO_CHROMIUM") or shutil.which("chromium")


def chromium_or_skip() -> str:
    """The Chromium executable, or a skip (a failure in CI) saying what is missing."""
    path = chromium_path()
    missing = None
    if path is None:
        missing = "Chromium is not installed (apt-get install chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            missing = "Playwright for Python is not installed"
    if missing is None and path is not None:
        return path
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{missing}, and {REQUIRE_ENV}=1")
    pytest.skip(missing or "no browser")


@contextmanager
def chromium_page(
    profile: Path, *, locale: str = "en-US", flags: tuple[str, ...] = CHROMIUM_FLAGS
) -> Iterator["Page"]:
    """A page in a fresh headless Chromium with a fake camera and microphone."""
    from playwright.sync_api import sync_playwright

    executable = chromium_or_skip()
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=executable,
            headless=True,
            args=list(flags),
            locale=locale,
        )
        try:
            page = context.pages[0] if context.pages else context.new_page()
            yield page
        finally:
            context.close()
