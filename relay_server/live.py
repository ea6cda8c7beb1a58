"""Live fan-out to contacts (docs/PROTOCOL.md §12): ciphertext only, never slowing ingest.

`LiveHub` listens to Ingest (an `IngestListener`) and keeps, per device, the recording in
progress: its header, its init chunk, and its latest metadata and media chunks, so that a
viewer who joins late starts at the init segment and the latest fragment. Each viewer has
its own bounded queue; the hub only ever appends to queues (no awaiting), so a slow viewer
cannot hold up ingest or the other viewers. A viewer whose queue overflows loses its
backlog, is told so (DROPPED), and resumes from the latest fragment. When the recording in
progress has stored nothing new for `live_silence_seconds` (and no final chunk), its
viewers (and those who join while it is silent) get SILENT; its next chunk ends that.

The hub holds nothing a relay could not already read: headers and sealed chunks.
"""

import asyncio
import logging
import time
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

import aiohttp
from aiohttp import web

from relay_server.ingest import AcceptedRecording
from relay_server.logs import log_event
from relay_server.silence import Silences
from vault import Chunk, ChunkKind, DeviceKey
from vault.wire.live import (
    EndReason,
    LiveChunk,
    LiveDropped,
    LiveEnd,
    LiveHeader,
    LiveSilent,
    LiveType,
)

NO_INDEX: Final = -1
SHUTDOWN_WAIT_S: Final = 2.0
MAX_SILENCE_WATCHED: Final = 100_000  # devices whose recording in progress is timed


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True)
class Outgoing:
    """One live message (`vault.wire.live`), encoded once and shared by every viewer's
    queue, with what the hub needs to know of it."""

    type: LiveType
    frame: bytes
    recording_id: bytes = b""
    index: int = NO_INDEX

    @classmethod
    def header(cls, recording_id: bytes, data: bytes) -> "Outgoing":
        return cls(LiveType.HEADER, bytes(LiveHeader(data)), recording_id)

    @classmethod
    def chunk(cls, recording_id: bytes, index: int, data: bytes) -> "Outgoing":
        return cls(LiveType.CHUNK, bytes(LiveChunk(data)), recording_id, index)

    @classmethod
    def dropped(cls, count: int) -> "Outgoing":
        return cls(LiveType.DROPPED, bytes(LiveDropped(count)))

    @classmethod
    def end(cls, reason: EndReason, text: str) -> "Outgoing":
        return cls(LiveType.END, bytes(LiveEnd(reason, text)))

    @classmethod
    def silent(cls, recording_id: bytes, since_ms: int, silent_ms: int) -> "Outgoing":
        return cls(
            LiveType.SILENT, bytes(LiveSilent(recording_id, since_ms, silent_ms)), recording_id
        )


@dataclass
class LiveRecording:
    """What the hub keeps of a device's recording in progress."""

    recording_id: bytes
    created_ms: int
    header: Outgoing
    init: Outgoing | None = None
    latest_media: Outgoing | None = None
    latest_metadata: Outgoing | None = None
    final: Outgoing | None = None
    last_index: int = NO_INDEX
    last_ms: int = 0  # relay clock: its header or its last new chunk stored
    silent: Outgoing | None = None  # SILENT, while nothing new has come for a while

    @property
    def ended(self) -> bool:
        return self.final is not None

    def catch_up(self, after_index: int, *, with_header: bool) -> list[Outgoing]:
        """What a viewer needs to follow this recording from now, in index order."""
        messages = [self.header] if with_header else []
        if self.init is not None and self.init.index > after_index:
            messages.append(self.init)
        later = [
            m
            for m in (self.latest_metadata, self.latest_media, self.final)
            if m is not None and m.index > after_index
        ]
        messages.extend(sorted(later, key=lambda m: m.index))
        if self.silent is not None and not self.ended:
            messages.append(self.silent)
        return messages


@dataclass(eq=False)
class Viewer:
    """One viewer's bounded queue, filled by the hub, drained by its WebSocket sender."""

    device: bytes
    max_bytes: int
    holder: bytes = b""  # the hash of the token it was opened with
    _queue: deque[Outgoing] = field(default_factory=deque)
    _bytes: int = 0
    _ready: asyncio.Event = field(default_factory=asyncio.Event)
    _closed: bool = False
    # what was queued for this viewer (the hub's view) ...
    queued_recording: bytes | None = None
    queued_index: int = NO_INDEX
    # ... and what its sender has taken from the queue
    sent_recording: bytes | None = None
    sent_index: int = NO_INDEX
    dropped: int = 0
    done: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def queued_bytes(self) -> int:
        return self._bytes

    def offer(self, message: Outgoing) -> bool:
        """Queue message; False (nothing queued) when it does not fit in the bound.

        A message always fits into an empty queue, so one large chunk still passes.
        """
        if self._closed:
            return True
        if self._queue and self._bytes + len(message.frame) > self.max_bytes:
            return False
        self.push(message)
        return True

    def push(self, message: Outgoing) -> None:
        """Queue message regardless of the bound (for the few messages of a catch-up)."""
        if self._closed:
            return
        self._queue.append(message)
        self._bytes += len(message.frame)
        if message.recording_id:
            if message.recording_id != self.queued_recording:
                self.queued_recording = message.recording_id
                self.queued_index = NO_INDEX
            self.queued_index = max(self.queued_index, message.index)
        self._ready.set()

    def clear(self) -> int:
        """Drop the backlog; the number of chunks dropped. The queue state rewinds to
        what the sender has taken."""
        count = sum(1 for m in self._queue if m.type is LiveType.CHUNK)
        self._queue.clear()
        self._bytes = 0
        self.queued_recording = self.sent_recording
        self.queued_index = self.sent_index
        self.dropped += count
        return count

    def close(self, last: Outgoing | None = None) -> None:
        """Drop the backlog, queue last (if any), and end the queue after it."""
        self._queue.clear()
        self._bytes = 0
        if last is not None:
            self._queue.append(last)
        self._closed = True
        self._ready.set()

    async def next(self) -> Outgoing | None:
        """The next message to send; None once closed and drained."""
        while not self._queue:
            if self._closed:
                return None
            self._ready.clear()
            await self._ready.wait()
        message = self._queue.popleft()
        self._bytes -= len(message.frame)
        if message.recording_id:
            if message.recording_id != self.sent_recording:
                self.sent_recording = message.recording_id
                self.sent_index = NO_INDEX
            self.sent_index = max(self.sent_index, message.index)
        return message


@dataclass
class LiveStats:
    viewers: int = 0
    overflows: int = 0
    dropped_chunks: int = 0
    forwarded: int = 0


class HubFull(Exception):
    """max_live_viewers viewers are connected already."""


class LiveHub:
    """The in-process fan-out of one relay; an `IngestListener`. See the module docstring."""

    def __init__(
        self,
        *,
        queue_bytes: int,
        max_viewers: int,
        max_per_device: int | None = None,
        max_per_holder: int | None = None,
        silence_seconds: float = 0.0,
        clock_ms: Callable[[], int] = now_ms,
    ) -> None:
        self._clock_ms = clock_ms
        self._silences: Silences[bytes] = Silences(
            silence_seconds, self._silent, max_keys=MAX_SILENCE_WATCHED
        )
        self._queue_bytes = queue_bytes
        self._max_viewers = max_viewers
        self._max_per_device = max_viewers if max_per_device is None else max_per_device
        self._max_per_holder = max_viewers if max_per_holder is None else max_per_holder
        self._recordings: dict[bytes, LiveRecording] = {}
        self._viewers: dict[bytes, set[Viewer]] = {}
        self._holders: dict[bytes, int] = {}  # viewers per token (by its hash)
        self._count = 0
        self.stats = LiveStats()

    # -- IngestListener --

    def header_stored(self, accepted: AcceptedRecording, data: bytes, *, new: bool) -> None:
        header = accepted.header
        current = self._recordings.get(accepted.device)
        if current is not None and current.recording_id == header.recording_id:
            return
        if (
            current is not None
            and not current.ended
            and (current.created_ms, current.recording_id)
            > (header.created_ms, header.recording_id)
        ):
            return  # an older recording uploaded late while one is in progress: not live
        recording = LiveRecording(
            header.recording_id,
            header.created_ms,
            Outgoing.header(header.recording_id, data),
            last_ms=self._clock_ms(),
        )
        self._recordings[accepted.device] = recording
        self._silences.touch(accepted.device)
        self._publish(accepted.device, recording)

    def chunk_stored(self, accepted: AcceptedRecording, chunk: Chunk, data: bytes) -> None:
        recording = self._recordings.get(accepted.device)
        if recording is None or recording.recording_id != accepted.recording_id:
            return
        if not self.remember(recording, chunk, data):
            return
        recording.last_ms = self._clock_ms()
        recording.silent = None  # the chunk itself tells viewers that data flows again
        if recording.ended:
            self._silences.forget(accepted.device)
        else:
            self._silences.touch(accepted.device)
        self._publish(accepted.device, recording)

    def _silent(self, device: bytes, silent_s: float) -> None:
        """Nothing new of device's recording in progress for live_silence_seconds."""
        recording = self.current(device)
        if recording is None:
            return
        recording.silent = Outgoing.silent(
            recording.recording_id, recording.last_ms, round(silent_s * 1000)
        )
        log_event(
            logging.INFO,
            "live.silent",
            device=DeviceKey(device).fingerprint,
            recording=recording.recording_id.hex(),
        )
        self._publish(device, recording)

    # -- state --

    def current(self, device: bytes) -> LiveRecording | None:
        """The device's recording in progress, if the hub knows one."""
        recording = self._recordings.get(device)
        return None if recording is None or recording.ended else recording

    def remember(self, recording: LiveRecording, chunk: Chunk, data: bytes) -> bool:
        """Keep chunk if it is news for late joiners; False when it is not new at all."""
        message = Outgoing.chunk(recording.recording_id, chunk.index, data)
        if chunk.kind is ChunkKind.INIT:
            if recording.init is not None:
                return False
            recording.init = message
        elif chunk.index <= recording.last_index:
            return False  # an old chunk sent again (resume after a reconnect)
        elif chunk.kind is ChunkKind.MEDIA:
            recording.latest_media = message
        elif chunk.kind is ChunkKind.METADATA:
            recording.latest_metadata = message
        else:
            recording.final = message
        recording.last_index = max(recording.last_index, chunk.index)
        return True

    def _publish(self, device: bytes, recording: LiveRecording) -> None:
        for viewer in self._viewers.get(device, ()):
            self._deliver(viewer, recording)
        if recording.ended:  # nobody joins it any more: keep only what orders recordings
            recording.init = recording.latest_media = recording.latest_metadata = None

    def _deliver(self, viewer: Viewer, recording: LiveRecording) -> None:
        """Queue for viewer whatever it has not had of recording, in order."""
        same = viewer.queued_recording == recording.recording_id
        after = viewer.queued_index if same else NO_INDEX
        wanted = recording.catch_up(after, with_header=not same)
        for message in wanted:
            if not viewer.offer(message):
                self._overflow(viewer, recording)
                return
            self.stats.forwarded += 1

    def _overflow(self, viewer: Viewer, recording: LiveRecording) -> None:
        count = viewer.clear()
        self.stats.overflows += 1
        self.stats.dropped_chunks += count
        log_event(
            logging.WARNING,
            "live.viewer_overflow",
            device=DeviceKey(viewer.device).fingerprint,
            recording=recording.recording_id.hex(),
            dropped=count,
        )
        viewer.push(Outgoing.dropped(count))
        same = viewer.sent_recording == recording.recording_id
        after = viewer.sent_index if same else NO_INDEX
        for message in recording.catch_up(after, with_header=not same):
            viewer.push(message)

    # -- viewers --

    def subscribe(self, device: bytes, holder: bytes = b"") -> Viewer:
        """A new viewer of device for the token holder (its hash), its queue primed with
        the recording in progress. HubFull when the relay, the device or the token has
        as many viewers as it may: one device's watchers cannot crowd out another's."""
        if (
            self._count >= self._max_viewers
            or len(self._viewers.get(device, ())) >= self._max_per_device
            or self._holders.get(holder, 0) >= self._max_per_holder
        ):
            raise HubFull
        viewer = Viewer(device, self._queue_bytes, holder=holder)
        self._viewers.setdefault(device, set()).add(viewer)
        self._holders[holder] = self._holders.get(holder, 0) + 1
        self._count += 1
        self.stats.viewers = self._count
        recording = self.current(device)
        if recording is not None:
            for message in recording.catch_up(NO_INDEX, with_header=True):
                viewer.push(message)
        return viewer

    def unsubscribe(self, viewer: Viewer) -> None:
        viewers = self._viewers.get(viewer.device)
        if viewers is None or viewer not in viewers:
            return
        viewers.discard(viewer)
        if not viewers:
            del self._viewers[viewer.device]
        held = self._holders.get(viewer.holder, 0) - 1
        if held > 0:
            self._holders[viewer.holder] = held
        else:
            self._holders.pop(viewer.holder, None)
        self._count -= 1
        self.stats.viewers = self._count
        viewer.close()

    def viewers(self, device: bytes) -> int:
        return len(self._viewers.get(device, ()))

    async def close_all(self, timeout: float = SHUTDOWN_WAIT_S) -> None:
        """Tell every viewer the relay is going away and wait (a little) for them to go."""
        self._silences.close()
        every = [v for viewers in self._viewers.values() for v in viewers]
        for viewer in every:
            viewer.close(Outgoing.end(EndReason.SHUTDOWN, "the relay is shutting down"))
        if every:
            waits = [asyncio.ensure_future(v.done.wait()) for v in every]
            _done, pending = await asyncio.wait(waits, timeout=timeout)
            for task in pending:
                task.cancel()


class LiveSockets:
    """The open live WebSockets, closed on shutdown whatever state their viewer is in."""

    def __init__(self) -> None:
        self._sockets: weakref.WeakSet[web.WebSocketResponse] = weakref.WeakSet()

    def add(self, socket: web.WebSocketResponse) -> None:
        self._sockets.add(socket)

    def __len__(self) -> int:
        return len(self._sockets)

    async def close_all(self) -> None:
        for socket in list(self._sockets):
            await socket.close(code=aiohttp.WSCloseCode.GOING_AWAY, message=b"relay shutdown")
