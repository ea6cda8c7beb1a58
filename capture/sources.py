"""Where frames come from: one :class:`FrameSource` protocol, several sources behind it.

A source yields PyAV frames, ``av.VideoFrame`` and ``av.AudioFrame``, each with
``pts`` and ``time_base`` set, so its timestamps mean seconds on one timeline
shared by its video and audio, starting near 0. Frames come in roughly
presentation order (video and audio interleaved as they were captured or
demuxed). The encoder does the rest (scaling, pixel format, resampling), so every
source (a camera, a file, the synthetic pattern) takes the same path.

Microphones are not implemented: :class:`CameraSource` is video only. Audio comes
from :class:`SyntheticSource` (the tone) and :class:`FileSource`.
"""

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Protocol

import av
import cv2
import numpy as np

from capture.errors import CAMERA_HINT, MediaError
from capture.synthetic import AUDIO_RATE, TestPattern, ToneGenerator

Frame = av.VideoFrame | av.AudioFrame


@dataclass(frozen=True)
class VideoFormat:
    """What a source's video frames look like."""

    width: int
    height: int
    fps: Fraction
    """Nominal frame rate (the encoder's rate-control target; timestamps rule)."""

    def __post_init__(self) -> None:
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"video size must be positive, got {self.width}x{self.height}")
        if self.fps <= 0:
            raise ValueError(f"fps must be > 0, got {self.fps}")


@dataclass(frozen=True)
class AudioFormat:
    """What a source's audio frames look like."""

    sample_rate: int
    channels: int

    def __post_init__(self) -> None:
        if self.sample_rate <= 0:
            raise ValueError(f"sample_rate must be > 0, got {self.sample_rate}")
        if self.channels <= 0:
            raise ValueError(f"channels must be > 0, got {self.channels}")


class FrameSource(Protocol):
    """A finite or endless supply of timestamped frames."""

    @property
    def video_format(self) -> VideoFormat | None:
        """The video frames' format, or ``None`` if the source has no video."""
        ...

    @property
    def audio_format(self) -> AudioFormat | None:
        """The audio frames' format, or ``None`` if the source has no audio."""
        ...

    def frames(self) -> Iterator[Frame]:
        """Frames in presentation order; ends when the source does."""
        ...

    def close(self) -> None:
        """Release the device or file. Idempotent."""
        ...


class SyntheticSource:
    """The test pattern (:mod:`capture.synthetic`) and tone, frame by frame.

    Each picture shows the wall-clock time (``HH:MM:SS.mmm``, UTC) at which it was
    made and its frame number, so later stages can measure latency and spot lost
    frames. With ``realtime=True`` frames are paced to the clock (for recording
    and demos); with ``realtime=False`` they come as fast as the consumer takes
    them (tests, benchmarks). ``seconds=None`` runs until closed.
    """

    def __init__(
        self,
        width: int = 1280,
        height: int = 720,
        fps: int = 30,
        *,
        audio: bool = True,
        seconds: float | None = None,
        realtime: bool = True,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if fps <= 0:
            raise ValueError(f"fps must be > 0, got {fps}")
        if seconds is not None and not seconds > 0:
            raise ValueError(f"seconds must be > 0, got {seconds!r}")
        self._pattern = TestPattern(width, height)
        self._fps = fps
        self._audio = audio
        self._seconds = seconds
        self._realtime = realtime
        self._clock = clock
        self._sleep = sleep
        self._closed = False

    @property
    def video_format(self) -> VideoFormat:
        return VideoFormat(self._pattern.width, self._pattern.height, Fraction(self._fps))

    @property
    def audio_format(self) -> AudioFormat | None:
        return AudioFormat(AUDIO_RATE, 1) if self._audio else None

    def frames(self) -> Iterator[Frame]:
        tone = ToneGenerator() if self._audio else None
        frame_count = None if self._seconds is None else round(self._seconds * self._fps)
        started = self._clock()
        index = 0
        while not self._closed and (frame_count is None or index < frame_count):
            due = index / self._fps
            if self._realtime:
                delay = started + due - self._clock()
                if delay > 0:
                    self._sleep(delay)
            # Audio up to this frame's time first, so the stream stays interleaved.
            while tone is not None and tone.samples_done / tone.rate <= due:
                yield tone.next_frame()
            now_ms = round(self._clock() * 1000)
            frame = self._pattern.video_frame(index, now_ms)
            frame.pts = index
            frame.time_base = Fraction(1, self._fps)
            yield frame
            index += 1

    def close(self) -> None:
        self._closed = True


class FileSource:
    """Decoded frames of the first video and first audio stream of a media file."""

    def __init__(self, path: Path) -> None:
        self._container = open_input(path)
        self._path = path
        self._video = self._container.streams.video[0] if self._container.streams.video else None
        self._audio = self._container.streams.audio[0] if self._container.streams.audio else None
        if self._video is None and self._audio is None:
            self._container.close()
            raise MediaError(f"{path} has no audio or video stream")
        self._closed = False

    @property
    def video_format(self) -> VideoFormat | None:
        if self._video is None:
            return None
        context = self._video.codec_context
        rate = self._video.average_rate or self._video.guessed_rate or Fraction(30)
        return VideoFormat(context.width, context.height, Fraction(rate))

    @property
    def audio_format(self) -> AudioFormat | None:
        if self._audio is None:
            return None
        context = self._audio.codec_context
        return AudioFormat(context.sample_rate, context.layout.nb_channels)

    def frames(self) -> Iterator[Frame]:
        """Decoded frames; frames without ``pts`` (raw streams) get one from their count."""
        streams = [stream for stream in (self._video, self._audio) if stream is not None]
        video_format = self.video_format
        frame_rate = Fraction(30) if video_format is None else video_format.fps
        video_count = 0
        audio_samples = 0
        try:
            for packet in self._container.demux(streams):
                for frame in packet.decode():
                    if isinstance(frame, av.VideoFrame):
                        if frame.pts is None:
                            frame.pts = video_count
                            frame.time_base = 1 / frame_rate
                        video_count += 1
                        yield frame
                    elif isinstance(frame, av.AudioFrame):
                        if frame.pts is None:
                            frame.pts = audio_samples
                            frame.time_base = Fraction(1, frame.sample_rate)
                        audio_samples += frame.samples
                        yield frame
        except av.FFmpegError as error:
            raise MediaError(f"{self._path} is damaged: {error}") from error
        finally:
            self.close()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._container.close()


def open_input(path: Path) -> av.container.InputContainer:
    """Open a media file for reading, turning every failure into a :class:`MediaError`."""
    if not path.exists():
        raise MediaError(f"no such file: {path}")
    if not path.is_file():
        raise MediaError(f"not a file: {path}")
    if path.stat().st_size == 0:
        raise MediaError(f"{path} is empty (0 bytes): there is no media in it")
    try:
        return av.open(str(path), mode="r")
    except av.FFmpegError as error:
        reason = (error.strerror or str(error)).lower()  # without FFmpeg's errno number
        raise MediaError(f"{path} is not a media file that can be read: {reason}") from error
    except OSError as error:
        raise MediaError(f"cannot read {path}: {error}") from error


class CameraSource:
    """Frames from a camera through OpenCV ``VideoCapture`` (video only, no microphone).

    ``device`` is an index (``0`` is ``/dev/video0``) or a device path. Timestamps are
    the capture times measured on the monotonic clock from the first frame.
    """

    def __init__(
        self, device: int | str = 0, width: int = 1280, height: int = 720, fps: int = 30
    ) -> None:
        name = f"/dev/video{device}" if isinstance(device, int) else device
        previous_level = cv2.utils.logging.getLogLevel()
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)  # no probe chatter
        try:
            capture = cv2.VideoCapture(device)
        finally:
            cv2.utils.logging.setLogLevel(previous_level)
        if not capture.isOpened():
            capture.release()
            raise MediaError(f"no camera found at {name}; use --source synthetic", hint=CAMERA_HINT)
        capture.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        capture.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        capture.set(cv2.CAP_PROP_FPS, fps)
        self._capture = capture
        self._name = name
        actual_fps = capture.get(cv2.CAP_PROP_FPS) or fps
        self._format = VideoFormat(
            int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)) or width,
            int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)) or height,
            Fraction(actual_fps).limit_denominator(1001),
        )
        self._closed = False

    @property
    def video_format(self) -> VideoFormat:
        return self._format

    @property
    def audio_format(self) -> None:
        return None

    def frames(self) -> Iterator[Frame]:
        time_base = Fraction(1, 90_000)
        started: float | None = None
        try:
            while not self._closed:
                ok, image = self._capture.read()
                if not ok:
                    if started is None:
                        raise MediaError(
                            f"camera at {self._name} opened but gives no frames", hint=CAMERA_HINT
                        )
                    return
                now = time.monotonic()
                if started is None:
                    started = now
                pixels = np.asarray(image, dtype=np.uint8)
                frame = av.VideoFrame.from_ndarray(pixels, format="bgr24")
                frame.pts = round((now - started) * 90_000)
                frame.time_base = time_base
                yield frame
        finally:
            self.close()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._capture.release()
