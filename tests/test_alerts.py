"""Alerts end to end: the real relay app, a real SMTP server (aiosmtpd) and a real HTTP
receiver on loopback. Nothing sleeps: tests wait on queues and on `Alerts.wait_idle`."""

import asyncio
import email
import email.policy
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestServer
from aiosmtpd.smtp import SMTP, Envelope, Session
from pytest_aiohttp import AiohttpServer

from relay_server import operator
from relay_server.alerts import Alerts
from relay_server.app import create_app
from relay_server.enrollment import AlertKind, AlertTarget, AlertTargetError, Enrollment
from relay_server.settings import Settings
from relay_server.state import ALERTS
from relay_server.storage.fs import FilesystemStorage
from tests.relay_fixtures import MEDIA_TYPE
from vault import (
    ChunkKind,
    DeviceIdentity,
    DeviceKey,
    RecipientIdentity,
    RecordingSealer,
    RelayIdentity,
)
from vault import errors as vault_errors

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(60)]

MakeServer = AiohttpServer
WAIT_S = 20.0
INGEST_S = 10.0
PUBLIC_URL = "https://relay.example.org"
LOCATION = b'{"type": "location", "lat": 40.41678, "lon": -3.70379}'
SECRET_PAYLOAD = b"ftyp-moov secret media"
_T = TypeVar("_T")
NOTICE_KEYS = {
    "testigo-alert",
    "event",
    "started",
    "started_ms",
    "device",
    "device_fingerprint",
    "relay",
    "watch",
    "instructions",
}


# -- a real SMTP server --


@dataclass
class Inbox:
    """An aiosmtpd handler that queues every message it accepts."""

    messages: asyncio.Queue[Envelope] = field(default_factory=asyncio.Queue)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.messages.put_nowait(envelope)
        return "250 OK"


@dataclass
class SmtpServer:
    inbox: Inbox
    port: int


@pytest_asyncio.fixture
async def smtp_server() -> AsyncIterator[SmtpServer]:
    inbox = Inbox()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(inbox), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield SmtpServer(inbox, port)
    finally:
        server.close()
        await server.wait_closed()


# -- a real HTTP receiver --


@dataclass
class Receiver:
    url: str
    received: asyncio.Queue[dict[str, object]]
    failures: asyncio.Queue[int]
    hanging_entered: asyncio.Event
    release: asyncio.Event


@pytest_asyncio.fixture
async def receiver(aiohttp_server: MakeServer) -> AsyncIterator[Receiver]:
    received: asyncio.Queue[dict[str, object]] = asyncio.Queue()
    failures: asyncio.Queue[int] = asyncio.Queue()
    entered, release = asyncio.Event(), asyncio.Event()

    async def hook(request: web.Request) -> web.Response:
        assert request.content_type == "application/json"
        received.put_nowait(await request.json())
        return web.Response(status=204)

    async def broken(request: web.Request) -> web.Response:
        await request.read()
        failures.put_nowait(500)
        return web.Response(status=500)

    async def hanging(request: web.Request) -> web.Response:
        entered.set()
        await release.wait()
        return web.Response(status=200)

    app = web.Application()
    app.add_routes(
        [web.post("/hook", hook), web.post("/broken", broken), web.post("/hanging", hanging)]
    )
    server = await aiohttp_server(app)
    yield Receiver(str(server.make_url("")).rstrip("/"), received, failures, entered, release)
    release.set()


# -- the relay --


@dataclass
class AlertingRelay:
    server: TestServer
    url: str
    http: aiohttp.ClientSession
    device: DeviceKey

    async def post(self, path: str, data: bytes) -> int:
        async with self.http.post(self.url + path, data=data) as response:
            await response.read()
            return response.status


async def start_relay(
    aiohttp_server: MakeServer, settings: Settings, relay: RelayIdentity, device: DeviceKey
) -> AsyncIterator[AlertingRelay]:
    server = await aiohttp_server(create_app(settings, relay=relay))
    async with aiohttp.ClientSession() as http:
        yield AlertingRelay(server, str(server.make_url("")).rstrip("/"), http, device)


def alert_settings(base: Settings, smtp_port: int = 25) -> Settings:
    return base.replace(
        public_url=PUBLIC_URL,
        alert_watch_url="https://example.org/how-to-watch",
        alert_smtp_host="127.0.0.1",
        alert_smtp_port=smtp_port,
        alert_smtp_security="none",
        alert_email_from="relay@example.org",
        alert_attempts=2,
        alert_retry_seconds=0.01,
        alert_timeout_seconds=5.0,
    )


async def upload_recording(
    relay: AlertingRelay, device: DeviceIdentity, recipient: RecipientIdentity
) -> bytes:
    """Upload a whole recording (init, a location, media, end) over HTTPS; its header."""
    with RecordingSealer.start(device, [recipient.public], MEDIA_TYPE) as sealer:
        header = bytes(sealer.header)
        assert await relay.post("/v1/headers", header) == 200
        path = f"/v1/recordings/{relay.device}/{sealer.header.recording_id.hex()}/chunks"
        chunks = [
            sealer.seal(ChunkKind.INIT, SECRET_PAYLOAD),
            sealer.seal(ChunkKind.METADATA, LOCATION),
            sealer.seal(ChunkKind.MEDIA, SECRET_PAYLOAD * 100),
            sealer.finish(),
        ]
        for chunk in chunks:
            assert await relay.post(path, bytes(chunk)) == 200
    return header


async def next_item(queue: "asyncio.Queue[_T]") -> _T:
    async with asyncio.timeout(WAIT_S):
        return await queue.get()


# -- tests --


async def test_a_new_recording_alerts_by_email_and_webhook_once(
    aiohttp_server: MakeServer,
    relay_settings: Settings,
    relay_identity: RelayIdentity,
    device_identity: DeviceIdentity,
    recipient: RecipientIdentity,
    smtp_server: SmtpServer,
    receiver: Receiver,
) -> None:
    settings = alert_settings(relay_settings, smtp_server.port)
    key = device_identity.public
    assert await operator.enroll(settings, key)
    token = await operator.mint_token(settings, key)
    assert await operator.add_alert_target(settings, key, "email", "ana@example.org")
    assert await operator.add_alert_target(settings, key, "webhook", receiver.url + "/hook")
    async for relay in start_relay(aiohttp_server, settings, relay_identity, key):
        before = time.time_ns() // 1_000_000
        header = await upload_recording(relay, device_identity, recipient)
        after = time.time_ns() // 1_000_000
        notice = await next_item(receiver.received)
        envelope = await next_item(smtp_server.inbox.messages)

        # the same header again (a device reconnecting): no second alert
        assert await relay.post("/v1/headers", header) == 200
        alerts = relay.server.app[ALERTS]
        async with asyncio.timeout(WAIT_S):
            await alerts.wait_idle()
        assert receiver.received.empty()
        assert smtp_server.inbox.messages.empty()
        assert (alerts.sent, alerts.failed) == (2, 0)

    watch = f"testigo watch --relay {PUBLIC_URL} --device {key}"
    assert isinstance(notice, dict)
    assert set(notice) == NOTICE_KEYS
    assert notice["event"] == "recording_started"
    assert notice["device"] == str(key)
    assert notice["device_fingerprint"] == key.fingerprint
    assert notice["watch"] == watch
    assert notice["relay"] == PUBLIC_URL
    assert notice["instructions"] == "https://example.org/how-to-watch"
    started_ms = notice["started_ms"]
    assert isinstance(started_ms, int)
    assert before <= started_ms <= after

    assert isinstance(envelope, Envelope)
    assert envelope.mail_from == "relay@example.org"
    assert envelope.rcpt_tos == ["ana@example.org"]
    assert isinstance(envelope.content, bytes)
    message = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert key.fingerprint in str(message["Subject"])
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    text = body.get_content()
    assert isinstance(text, str)
    assert watch in text
    assert key.fingerprint in text

    recording_id = header[11:27].hex()
    everything = [envelope.content.decode(), json.dumps(notice)]
    for leak in ["40.41678", "3.70379", "location", token, str(recipient.public), recording_id]:
        for sent in everything:
            assert leak not in sent
    assert SECRET_PAYLOAD not in envelope.content


async def test_a_failing_or_hanging_webhook_does_not_hold_up_ingest(
    aiohttp_server: MakeServer,
    relay_settings: Settings,
    relay_identity: RelayIdentity,
    device_identity: DeviceIdentity,
    recipient: RecipientIdentity,
    receiver: Receiver,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # a webhook that hangs for up to 30 s: if ingest waited for it, the uploads would time out
    settings = alert_settings(relay_settings).replace(
        alert_smtp_host="", alert_timeout_seconds=30, alert_dedupe_seconds=0
    )
    key = device_identity.public
    assert await operator.enroll(settings, key)
    broken = receiver.url + "/broken?secret=hook-secret"
    for target in (broken, receiver.url + "/hanging", receiver.url + "/hook"):
        assert await operator.add_alert_target(settings, key, "webhook", target)
    assert await operator.add_alert_target(settings, key, "email", "ana@example.org")
    caplog.set_level(logging.INFO, logger="testigo.relay")
    async for relay in start_relay(aiohttp_server, settings, relay_identity, key):
        async with asyncio.timeout(INGEST_S):
            await upload_recording(relay, device_identity, recipient)
        async with asyncio.timeout(WAIT_S):
            await receiver.hanging_entered.wait()
        # a second recording is stored and receipted while the first one's webhook hangs
        async with asyncio.timeout(INGEST_S):
            await upload_recording(relay, device_identity, recipient)
        assert not receiver.release.is_set()
        for _ in range(2 * settings.alert_attempts):  # two recordings, bounded retries
            assert await next_item(receiver.failures) == 500
        receiver.release.set()
        alerts = relay.server.app[ALERTS]
        async with asyncio.timeout(WAIT_S):
            await alerts.wait_idle()
        assert receiver.failures.empty()
        assert receiver.received.qsize() == 2  # the working webhook, once per recording
        # per recording: broken and email (no SMTP server configured) gave up
        assert (alerts.sent, alerts.failed) == (4, 4)

    failed = [r.getMessage() for r in caplog.records if "event=alert.failed" in r.getMessage()]
    assert len(failed) == 4 * settings.alert_attempts
    assert sum("gave_up=True" in line for line in failed) == 4
    assert any('error="HTTP 500"' in line for line in failed)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for secret in ["hook-secret", "/broken", receiver.url, "ana@example.org"]:
        assert secret not in logged


async def test_alert_targets_are_checked_and_kept_in_the_device_record(
    relay_settings: Settings, tmp_path: Path
) -> None:
    key = DeviceIdentity.generate().public
    with pytest.raises(vault_errors.TestigoError, match="not enrolled"):
        await operator.add_alert_target(relay_settings, key, "email", "ana@example.org")
    assert await operator.enroll(relay_settings, key)
    token = await operator.mint_token(relay_settings, key)
    for kind, target in [
        ("sms", "+34600000000"),
        ("webhook", "ftp://example.org/x"),
        ("webhook", "https://"),
        ("webhook", "https://example.org/a b"),
        ("email", "not-an-address"),
        ("email", "two@example.org, three@example.org"),
        ("email", "ana@example.org\r\nBcc: eve@example.org"),
    ]:
        with pytest.raises(AlertTargetError):
            await operator.add_alert_target(relay_settings, key, kind, target)
    assert await operator.add_alert_target(relay_settings, key, "webhook", "https://h.example/x")
    assert not await operator.add_alert_target(
        relay_settings, key, "webhook", "https://h.example/x"
    )
    assert await operator.add_alert_target(relay_settings, key, "email", " ana@example.org ")

    storage = FilesystemStorage(relay_settings.storage)
    try:
        enrollment = Enrollment(storage)
        assert await enrollment.alert_targets(key.raw) == (
            AlertTarget(AlertKind.WEBHOOK, "https://h.example/x"),
            AlertTarget(AlertKind.EMAIL, "ana@example.org"),
        )
        assert await enrollment.check_token(key.raw, token)  # tokens are kept alongside
    finally:
        await storage.close()


async def test_alerts_are_deduplicated_and_capped_per_device(
    relay_settings: Settings, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    settings = alert_settings(relay_settings).replace(alert_smtp_host="", alert_timeout_seconds=30)
    noisy, quiet = DeviceIdentity.generate().public, DeviceIdentity.generate().public
    for key, path in ((noisy, "/hanging"), (quiet, "/hook")):
        assert await operator.enroll(settings, key)
        assert await operator.add_alert_target(settings, key, "webhook", receiver.url + path)
    caplog.set_level(logging.INFO, logger="testigo.relay")
    storage = FilesystemStorage(settings.storage)
    try:
        async with aiohttp.ClientSession() as session:
            alerts = Alerts(settings, Enrollment(storage), session)
            alerts.recording_started(noisy, 1_000_000)
            alerts.recording_started(noisy, 1_030_000)  # 30 s later: the same alert again
            assert "event=alert.deduplicated" in caplog.text
            # past the window, but its earlier alerts still hang: at most 4 at once
            for minute in range(1, 7):
                alerts.recording_started(noisy, 1_000_000 + minute * 61_000)
            assert caplog.text.count("why=device_backlog") == 3  # minutes 4, 5 and 6
            alerts.recording_started(quiet, 1_000_000)  # another device is not held up
            async with asyncio.timeout(WAIT_S):
                notice = await receiver.received.get()
            assert notice["device"] == str(quiet)
            receiver.release.set()
            async with asyncio.timeout(WAIT_S):
                await alerts.wait_idle()
    finally:
        await storage.close()
