"""Microphone audio through FFmpeg's input devices (PyAV), and joining it to a camera.

`MicrophoneSource` opens a capture device (`pulse` or `alsa`; any FFmpeg input format
works the same way, e.g. `lavfi` for a generated tone in tests) and re-stamps its frames
by sample count from the first one, so the timeline is exact and monotonic.
`CameraWithMicrophone` reads the microphone on its own thread and interleaves its frames
with the camera's, so one FrameSource carries both to the encoder.
"""

import queue
import threading
from collections.abc import Iterator
from fractions import Fraction
from typing import Final

import av

from capture.errors import MICROPHONE_HINT, MediaError
from capture.sources import AudioFormat, Frame, FrameSource, VideoFormat

QUEUE_FRAMES: Final = 256  # about 5 s of 1024-sample frames at 48 kHz
DEFAULT_BACKENDS: Final = ("pulse", "alsa")
END_WAIT_S: Final = 2.0


class MicrophoneSource:
    """Audio frames from a capture device; video_format is None."""

    def __init__(self, device: str = "default", backend: str = "pulse") -> None:
        try:
            self._container = av.open(device, format=backend, mode="r")
        except (av.FFmpegError, ValueError, OSError) as error:
            raise MediaError(
                f"no microphone at {backend}:{device} ({error})", hint=MICROPHONE_HINT
            ) from None
        if not self._container.streams.audio:
            self._container.close()
            raise MediaError(f"{backend}:{device} has no audio", hint=MICROPHONE_HINT)
        self._stream = self._container.streams.audio[0]
        self._closed = False

    @property
    def video_format(self) -> VideoFormat | None:
        return None

    @property
    def audio_format(self) -> AudioFormat:
        context = self._stream.codec_context
        return AudioFormat(context.sample_rate, context.layout.nb_channels)

    def frames(self) -> Iterator[Frame]:
        samples = 0
        try:
            for frame in self._container.decode(self._stream):
                if self._closed:
                    return
                frame.pts = samples
                frame.time_base = Fraction(1, frame.sample_rate)
                samples += frame.samples
                yield frame
        except av.FFmpegError as error:
            if not self._closed:
                raise MediaError(f"the microphone stopped: {error}", hint=MICROPHONE_HINT) from None
        finally:
            self._container.close()

    def close(self) -> None:
        self._closed = True


def open_default_microphone() -> MicrophoneSource | None:
    """The system's default microphone (PulseAudio, else ALSA), or None if there is none."""
    for backend in DEFAULT_BACKENDS:
        try:
            return MicrophoneSource("default", backend)
        except MediaError:
            continue
    return None


class CameraWithMicrophone:
    """One FrameSource of a video-only source and an audio-only source."""

    def __init__(self, video: FrameSource, audio: FrameSource) -> None:
        if video.video_format is None or audio.audio_format is None:
            raise ValueError("needs a video source and an audio source")
        self._video = video
        self._audio = audio
        self._queue: queue.Queue[Frame | None] = queue.Queue(maxsize=QUEUE_FRAMES)
        self._thread: threading.Thread | None = None
        self.error: MediaError | None = None

    @property
    def video_format(self) -> VideoFormat | None:
        return self._video.video_format

    @property
    def audio_format(self) -> AudioFormat | None:
        return self._audio.audio_format

    def _read_audio(self) -> None:
        try:
            for frame in self._audio.frames():
                self._queue.put(frame)
        except MediaError as error:
            self.error = error
        finally:
            self._queue.put(None)

    def _queued_audio(self) -> Iterator[Frame]:
        while True:
            try:
                frame = self._queue.get_nowait()
            except queue.Empty:
                return
            if frame is None:
                return
            yield frame

    def frames(self) -> Iterator[Frame]:
        self._thread = threading.Thread(target=self._read_audio, name="microphone", daemon=True)
        self._thread.start()
        try:
            for frame in self._video.frames():
                yield from self._queued_audio()
                yield frame
            self._audio.close()  # the microphone stops at its next frame
            self._thread.join(timeout=END_WAIT_S)
            yield from self._queued_audio()
        finally:
            self.close()

    def close(self) -> None:
        self._audio.close()
        self._video.close()
