"""A headless Chromium for `testigo demo`, the tests and the benches: Debian's `chromium`,
driven by Playwright for Python with `executable_path` (no browser is downloaded).

Facts checked on this kind of machine: loopback WebRTC needs
--allow-loopback-in-peer-connection, the fake camera needs both fake-media flags, and
without the background-networking flags Chromium keeps calling out to Google.
"""

import os
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:  # imported lazily below: the demo runs without it, and says so
    from playwright.sync_api import Page

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


def missing_browser() -> str | None:
    """What is missing to drive a browser (None: nothing)."""
    if chromium_path() is None:
        return "Chromium is not installed (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed"
    return None


@contextmanager
def chromium_page(
    profile: Path,
    *,
    locale: str = "en-US",
    executable: str | None = None,
    extra_args: Sequence[str] = (),
    location: tuple[float, float] | None = None,
) -> Iterator["Page"]:
    """A page in a fresh headless Chromium with a fake camera and microphone; profile is
    its user data directory (the same one again is the same browser's next visit). With
    location (latitude, longitude) the page may read that position."""
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    path = executable or chromium_path()
    if path is None:
        raise RuntimeError("Chromium is not installed")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=path, headless=True, args=[*CHROMIUM_FLAGS, *extra_args],
            locale=locale,
            geolocation=(
                {"latitude": location[0], "longitude": location[1], "accuracy": 12}
                if location is not None else None
            ),
            permissions=["geolocation"] if location is not None else None,
        )  # fmt: skip
        try:
            yield context.pages[0] if context.pages else context.new_page()
        finally:
            with suppress(PlaywrightError):  # the browser is gone already (a test killed it)
                context.close()


def _processes() -> Iterator[tuple[int, int, bytes]]:
    """Every process as (pid, parent pid, command line), read from /proc."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes()
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile
        yield int(entry.name), parent, command


def chromium_pids(profile: Path) -> list[int]:
    """The Chromium processes started with this profile (to kill them as a crash would)."""
    marker = str(profile).encode()
    return [pid for pid, _, command in _processes() if marker in command and b"chromium" in command]


def chromium_processes(profile: Path) -> list[int]:
    """The browser processes of this profile and every process they started."""
    children: dict[int, list[int]] = {}
    for pid, parent, _ in _processes():
        children.setdefault(parent, []).append(pid)
    found: set[int] = set()
    todo = chromium_pids(profile)
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo.extend(children.get(pid, []))
    return sorted(found)
