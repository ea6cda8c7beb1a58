"""A PyAV fragmented-MP4 muxer whose output comes back as media segments, not a file.

The muxer writes into a small file-like sink that feeds a
:class:`~capture.boxes.SegmentStream`; completed segments queue up there until
:meth:`FragmentMuxer.drain` takes them. The sink has no ``seek``, so FFmpeg treats the
output as a pipe and never goes back to patch earlier bytes, and ``flush_packets``
makes it hand over each fragment as soon as the ``mov`` muxer finishes it.

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

import av
from av.container import OutputContainer
from av.packet import Packet
from av.stream import Stream

from capture.boxes import SegmentStream
from capture.segments import MediaSegment

_MICROSECONDS = 1_000_000


class _SegmentSink:
    """The write-only file object PyAV writes to."""

    def __init__(self) -> None:
        self.stream = SegmentStream()
        self.ready: deque[MediaSegment] = deque()
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
            options["min_frag_duration"] = str(int(minimum * _MICROSECONDS))
        else:
            options["frag_duration"] = str(int(fragment_seconds * _MICROSECONDS))
        self._sink = _SegmentSink()
        self.container: OutputContainer = av.open(
            self._sink, mode="w", format="mp4", container_options=options
        )
        self._closed = False

    @property
    def bytes_written(self) -> int:
        """Bytes the muxer has produced so far."""
        return self._sink.bytes_written

    def start(self) -> None:
        """Write the header now (the init segment), instead of at the first packet."""
        self.container.start_encoding()

    def mux(self, packets: Packet[Stream] | Sequence[Packet[Stream]]) -> None:
        """Mux packets already assigned to one of :attr:`container`'s streams."""
        self.container.mux(packets)

    def drain(self) -> list[MediaSegment]:
        """The segments completed since the last call, in order."""
        ready = list(self._sink.ready)
        self._sink.ready.clear()
        return ready

    def close(self) -> list[MediaSegment]:
        """Flush the last fragment and close; return the remaining segments.

        Raises ``ValueError`` if the muxer's output ends inside a box or fragment.
        """
        if self._closed:
            return []
        self._closed = True
        self.container.close()
        self._sink.stream.close()
        return self.drain()

    def abort(self) -> None:
        """Close without checking the output (after an error)."""
        if not self._closed:
            self._closed = True
            with contextlib.suppress(av.FFmpegError, ValueError, OSError):
                self.container.close()
