"""`testigo record --relay`: record and stream at once; `testigo upload`: send what is left.

The recorder runs on a worker thread (encoding blocks); the uploader runs on the event
loop and is told about every chunk the moment it is durably spooled. Ctrl-C stops the
recording (with its final chunk); the upload goes on until every chunk has a receipt. A
second Ctrl-C gives up and says how much is not yet safe.
"""

import asyncio
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from capture.recorder import RecorderStatus
from capture.recording_session import (
    Echo,
    RecordOptions,
    StatusLine,
    prepare_recorder,
)
from stream.phone.uploader import SafeChunk, Uploader
from vault.format import Chunk
from vault.identity import DeviceIdentity
from vault.keys import RecipientKey, RelayKey
from vault.spool import SpoolRecording, recordings_in


@dataclass(frozen=True)
class RelayTarget:
    url: str
    key: RelayKey


@dataclass(frozen=True)
class UploadSummary:
    recording: Path
    chunks: int
    safe: int
    unsafe: list[int]
    first_receipt_s: float | None = None  # from pressing record to the first receipt


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


async def record_and_stream(
    options: RecordOptions,
    device: DeviceIdentity,
    recipients: Sequence[RecipientKey],
    relay: RelayTarget,
    echo: Echo,
    *,
    webrtc: bool = True,
) -> UploadSummary:
    started = time.monotonic()
    first_receipt: list[float] = []
    loop = asyncio.get_running_loop()
    status = StatusLine(echo)
    created: asyncio.Future[SpoolRecording] = loop.create_future()
    box: list[Uploader] = []
    times: dict[int, int] = {}

    def recording_started(recording: SpoolRecording) -> None:
        loop.call_soon_threadsafe(created.set_result, recording)

    def chunk_spooled(chunk: Chunk) -> None:  # on the recorder's thread
        loop.call_soon_threadsafe(_chunk_ready, chunk.index, chunk.device_time_ms)

    def status_changed(recorder_status: RecorderStatus) -> None:  # on the recorder's thread
        loop.call_soon_threadsafe(status.recording, recorder_status)

    def _chunk_ready(index: int, device_time_ms: int) -> None:
        times[index] = device_time_ms
        if box:
            box[0].chunk_added(index)

    recorder = prepare_recorder(
        options,
        device,
        recipients,
        echo,
        on_status=status_changed,
        on_chunk=chunk_spooled,
        on_recording=recording_started,
    )
    give_up = asyncio.Event()
    remove_signals = _install_signals(recorder.stop, give_up.set)
    try:
        recording_task = asyncio.ensure_future(asyncio.to_thread(recorder.run, options.duration_s))
        done, _ = await asyncio.wait({recording_task, created}, return_when=asyncio.FIRST_COMPLETED)
        if recording_task in done and not created.done():
            recording_task.result()  # raises what stopped the recorder before it began
        recording = await created
        safe = SafeSeconds(recording.header().created_ms, recording.receipted())

        def on_safe(chunk: SafeChunk) -> None:
            if not first_receipt:
                first_receipt.append(time.monotonic() - started)
            status.safe(safe.add(chunk, times))

        uploader = Uploader(
            recording, relay.url, relay.key, webrtc=webrtc, on_safe=on_safe, on_note=echo
        )
        uploader.expect_more()
        box.append(uploader)
        upload_task = asyncio.ensure_future(_upload_until_done(uploader, give_up))
        try:
            await recording_task
        finally:
            uploader.recording_done()
        status.close()
        if not upload_task.done():
            echo("recording stopped; sending what is left to the relay (Ctrl-C to give up)")
        await upload_task
    finally:
        remove_signals()
    return _summary(uploader, first_receipt[0] if first_receipt else None)


def _summary(uploader: Uploader, first_receipt_s: float | None = None) -> UploadSummary:
    return UploadSummary(
        recording=uploader.recording.directory,
        chunks=len(uploader.recording.indices()),
        safe=uploader.safe_count,
        unsafe=uploader.unsafe_indices,
        first_receipt_s=first_receipt_s,
    )


async def upload_spool(
    spool: Path, relay: RelayTarget, echo: Echo, *, webrtc: bool = True
) -> list[UploadSummary]:
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
