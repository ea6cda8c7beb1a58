"""Live viewing end to end: a real relay on loopback, a real uploader, real watchers.

The relay is the real app (create_app, filesystem storage in tmp) on a TCP port; the
device side seals chunks of a real H.264 recording (capture.encoder with the synthetic
source) as it sends them, over an aiortc data channel or the HTTPS routes; watchers are
`stream.contact.watch.watch` or a raw WebSocket. Every wait has a time limit; nothing sleeps.
"""

import asyncio
import io
import json
import os
import statistics
import struct
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import aiohttp
import av
import pytest
import pytest_asyncio
from aiohttp.test_utils import TestServer
from pytest_aiohttp import AiohttpServer

from capture.codecs import media_type
from capture.encoder import CaptureConfig, encode_source
from capture.segments import MediaSegment, SegmentKind
from capture.sources import SyntheticSource
from relay_server import operator
from relay_server.app import create_app
from relay_server.settings import Settings
from relay_server.state import LIVE
from stream.contact.watch import (
    BacklogDropped,
    ChunkReceived,
    Connected,
    Disconnected,
    GapDetected,
    LocationUpdate,
    RecordingEnded,
    RecordingStarted,
    WatchEvent,
    WatchRefused,
    WatchSummary,
    live_url,
    watch,
)
from stream.phone.datachannel import DataChannelClient, json_signaling
from tests.relay_fixtures import MEDIA_TYPE
from vault import (
    Chunk,
    ChunkKind,
    DeviceIdentity,
    DeviceKey,
    NotForMeError,
    RecipientIdentity,
    RecordingSealer,
    RelayIdentity,
)
from vault.wire.datachannel import ReceiptMessage
from vault.wire.live import LiveType

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(120)]

MakeServer = AiohttpServer
WAIT_S = 20.0
FPS = 10
FRAGMENT_S = 0.5
SECONDS = 3
FRAMES_PER_FRAGMENT = round(FPS * FRAGMENT_S)
MAX_SLOW_CHUNKS = 800
LOCATION = {"type": "location", "lat": 40.41678, "lon": -3.70379, "accuracy_m": 12.5}
_E = TypeVar("_E")


# -- media and sealing --


@pytest.fixture(scope="session")
def segments() -> list[MediaSegment]:
    """A real 3 s, 160x96, 10 fps H.264 fMP4: the init segment and six 0.5 s fragments."""
    config = CaptureConfig(
        width=160, height=96, fps=FPS, bitrate=100_000, fragment_seconds=FRAGMENT_S
    )
    source = SyntheticSource(160, 96, FPS, audio=False, seconds=SECONDS, realtime=False)
    produced = list(encode_source(source, config))
    assert produced[0].kind is SegmentKind.INIT
    assert len(produced) == 1 + SECONDS / FRAGMENT_S
    return produced


def count_frames(data: bytes) -> int:
    """Video frames PyAV decodes from an MP4 in memory."""
    with av.open(io.BytesIO(data), mode="r") as container:
        return sum(1 for _ in container.decode(video=0))


@dataclass
class LiveRecordingPlan:
    """Seals a recording chunk by chunk, at send time (so device_time_ms is 'now')."""

    sealer: RecordingSealer
    header: bytes
    recording_id: bytes
    segments: list[MediaSegment]

    @classmethod
    def start(
        cls, device: DeviceIdentity, recipient: RecipientIdentity, segments: list[MediaSegment]
    ) -> "LiveRecordingPlan":
        sealer = RecordingSealer.start(device, [recipient.public], media_type(segments[0].data))
        header = sealer.header
        return cls(sealer, bytes(header), header.recording_id, segments)

    def init(self) -> bytes:
        return bytes(self.sealer.seal(ChunkKind.INIT, self.segments[0].data))

    def location(self) -> bytes:
        return bytes(self.sealer.seal(ChunkKind.METADATA, json.dumps(LOCATION).encode()))

    def fragment(self, number: int) -> bytes:
        return bytes(self.sealer.seal(ChunkKind.MEDIA, self.segments[number].data))

    def end(self) -> bytes:
        return bytes(self.sealer.finish(b'{"reason": "stopped"}'))

    def one_by_one(self) -> Iterator[bytes]:
        """Every chunk, each sealed only when the consumer asks for it."""
        yield self.init()
        yield self.location()
        for number in range(1, len(self.segments)):
            yield self.fragment(number)
        yield self.end()

    def all_chunks(self) -> list[bytes]:
        return list(self.one_by_one())


# -- the relay and the uploader --


@dataclass
class LiveRelay:
    server: TestServer
    url: str
    token: str
    device: DeviceKey
    http: aiohttp.ClientSession

    async def post_header(self, header: bytes) -> None:
        async with self.http.post(self.url + "/v1/headers", data=header) as response:
            assert response.status == 200, await response.text()

    async def post_chunk(self, recording_id: bytes, chunk: bytes) -> bytes:
        url = f"{self.url}/v1/recordings/{self.device}/{recording_id.hex()}/chunks"
        async with self.http.post(url, data=chunk) as response:
            assert response.status == 200, await response.text()
            return await response.read()


async def start_relay(
    aiohttp_server: MakeServer,
    settings: Settings,
    relay: RelayIdentity,
    device: DeviceIdentity,
) -> AsyncIterator[LiveRelay]:
    key = device.public
    assert await operator.enroll(settings, key)
    token = await operator.mint_token(settings, key)
    server = await aiohttp_server(create_app(settings, relay=relay))
    async with aiohttp.ClientSession() as http:
        yield LiveRelay(server, str(server.make_url("")).rstrip("/"), token, key, http)


@pytest_asyncio.fixture
async def relay(
    aiohttp_server: MakeServer,
    relay_settings: Settings,
    relay_identity: RelayIdentity,
    device_identity: DeviceIdentity,
) -> AsyncIterator[LiveRelay]:
    async for running in start_relay(
        aiohttp_server, relay_settings, relay_identity, device_identity
    ):
        yield running


# -- watchers --


class Events:
    """on_event for watch(): keeps every event and lets a test wait for the next one."""

    def __init__(self) -> None:
        self.seen: list[WatchEvent] = []
        self._queue: asyncio.Queue[WatchEvent] = asyncio.Queue()

    def __call__(self, event: WatchEvent) -> None:
        self.seen.append(event)
        self._queue.put_nowait(event)

    async def next_of(self, kind: type[_E], timeout: float = WAIT_S) -> _E:
        async with asyncio.timeout(timeout):
            while True:
                event = await self._queue.get()
                if isinstance(event, kind):
                    return event

    def of(self, kind: type[_E]) -> list[_E]:
        return [e for e in self.seen if isinstance(e, kind)]


def start_watch(
    relay: LiveRelay,
    identity: RecipientIdentity,
    output: Path | None,
    events: Events,
    *,
    token: str | None = None,
    max_recordings: int | None = 1,
    reconnect: bool = True,
) -> "asyncio.Task[WatchSummary]":
    return asyncio.ensure_future(
        watch(
            relay.url,
            relay.token if token is None else token,
            relay.device,
            [identity],
            output,
            on_event=events,
            max_recordings=max_recordings,
            reconnect=reconnect,
        )
    )


async def finished(task: "asyncio.Task[WatchSummary]") -> WatchSummary:
    async with asyncio.timeout(WAIT_S):
        return await task


# -- tests --


async def test_watcher_follows_a_recording_sent_over_webrtc(
    relay: LiveRelay,
    device_identity: DeviceIdentity,
    recipient: RecipientIdentity,
    segments: list[MediaSegment],
    tmp_path: Path,
) -> None:
    output = tmp_path / "live.mp4"
    events = Events()
    watching = start_watch(relay, recipient, output, events)
    await events.next_of(Connected)

    async def post_offer(body: bytes) -> bytes:
        async with relay.http.post(relay.url + "/v1/webrtc/offer", data=body) as response:
            assert response.status == 200
            return await response.read()

    plan = LiveRecordingPlan.start(device_identity, recipient, segments)
    channel = await DataChannelClient.connect(json_signaling(post_offer))
    try:
        assert await channel.hello(plan.header) == []
        started = await events.next_of(RecordingStarted)
        assert started.recording_id == plan.recording_id.hex()
        assert started.output == output
        sealed: list[bytes] = []
        for index, chunk in enumerate(plan.one_by_one()):  # sealed just before it is sent
            sealed.append(chunk)
            [answer] = await channel.upload([(index, chunk)])
            assert isinstance(answer, ReceiptMessage)
            received = await events.next_of(ChunkReceived)  # one at a time: in step with ingest
            assert received.index == index
    finally:
        await channel.close()
    summary = await finished(watching)

    [recording] = summary.recordings
    assert recording.complete
    assert recording.chunks == len(sealed) == 2 + len(segments)
    assert recording.gaps == []
    assert recording.fragments == len(segments) - 1
    written = output.read_bytes()
    assert written == b"".join(s.data for s in segments)
    assert count_frames(written) == FPS * SECONDS
    [location] = events.of(LocationUpdate)
    assert (location.lat, location.lon, location.accuracy_m) == (40.41678, -3.70379, 12.5)
    [ended] = events.of(RecordingEnded)
    assert (ended.complete, ended.reason) == (True, "stopped")
    delays = [e.delay_ms for e in events.of(ChunkReceived)]
    assert all(0 <= d < 5_000 for d in delays), delays
    print(f"live delay seal->watcher over WebRTC: median {statistics.median(delays)} ms, "
          f"max {max(delays)} ms")  # fmt: skip


async def test_late_joiner_starts_at_init_and_latest_fragment(
    relay: LiveRelay,
    device_identity: DeviceIdentity,
    recipient: RecipientIdentity,
    segments: list[MediaSegment],
    tmp_path: Path,
) -> None:
    plan = LiveRecordingPlan.start(device_identity, recipient, segments)
    await relay.post_header(plan.header)
    # before the watcher: init (0), location (1), fragments 1..3 (indices 2..4)
    for chunk in [plan.init(), plan.location(), *(plan.fragment(n) for n in (1, 2, 3))]:
        await relay.post_chunk(plan.recording_id, chunk)

    output = tmp_path / "late.mp4"
    events = Events()
    watching = start_watch(relay, recipient, output, events)
    first = [(await events.next_of(ChunkReceived)).index for _ in range(3)]
    assert first == [0, 1, 4]  # init, latest metadata, latest fragment
    for chunk in [*(plan.fragment(n) for n in (4, 5, 6)), plan.end()]:
        await relay.post_chunk(plan.recording_id, chunk)
    summary = await finished(watching)

    [recording] = summary.recordings
    assert [e.index for e in events.of(ChunkReceived)] == [0, 1, 4, 5, 6, 7, 8]
    assert [(g.first, g.last) for g in events.of(GapDetected)] == [(2, 3)]
    assert recording.complete
    assert len(events.of(LocationUpdate)) == 1
    written = output.read_bytes()
    expected = segments[0].data + b"".join(s.data for s in segments[3:])
    assert written == expected
    assert count_frames(written) == FRAMES_PER_FRAGMENT * 4 == count_frames(expected)


async def test_each_new_recording_is_followed_into_its_own_file(
    relay: LiveRelay,
    device_identity: DeviceIdentity,
    recipient: RecipientIdentity,
    segments: list[MediaSegment],
    tmp_path: Path,
) -> None:
    output = tmp_path / "watch.mp4"
    events = Events()
    watching = start_watch(relay, recipient, output, events, max_recordings=2)
    await events.next_of(Connected)
    ids = []
    for _ in range(2):
        plan = LiveRecordingPlan.start(device_identity, recipient, segments)
        ids.append(plan.recording_id.hex())
        await relay.post_header(plan.header)
        await relay.post_header(plan.header)  # sent again (a reconnect): not a new one
        for chunk in plan.all_chunks():
            await relay.post_chunk(plan.recording_id, chunk)
        await events.next_of(RecordingEnded)
    summary = await finished(watching)

    assert [r.recording_id for r in summary.recordings] == ids
    assert [e.recording_id for e in events.of(RecordingStarted)] == ids
    assert [r.output for r in summary.recordings] == [output, tmp_path / "watch-2.mp4"]
    for recording in summary.recordings:
        assert recording.complete
        assert recording.output is not None
        assert count_frames(recording.output.read_bytes()) == FPS * SECONDS


async def test_a_wrong_token_is_refused(
    relay: LiveRelay,
    relay_settings: Settings,
    recipient: RecipientIdentity,
) -> None:
    other_device = DeviceIdentity.generate()
    assert await operator.enroll(relay_settings, other_device.public)
    other_token = await operator.mint_token(relay_settings, other_device.public)
    made_up = "tg-token-" + "a" * 52
    for token in (made_up, other_token, "", "tg-token-short"):
        with pytest.raises(WatchRefused):
            await finished(start_watch(relay, recipient, None, Events(), token=token))
    url = live_url(relay.url, relay.device)
    for headers in ({}, {"Authorization": f"Basic {relay.token}"}):
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await relay.http.ws_connect(url, headers=headers)
        assert refused.value.status == 401
    # and the right token opens it
    async with relay.http.ws_connect(
        url, headers={"Authorization": f"Bearer {relay.token}"}
    ) as socket:
        assert not socket.closed


async def test_the_relay_forwards_only_ciphertext_and_strangers_cannot_open_it(
    relay: LiveRelay,
    device_identity: DeviceIdentity,
    recipient: RecipientIdentity,
    segments: list[MediaSegment],
    tmp_path: Path,
) -> None:
    stranger_events = Events()
    stranger = start_watch(
        relay, RecipientIdentity.generate(), tmp_path / "stranger.mp4", stranger_events
    )
    await stranger_events.next_of(Connected)
    plan = LiveRecordingPlan.start(device_identity, recipient, segments)
    url = live_url(relay.url, relay.device)
    headers = {"Authorization": f"Bearer {relay.token}"}
    async with relay.http.ws_connect(url, headers=headers, max_msg_size=0) as socket:
        await relay.post_header(plan.header)
        chunks = plan.all_chunks()
        for chunk in chunks:
            await relay.post_chunk(plan.recording_id, chunk)
        frames: list[bytes] = []
        async with asyncio.timeout(WAIT_S):
            while len(frames) < 1 + len(chunks):
                message = await socket.receive()
                assert message.type is aiohttp.WSMsgType.BINARY
                frames.append(bytes(message.data))

    assert frames[0] == bytes([LiveType.HEADER]) + plan.header
    assert frames[1:] == [bytes([LiveType.CHUNK]) + c for c in chunks]
    everything = b"".join(frames)
    # The opening bytes of every plaintext segment (ftyp/moov, moof/mfhd boxes) and the
    # location: long enough that ciphertext cannot hold them by chance.
    for plaintext in [*(segment.data[:24] for segment in segments), b"40.41678"]:
        assert plaintext not in everything
    with pytest.raises(NotForMeError):
        await finished(stranger)
    assert not (tmp_path / "stranger.mp4").exists()


async def test_a_slow_viewer_loses_its_backlog_not_ingest_or_other_viewers(
    aiohttp_server: MakeServer,
    relay_settings: Settings,
    relay_identity: RelayIdentity,
    device_identity: DeviceIdentity,
    recipient: RecipientIdentity,
) -> None:
    settings = relay_settings.replace(live_queue_bytes=64 * 1024)
    async for relay in start_relay(aiohttp_server, settings, relay_identity, device_identity):
        hub = relay.server.app[LIVE]
        fast_events = Events()
        fast = start_watch(relay, recipient, None, fast_events)
        await fast_events.next_of(Connected)
        url = live_url(relay.url, relay.device)
        headers = {"Authorization": f"Bearer {relay.token}"}
        async with relay.http.ws_connect(url, headers=headers, max_msg_size=0) as slow:
            with RecordingSealer.start(device_identity, [recipient.public], MEDIA_TYPE) as sealer:
                await relay.post_header(bytes(sealer.header))
                rid = sealer.header.recording_id
                await relay.post_chunk(rid, bytes(sealer.seal(ChunkKind.INIT, b"init")))
                # upload until the slow viewer (which reads nothing) has overflowed
                while hub.stats.overflows == 0 and sealer.next_index < MAX_SLOW_CHUNKS:
                    chunk = bytes(sealer.seal(ChunkKind.MEDIA, os.urandom(256 * 1024)))
                    assert len(await relay.post_chunk(rid, chunk)) == 160  # a receipt
                assert hub.stats.overflows >= 1, "the slow viewer never overflowed"
                for _ in range(3):  # and a little more after it
                    chunk = bytes(sealer.seal(ChunkKind.MEDIA, os.urandom(256 * 1024)))
                    await relay.post_chunk(rid, chunk)
                final = bytes(sealer.finish())
                await relay.post_chunk(rid, final)
            last = Chunk.parse(final).index
            fast_summary = await finished(fast)

            # the slow viewer now reads: a DROPPED notice, then it goes on from the latest
            kinds: list[int] = []
            indices: list[int] = []
            async with asyncio.timeout(WAIT_S):
                while True:
                    message = await slow.receive()
                    assert message.type is aiohttp.WSMsgType.BINARY
                    data = bytes(message.data)
                    kinds.append(data[0])
                    if data[0] == LiveType.CHUNK:
                        indices.append(Chunk.parse(data[1:]).index)
                    if data[1:] == final:
                        break
        # the fast viewer got everything, in order, and never lost a chunk
        [everything] = fast_summary.recordings
        assert everything.complete
        assert everything.chunks == last + 1
        assert everything.gaps == []
        assert fast_events.of(BacklogDropped) == []
        # the slow one was told, and what it got is in order and ends with the final chunk
        assert kinds[0] == LiveType.HEADER
        assert LiveType.DROPPED in kinds
        assert hub.stats.dropped_chunks > 0
        assert indices == sorted(set(indices))
        assert indices[-1] == last
        assert len(indices) < last + 1
        print(f"slow viewer overflowed after {last - 4} chunks of 256 KiB")


async def test_shutdown_ends_every_live_stream(
    relay: LiveRelay,
    device_identity: DeviceIdentity,
    recipient: RecipientIdentity,
    segments: list[MediaSegment],
) -> None:
    plan = LiveRecordingPlan.start(device_identity, recipient, segments)
    await relay.post_header(plan.header)
    await relay.post_chunk(plan.recording_id, plan.init())
    url = live_url(relay.url, relay.device)
    headers = {"Authorization": f"Bearer {relay.token}"}
    async with relay.http.ws_connect(url, headers=headers) as socket:
        messages: list[bytes] = []
        async with asyncio.timeout(WAIT_S):
            while len(messages) < 2:  # the recording in progress: header, init
                messages.append(bytes((await socket.receive()).data))
            assert relay.server.app[LIVE].viewers(relay.device.raw) == 1

            async def read_to_close() -> None:
                async for message in socket:
                    messages.append(bytes(message.data))

            reader = asyncio.ensure_future(read_to_close())
            await relay.server.close()
            await reader
        assert socket.closed
        assert socket.close_code == aiohttp.WSCloseCode.GOING_AWAY
    assert [m[0] for m in messages] == [LiveType.HEADER, LiveType.CHUNK, LiveType.END]
    assert struct.unpack(">B", messages[-1][1:2]) == (1,)


async def test_watchers_carry_on_across_a_relay_restart(
    aiohttp_server: MakeServer,
    relay_settings: Settings,
    relay_identity: RelayIdentity,
    device_identity: DeviceIdentity,
    recipient: RecipientIdentity,
    segments: list[MediaSegment],
    tmp_path: Path,
) -> None:
    key = device_identity.public
    assert await operator.enroll(relay_settings, key)
    token = await operator.mint_token(relay_settings, key)
    first = await aiohttp_server(create_app(relay_settings, relay=relay_identity))
    async with aiohttp.ClientSession() as http:
        relay = LiveRelay(first, str(first.make_url("")).rstrip("/"), token, key, http)
        events = Events()
        watching = start_watch(relay, recipient, tmp_path / "across.mp4", events)
        await events.next_of(Connected)
        plan = LiveRecordingPlan.start(device_identity, recipient, segments)
        chunks = plan.one_by_one()
        await relay.post_header(plan.header)
        for _ in range(4):  # init, location, fragments 1 and 2: indices 0..3
            await relay.post_chunk(plan.recording_id, next(chunks))
        assert (await events.next_of(ChunkReceived)).index == 0
        while (await events.next_of(ChunkReceived)).index != 3:
            pass

        port = first.port
        await first.close()  # the relay stops (and its hub forgets everything) ...
        await events.next_of(Disconnected)
        second = await aiohttp_server(create_app(relay_settings, relay=relay_identity), port=port)
        relay.server = second
        await relay.post_header(plan.header)  # ... the device reconnects: HELLO again
        # a contact who joins now gets the header and the init segment from storage
        late_events = Events()
        late = start_watch(relay, recipient, tmp_path / "joined.mp4", late_events)
        assert (await late_events.next_of(ChunkReceived)).index == 0
        await events.next_of(Connected)
        for chunk in chunks:  # fragments 3..6 and the end: indices 4..8
            await relay.post_chunk(plan.recording_id, chunk)
        summary, late_summary = await finished(watching), await finished(late)

    [recording] = summary.recordings
    assert recording.complete
    assert recording.gaps == []
    assert [e.index for e in events.of(ChunkReceived)] == list(range(9))
    assert (tmp_path / "across.mp4").read_bytes() == b"".join(s.data for s in segments)
    [joined] = late_summary.recordings
    assert joined.complete
    assert [e.index for e in late_events.of(ChunkReceived)] == [0, 4, 5, 6, 7, 8]
    joined_bytes = (tmp_path / "joined.mp4").read_bytes()
    assert joined_bytes == segments[0].data + b"".join(s.data for s in segments[3:])
    assert count_frames(joined_bytes) == FRAMES_PER_FRAGMENT * 4


async def test_an_old_recording_uploaded_late_does_not_interrupt_the_live_one(
    relay: LiveRelay,
    device_identity: DeviceIdentity,
    recipient: RecipientIdentity,
    segments: list[MediaSegment],
    tmp_path: Path,
) -> None:
    events = Events()
    watching = start_watch(relay, recipient, tmp_path / "live.mp4", events)
    await events.next_of(Connected)
    live = LiveRecordingPlan.start(device_identity, recipient, segments)
    chunks = live.one_by_one()
    await relay.post_header(live.header)
    await relay.post_chunk(live.recording_id, next(chunks))
    # a recording from an earlier run, left in the spool, uploaded now (testigo upload)
    with RecordingSealer.start(
        device_identity,
        [recipient.public],
        MEDIA_TYPE,
        created_ms=live.sealer.header.created_ms - 60_000,
    ) as old:
        await relay.post_header(bytes(old.header))
        for sealed in [old.seal(ChunkKind.INIT, b"old init"), old.finish()]:
            await relay.post_chunk(old.header.recording_id, bytes(sealed))
    for chunk in chunks:
        await relay.post_chunk(live.recording_id, chunk)
    summary = await finished(watching)  # the messages of one socket arrive in order

    assert [e.recording_id for e in events.of(RecordingStarted)] == [live.recording_id.hex()]
    [recording] = summary.recordings
    assert recording.complete
    assert recording.chunks == 2 + len(segments)
