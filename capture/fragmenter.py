"""Turning an existing media file into an init segment and ~fragment_seconds fragments.

H.264 video and AAC audio in MP4/MOV or Matroska are remuxed (packets copied,
nothing re-encoded): each fragment starts at a keyframe of the source once it is
at least ``fragment_seconds`` long (less half a frame), so fragment lengths follow
the source's keyframe spacing (phones put one every second or two). Any other codec is
decoded and re-encoded to H.264 + AAC by :class:`~capture.encoder.LiveEncoder`,
with a keyframe at every ``fragment_seconds``. Pass ``reencode=True`` to re-encode
H.264/AAC input too (e.g. when its keyframes are too far apart).

Only the first video and the first audio stream are kept. Segments are produced
while the file is read, one fragment at a time, so memory does not grow with the
file's length.
"""

from collections.abc import Generator, Iterator, Sequence
from pathlib import Path
from types import TracebackType

import av
from av.audio.stream import AudioStream
from av.container import InputContainer
from av.stream import Stream
from av.video.stream import VideoStream

from capture.codecs import media_type
from capture.encoder import CaptureConfig, LiveEncoder
from capture.errors import MediaError
from capture.muxer import FragmentMuxer
from capture.segments import MediaSegment
from capture.settings import MAX_FRAGMENT_SECONDS, MIN_FRAGMENT_SECONDS, SEAL_FRAGMENT_SECONDS
from capture.sources import FileSource, open_input

REMUX_VIDEO_CODECS = frozenset({"h264"})
REMUX_AUDIO_CODECS = frozenset({"aac"})
REMUX_FORMATS = frozenset({"mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm"})
"""Containers whose packets carry timestamps and whose codec setup is known up front."""
_BITS_PER_PIXEL = 1_500_000 / (1280 * 720 * 30)
"""Re-encoding bitrate per pixel per frame: the recorder's 1.5 Mbit/s at 720p30."""


class FragmentedMedia:
    """The result of :func:`fragment_file`.

    ``segments`` yields the init segment, then each fragment, as the file is read.
    Iterate it once. Use as a context manager (or call :meth:`close`) to release
    the input file if you stop early.
    """

    def __init__(
        self,
        media_type: str,
        init_segment: MediaSegment,
        fragments: Generator[MediaSegment, None, None],
        *,
        remuxed: bool,
    ) -> None:
        self.media_type = media_type
        """RFC 6381 type of the output, e.g. ``video/mp4; codecs="avc1.64001f,mp4a.40.2"``."""
        self.remuxed = remuxed
        """``True`` if packets were copied, ``False`` if the input was re-encoded."""
        self._fragments = fragments
        self.segments: Iterator[MediaSegment] = self._all(init_segment)

    def _all(self, init_segment: MediaSegment) -> Iterator[MediaSegment]:
        yield init_segment
        yield from self._fragments

    def __iter__(self) -> Iterator[MediaSegment]:
        return self.segments

    def close(self) -> None:
        """Stop reading and release the input. Idempotent."""
        self._fragments.close()

    def __enter__(self) -> "FragmentedMedia":
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def fragment_file(
    path: Path, fragment_seconds: float = SEAL_FRAGMENT_SECONDS, *, reencode: bool = False
) -> FragmentedMedia:
    """Fragment the media file at ``path``; see the module docstring.

    Raises :class:`MediaError` if the file is missing, unreadable or has no audio or
    video, and (while iterating) if it turns out to be damaged.
    """
    if not MIN_FRAGMENT_SECONDS <= fragment_seconds <= MAX_FRAGMENT_SECONDS:
        raise ValueError(
            f"fragment_seconds must be within {MIN_FRAGMENT_SECONDS}..{MAX_FRAGMENT_SECONDS}, "
            f"got {fragment_seconds!r}"
        )
    container = open_input(path)
    try:
        video = container.streams.video[0] if container.streams.video else None
        audio = container.streams.audio[0] if container.streams.audio else None
        if video is None and audio is None:
            raise MediaError(f"{path} has no audio or video stream")
        if _can_remux(container, video, audio) and not reencode:
            streams = [stream for stream in (video, audio) if stream is not None]
            fragments = _remux(container, streams, path, fragment_seconds)
            init_segment = next(fragments)  # runs the setup; the generator now owns container
            return FragmentedMedia(
                media_type(init_segment.data), init_segment, fragments, remuxed=True
            )
    except BaseException:
        container.close()
        raise
    container.close()
    return _reencode(path, fragment_seconds)


def _can_remux(
    container: InputContainer, video: VideoStream | None, audio: AudioStream | None
) -> bool:
    """H.264/AAC in MP4 or Matroska, with codec setup (``extradata``) in the header.

    The init segment is written before the first packet, so codec setup that only
    turns up in the packets (MPEG-TS, raw ``.h264``/ADTS ``.aac``) means re-encoding.
    """
    if container.format.name not in REMUX_FORMATS:
        return False
    if video is not None and (
        video.codec_context.name not in REMUX_VIDEO_CODECS or not video.codec_context.extradata
    ):
        return False
    return audio is None or (
        audio.codec_context.name in REMUX_AUDIO_CODECS and bool(audio.codec_context.extradata)
    )


def _frame_seconds(stream: Stream) -> float:
    rate = getattr(stream, "average_rate", None) or getattr(stream, "guessed_rate", None)
    return 1 / float(rate) if rate else 1 / 30


def _remux(
    container: InputContainer, streams: Sequence[Stream], path: Path, fragment_seconds: float
) -> Generator[MediaSegment, None, None]:
    video = next((stream for stream in streams if stream.type == "video"), None)
    half_frame = 0.0 if video is None else _frame_seconds(video) / 2
    muxer = FragmentMuxer(
        fragment_seconds,
        cut_at_keyframes=video is not None,
        min_fragment_seconds=fragment_seconds - half_frame,
    )
    try:
        outputs = {
            stream.index: muxer.container.add_stream_from_template(stream, opaque=True)
            for stream in streams
        }
        try:
            muxer.start()
        except av.FFmpegError as error:
            raise MediaError(f"{path} cannot be remuxed to fragmented MP4: {error}") from error
        yield from muxer.drain()
        fragments = 0
        try:
            for packet in container.demux(streams):
                if packet.dts is None:
                    continue  # end-of-stream marker from the demuxer
                packet.stream = outputs[packet.stream.index]
                muxer.mux(packet)
                for segment in muxer.drain():
                    fragments += 1
                    yield segment
            for segment in muxer.close():
                fragments += 1
                yield segment
        except av.FFmpegError as error:
            raise MediaError(f"{path} is damaged: {error}") from error
        if not fragments:
            raise MediaError(f"{path} has no audio or video frames")
    finally:
        muxer.abort()
        container.close()


def _reencode_config(source: FileSource, fragment_seconds: float) -> CaptureConfig:
    video = source.video_format
    if video is None:
        return CaptureConfig(fragment_seconds=fragment_seconds)
    width = max(16, video.width - video.width % 2)
    height = max(16, video.height - video.height % 2)
    fps = min(240, max(1, round(video.fps)))
    bitrate = round(_BITS_PER_PIXEL * width * height * fps)
    return CaptureConfig(
        width=width,
        height=height,
        fps=fps,
        bitrate=min(20_000_000, max(100_000, bitrate)),
        fragment_seconds=fragment_seconds,
    )


def _reencode(path: Path, fragment_seconds: float) -> FragmentedMedia:
    source = FileSource(path)
    try:
        encoder = LiveEncoder.for_source(_reencode_config(source, fragment_seconds), source)
    except BaseException:
        source.close()
        raise
    fragments = _encode(encoder, source, path)
    init_segment = next(fragments)
    return FragmentedMedia(encoder.media_type, init_segment, fragments, remuxed=False)


def _encode(
    encoder: LiveEncoder, source: FileSource, path: Path
) -> Generator[MediaSegment, None, None]:
    try:
        yield encoder.init_segment
        for frame in source.frames():
            yield from encoder.push(frame)
        yield from encoder.finish()
        if not encoder.stats.fragments:
            raise MediaError(f"{path} has no audio or video frames")
    except av.FFmpegError as error:
        raise MediaError(f"cannot re-encode {path}: {error}") from error
    finally:
        encoder.close()
        source.close()
