"""The phone's recorder in a real Chromium, against a real relay process.

The page is opened from an invite link as a phone would open it, sets itself up,
takes a contact's key, records from Chromium's fake camera and microphone, and uploads
over the relay's WebRTC data channel or HTTPS. What reached the relay is then fetched,
verified and decrypted with the `testigo` commands a lawyer runs.
"""

import base64
import dataclasses
import hashlib
import json
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import av
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from stream.demo.browser_phone import (
    receipted,
    set_up_phone,
    start_recording,
    stop_and_drain,
    wait_for_receipts,
    wait_for_sealed,
    wait_until_drained,
)
from stream.demo.local_relay import LocalRelay
from tests.browser import chromium_or_skip, chromium_page, chromium_pids
from tests.cli_run import run_testigo
from tests.tls_certs import make_certificates
from vault.identity import RelayIdentity, no_passphrase
from vault.keys import DeviceKey, RecipientKey
from vault.receipts import Receipt

if TYPE_CHECKING:
    from playwright.sync_api import Page, Route

RECORD_SECONDS = 10


@dataclass
class Setup:
    relay: LocalRelay
    workdir: Path
    contact: RecipientKey
    env: dict[str, str] = field(default_factory=dict)  # for the testigo commands

    def invite(self) -> str:
        return self.relay.invite()["link"]

    def fetch(self, device: str, name: str) -> Path:
        token = self.relay.token(DeviceKey.parse(device))
        result = run_testigo(
            "fetch", "--relay", self.relay.url, "--device", device, "-o", name,
            cwd=self.workdir, env={"TESTIGO_TOKEN": token, **self.env},
        )  # fmt: skip
        assert result.code == 0, result.err
        return self.workdir / name

    def verify(self, name: str) -> tuple[int, dict[str, object]]:
        result = run_testigo(
            "verify", name, "--identity", "contact.key", "--relay-key", str(self.relay.key),
            "--json", cwd=self.workdir,
        )  # fmt: skip
        return result.code, json.loads(result.out)


@contextmanager
def relay_and_contact(tmp_path: Path, *settings: str) -> Iterator[Setup]:
    chromium_or_skip()
    made = run_testigo(
        "keygen", "--role", "contact", "-o", "contact.key", "--no-passphrase", cwd=tmp_path
    )
    assert made.code == 0, made.err
    contact = RecipientKey.parse(json.loads((tmp_path / "contact.key").read_text())["public"])
    with LocalRelay(tmp_path / "relay", settings=settings) as relay:
        yield Setup(relay, tmp_path, contact)


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    with relay_and_contact(tmp_path) as made:
        yield made


@pytest.fixture
def setup_without_udp(tmp_path: Path) -> Iterator[Setup]:
    """A browser that may not send UDP (Chromium's WebRTC policy "disable_non_proxied_udp",
    what a network that blocks UDP leaves it): WebRTC never connects."""
    preferences = tmp_path / "profile" / "Default" / "Preferences"
    preferences.parent.mkdir(parents=True)
    preferences.write_text(
        json.dumps({"webrtc": {"ip_handling_policy": "disable_non_proxied_udp"}})
    )
    with relay_and_contact(tmp_path) as made:
        yield made


def record(page: "Page", chunks: int) -> str:
    recording = start_recording(page)
    wait_for_receipts(page, chunks)
    return recording


# Each capture the page can record with (phone/recorder.js, issue 12), forced through the
# page's root element, and the codecs its chunks then hold (the header's media_type).
CAPTURES = {
    "webcodecs": "video/mp4;codecs=avc1.42001f,opus",  # WebCodecs encoders + mediabunny
    "mediarecorder": "video/mp4;codecs=avc1.42E01E,opus",  # MediaRecorder, cut by us
}


def force_capture(page: "Page", capture: str) -> None:
    """Make the tap record with this capture, and note anything the CSP refuses."""
    page.evaluate(f"() => {{ document.documentElement.dataset.capture = {json.dumps(capture)}; }}")
    page.evaluate(CSP_WATCH)


# What the page's Content-Security-Policy refused (a blob: worker, eval…), kept on <body>.
CSP_WATCH = """
() => document.addEventListener("securitypolicyviolation", (event) => {
  document.body.dataset.refused = `${event.violatedDirective} ${event.blockedURI}`;
})
"""


@pytest.mark.parametrize("capture", sorted(CAPTURES))
def test_invite_record_verify_decrypt(setup: Setup, capture: str) -> None:
    link = setup.invite()
    with chromium_page(setup.workdir / "profile") as page:
        device = set_up_phone(page, link, setup.contact)
        force_capture(page, capture)
        recording = start_recording(page)
        assert page.get_attribute("#status", "data-media-type") == CAPTURES[capture]
        wait_for_sealed(page, seconds=RECORD_SECONDS)
        stop_and_drain(page)
        network = page.get_attribute("#status", "data-network")
        # what the person reads: every second recorded is safely off the phone
        safe = (page.locator("#safe").text_content() or "").split(" s ")[0]
        assert int(safe) >= RECORD_SECONDS - 1, safe
        assert page.get_attribute("body", "data-refused") is None  # the CSP refused nothing
    assert network in ("webrtc", "https")
    setup.fetch(device, "evidence.tgr")
    code, report = setup.verify("evidence.tgr")
    assert code == 0, report
    assert report["status"] == "complete"
    assert report["recording_id"] == recording
    assert report["media_type"] == CAPTURES[capture]
    decrypted = run_testigo(
        "decrypt", "evidence.tgr", "--identity", "contact.key", "-o", "evidence.mp4",
        cwd=setup.workdir,
    )  # fmt: skip
    assert decrypted.code == 0, decrypted.err
    with av.open(str(setup.workdir / "evidence.mp4")) as container:
        video = container.streams.video[0]
        assert container.streams.audio, "the microphone's track is in the file"
        rate = float(video.average_rate or video.guessed_rate or 30)
        times = [float(frame.time) for frame in container.decode(video=0) if frame.time is not None]
    with av.open(str(setup.workdir / "evidence.mp4")) as container:
        heard = sum(frame.samples / frame.sample_rate for frame in container.decode(audio=0))
    seconds = max(times) - min(times)  # fragmented MP4: the span of the frames decoded
    assert seconds >= RECORD_SECONDS - 1, seconds
    assert len(times) >= 0.9 * seconds * rate, (len(times), seconds, rate)
    assert heard >= RECORD_SECONDS - 1, heard  # the sound lasts as long as the picture


def test_a_used_invite_sets_nothing_up(setup: Setup) -> None:
    link = setup.invite()
    with chromium_page(setup.workdir / "first") as page:
        set_up_phone(page, link, setup.contact)
    with chromium_page(setup.workdir / "second") as page:
        page.goto(link)
        failed = page.locator("#setup-message[data-failed]")
        failed.wait_for()
        assert failed.get_attribute("data-failed") == "invite_unusable"
        assert "used or it expired" in (failed.text_content() or "")
        assert page.locator("#recorder").is_hidden()


def test_a_link_naming_another_relay_key_sets_nothing_up(setup: Setup) -> None:
    link = setup.invite()
    other = LocalRelay(setup.workdir / "other")  # its key only: it is not started
    forged = link.split("&relay=")[0] + f"&relay={other.key}"
    with chromium_page(setup.workdir / "profile", locale="es-ES") as page:
        page.goto(forged)
        failed = page.locator("#setup-message[data-failed]")
        failed.wait_for()
        # the page signed for the key in the link, which is not this relay's: refused
        assert failed.get_attribute("data-failed") == "invite_unusable"
        assert "ya no sirve" in (failed.text_content() or "")  # in the person's language
        assert page.locator("#recorder").is_hidden()


def test_an_answer_not_signed_by_the_linked_relay_sets_nothing_up(setup: Setup) -> None:
    link = setup.invite()
    impostor = base64.urlsafe_b64encode(os.urandom(64)).rstrip(b"=").decode()
    with chromium_page(setup.workdir / "profile") as page:
        # what a relay that does not hold the linked key would answer: 200, its own word
        page.route(
            "**/v1/enroll",
            lambda route: route.fulfill(
                status=200, content_type="application/json",
                body=json.dumps({"relay_signature": impostor}),
            ),
        )  # fmt: skip
        page.goto(link)
        failed = page.locator("#setup-message[data-failed]")
        failed.wait_for()
        assert failed.get_attribute("data-failed") == "relay_mismatch"
        assert page.locator("#recorder").is_hidden()
        pinned = page.evaluate(PINNED_RELAY)
    assert pinned is None


PINNED_RELAY = """
async () => {
  const { Spool } = await import("/app/phone/spool.js");
  return (await (await Spool.open()).getConfig("relay")) ?? null;
}
"""


def test_a_broken_link_says_so(setup: Setup) -> None:
    link = setup.invite()
    with chromium_page(setup.workdir / "profile") as page:
        page.goto(link[:-5])  # the relay key cut short
        failed = page.locator("#setup-message[data-failed]")
        failed.wait_for()
        assert failed.get_attribute("data-failed") == "link_broken"


def test_killing_the_browser_leaves_an_interrupted_recording_with_all_it_receipted(
    setup: Setup,
) -> None:
    link = setup.invite()
    profile = setup.workdir / "profile"
    with chromium_page(profile) as page:
        device = set_up_phone(page, link, setup.contact)
        record(page, 4)
        held = receipted(page)
        for pid in chromium_pids(profile):
            os.kill(pid, signal.SIGKILL)
    setup.fetch(device, "cut.tgr")
    code, report = setup.verify("cut.tgr")
    assert code == 10, report
    assert report["status"] == "incomplete"
    assert isinstance(report["interrupted_after"], int)
    assert report["interrupted_after"] + 1 >= held
    assert report["missing"] == []


def test_recorded_offline_uploads_when_the_page_is_opened_online(setup: Setup) -> None:
    link = setup.invite()
    profile = setup.workdir / "profile"
    with chromium_page(profile) as page:
        device = set_up_phone(page, link, setup.contact)
        setup.relay.stop()  # the relay is out of reach from here on
        start_recording(page)
        wait_for_sealed(page, chunks=4)
        page.click("#record")
        page.locator("#record[data-state=idle]").wait_for(timeout=30_000)
        assert int(page.get_attribute("#status", "data-pending") or 0) > 0
    setup.relay.start()
    with chromium_page(profile) as page:  # the next visit, online
        page.goto(setup.relay.url + "/app/phone/")
        page.locator("body[data-ready=true]").wait_for()
        wait_until_drained(page)
    setup.fetch(device, "later.tgr")
    code, report = setup.verify("later.tgr")
    assert code == 0, report


def test_with_udp_blocked_https_carries_the_recording(setup_without_udp: Setup) -> None:
    setup = setup_without_udp
    link = setup.invite()
    with chromium_page(setup.workdir / "profile") as page:
        device = set_up_phone(page, link, setup.contact)
        record(page, 3)
        stop_and_drain(page)
        assert page.get_attribute("#status", "data-network") == "https"
    setup.fetch(device, "https.tgr")
    code, report = setup.verify("https.tgr")
    assert code == 0, report


def test_the_relay_restarting_mid_recording_leaves_no_gap_and_no_double(setup: Setup) -> None:
    link = setup.invite()
    with chromium_page(setup.workdir / "profile") as page:
        device = set_up_phone(page, link, setup.contact)
        record(page, 3)
        setup.relay.kill()  # SIGKILL: the relay gets no chance to finish anything
        wait_for_sealed(page, chunks=receipted(page) + 3)  # sealed, not receipted
        setup.relay.start()  # the same port: the page reconnects and resends
        before = receipted(page)
        wait_for_receipts(page, before + 3)
        stop_and_drain(page)
    setup.fetch(device, "restarted.tgr")
    code, report = setup.verify("restarted.tgr")
    assert code == 0, {k: report[k] for k in ("status", "missing", "problems", "final_index")}
    assert report["missing"] == []
    assert report["problems"] == []  # no chunk stored twice or out of order


def test_a_receipt_signed_by_another_relay_is_not_counted(setup_without_udp: Setup) -> None:
    setup = setup_without_udp
    link = setup.invite()
    other = LocalRelay(setup.workdir / "other")  # a key that is not the pinned one
    forged = RelaySigner(other.key_path)
    with chromium_page(setup.workdir / "profile") as page:
        set_up_phone(page, link, setup.contact)

        def answer_with_another_key(route: "Route") -> None:
            response = route.fetch()
            body = response.body()
            route.fulfill(response=response, body=forged.resign(body) if len(body) == 160 else body)

        page.route("**/v1/recordings/**/chunks", answer_with_another_key)
        start_recording(page)
        problem = page.locator("#problem")
        page.wait_for_function(
            "() => document.getElementById('problem').textContent.includes('not the one')",
            timeout=30_000,
        )
        assert receipted(page) == 0
        assert "not the one you set up" in (problem.text_content() or "")


class RelaySigner:
    """Re-signs the relay's receipts with another relay's key (a relay that is not the
    one the phone was set up with)."""

    def __init__(self, key_path: Path) -> None:
        self.identity = RelayIdentity.load(key_path, no_passphrase)

    def resign(self, body: bytes) -> bytes:
        receipt = Receipt.parse(body)
        relay_key = self.identity.public.raw
        unsigned = dataclasses.replace(receipt, relay_key=relay_key)
        signed = dataclasses.replace(
            unsigned, signature=self.identity.sign(unsigned.signature_message())
        )
        return bytes(signed)


def spki_pin(certificate: Path) -> str:
    """Chromium's --ignore-certificate-errors-spki-list value for a PEM certificate."""
    loaded = x509.load_pem_x509_certificate(certificate.read_bytes())
    spki = loaded.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


def test_over_https_the_page_is_a_secure_context_and_records(tmp_path: Path) -> None:
    chromium_or_skip()
    certificates = make_certificates(tmp_path / "tls")
    made = run_testigo(
        "keygen", "--role", "contact", "-o", "contact.key", "--no-passphrase", cwd=tmp_path
    )
    assert made.code == 0, made.err
    contact = RecipientKey.parse(json.loads((tmp_path / "contact.key").read_text())["public"])
    trust = (f"--ignore-certificate-errors-spki-list={spki_pin(certificates.cert)}",)
    with LocalRelay(tmp_path / "relay", tls=(certificates.cert, certificates.key)) as relay:
        assert relay.url.startswith("https://")
        setup = Setup(relay, tmp_path, contact, {"SSL_CERT_FILE": str(certificates.ca)})
        with chromium_page(tmp_path / "profile", extra_args=trust) as page:
            device = set_up_phone(page, relay.invite()["link"], contact)
            assert page.evaluate("() => window.isSecureContext && location.protocol") == "https:"
            start_recording(page)
            wait_for_sealed(page, chunks=4)
            stop_and_drain(page)
        setup.fetch(device, "tls.tgr")
        code, report = setup.verify("tls.tgr")
    assert code == 0, report


def test_location_is_sealed_and_never_reaches_the_relay_in_the_clear(setup: Setup) -> None:
    link = setup.invite()
    where = (19.432608, -99.133209)
    with chromium_page(setup.workdir / "profile", location=where) as page:
        device = set_up_phone(page, link, setup.contact)
        page.check("#location")  # opt-in: off unless the person turns it on
        start_recording(page)
        wait_for_sealed(page, seconds=3)
        stop_and_drain(page)
    setup.fetch(device, "where.tgr")
    code, report = setup.verify("where.tgr")
    assert code == 0, report
    assert isinstance(report["location_updates"], int)
    assert 1 <= report["location_updates"] <= 5  # at most one a second
    stored = b"".join(p.read_bytes() for p in setup.relay.storage.rglob("*") if p.is_file())
    for text in ("19.43", "-99.13", "latitude", '"lat"'):
        assert text.encode() not in stored
    decrypted = run_testigo(
        "decrypt", "where.tgr", "--identity", "contact.key", "-o", "where.mp4", cwd=setup.workdir
    )
    assert decrypted.code == 0, decrypted.err
    metadata = (setup.workdir / "where.metadata.jsonl").read_text()
    assert '"lat": 19.432608' in metadata or '"lat":19.432608' in metadata, metadata


def test_a_reload_mid_recording_loses_nothing_sealed(setup: Setup) -> None:
    """The recording in progress ends with the page (its file key lived in the page's
    memory only), and everything it sealed reaches the relay, with no gap."""
    link = setup.invite()
    with chromium_page(setup.workdir / "profile") as page:
        device = set_up_phone(page, link, setup.contact)
        recording = start_recording(page)
        wait_for_sealed(page, chunks=6)
        page.reload()
        page.locator("body[data-ready=true]").wait_for()
        wait_until_drained(page)
    setup.fetch(device, "reloaded.tgr")
    code, report = setup.verify("reloaded.tgr")
    assert report["recording_id"] == recording
    assert code == 10, report  # interrupted: no final chunk, the key went with the page
    assert report["missing"] == []
    assert report["problems"] == []
    assert isinstance(report["interrupted_after"], int)
    assert report["interrupted_after"] >= 5
