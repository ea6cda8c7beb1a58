"""`testigo record`: pick the source, run the recorder, show a status line, stop cleanly."""

import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from capture.encoder import CaptureConfig
from capture.location import location_provider
from capture.microphone import CameraWithMicrophone, MicrophoneSource, open_default_microphone
from capture.recorder import (
    ChunkListener,
    Recorder,
    RecorderStatus,
    RecordingListener,
    StatusListener,
)
from capture.sources import CameraSource, FileSource, FrameSource, SyntheticSource
from vault.errors import TestigoError
from vault.identity import DeviceIdentity
from vault.keys import RecipientKey

Echo = Callable[[str], None]


def open_source(
    spec: str, width: int, height: int, fps: int, microphone: str | None
) -> FrameSource:
    """camera | camera:N | camera:/dev/videoN | synthetic | a media file path.

    A camera gets the microphone too: microphone None means the system default if there
    is one, "none" means video only, "pulse:DEVICE" / "alsa:DEVICE" a given device.
    """
    if spec == "synthetic":
        return SyntheticSource(width, height, fps, realtime=True)
    if spec == "camera" or spec.startswith("camera:"):
        device = spec.partition(":")[2] or "0"
        camera = CameraSource(int(device) if device.isdigit() else device, width, height, fps)
        audio = _open_microphone(microphone)
        return camera if audio is None else CameraWithMicrophone(camera, audio)
    path = Path(spec)
    if not path.exists():
        raise TestigoError(
            f"source {spec!r} is not camera, synthetic or an existing file",
            hint="use --source camera, --source synthetic or --source PATH",
        )
    return FileSource(path)


def _open_microphone(spec: str | None) -> MicrophoneSource | None:
    if spec == "none":
        return None
    if spec is None:
        return open_default_microphone()
    backend, _, device = spec.partition(":")
    return MicrophoneSource(device or "default", backend)


@contextmanager
def stop_on_signals(recorder: Recorder) -> Iterator[None]:
    """Ctrl-C or SIGTERM finish the recording (final chunk) instead of killing it."""

    def handler(_signum: int, _frame: FrameType | None) -> None:
        recorder.stop()

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, old in previous.items():
            signal.signal(number, old)


class StatusLine:
    """A one-line status on a terminal (rewritten in place); a line every 10 s elsewhere."""

    def __init__(self, echo: Echo) -> None:
        self._echo = echo
        self._terminal = sys.stderr.isatty()
        self._last_printed = -10.0
        self._recording = RecorderStatus(0.0, 0, 0)
        self.safe_seconds: float | None = None

    def recording(self, status: RecorderStatus) -> None:
        self._recording = status
        self._show()

    def safe(self, seconds: float) -> None:
        self.safe_seconds = seconds
        self._show()

    def _show(self) -> None:
        status = self._recording
        elapsed = int(status.elapsed_s)
        text = (
            f"REC {elapsed // 60:02d}:{elapsed % 60:02d}  {status.chunks} chunks sealed  "
            f"{status.bytes_sealed / 1e6:.1f} MB"
        )
        if self.safe_seconds is not None:
            text += f"  {self.safe_seconds:.1f} s safely off-device"
        if self._terminal:
            sys.stderr.write("\r" + text + "  ")
            sys.stderr.flush()
        elif status.elapsed_s - self._last_printed >= 10:
            self._last_printed = status.elapsed_s
            self._echo(text)

    def close(self) -> None:
        if self._terminal:
            sys.stderr.write("\n")


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


def record_to_spool(
    options: RecordOptions,
    device: DeviceIdentity,
    recipients: Sequence[RecipientKey],
    echo: Echo,
) -> Path:
    """Record offline: every chunk sealed into the spool; Ctrl-C ends with a final chunk."""
    status = StatusLine(echo)
    recorder = prepare_recorder(options, device, recipients, echo, on_status=status.recording)
    with stop_on_signals(recorder):
        recording = recorder.run(options.duration_s)
    status.close()
    return recording.directory
