"""`testigo record`: pick the source, run the recorder, show a status line, stop cleanly."""

import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from capture.encoder import CaptureConfig
from capture.errors import MediaError
from capture.recorder import Location, Recorder, RecorderStatus
from capture.sources import CameraSource, FileSource, FrameSource, SyntheticSource
from vault.errors import TestigoError
from vault.identity import SigningIdentity, StoredIdentity
from vault.keys import RecipientKey

Echo = Callable[[str], None]


def open_source(spec: str, width: int, height: int, fps: int) -> FrameSource:
    """camera | camera:N | camera:/dev/videoN | synthetic | a media file path."""
    try:
        if spec == "synthetic":
            return SyntheticSource(width, height, fps, realtime=True)
        if spec == "camera" or spec.startswith("camera:"):
            device = spec.partition(":")[2] or "0"
            return CameraSource(int(device) if device.isdigit() else device, width, height, fps)
        path = Path(spec)
        if not path.exists():
            raise TestigoError(
                f"source {spec!r} is not camera, synthetic or an existing file",
                hint="use --source camera, --source synthetic or --source PATH",
            )
        return FileSource(path)
    except MediaError as error:
        raise TestigoError(
            str(error), hint="connect a camera, or record the test pattern with --source synthetic"
        ) from None


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
    """A one-line status on a terminal; a line every 10 s elsewhere."""

    def __init__(self, echo: Echo) -> None:
        self._echo = echo
        self._terminal = sys.stderr.isatty()
        self._last_printed = -10.0

    def __call__(self, status: RecorderStatus) -> None:
        text = (
            f"REC {int(status.elapsed_s) // 60:02d}:{int(status.elapsed_s) % 60:02d}  "
            f"{status.chunks} chunks sealed  {status.bytes_sealed / 1e6:.1f} MB"
        )
        if self._terminal:
            sys.stderr.write("\r" + text)
            sys.stderr.flush()
        elif status.elapsed_s - self._last_printed >= 10:
            self._last_printed = status.elapsed_s
            self._echo(text)


def record_to_spool(
    *,
    source: str,
    spool: Path,
    device: StoredIdentity,
    recipients: Sequence[RecipientKey],
    duration_s: float | None,
    width: int,
    height: int,
    fps: int,
    bitrate: int,
    fragment_seconds: float,
    keyframe_interval: int | None,
    location: str | None,
    echo: Echo,
) -> Path:
    if not isinstance(device.identity, SigningIdentity):
        raise TestigoError("recording needs a device key")
    try:
        config = CaptureConfig(
            width=width,
            height=height,
            fps=fps,
            bitrate=bitrate,
            fragment_seconds=fragment_seconds,
            keyframe_interval=keyframe_interval,
        )
        fixed_location = Location.parse(location) if location else None
    except ValueError as error:
        raise TestigoError(str(error), hint="see: testigo record --help") from None
    frames = open_source(source, width, height, fps)
    if frames.audio_format is None:
        echo("testigo: note: no microphone/audio in this source: recording video only")
    recorder = Recorder(
        frames,
        config,
        device.identity,
        recipients,
        spool,
        location=(lambda: fixed_location) if fixed_location else None,
        on_status=StatusLine(echo),
    )
    with stop_on_signals(recorder):
        try:
            recording = recorder.run(duration_s)
        except MediaError as error:
            raise TestigoError(str(error), hint="check the source") from None
    if sys.stderr.isatty():
        sys.stderr.write("\n")
    return recording.directory
