"""Encoding frames to H.264 + AAC and cutting them into fragmented-MP4 media segments.

:class:`LiveEncoder` takes frames one at a time (``push``) and returns each media
segment as soon as the muxer completes it. A keyframe is forced at every fragment
boundary (every ``fragment_seconds`` of video time) and the muxer cuts fragments
at keyframes (``frag_keyframe``), so every fragment starts with a keyframe and
decodes on its own. The muxer can only know a fragment is over when the next
keyframe arrives, so fragment *N* comes out when the first frame of fragment
*N + 1* is pushed: the added latency is one fragment plus one frame. Audio-only
streams are cut by time instead (``frag_duration``).

x264 runs with ``tune=zerolatency`` (no lookahead, no B-frames: one packet out per
frame in) and a VBV buffer of one second at ``bitrate``, so any second of video stays
close to ``bitrate`` bits; a fragment shorter than a second can take more than its
share (its keyframe), one of a second or more stays close to ``bitrate * fragment_seconds``.
"""

import math
from collections.abc import Generator
from dataclasses import dataclass, field
from fractions import Fraction

import av
from av.audio.stream import AudioStream
from av.video.frame import PictureType
from av.video.stream import VideoStream

from capture.codecs import media_type
from capture.muxer import FragmentMuxer
from capture.segments import MediaSegment, SegmentKind
from capture.settings import RECORDER_SETTINGS
from capture.sources import AudioFormat, Frame, FrameSource, VideoFormat

AAC_SAMPLE_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025)
VIDEO_TIME_BASE = Fraction(1, 90_000)
"""Encoder and track time base for video: exact for 24, 25, 30, 50, 60 and 29.97 fps."""


@dataclass(frozen=True)
class CaptureConfig:
    """How to encode. Sources are scaled to ``width`` x ``height``.

    Each field is a row of the recorder's settings table (capture/settings.py), which
    holds its bounds and help.
    """

    width: int = 1280
    height: int = 720
    fps: int = 30
    bitrate: int = 1_500_000
    """Video bits per second."""
    fragment_seconds: float = 0.25
    """Length of each fragment (each sealed chunk), at least 0.25 s; the default is
    chosen from bench/fragment_length.py (README, "Recorder settings")."""
    keyframe_interval: int | None = None
    """Maximum frames between keyframes; ``None``: one keyframe per fragment. A
    keyframe is also forced at the start of every fragment whatever this says."""
    audio_bitrate: int = 64_000
    preset: str = "veryfast"
    """x264 preset."""

    def __post_init__(self) -> None:
        for setting in RECORDER_SETTINGS:  # the bounds: capture/settings.py
            setting.check(getattr(self, setting.name))

    @property
    def min_fragment_seconds(self) -> float:
        """The muxer's threshold for cutting at a keyframe.

        Keyframes are forced at the first frame within half a frame of each boundary,
        so two of them are always at least ``floor(fragment_seconds * fps)`` frames
        apart; half a frame less than that cuts at every forced keyframe and at no
        keyframe x264 puts in between.
        """
        frames = max(1, math.floor(self.fragment_seconds * self.fps + 1e-9))
        return (frames - 0.5) / self.fps

    @property
    def gop_frames(self) -> int:
        """x264's maximum keyframe interval, in frames.

        By default the longest possible fragment (``ceil(fragment_seconds * fps)``
        frames), so x264 never adds a keyframe between two forced ones.
        """
        if self.keyframe_interval is not None:
            return self.keyframe_interval
        return max(1, math.ceil(self.fps * self.fragment_seconds - 1e-9))


@dataclass
class EncoderStats:
    """Counters for a status line or a benchmark."""

    video_frames: int = 0
    audio_frames: int = 0
    dropped_frames: int = 0
    """Video frames dropped because their timestamp did not move forward."""
    fragments: int = 0
    bytes: int = 0


@dataclass
class _VideoState:
    stream: VideoStream
    frame_seconds: float
    next_boundary: float | None = None
    last_pts: int | None = None


@dataclass
class _AudioState:
    stream: AudioStream


@dataclass
class LiveEncoder:
    """H.264 + AAC fragmented-MP4 encoder; see the module docstring.

    Constructing it opens the codecs and produces :attr:`init_segment` at once.
    """

    config: CaptureConfig
    video: VideoFormat | None
    audio: AudioFormat | None
    stats: EncoderStats = field(default_factory=EncoderStats, init=False)

    def __post_init__(self) -> None:
        if self.video is None and self.audio is None:
            raise ValueError("nothing to encode: the source has neither video nor audio")
        self._muxer = FragmentMuxer(
            self.config.fragment_seconds,
            cut_at_keyframes=self.video is not None,
            min_fragment_seconds=self.config.min_fragment_seconds,
        )
        self._finished = False
        try:
            self._video = None if self.video is None else self._add_video()
            self._audio = None if self.audio is None else self._add_audio(self.audio)
            self._muxer.start()
            ready = self._muxer.drain()
        except BaseException:
            self._muxer.abort()
            raise
        if len(ready) != 1 or ready[0].kind is not SegmentKind.INIT:
            self._muxer.abort()
            raise RuntimeError(f"muxer produced {len(ready)} segments for its header, not 1 init")
        self.init_segment: MediaSegment = ready[0]
        self.media_type: str = media_type(self.init_segment.data)

    @classmethod
    def for_source(cls, config: CaptureConfig, source: FrameSource) -> "LiveEncoder":
        """An encoder for ``source``'s streams."""
        return cls(config, source.video_format, source.audio_format)

    def _add_video(self) -> _VideoState:
        config = self.config
        stream = self._muxer.container.add_stream("libx264", rate=config.fps)
        stream.width = config.width
        stream.height = config.height
        stream.pix_fmt = "yuv420p"
        context = stream.codec_context
        context.time_base = VIDEO_TIME_BASE
        context.bit_rate = config.bitrate
        context.gop_size = config.gop_frames
        kbps = max(1, config.bitrate // 1000)
        context.options = {
            "preset": config.preset,
            "tune": "zerolatency",
            "forced-idr": "1",
            "x264-params": (
                f"keyint={config.gop_frames}:min-keyint={config.gop_frames}:scenecut=0"
                f":vbv-maxrate={kbps}:vbv-bufsize={kbps}"
            ),
        }
        return _VideoState(stream, 1 / config.fps)

    def _add_audio(self, audio: AudioFormat) -> _AudioState:
        rate = audio.sample_rate if audio.sample_rate in AAC_SAMPLE_RATES else 48_000
        stream = self._muxer.container.add_stream("aac", rate=rate)
        stream.layout = "mono" if audio.channels == 1 else "stereo"
        stream.codec_context.bit_rate = self.config.audio_bitrate
        return _AudioState(stream)

    @property
    def bytes_written(self) -> int:
        """Bytes of init segment and fragments produced so far."""
        return self._muxer.bytes_written

    def push(self, frame: Frame) -> list[MediaSegment]:
        """Encode one frame; return the fragments it completed (usually none)."""
        if self._finished:
            raise ValueError("push() after finish()")
        if isinstance(frame, av.VideoFrame):
            if self._video is None:
                raise ValueError("video frame pushed to an encoder opened without video")
            self._push_video(self._video, frame)
        else:
            if self._audio is None:
                raise ValueError("audio frame pushed to an encoder opened without audio")
            self.stats.audio_frames += 1
            self._muxer.mux(self._audio.stream.encode(frame))
        return self._drain()

    def _push_video(self, state: _VideoState, frame: av.VideoFrame) -> None:
        if frame.pts is None or frame.time_base is None:
            raise ValueError("video frame without pts or time_base")
        seconds = float(frame.pts * frame.time_base)
        pts = round(seconds / VIDEO_TIME_BASE)
        if state.last_pts is not None and pts <= state.last_pts:
            self.stats.dropped_frames += 1
            return
        state.last_pts = pts
        # Force a keyframe at each fragment boundary (half a frame early is on time).
        if state.next_boundary is None or seconds >= state.next_boundary - state.frame_seconds / 2:
            frame.pict_type = PictureType.I
            start = seconds if state.next_boundary is None else state.next_boundary
            step = self.config.fragment_seconds
            state.next_boundary = start + step * (1 + math.floor((seconds - start) / step + 0.5))
        else:
            frame.pict_type = PictureType.NONE
        frame.pts = pts
        frame.time_base = VIDEO_TIME_BASE
        self.stats.video_frames += 1
        self._muxer.mux(state.stream.encode(frame))

    def finish(self) -> list[MediaSegment]:
        """Flush the encoders and the muxer; return the last fragments."""
        if self._finished:
            return []
        self._finished = True
        try:
            if self._video is not None:
                self._muxer.mux(self._video.stream.encode(None))
            if self._audio is not None:
                self._muxer.mux(self._audio.stream.encode(None))
            ready = self._muxer.close()
        except BaseException:
            self._muxer.abort()
            raise
        return self._count(ready)

    def close(self) -> None:
        """Abandon the encoder (no final fragment). Idempotent; a no-op after finish()."""
        if not self._finished:
            self._finished = True
            self._muxer.abort()

    def _drain(self) -> list[MediaSegment]:
        return self._count(self._muxer.drain())

    def _count(self, segments: list[MediaSegment]) -> list[MediaSegment]:
        for segment in segments:
            self.stats.fragments += segment.kind is SegmentKind.FRAGMENT
            self.stats.bytes += len(segment.data)
        return segments


def encode_source(
    source: FrameSource, config: CaptureConfig
) -> Generator[MediaSegment, None, None]:
    """Every segment of ``source`` encoded with ``config``: the init segment, then fragments.

    Closes the source when done, or when the consumer stops iterating.
    """
    encoder = LiveEncoder.for_source(config, source)
    return _run(encoder, source)


def _run(encoder: LiveEncoder, source: FrameSource) -> Generator[MediaSegment, None, None]:
    try:
        yield encoder.init_segment
        for frame in source.frames():
            yield from encoder.push(frame)
        yield from encoder.finish()
    finally:
        encoder.close()
        source.close()
