"""Every vector of tests/vectors/ through the other readers (issue 11): `testigo decrypt`
(vault.decrypt), the relay's ingest checks and the live watcher, with the outcomes that
tests/test_vectors.py checks for `verify`. Two readers must never give one file two
verdicts, and the watcher must never show a chunk that `verify` refuses.
"""

import contextlib
import io
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

import vault
from relay_server.enrollment import Enrollment
from relay_server.ingest import Ingest
from relay_server.metrics import Metrics
from relay_server.settings import Settings
from relay_server.storage.fs import FilesystemStorage
from stream.contact.watch import (
    ChunkReceived,
    MediaWithoutInit,
    RecordingEnded,
    WatchError,
    WatchEvent,
    watch,
)
from stream.contact.watch_text import describe
from tests.vectors.kit import DATA_DIR, Vector
from vault.archive import FramingError, iter_chunks
from vault.decrypt import decrypt_recording
from vault.format import HEADER_MAX_SIZE
from vault.keys import DeviceKey
from vault.wire import routes
from vault.wire.errors import RelayError
from vault.wire.live import EndReason, LiveChunk, LiveEnd, LiveHeader

VECTOR_PATHS = sorted(DATA_DIR.iterdir())
READABLE = ("complete", "incomplete", "tampered", "malformed")


def load(path: Path) -> Vector:
    return Vector.decode(path.name, path.read_bytes())


@pytest.mark.parametrize("path", VECTOR_PATHS, ids=lambda path: path.name)
def test_decrypt_agrees_with_verify(path: Path, tmp_path: Path) -> None:
    vector = load(path)
    recording = tmp_path / "vector.tgr"
    recording.write_bytes(vector.recording)
    identity = vault.RecipientIdentity(vector.identity)
    output = tmp_path / "out.mp4"
    if vector.expect not in READABLE:
        with pytest.raises(vault.TestigoError):
            decrypt_recording(recording, [identity], output)
        assert not output.exists()  # nothing half-written
        return
    result = decrypt_recording(recording, [identity], output)
    assert result.report.status.value == vector.expect
    assert output.exists()
    assert tuple(result.report.missing_indices) == vector.missing


def split(recording: bytes) -> tuple[bytes, list[bytes]]:
    """The header's bytes and each whole chunk, as a device would upload them."""
    _header, length = vault.Header.parse_prefix(recording[:HEADER_MAX_SIZE])
    chunks = []
    for raw in iter_chunks(io.BytesIO(recording[length:])):
        if isinstance(raw, FramingError):
            break
        chunks.append(raw.preamble + raw.ciphertext)
    return recording[:length], chunks


@pytest.mark.asyncio
@pytest.mark.parametrize("path", VECTOR_PATHS, ids=lambda path: path.name)
async def test_the_relay_stores_what_a_reader_finds_authentic(path: Path, tmp_path: Path) -> None:
    """The relay checks each chunk alone (any order: devices resend), so it must store
    every chunk of an authentic vector, refuse with a clear error what is not a valid
    chunk, and never fail otherwise."""
    vector = load(path)
    settings = Settings(storage=str(tmp_path / "relay"))
    storage = FilesystemStorage(settings.storage)
    try:
        enrollment = Enrollment(storage)
        ingest = Ingest(storage, enrollment, vault.RelayIdentity.generate(), settings, Metrics())
        try:
            header_bytes, chunks = split(vector.recording)
            header = vault.Header.parse(header_bytes)
        except vault.TestigoError:
            assert vector.expect in ("header failure", "malformed")
            return
        await enrollment.enroll(DeviceKey(header.device_key))
        try:
            accepted = await ingest.accept_header(header_bytes)
        except RelayError:
            assert vector.expect == "header failure"
            return
        assert vector.expect != "header failure"
        stored = []
        for chunk in chunks:
            try:
                stored.append((await ingest.accept_chunk(accepted, chunk)).index)
            except RelayError:
                assert vector.expect in ("tampered", "malformed"), vector.name
        if vector.expect in ("complete", "incomplete"):
            assert len(stored) == len(chunks)
            assert set(vector.valid) <= set(stored)
    finally:
        await storage.close()


@pytest.mark.parametrize("name", ["reordered", "duplicated"])
def test_decrypt_of_a_reordered_recording_plays_each_stretch_once_in_order(
    name: str, tmp_path: Path
) -> None:
    """FORMAT.md §5: the media holds the valid chunks that pass the sequence checks, in
    file order; a chunk out of order or again is left out, and named."""
    vector = load(DATA_DIR / name)
    recording = tmp_path / "vector.tgr"
    recording.write_bytes(vector.recording)
    identity = vault.RecipientIdentity(vector.identity)
    kept: list[tuple[vault.Chunk, bytes | None]] = []
    vault.verify_stream(
        io.BytesIO(vector.recording), [identity], sink=lambda c, p: kept.append((c, p))
    )
    media = b"".join(
        p or b"" for c, p in kept if c.kind in (vault.ChunkKind.INIT, vault.ChunkKind.MEDIA)
    )
    result = decrypt_recording(recording, [identity], tmp_path / "out.mp4")
    assert result.report.status is vault.Status.TAMPERED
    assert (tmp_path / "out.mp4").read_bytes() == media
    assert [c.index for c, _ in kept] == list(vector.valid)
    assert result.report.problems  # the chunk left out is named


# -- the live watcher: a contact's phone following the vector as the relay forwards it --


def live_relay(frames: list[bytes]) -> web.Application:
    """What a relay sends a viewer (PROTOCOL.md §12): here, one vector, then END."""

    async def live(request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        for frame in frames:
            await socket.send_bytes(frame)
        await socket.send_bytes(bytes(LiveEnd(EndReason.SHUTDOWN, "done")))
        await socket.close()
        return socket

    app = web.Application()
    app.add_routes([web.get(routes.LIVE.template, live)])
    return app


Watched = Callable[[Vector], Awaitable[list[WatchEvent] | None]]


@pytest.fixture
def watched(aiohttp_server: Callable[[web.Application], Awaitable[TestServer]]) -> Watched:
    """The events a watcher reports for a vector as a relay forwards it; None when no
    relay would have accepted its header."""

    async def follow(vector: Vector) -> list[WatchEvent] | None:
        try:
            header_bytes, chunks = split(vector.recording)
            device = DeviceKey(vault.Header.parse(header_bytes).device_key)
        except vault.TestigoError:
            return None  # no header a relay would have accepted: nothing to watch
        frames = [bytes(LiveHeader(header_bytes)), *(bytes(LiveChunk(c)) for c in chunks)]
        server = await aiohttp_server(live_relay(frames))
        events: list[WatchEvent] = []
        identity = vault.RecipientIdentity(vector.identity)
        url = str(server.make_url("")).rstrip("/")
        # WatchError: the stream ended (END) before a final chunk, an interrupted recording
        with contextlib.suppress(WatchError):
            await watch(url, "tg-token-x", device, [identity], None,
                        on_event=events.append, max_recordings=1, reconnect=False)  # fmt: skip
        return events

    return follow


@pytest.mark.asyncio
@pytest.mark.parametrize("path", VECTOR_PATHS, ids=lambda path: path.name)
async def test_the_live_watcher_shows_only_what_verify_accepts(
    path: Path, watched: Watched
) -> None:
    vector = load(path)
    try:
        events = await watched(vector)
    except vault.NotForMeError:
        assert vector.expect == "no match"
        return
    if events is None:
        return
    shown = [e.index for e in events if isinstance(e, ChunkReceived)]
    assert set(shown) <= set(vector.valid), vector.name  # never shows what verify refuses
    if vector.expect == "complete":
        assert shown == list(vector.valid)
    ended = [e for e in events if isinstance(e, RecordingEnded)]
    if ended and ended[-1].complete and not ended[-1].gaps:
        # never "complete" for what verify calls incomplete (a live stream cannot see what
        # a file can: bytes after the last chunk, a resent duplicate, so no more than that)
        assert vector.expect != "incomplete", vector.name


@pytest.mark.asyncio
async def test_the_live_watcher_says_media_without_init_cannot_be_played(
    watched: Watched,
) -> None:
    """tests/vectors media_without_init: every chunk and the final one arrive, but no init
    segment: `verify` says incomplete, and so does the watcher, in words."""
    vector = load(DATA_DIR / "media_without_init")
    assert vector.expect == "incomplete"
    events = await watched(vector)
    assert events is not None
    [ended] = [e for e in events if isinstance(e, RecordingEnded)]
    assert ended.final
    assert not ended.complete
    [warning] = [e for e in events if isinstance(e, MediaWithoutInit)]
    assert ended.media_before_init == warning.index == vector.valid[0]
    line = describe(ended, show_location=False)
    assert line is not None
    assert "INCOMPLETE" in line
    assert "no init segment" in line
    assert "cannot be played" in line
    assert "complete:" not in line
    assert "cannot be played" in (describe(warning, show_location=False) or "")
