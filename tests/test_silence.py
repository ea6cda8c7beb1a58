"""A recording that stops without its final chunk (PROTOCOL.md §12, §13): the silence
timers, the silence alert and the live SILENT message, in process (the real relay app on
loopback, a real webhook receiver, the real `watch()`), with short silence settings.

Nothing sleeps to synchronise: tests wait on the receiver's queue and the watcher's
events. That a recording which ended sends no silence alert is shown by a later
recording's silence alert: both wait the same time after their last chunk.
"""

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from pytest_aiohttp import AiohttpServer

from relay_server import operator
from relay_server.app import create_app
from relay_server.settings import Settings
from relay_server.silence import Silences
from relay_server.state import ALERTS, LIVE, RELAY, SETTINGS
from stream.contact.watch import (
    RecordingEnded,
    RecordingResumed,
    RecordingSilent,
    RecordingStarted,
)
from tests.relay_fixtures import MEDIA_TYPE
from tests.test_live import Events, LiveRelay, start_watch
from vault import ChunkKind, DeviceIdentity, RecipientIdentity, RecordingSealer, RelayIdentity

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(60)]

WAIT_S = 20.0
ALERT_SILENCE_S = 0.6
LIVE_SILENCE_S = 0.3
PUBLIC_URL = "https://relay.example.org"
LOCATION = b'{"type": "location", "lat": 40.41678, "lon": -3.70379}'
SILENT_KEYS = {
    "testigo-alert",
    "event",
    "last_data",
    "last_data_ms",
    "silent_seconds",
    "safe_seconds",
    "device",
    "device_fingerprint",
    "relay",
    "watch",
    "fetch",
    "instructions",
}


# -- the timers --


async def test_a_silence_is_reported_once_and_a_touch_postpones_it() -> None:
    fired: asyncio.Queue[tuple[str, float]] = asyncio.Queue()
    silences: Silences[str] = Silences(0.2, lambda k, s: fired.put_nowait((k, s)), max_keys=2)
    loop = asyncio.get_running_loop()
    started = loop.time()
    silences.touch("a")
    silences.touch("b")
    silences.forget("b")  # ended: never reported
    await asyncio.sleep(0.1)  # a gap in the data, not a synchronisation
    silences.touch("a")
    async with asyncio.timeout(WAIT_S):
        key, silent = await fired.get()
    assert key == "a"
    assert silent >= 0.2
    assert loop.time() - started >= 0.3  # the touch at 0.1 s moved it
    assert "a" not in silences
    assert len(silences) == 0
    silences.touch("a")  # data again: watched again
    silences.touch("c")
    silences.touch("d")  # max_keys 2: the oldest ("a") is dropped
    assert "a" not in silences
    assert len(silences) == 2
    silences.close()
    assert len(silences) == 0
    assert fired.empty()


async def test_zero_seconds_turns_silence_off() -> None:
    silences: Silences[str] = Silences(0.0, lambda k, s: None, max_keys=2)
    silences.touch("a")
    assert not silences.enabled
    assert len(silences) == 0


# -- the relay --


@dataclass
class Hook:
    url: str
    received: asyncio.Queue[dict[str, object]]

    async def next(self) -> dict[str, object]:
        async with asyncio.timeout(WAIT_S):
            return await self.received.get()


@pytest_asyncio.fixture
async def hook(aiohttp_server: AiohttpServer) -> Hook:
    received: asyncio.Queue[dict[str, object]] = asyncio.Queue()

    async def receive(request: web.Request) -> web.Response:
        received.put_nowait(await request.json())
        return web.Response(status=204)

    app = web.Application()
    app.add_routes([web.post("/hook", receive)])
    server = await aiohttp_server(app)
    return Hook(str(server.make_url("/hook")), received)


@pytest_asyncio.fixture
async def relay(
    aiohttp_server: AiohttpServer,
    relay_settings: Settings,
    relay_identity: RelayIdentity,
    device_identity: DeviceIdentity,
    hook: Hook,
) -> AsyncIterator[LiveRelay]:
    settings = relay_settings.replace(
        public_url=PUBLIC_URL,
        alert_dedupe_seconds=0,
        alert_silence_seconds=ALERT_SILENCE_S,
        live_silence_seconds=LIVE_SILENCE_S,
        alert_retry_seconds=0.01,
    )
    key = device_identity.public
    assert await operator.enroll(settings, key)
    assert await operator.add_alert_target(settings, key, "webhook", hook.url)
    token = await operator.mint_token(settings, key)
    server = await aiohttp_server(create_app(settings, relay=relay_identity))
    async with aiohttp.ClientSession() as http:
        yield LiveRelay(server, str(server.make_url("")).rstrip("/"), token, key, http)


class Recording:
    def __init__(
        self, relay: LiveRelay, device: DeviceIdentity, recipient: RecipientIdentity
    ) -> None:
        self.relay = relay
        self.sealer = RecordingSealer.start(device, [recipient.public], MEDIA_TYPE)
        self.id = self.sealer.header.recording_id

    async def start(self) -> None:
        await self.relay.post_header(bytes(self.sealer.header))
        await self.send(ChunkKind.INIT, b"ftyp-moov")
        await self.send(ChunkKind.METADATA, LOCATION)

    async def send(self, kind: ChunkKind, payload: bytes = b"moof-mdat" * 50) -> None:
        await self.relay.post_chunk(self.id, bytes(self.sealer.seal(kind, payload)))

    async def end(self) -> None:
        await self.relay.post_chunk(self.id, bytes(self.sealer.finish(b'{"reason": "stop"}')))


# -- tests --


async def test_a_recording_that_goes_silent_alerts_once_per_silence_and_the_watcher_sees_it(
    relay: LiveRelay,
    hook: Hook,
    device_identity: DeviceIdentity,
    recipient: RecipientIdentity,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="testigo.relay")
    alerts = relay.server.app[ALERTS]
    device = device_identity.public.raw
    events = Events()
    watching = start_watch(relay, recipient, None, events)
    recording = Recording(relay, device_identity, recipient)
    await recording.start()
    await recording.send(ChunkKind.MEDIA)
    assert (await hook.next())["event"] == "recording_started"
    await events.next_of(RecordingStarted)

    # the phone goes silent: first the watcher is told, then the contacts are alerted
    silent = await events.next_of(RecordingSilent)
    assert silent.recording_id == recording.id.hex()
    assert silent.silent_ms >= LIVE_SILENCE_S * 1000
    notice = await hook.next()
    assert set(notice) == SILENT_KEYS
    assert notice["event"] == "recording_silent"
    assert notice["device"] == str(relay.device)
    assert notice["relay"] == PUBLIC_URL
    assert notice["fetch"] == f"testigo fetch --relay {PUBLIC_URL} --device {relay.device}"
    silent_s, safe_s = notice["silent_seconds"], notice["safe_seconds"]
    assert isinstance(silent_s, float)
    assert silent_s >= ALERT_SILENCE_S
    assert isinstance(safe_s, float)
    assert 0 <= safe_s < WAIT_S
    sent = json.dumps(notice)
    for leak in ["40.41678", "3.70379", "location", relay.token, str(recipient.public)]:
        assert leak not in sent
    assert recording.id.hex() not in sent
    # once per silence: nothing is left to fire until data comes again
    assert not alerts.watching(device, recording.id)

    # the phone comes back: the watcher says so; then it goes silent again: one more alert
    await recording.send(ChunkKind.MEDIA)
    resumed = await events.next_of(RecordingResumed)
    assert resumed.silent_ms >= silent.silent_ms
    assert alerts.watching(device, recording.id)
    await events.next_of(RecordingSilent)
    again = await hook.next()
    assert again["event"] == "recording_silent"

    # it ends: nothing is watched any more
    await recording.send(ChunkKind.MEDIA)
    await recording.end()
    ended = await events.next_of(RecordingEnded)
    assert ended.final
    await asyncio.wait_for(watching, WAIT_S)
    assert not alerts.watching(device, recording.id)
    assert relay.server.app[LIVE].current(device) is None

    logged = caplog.text
    assert "event=alert.silence" in logged
    assert "event=live.silent" in logged
    assert relay.token not in logged
    assert "40.41678" not in logged


async def test_a_recording_that_ends_normally_sends_no_silence_alert(
    relay: LiveRelay, hook: Hook, device_identity: DeviceIdentity, recipient: RecipientIdentity
) -> None:
    ended = Recording(relay, device_identity, recipient)
    await ended.start()
    await ended.send(ChunkKind.MEDIA)
    await ended.end()
    assert (await hook.next())["event"] == "recording_started"
    # a second recording, started after the first ended, goes silent: its alert comes
    # ALERT_SILENCE_S after its last chunk, so later than the first one's would have
    cut = Recording(relay, device_identity, recipient)
    await cut.start()
    assert (await hook.next())["event"] == "recording_started"
    notice = await hook.next()
    assert notice["event"] == "recording_silent"
    safe_s = notice["safe_seconds"]
    assert isinstance(safe_s, float)
    assert 0 <= safe_s < WAIT_S
    alerts = relay.server.app[ALERTS]
    async with asyncio.timeout(WAIT_S):
        await alerts.wait_idle()
    assert hook.received.empty()
    assert alerts.sent == 3


async def test_silence_alerts_can_be_turned_off(
    aiohttp_server: AiohttpServer,
    relay_settings: Settings,
    relay_identity: RelayIdentity,
    device_identity: DeviceIdentity,
    recipient: RecipientIdentity,
) -> None:
    settings = relay_settings.replace(alert_silence_seconds=0, live_silence_seconds=0)
    key = device_identity.public
    assert await operator.enroll(settings, key)
    server = await aiohttp_server(create_app(settings, relay=relay_identity))
    async with aiohttp.ClientSession() as http:
        relay = LiveRelay(server, str(server.make_url("")).rstrip("/"), "", key, http)
        recording = Recording(relay, device_identity, recipient)
        await recording.start()
        assert not server.app[ALERTS].watching(key.raw, recording.id)


async def test_after_a_restart_only_recordings_that_send_again_are_watched(
    aiohttp_server: AiohttpServer,
    relay: LiveRelay,
    hook: Hook,
    device_identity: DeviceIdentity,
    recipient: RecipientIdentity,
) -> None:
    settings = relay.server.app[SETTINGS]
    ended = Recording(relay, device_identity, recipient)
    await ended.start()
    media = bytes(ended.sealer.seal(ChunkKind.MEDIA, b"moof-mdat"))
    await relay.post_chunk(ended.id, media)
    await ended.end()
    cut = Recording(relay, device_identity, recipient)
    await cut.start()
    cut_media = bytes(cut.sealer.seal(ChunkKind.MEDIA, b"moof-mdat"))
    await relay.post_chunk(cut.id, cut_media)
    await relay.server.close()  # the relay stops before the cut recording's alert

    server = await aiohttp_server(create_app(settings, relay=relay.server.app[RELAY]))
    again = LiveRelay(server, str(server.make_url("")).rstrip("/"), "", relay.device, relay.http)
    alerts = server.app[ALERTS]
    device = relay.device.raw
    assert not alerts.watching(device, cut.id)  # silent at the restart: not watched
    # a chunk of the ended recording sent again (its receipt was lost): still ended
    await again.post_chunk(ended.id, media)
    assert not alerts.watching(device, ended.id)
    # the cut recording's device sends again: watched, and alerted when it stops
    await again.post_chunk(cut.id, cut_media)
    assert alerts.watching(device, cut.id)
    received: list[object] = []
    while "recording_silent" not in received:
        received.append((await hook.next())["event"])
    assert received.count("recording_silent") == 1
    async with asyncio.timeout(WAIT_S):
        await alerts.wait_idle()
    assert hook.received.empty()
