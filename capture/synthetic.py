"""A generated test pattern and tone, and a writer for ordinary MP4 clips made of them.

The picture is drawn straight into a ``yuv420p`` buffer (no colour conversion per
frame): 75% colour bars, a dark band with two burned-in lines of text (a running
clock and a frame counter, drawn with ``cv2.putText``) and a bar that moves one
step per frame, so a frozen or dropped frame is visible; a strip of blocks along the
top carries the clock and frame counter in machine-readable form (capture.timecode).
The tone is a 440 Hz sine with an 880 Hz pip during the first 50 ms of every second,
for checking A/V sync.
"""

import math
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import numpy.typing as npt
from av.audio.stream import AudioStream
from av.container import OutputContainer
from av.video.stream import VideoStream

from capture import timecode
from capture.errors import MediaError

AUDIO_RATE = 48_000
AUDIO_FRAME_SAMPLES = 1024
_TONE_HZ = 440.0
_PIP_HZ = 880.0
_PIP_SECONDS = 0.05
_AMPLITUDE = 0.25

# BT.601 limited-range Y, U, V of 75% colour bars: white, yellow, cyan, green,
# magenta, red, blue.
_BARS = (
    (180, 128, 128),
    (162, 44, 142),
    (131, 156, 44),
    (112, 72, 58),
    (84, 184, 198),
    (65, 100, 212),
    (35, 212, 114),
)
_BLACK_Y = 16
_WHITE_Y = 235
_NEUTRAL_UV = 128

Plane = npt.NDArray[np.uint8]


def format_clock(milliseconds: int) -> str:
    """``HH:MM:SS.mmm`` for a time in milliseconds (wraps at 24 h)."""
    seconds, ms = divmod(milliseconds, 1000)
    minutes, s = divmod(seconds, 60)
    hours, m = divmod(minutes, 60)
    return f"{hours % 24:02d}:{m:02d}:{s:02d}.{ms:03d}"


class TestPattern:
    """Renders frames of the test pattern as ``yuv420p`` arrays of shape ``(h * 3 // 2, w)``."""

    __test__ = False  # not a pytest test class

    def __init__(self, width: int, height: int) -> None:
        if width < 64 or height < 64 or width % 2 or height % 2:
            raise ValueError(f"test pattern needs even dimensions >= 64, got {width}x{height}")
        self.width = width
        self.height = height
        self._band_top = height * 2 // 3
        self._background = self._draw_background()
        self._font_scale = height / 360
        self._thickness = max(1, round(2 * height / 360))

    def _draw_background(self) -> Plane:
        width, height, top = self.width, self.height, self._band_top
        image = np.empty((height * 3 // 2, width), dtype=np.uint8)
        luma = image[:height]
        chroma_u = image[height : height + height // 4].reshape(height // 2, width // 2)
        chroma_v = image[height + height // 4 :].reshape(height // 2, width // 2)
        for index, (y, u, v) in enumerate(_BARS):
            left = index * width // len(_BARS)
            right = (index + 1) * width // len(_BARS)
            luma[:top, left:right] = y
            chroma_u[: top // 2, left // 2 : right // 2] = u
            chroma_v[: top // 2, left // 2 : right // 2] = v
        luma[top:] = _BLACK_Y
        chroma_u[top // 2 :] = _NEUTRAL_UV
        chroma_v[top // 2 :] = _NEUTRAL_UV
        return image

    def render(self, frame_index: int, clock_ms: int) -> Plane:
        """The frame with ``clock_ms`` (as ``HH:MM:SS.mmm``) and ``frame_index`` burned in."""
        image = self._background.copy()
        luma = image[: self.height]
        band = self.height - self._band_top
        line = band // 3
        for row, text in enumerate((format_clock(clock_ms), f"frame {frame_index:07d}")):
            origin = (self.width // 20, self._band_top + line * (row + 1) + line // 3)
            cv2.putText(
                luma,
                text,
                origin,
                cv2.FONT_HERSHEY_SIMPLEX,
                self._font_scale,
                _WHITE_Y,
                self._thickness,
                cv2.LINE_AA,
            )
        bar_width = max(2, self.width // 64) & ~1
        x = (frame_index * bar_width) % (self.width - bar_width)
        luma[self._band_top : self._band_top + band // 8, x : x + bar_width] = _WHITE_Y
        timecode.draw(luma, clock_ms, frame_index)
        return image

    def video_frame(self, frame_index: int, clock_ms: int) -> av.VideoFrame:
        """:meth:`render` as an ``av.VideoFrame`` (``pts`` not set)."""
        return av.VideoFrame.from_ndarray(self.render(frame_index, clock_ms), format="yuv420p")


class ToneGenerator:
    """Consecutive mono float frames of the tone, continuous in phase."""

    def __init__(self, rate: int = AUDIO_RATE, frame_samples: int = AUDIO_FRAME_SAMPLES) -> None:
        if rate <= 0 or frame_samples <= 0:
            raise ValueError(f"rate and frame_samples must be > 0, got {rate}, {frame_samples}")
        self.rate = rate
        self.frame_samples = frame_samples
        self.samples_done = 0

    def next_samples(self) -> npt.NDArray[np.float32]:
        """The next ``frame_samples`` samples as an array of shape ``(1, frame_samples)``."""
        n = np.arange(self.samples_done, self.samples_done + self.frame_samples, dtype=np.int64)
        self.samples_done += self.frame_samples
        position = (n % self.rate) / self.rate
        pip = position < _PIP_SECONDS
        # Whole cycles per second at both pitches, so the phase is continuous across
        # the switch and across seconds.
        phase = np.where(pip, _PIP_HZ, _TONE_HZ) * 2 * math.pi * position
        samples = (_AMPLITUDE * np.sin(phase)).astype(np.float32)
        return samples.reshape(1, -1)

    def next_frame(self) -> av.AudioFrame:
        """:meth:`next_samples` as an ``av.AudioFrame`` with ``pts`` in samples."""
        pts = self.samples_done
        frame = av.AudioFrame.from_ndarray(self.next_samples(), format="fltp", layout="mono")
        frame.sample_rate = self.rate
        frame.pts = pts
        frame.time_base = Fraction(1, self.rate)
        return frame


def write_synthetic_clip(
    path: Path,
    seconds: float,
    width: int = 640,
    height: int = 360,
    fps: int = 30,
    audio: bool = True,
    *,
    video: bool = True,
    keyframe_interval: int | None = None,
    video_codec: str = "libx264",
    audio_codec: str = "aac",
) -> None:
    """Write an ordinary (non-fragmented) MP4 of the test pattern and tone.

    ``keyframe_interval`` is in frames (default: one keyframe per second). The
    clock shows media time. ``video_codec``/``audio_codec`` exist so tests can make
    inputs that need re-encoding (e.g. ``mpeg4``).
    """
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"seconds must be > 0, got {seconds!r}")
    if fps <= 0:
        raise ValueError(f"fps must be > 0, got {fps}")
    if not (video or audio):
        raise ValueError("a clip needs video, audio or both")
    interval = fps if keyframe_interval is None else keyframe_interval
    if interval <= 0:
        raise ValueError(f"keyframe_interval must be > 0, got {interval}")
    try:
        container = av.open(str(path), mode="w", format="mp4")
    except (OSError, av.FFmpegError) as error:
        raise MediaError(f"cannot write {path}: {error}") from error
    with container:
        video_stream = None
        if video:
            video_stream = _add_video(container, video_codec, width, height, fps, interval)
        audio_stream = _add_audio(container, audio_codec) if audio else None
        _write_frames(container, video_stream, audio_stream, seconds, fps)


def _add_video(
    container: OutputContainer, codec: str, width: int, height: int, fps: int, interval: int
) -> VideoStream:
    stream = container.add_stream(codec, rate=fps)
    if not isinstance(stream, VideoStream):
        raise ValueError(f"{codec!r} is not a video codec")
    stream.width = width
    stream.height = height
    stream.pix_fmt = "yuv420p"
    stream.codec_context.gop_size = interval
    if codec == "libx264":
        stream.codec_context.options = {
            "preset": "ultrafast",
            "x264-params": f"keyint={interval}:min-keyint={interval}:scenecut=0",
        }
    return stream


def _add_audio(container: OutputContainer, codec: str) -> AudioStream:
    stream = container.add_stream(codec, rate=AUDIO_RATE)
    if not isinstance(stream, AudioStream):
        raise ValueError(f"{codec!r} is not an audio codec")
    stream.layout = "mono"
    return stream


def _write_frames(
    container: OutputContainer,
    video: VideoStream | None,
    audio: AudioStream | None,
    seconds: float,
    fps: int,
) -> None:
    """Encode the clip, video and audio interleaved in time order, then flush."""
    pattern = None if video is None else TestPattern(video.width, video.height)
    frames = round(seconds * fps) if video is not None else 0
    tone = ToneGenerator()
    samples = round(seconds * AUDIO_RATE) if audio is not None else 0
    index = 0
    while index < frames or tone.samples_done < samples:
        video_due = index < frames
        audio_due = tone.samples_done < samples
        if video_due and (not audio_due or index / fps <= tone.samples_done / AUDIO_RATE):
            assert video is not None
            assert pattern is not None
            frame = pattern.video_frame(index, round(index * 1000 / fps))
            frame.pts = index
            frame.time_base = Fraction(1, fps)
            container.mux(video.encode(frame))
            index += 1
        else:
            assert audio is not None
            container.mux(audio.encode(tone.next_frame()))
    if video is not None:
        container.mux(video.encode(None))
    if audio is not None:
        container.mux(audio.encode(None))
