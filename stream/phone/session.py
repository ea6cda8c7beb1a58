"""`testigo record` (with or without a relay) and `testigo upload`: one recording session.

The recorder runs on a worker thread (encoding blocks) and seals every chunk into the
spool. With a relay, the uploader runs on the event loop beside it and is told about
every chunk the moment it is durably spooled; without one, the chunks wait in the spool
for `testigo upload`. Ctrl-C stops the recording (with its final chunk); the upload goes
on until every chunk has a receipt. A second Ctrl-C gives up and says how much is not yet
safe.
"""

import asyncio
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from capture.encoder import CaptureConfig
from capture.location import location_provider
from capture.recorder import (
    ChunkListener,
    Recorder,
    RecorderStatus,
    RecordingListener,
    StatusListener,
)
from capture.source_spec import open_source
from stream.phone.upload_machine import UploadStatus
from stream.phone.uploader import SafeChunk, Uploader
from vault.errors import TestigoError
from vault.format import Chunk
from vault.identity import DeviceIdentity
from vault.keys import RecipientKey, RelayKey
from vault.spool import SpoolRecording, recordings_in

Echo = Callable[[str], None]

DRAIN_AFTER_FAILURE_S = 30.0  # after the recorder fails, how long the upload may go on


class Display(Protocol):
    """Where the session shows progress (the CLI's status line)."""

    def recording(self, status: RecorderStatus) -> None: ...

    def safe(self, seconds: float) -> None: ...

    def upload(self, status: UploadStatus) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class RelayTarget:
    url: str
    key: RelayKey


@dataclass(frozen=True)
class RecordingSummary:
    """How a recording (or its upload) ended."""

    recording: Path
    chunks: int
    safe: int
    unsafe: list[int]
    first_receipt_s: float | None = None  # from pressing record to the first receipt
    streamed: bool = True
    stopped: str | None = None  # why the relay will not take this recording, if it said
    failure: TestigoError | OSError | None = None  # what ended the recording, if it failed


@dataclass(frozen=True)
class RecordOptions:
    """What `testigo record` was asked for (validated by `prepare_recorder`)."""

    source: str
    spool: Path
    duration_s: float | None
    width: int
    height: int
    fps: int
    bitrate: int
    fragment_seconds: float
    keyframe_interval: int | None
    location: str | None
    microphone: str | None = None


def prepare_recorder(
    options: RecordOptions,
    device: DeviceIdentity,
    recipients: Sequence[RecipientKey],
    echo: Echo,
    *,
    on_status: StatusListener | None = None,
    on_chunk: ChunkListener | None = None,
    on_recording: RecordingListener | None = None,
) -> Recorder:
    try:
        config = CaptureConfig(
            width=options.width,
            height=options.height,
            fps=options.fps,
            bitrate=options.bitrate,
            fragment_seconds=options.fragment_seconds,
            keyframe_interval=options.keyframe_interval,
        )
        location, where = location_provider(options.location)
    except ValueError as error:
        raise TestigoError(str(error), hint="see: testigo record --help") from None
    echo(f"testigo: note: {where}")
    frames = open_source(
        options.source, options.width, options.height, options.fps, options.microphone
    )
    if frames.audio_format is None:
        echo("testigo: note: no microphone/audio in this source: recording video only")
    return Recorder(
        frames,
        config,
        device,
        recipients,
        options.spool,
        location=location,
        on_status=on_status,
        on_chunk=on_chunk,
        on_recording=on_recording,
    )


class SafeSeconds:
    """How much of the recording is safely off-device: up to the last chunk such that it
    and every chunk before it have receipts."""

    def __init__(self, created_ms: int, already_safe: set[int]) -> None:
        self._created_ms = created_ms
        self._safe = set(already_safe)
        self._contiguous = -1
        self.seconds = 0.0
        self._advance({})

    def add(self, chunk: SafeChunk, times: dict[int, int]) -> float:
        self._safe.add(chunk.index)
        times[chunk.index] = chunk.device_time_ms
        self._advance(times)
        return self.seconds

    def _advance(self, times: dict[int, int]) -> None:
        while self._contiguous + 1 in self._safe:
            self._contiguous += 1
            if self._contiguous in times:
                self.seconds = max(0.0, (times[self._contiguous] - self._created_ms) / 1000)


def _install_signals(first: Callable[[], None], second: Callable[[], None]) -> Callable[[], None]:
    loop = asyncio.get_running_loop()
    presses = 0

    def handler() -> None:
        nonlocal presses
        presses += 1
        (first if presses == 1 else second)()

    for number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(number, handler)

    def remove() -> None:
        for number in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(number)

    return remove


async def _upload_until_done(uploader: Uploader, give_up: asyncio.Event) -> None:
    task = asyncio.ensure_future(uploader.run())
    stopper = asyncio.ensure_future(give_up.wait())
    await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    if not task.done():
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    else:
        task.result()  # re-raises what stopped the upload


async def record(
    options: RecordOptions,
    device: DeviceIdentity,
    recipients: Sequence[RecipientKey],
    echo: Echo,
    display: Display,
    *,
    relay: RelayTarget | None = None,
    webrtc: bool = True,
) -> RecordingSummary:
    """Record into the spool until the duration is over or Ctrl-C; with relay, stream
    every chunk as it is spooled and keep uploading after the recording until every
    chunk has a receipt (or a second Ctrl-C)."""

    def make_recorder(
        on_status: StatusListener, on_chunk: ChunkListener, on_recording: RecordingListener
    ) -> Recorder:
        return prepare_recorder(
            options,
            device,
            recipients,
            echo,
            on_status=on_status,
            on_chunk=on_chunk,
            on_recording=on_recording,
        )

    return await run_session(
        make_recorder,
        options.duration_s,
        echo,
        display,
        relay=relay,
        webrtc=webrtc,
        device=device,
    )


RecorderFactory = Callable[[StatusListener, ChunkListener, RecordingListener], Recorder]


async def run_session(
    make_recorder: RecorderFactory,
    duration_s: float | None,
    echo: Echo,
    display: Display,
    *,
    relay: RelayTarget | None = None,
    webrtc: bool = True,
    device: DeviceIdentity | None = None,
) -> RecordingSummary:
    """The session of `record` for the recorder make_recorder builds (with the session's
    listeners); device, the recorder's key, proves the device to the relay for TURN."""
    started = time.monotonic()
    first_receipt: list[float] = []
    loop = asyncio.get_running_loop()
    created: asyncio.Future[SpoolRecording] = loop.create_future()
    box: list[Uploader] = []
    times: dict[int, int] = {}

    def recording_started(recording: SpoolRecording) -> None:  # on the recorder's thread
        loop.call_soon_threadsafe(created.set_result, recording)

    def chunk_spooled(chunk: Chunk) -> None:  # on the recorder's thread
        loop.call_soon_threadsafe(_chunk_ready, chunk.index, chunk.device_time_ms)

    def status_changed(recorder_status: RecorderStatus) -> None:  # on the recorder's thread
        loop.call_soon_threadsafe(display.recording, recorder_status)

    def _chunk_ready(index: int, device_time_ms: int) -> None:
        times[index] = device_time_ms
        if box:
            box[0].chunk_added(index)

    recorder = make_recorder(status_changed, chunk_spooled, recording_started)
    give_up = asyncio.Event()
    remove_signals = _install_signals(recorder.stop, give_up.set if relay else recorder.stop)
    try:
        recording_task = asyncio.ensure_future(asyncio.to_thread(recorder.run, duration_s))
        done, _ = await asyncio.wait({recording_task, created}, return_when=asyncio.FIRST_COMPLETED)
        if recording_task in done and not created.done():
            recording_task.result()  # raises what stopped the recorder before it began
        recording = await created
        if relay is None:
            await recording_task
            display.close()
            indices = recording.indices()
            return RecordingSummary(recording.directory, len(indices), 0, indices, streamed=False)

        def on_safe(chunk: SafeChunk) -> None:  # called only once `safe` below exists
            if not first_receipt:
                first_receipt.append(time.monotonic() - started)
            display.safe(safe.add(chunk, times))

        uploader = Uploader(
            recording,
            relay.url,
            relay.key,
            webrtc=webrtc,
            device=device,
            on_safe=on_safe,
            on_note=echo,
            on_status=display.upload,
        )
        safe = SafeSeconds(recording.header().created_ms, set(uploader.receipted_at_start))
        uploader.expect_more()  # it read the spool; later chunks come through box
        box.append(uploader)
        upload_task = asyncio.ensure_future(_upload_until_done(uploader, give_up))
        failure: TestigoError | OSError | None = None
        try:
            await recording_task
        except (TestigoError, OSError) as error:  # the camera went away, the disk is full
            failure = error
        finally:
            uploader.recording_done()
        display.close()
        if not upload_task.done():
            if failure is None:
                echo("recording stopped; sending what is left to the relay (Ctrl-C to give up)")
            else:
                echo(
                    f"the recording failed ({failure}); sending what was recorded to the relay "
                    f"for up to {DRAIN_AFTER_FAILURE_S:.0f} s (Ctrl-C to give up)"
                )
                await asyncio.wait({upload_task}, timeout=DRAIN_AFTER_FAILURE_S)
                give_up.set()
        await upload_task
    finally:
        remove_signals()
    return _summary(uploader, first_receipt[0] if first_receipt else None, failure)


def _summary(
    uploader: Uploader,
    first_receipt_s: float | None = None,
    failure: TestigoError | OSError | None = None,
) -> RecordingSummary:
    return RecordingSummary(
        recording=uploader.recording.directory,
        chunks=len(uploader.recording.indices()),
        safe=uploader.safe_count,
        unsafe=uploader.unsafe_indices,
        first_receipt_s=first_receipt_s,
        stopped=uploader.status.stopped,
        failure=failure,
    )


async def upload_spool(
    spool: Path, relay: RelayTarget, echo: Echo, *, webrtc: bool = True
) -> list[RecordingSummary]:
    """Send every chunk of every recording in spool that has no receipt yet."""
    give_up = asyncio.Event()
    remove_signals = _install_signals(give_up.set, give_up.set)
    summaries = []
    try:
        for recording in recordings_in(spool):
            uploader = Uploader(recording, relay.url, relay.key, webrtc=webrtc, on_note=echo)
            if uploader.unsafe_indices:
                echo(
                    f"{recording.directory.name}: {len(uploader.unsafe_indices)} chunk(s) "
                    "without a receipt; sending"
                )
                await _upload_until_done(uploader, give_up)
            summaries.append(_summary(uploader))
            if give_up.is_set():
                break
    finally:
        remove_signals()
    return summaries
