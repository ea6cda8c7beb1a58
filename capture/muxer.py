"""A PyAV fragmented-MP4 muxer whose output comes back as media segments, not a file.

The muxer writes into a small file-like sink that feeds a
:class:`~capture.boxes.SegmentStream`; completed segments queue up there until
:meth:`FragmentMuxer.drain` takes them and gives each fragment its start and duration
from the packets it muxed (:class:`~capture.fragment_clock.FragmentClock`). The sink has
no ``seek``, so FFmpeg treats the output as a pipe and never goes back to patch earlier
bytes, and ``flush_packets`` makes it hand over each fragment as soon as the ``mov``
muxer finishes it.

Fragmenting (``movflags``): ``empty_moov`` puts the codec setup in a sample-less
``moov`` written up front (the init segment); ``default_base_moof`` makes every
fragment self-contained; ``skip_trailer`` drops the end-of-file ``mfra`` index.

* ``cut_at_keyframes=True`` (any stream with video): a fragment starts at a video
  keyframe once the current one is at least ``min_fragment_seconds`` long
  (``frag_keyframe`` + ``min_frag_duration``), so every fragment decodes on its own.
* ``cut_at_keyframes=False`` (audio only): a fragment is cut every
  ``fragment_seconds`` (``frag_duration``); every audio sample is a sync sample.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Sequence
from fractions import Fraction

import av
from av.container import OutputContainer
from av.packet import Packet
from av.stream import Stream

from capture.boxes import SegmentBytes, SegmentStream
from capture.fragment_clock import FragmentClock, round_near_inf
from capture.segments import MediaSegment, SegmentKind

_MICROSECONDS = 1_000_000


class _SegmentSink:
    """The write-only file object PyAV writes to."""

    def __init__(self) -> None:
        self.stream = SegmentStream()
        self.ready: deque[SegmentBytes] = deque()
        self.bytes_written = 0

    def write(self, data: bytes) -> int:
        self.ready.extend(self.stream.feed(bytes(data)))
        self.bytes_written += len(data)
        return len(data)


def movflags(cut_at_keyframes: bool) -> str:
    """The ``movflags`` value used for either fragmenting mode."""
    flags = ["empty_moov", "default_base_moof", "skip_trailer"]
    if cut_at_keyframes:
        flags.insert(0, "frag_keyframe")
    return "+".join(flags)


class FragmentMuxer:
    """Owns an ``mp4`` output container; add streams to :attr:`container`, then mux."""

    def __init__(
        self,
        fragment_seconds: float,
        *,
        cut_at_keyframes: bool,
        min_fragment_seconds: float | None = None,
    ) -> None:
        if not fragment_seconds > 0:
            raise ValueError(f"fragment_seconds must be > 0, got {fragment_seconds!r}")
        options = {"movflags": movflags(cut_at_keyframes), "flush_packets": "1"}
        if cut_at_keyframes:
            minimum = fragment_seconds if min_fragment_seconds is None else min_fragment_seconds
            cut_microseconds = int(minimum * _MICROSECONDS)
            options["min_frag_duration"] = str(cut_microseconds)
        else:
            cut_microseconds = int(fragment_seconds * _MICROSECONDS)
            options["frag_duration"] = str(cut_microseconds)
        self._cut_at_keyframes = cut_at_keyframes
        self._cut_microseconds = cut_microseconds
        self._sink = _SegmentSink()
        self.container: OutputContainer = av.open(
            self._sink, mode="w", format="mp4", container_options=options
        )
        self._clock: FragmentClock | None = None
        self._closed = False

    @property
    def bytes_written(self) -> int:
        """Bytes the muxer has produced so far."""
        return self._sink.bytes_written

    def start(self) -> None:
        """Write the header now (the init segment), instead of at the first packet.

        Streams are added before this; their time bases are the muxer's from here on.
        """
        self.container.start_encoding()
        streams = self.container.streams
        reference = next((stream for stream in streams if stream.type == "video"), streams[0])
        time_base = reference.time_base
        assert time_base is not None  # set by the muxer when it wrote the header
        self._clock = FragmentClock(
            reference.index,
            time_base,
            cut_microseconds=self._cut_microseconds,
            cut_at_keyframes=self._cut_at_keyframes,
            default_duration=_default_duration(reference, time_base),
        )

    def mux(self, packets: Packet[Stream] | Sequence[Packet[Stream]]) -> None:
        """Mux packets already assigned to one of :attr:`container`'s streams."""
        if self._clock is None:
            self.start()
        assert self._clock is not None
        for packet in [packets] if isinstance(packets, Packet) else packets:
            self.container.mux(packet)  # rebases the packet to its stream's time base
            if packet.dts is not None and packet.size and packet.time_base is not None:
                self._clock.add(
                    packet.stream.index,
                    packet.dts,
                    packet.duration or 0,
                    packet.time_base,
                    keyframe=packet.is_keyframe,
                )

    def drain(self) -> list[MediaSegment]:
        """The segments completed since the last call, in order."""
        return self._timed(final=False)

    def close(self) -> list[MediaSegment]:
        """Flush the last fragment and close; return the remaining segments.

        Raises ``ValueError`` if the muxer's output ends inside a box or fragment.
        """
        if self._closed:
            return []
        self._closed = True
        self.container.close()
        self._sink.stream.close()
        return self._timed(final=True)

    def abort(self) -> None:
        """Close without checking the output (after an error)."""
        if not self._closed:
            self._closed = True
            with contextlib.suppress(av.FFmpegError, ValueError, OSError):
                self.container.close()

    def _timed(self, *, final: bool) -> list[MediaSegment]:
        """The segments the sink completed, with their times; with ``final`` the last
        fragment is the stream's last one."""
        ready = list(self._sink.ready)
        self._sink.ready.clear()
        last_fragment = max(
            (i for i, segment in enumerate(ready) if segment.kind is SegmentKind.FRAGMENT),
            default=None,
        )
        segments = []
        for number, segment in enumerate(ready):
            if segment.kind is SegmentKind.INIT:
                segments.append(MediaSegment(SegmentKind.INIT, segment.data, 0.0, 0.0))
                continue
            assert self._clock is not None  # a fragment needs packets, which need start()
            time = self._clock.next_fragment(final=final and number == last_fragment)
            segments.append(
                MediaSegment(
                    SegmentKind.FRAGMENT, segment.data, time.start_seconds, time.duration_seconds
                )
            )
        return segments


def _default_duration(stream: Stream, time_base: Fraction) -> int:
    """The duration FFmpeg's muxer gives a packet of ``stream`` that has none
    (``guess_pkt_duration``): one frame of video, one codec frame of audio."""
    if stream.type == "video":
        rate = getattr(stream, "average_rate", None)
        if rate:
            return round_near_inf(1 / (rate * time_base))
        return 1 if time_base.numerator * 1000 > time_base.denominator else 0
    frame_size = getattr(stream.codec_context, "frame_size", 0) or 0
    sample_rate = getattr(stream.codec_context, "sample_rate", 0) or 0
    if frame_size and sample_rate:
        return round_near_inf(Fraction(frame_size, sample_rate) / time_base)
    return 0
