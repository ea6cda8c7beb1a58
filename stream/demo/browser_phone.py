"""Driving the phone's recorder page (relay_server/web/phone/) as a person would: open the
invite link, add a contact, tap Record, tap Stop. For `testigo demo`, the tests and the
benches; every wait is for a condition the page shows, never a fixed time.
"""

from typing import TYPE_CHECKING, Final

from vault.keys import RecipientKey

if TYPE_CHECKING:
    from playwright.sync_api import Page

UPLOAD_TIMEOUT_MS: Final = 60_000

DEVICE_KEY: Final = """
async () => {
  const { Spool } = await import("/app/phone/spool.js");
  const { PublicKey, KINDS } = await import("/app/lib/keys.js");
  const stored = await (await Spool.open()).getConfig("device");
  return new PublicKey(KINDS.device, stored.publicKey).toString();
}
"""


def set_up_phone(page: "Page", link: str, contact: RecipientKey, name: str = "Ana") -> str:
    """Open the invite link and add the contact; returns the phone's tg-device-… key."""
    page.goto(link)
    page.locator("body[data-ready=true]").wait_for()
    if "#" in page.url:
        raise AssertionError("the invite's secret stayed in the address bar")
    page.fill("#contact-name", name)
    page.fill("#contact-key", str(contact))
    page.click("#add-contact button[type=submit]")
    added = page.locator("#contact-message[data-added]")
    added.wait_for()
    if contact.fingerprint not in (added.text_content() or ""):
        raise AssertionError("the page did not show the contact's fingerprint to compare")
    return str(page.evaluate(DEVICE_KEY))


def start_recording(page: "Page") -> str:
    """Tap Record; returns the new recording's id once it is sealing."""
    page.click("#record")
    page.locator("#status[data-recording]").wait_for()
    return str(page.get_attribute("#status", "data-recording"))


def wait_for_receipts(page: "Page", count: int) -> None:
    page.wait_for_function(
        f"() => Number(document.getElementById('status').dataset.receipted) >= {count}",
        timeout=UPLOAD_TIMEOUT_MS,
    )


def wait_for_sealed(page: "Page", *, chunks: int = 0, seconds: float = 0) -> None:
    """Wait until the page has sealed and stored this many chunks, or this much of the
    recording by its own clock, counted from the tap on Record."""
    predicate = (
        "() => { const s = document.getElementById('status').dataset; "
        f"return Number(s.sealed || 0) >= {chunks} && "
        f"Number(s.sealedMs || 0) >= {seconds * 1000}; }}"
    )
    page.wait_for_function(
        predicate,
        timeout=int(seconds * 1000) + UPLOAD_TIMEOUT_MS,
    )


def wait_until_drained(page: "Page") -> None:
    """Return once the uploader has counted every chunk spooled so far, and none waits."""
    page.wait_for_function(
        "() => { const s = document.getElementById('status').dataset; "
        "return s.pending === '0' && s.current === 'true'; }",
        timeout=UPLOAD_TIMEOUT_MS,
    )


def stop_and_drain(page: "Page") -> None:
    """Tap Stop; return once every chunk, the final one too, is receipted."""
    page.click("#record")
    page.locator("#record[data-state=idle]").wait_for(timeout=30_000)
    wait_until_drained(page)


def receipted(page: "Page") -> int:
    return int(page.get_attribute("#status", "data-receipted") or 0)
