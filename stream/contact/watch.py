"""`testigo watch`: follow a device's recordings live, as a contact (docs/PROTOCOL.md §12).

`watch()` opens the relay's live WebSocket for one device with a capability token, and for
each recording the relay forwards: checks the header (signature, the expected device),
opens it with the contact's identities, verifies every chunk (signature, hash chain,
order) with `RecordingVerifier`, decrypts it, and appends the init segment and the media
fragments to a growing fragmented MP4 that a player can follow (flushed after each
fragment). Everything it sees is reported as a `WatchEvent`: recording started, chunk
received (with the delay from the device's seal time), gaps, location updates,
rejected chunks, media without an init segment (unplayable), backlog dropped by the
relay, the recording going silent (the relay got nothing new of it for a while, without
its final chunk) and data flowing again, recording ended (complete only with its final
chunk and playable), disconnections.

The relay forwards ciphertext only; a contact whose identity opens no stanza gets
`NotForMeError`. A lost connection is retried with backoff (the relay resumes the viewer
from the init segment and the latest fragment); a refused token is fatal.
"""

import asyncio
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Final

import aiohttp

from stream.relay_http import failure_text, relay_session
from vault import (
    ChunkKind,
    DeviceKey,
    Header,
    RecipientIdentity,
    RecordingOpener,
    RecordingVerifier,
)
from vault.errors import MalformedError, TamperedError, TestigoError
from vault.verify import RawChunk
from vault.wire import routes
from vault.wire.backoff import Backoff
from vault.wire.live import (
    MAX_LIVE_MESSAGE,
    LiveChunk,
    LiveDropped,
    LiveEnd,
    LiveHeader,
    LiveSilent,
    parse_live_message,
)

HEARTBEAT_S: Final = 20.0
RECONNECT_INITIAL_S: Final = 0.5
RECONNECT_MAX_S: Final = 10.0
RECONNECT_JITTER: Final = 0.25


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class WatchError(TestigoError):
    """Raised when the relay cannot be watched (bad address, unexpected answer)."""

    hint = "check --relay (the relay's URL) and --device"


class WatchRefused(WatchError):
    """Raised when the relay refuses the capability token for this device."""

    hint = "ask the relay's operator for a token for this device (testigo relay token)"


# -- events --


@dataclass(frozen=True)
class Connected:
    relay_url: str


@dataclass(frozen=True)
class Disconnected:
    reason: str
    retry_in_s: float


@dataclass(frozen=True)
class RecordingStarted:
    recording_id: str
    device_fingerprint: str
    created_ms: int
    media_type: str
    output: Path | None


@dataclass(frozen=True)
class ChunkReceived:
    recording_id: str
    index: int
    kind: ChunkKind
    size: int
    device_time_ms: int
    received_ms: int

    @property
    def delay_ms(self) -> int:
        """Received (watcher's clock) minus sealed (device's clock)."""
        return self.received_ms - self.device_time_ms


@dataclass(frozen=True)
class GapDetected:
    """Chunks first..last were not received (joined late, backlog dropped, or lost)."""

    recording_id: str
    first: int
    last: int


@dataclass(frozen=True)
class LocationUpdate:
    recording_id: str
    index: int
    device_time_ms: int
    lat: float
    lon: float
    accuracy_m: float | None


@dataclass(frozen=True)
class ChunkRejected:
    """A chunk (index None: a header or a message) that failed a check; not written."""

    recording_id: str | None
    index: int | None
    reason: str


@dataclass(frozen=True)
class MediaWithoutInit:
    """Media chunk index is authentic, but no init segment came before it: a player cannot
    decode it (nor what follows), so the recording cannot be complete (FORMAT.md §5)."""

    recording_id: str
    index: int


@dataclass(frozen=True)
class BacklogDropped:
    """The relay dropped this many chunks queued for us (we were too slow)."""

    chunks: int


@dataclass(frozen=True)
class RecordingSilent:
    """The relay has stored nothing new of the recording for silent_ms (by the relay's
    count), and not its final chunk: the phone stopped sending (taken, off, no signal)."""

    recording_id: str
    silent_ms: int


@dataclass(frozen=True)
class RecordingResumed:
    """Chunks of a silent recording arrive again, after silent_ms without any."""

    recording_id: str
    silent_ms: int


@dataclass(frozen=True)
class RecordingEnded:
    """final: the final chunk arrived; otherwise a newer recording replaced this one or the
    watch stopped. complete: final, and the media can be played (an init segment came
    before it; media_before_init names the first media chunk without one)."""

    recording_id: str
    complete: bool
    reason: str | None
    chunks: int
    gaps: int
    final: bool = False
    media_before_init: int | None = None


WatchEvent = (
    Connected
    | Disconnected
    | RecordingStarted
    | ChunkReceived
    | GapDetected
    | LocationUpdate
    | ChunkRejected
    | MediaWithoutInit
    | BacklogDropped
    | RecordingSilent
    | RecordingResumed
    | RecordingEnded
)


@dataclass
class RecordingSummary:
    recording_id: str
    output: Path | None
    chunks: int = 0
    fragments: int = 0
    first_index: int | None = None
    last_index: int | None = None
    gaps: list[tuple[int, int]] = field(default_factory=list)
    rejected: int = 0
    complete: bool = False


@dataclass
class WatchSummary:
    recordings: list[RecordingSummary] = field(default_factory=list)
    delays_ms: list[int] = field(default_factory=list)
    dropped_chunks: int = 0


# -- following one recording --


class _Following:
    """The recording being watched: its verifier and its growing MP4."""

    def __init__(self, header: Header, verifier: RecordingVerifier, output: Path | None) -> None:
        self.header = header
        self.verifier = verifier
        self.summary = RecordingSummary(header.recording_id.hex(), output)
        self.last_index = -1
        # while silent: the relay's silence when it said so, and our clock then
        self.silent: tuple[int, int] | None = None
        self._file: BinaryIO | None = None
        self._init_written = False
        if output is not None:
            output.parent.mkdir(parents=True, exist_ok=True)
            self._file = output.open("xb")  # never over an existing file

    @property
    def recording_id(self) -> str:
        return self.summary.recording_id

    def write_init(self, data: bytes) -> None:
        if self._file is not None and not self._init_written:
            self._file.write(data)
            self._file.flush()
        self._init_written = True

    def write_fragment(self, data: bytes) -> None:
        """Append a fragment; not when no init segment came first (it cannot be played)."""
        if not self._init_written:
            return
        if self._file is not None:
            self._file.write(data)
            self._file.flush()
        self.summary.fragments += 1

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class _Done(Exception):
    """max_recordings recordings have ended."""


class _RelayEnded(Exception):
    """The relay said it ends the stream (END message)."""


class _Watcher:
    def __init__(
        self,
        device: DeviceKey,
        identities: Sequence[RecipientIdentity],
        output: Path | None,
        on_event: Callable[[WatchEvent], None],
        max_recordings: int | None,
    ) -> None:
        self._device = device
        self._identities = list(identities)
        self._output = output
        self._emit = on_event
        self._max_recordings = max_recordings
        self._current: _Following | None = None
        self._seen: set[bytes] = set()
        self._ended = 0
        self.summary = WatchSummary()

    def handle(self, frame: bytes) -> None:
        """One message from the relay. Raises _Done, _RelayEnded, NotForMeError."""
        try:
            message = parse_live_message(frame)
        except MalformedError as error:
            self._emit(ChunkRejected(None, None, str(error)))
            return
        match message:
            case LiveHeader(header):
                self._header(header)
            case LiveChunk(chunk):
                self._chunk(chunk)
            case LiveDropped(count):
                self.summary.dropped_chunks += count
                self._emit(BacklogDropped(count))
            case LiveEnd(_reason, text):
                raise _RelayEnded(text)
            case LiveSilent(recording_id, _since_ms, silent_ms):
                self._silent(recording_id, silent_ms)

    def _silent(self, recording_id: bytes, silent_ms: int) -> None:
        current = self._current
        if current is None or current.header.recording_id != recording_id:
            return  # not the recording we follow (ended, or of before a reconnect)
        if current.silent is not None:
            return  # said again (after a reconnect): still the same silence
        current.silent = (silent_ms, now_ms())
        self._emit(RecordingSilent(current.recording_id, silent_ms))

    def _path(self, number: int) -> Path | None:
        if self._output is None or number == 1:
            return self._output
        return self._output.with_name(f"{self._output.stem}-{number}{self._output.suffix}")

    def _header(self, data: bytes) -> None:
        try:
            header = Header.parse(data)
        except MalformedError as error:
            self._emit(ChunkRejected(None, None, f"header: {error}"))
            return
        current = self._current
        if current is not None and current.header.recording_id == header.recording_id:
            return  # sent again after a reconnect: go on where we were
        if header.device_key != self._device.raw:
            self._emit(ChunkRejected(header.recording_id.hex(), None, "header of another device"))
            return
        if header.recording_id in self._seen:
            return  # an earlier recording (ended or replaced): not followed again
        try:
            opener = RecordingOpener(header, self._identities)  # NotForMeError propagates
            verifier = RecordingVerifier(header, opener)
        except TamperedError:
            self._emit(
                ChunkRejected(header.recording_id.hex(), None, "header failed authentication")
            )
            return
        if current is not None:
            self._finish(current, final=False, reason="a newer recording started")
        self._seen.add(header.recording_id)
        following = _Following(header, verifier, self._path(len(self.summary.recordings) + 1))
        self._current = following
        self.summary.recordings.append(following.summary)
        self._emit(
            RecordingStarted(
                following.recording_id,
                self._device.fingerprint,
                header.created_ms,
                header.media_type,
                following.summary.output,
            )
        )

    def _chunk(self, data: bytes) -> None:
        current = self._current
        if current is None:
            self._emit(ChunkRejected(None, None, "a chunk without a header"))
            return
        received_ms = now_ms()
        summary = current.summary
        check = current.verifier.check(RawChunk.split(data))
        chunk = check.chunk
        if check.problem is not None or chunk is None:
            summary.rejected += 1
            index = None if chunk is None else chunk.index
            self._emit(ChunkRejected(summary.recording_id, index, check.problem or "unreadable"))
            return
        if chunk.index <= current.last_index:
            return  # sent again after a reconnect or a resync
        report = current.verifier.report
        problems = len(report.problems)
        gaps = len(report.gaps)
        if not current.verifier.accept(check):
            summary.rejected += 1
            self._emit(ChunkRejected(summary.recording_id, chunk.index, report.problems[-1].what))
            return
        for problem in report.problems[problems:]:
            self._emit(ChunkRejected(summary.recording_id, chunk.index, problem.what))
        for gap in report.gaps[gaps:]:
            summary.gaps.append((gap.first, gap.last))
            self._emit(GapDetected(summary.recording_id, gap.first, gap.last))
        current.last_index = chunk.index
        if current.silent is not None:
            relay_silent_ms, told_ms = current.silent
            current.silent = None
            silent_ms = relay_silent_ms + max(0, received_ms - told_ms)
            self._emit(RecordingResumed(summary.recording_id, silent_ms))
        summary.chunks += 1
        summary.last_index = chunk.index
        if summary.first_index is None:
            summary.first_index = chunk.index
        self.summary.delays_ms.append(received_ms - chunk.device_time_ms)
        self._emit(
            ChunkReceived(
                summary.recording_id,
                chunk.index,
                chunk.kind,
                len(data),
                chunk.device_time_ms,
                received_ms,
            )
        )
        plaintext = check.plaintext or b""
        if chunk.kind is ChunkKind.INIT:
            current.write_init(plaintext)
        elif chunk.kind is ChunkKind.MEDIA:
            current.write_fragment(plaintext)  # not without an init segment: unplayable
            if report.media_before_init == chunk.index:
                self._emit(MediaWithoutInit(summary.recording_id, chunk.index))
        elif chunk.kind is ChunkKind.METADATA:
            self._metadata(current, chunk.index, chunk.device_time_ms, check.metadata or {})
        else:
            reason = _end_reason(plaintext)
            self._finish(current, final=True, reason=reason)

    def _metadata(
        self, current: _Following, index: int, device_time_ms: int, metadata: dict[str, object]
    ) -> None:
        if metadata.get("type") != "location":
            return
        lat, lon, accuracy = metadata.get("lat"), metadata.get("lon"), metadata.get("accuracy_m")
        if not isinstance(lat, int | float) or not isinstance(lon, int | float):
            self._emit(ChunkRejected(current.recording_id, index, "location without lat/lon"))
            return
        self._emit(
            LocationUpdate(
                current.recording_id,
                index,
                device_time_ms,
                float(lat),
                float(lon),
                float(accuracy) if isinstance(accuracy, int | float) else None,
            )
        )

    def _finish(self, current: _Following, *, final: bool, reason: str | None) -> None:
        current.close()
        media_before_init = current.verifier.report.media_before_init
        complete = final and media_before_init is None
        current.summary.complete = complete
        if self._current is current:
            self._current = None
        self._emit(
            RecordingEnded(
                current.recording_id,
                complete,
                reason,
                current.summary.chunks,
                len(current.summary.gaps),
                final=final,
                media_before_init=media_before_init,
            )
        )
        self._ended += 1
        if self._max_recordings is not None and self._ended >= self._max_recordings:
            raise _Done

    def close(self) -> None:
        """The watch stops: close the recording being followed (not complete)."""
        current = self._current
        if current is not None:
            self._current = None
            current.close()
            self._emit(
                RecordingEnded(
                    current.recording_id,
                    False,
                    "stopped watching",
                    current.summary.chunks,
                    len(current.summary.gaps),
                    media_before_init=current.verifier.report.media_before_init,
                )
            )


def _end_reason(plaintext: bytes) -> str | None:
    try:
        value = json.loads(plaintext) if plaintext else {}
    except ValueError:
        return None
    reason = value.get("reason") if isinstance(value, dict) else None
    return reason if isinstance(reason, str) else None


def live_url(relay_url: str, device: DeviceKey) -> str:
    return routes.LIVE.url(relay_url, device=str(device))


async def _follow(
    watcher: _Watcher,
    http: aiohttp.ClientSession,
    url: str,
    relay_url: str,
    token: str,
    on_event: Callable[[WatchEvent], None],
    reconnect: bool,
) -> None:
    backoff = Backoff(RECONNECT_INITIAL_S, RECONNECT_MAX_S, jitter=RECONNECT_JITTER)
    headers = {"Authorization": f"Bearer {token}"}
    while True:
        try:
            async with http.ws_connect(
                url, headers=headers, max_msg_size=MAX_LIVE_MESSAGE, heartbeat=HEARTBEAT_S
            ) as socket:
                backoff.reset()
                on_event(Connected(relay_url))
                reason = "the relay closed the connection"
                async for message in socket:
                    if message.type is aiohttp.WSMsgType.BINARY:
                        try:
                            watcher.handle(message.data)
                        except _RelayEnded as ended:
                            reason = str(ended) or "the relay ended the stream"
                    elif message.type is aiohttp.WSMsgType.ERROR:
                        reason = "connection error"
                        break
        except aiohttp.WSServerHandshakeError as error:
            if error.status in (401, 403):
                raise WatchRefused("the relay refused this token for this device") from None
            if error.status in (400, 404):
                raise WatchError(f"the relay has no live view here (HTTP {error.status})") from None
            reason = f"HTTP {error.status}"
        except (aiohttp.ClientError, OSError) as error:
            reason = failure_text(error)
        if not reconnect:
            raise WatchError(f"disconnected: {reason}")
        delay = backoff.next_delay()
        on_event(Disconnected(reason, delay))
        await asyncio.sleep(delay)


async def watch(
    relay_url: str,
    token: str,
    device: DeviceKey,
    identities: Sequence[RecipientIdentity],
    output: Path | None,
    *,
    on_event: Callable[[WatchEvent], None],
    stop: asyncio.Event | None = None,
    max_recordings: int | None = None,
    reconnect: bool = True,
) -> WatchSummary:
    """Follow device's recordings on the relay until stop is set or max_recordings ended.

    output: the MP4 of the first recording followed; the n-th (n > 1) is written beside it
    as `<stem>-<n><suffix>`. None: verify and report only. Raises WatchRefused (token),
    WatchError (no live view; or disconnected when reconnect is False) and NotForMeError
    (a recording not sealed to any of identities).
    """
    if max_recordings is not None and max_recordings < 1:
        raise ValueError("max_recordings must be at least 1")
    watcher = _Watcher(device, identities, output, on_event, max_recordings)
    stopped = stop if stop is not None else asyncio.Event()
    url = live_url(relay_url, device)
    try:
        async with relay_session() as http:
            follow = asyncio.ensure_future(
                _follow(watcher, http, url, relay_url, token, on_event, reconnect)
            )
            waiting = asyncio.ensure_future(stopped.wait())
            try:
                await asyncio.wait({follow, waiting}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (follow, waiting):
                    task.cancel()
                await asyncio.gather(follow, waiting, return_exceptions=True)
            if follow.done() and not follow.cancelled():
                error = follow.exception()
                if error is not None and not isinstance(error, _Done):
                    raise error
    finally:
        watcher.close()
    return watcher.summary
