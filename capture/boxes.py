"""Splitting a byte stream into top-level MP4 boxes, and boxes into segments.

:class:`BoxSplitter` takes bytes in whatever pieces a muxer writes them and returns
each top-level box once all of its bytes have arrived. :class:`SegmentGrouper` turns
those boxes into :class:`SegmentBytes` (a segment's kind and bytes):

* the init segment is every box up to and including ``moov`` (``ftyp`` + ``moov``);
  it is emitted as soon as ``moov`` is complete, so a live recording can seal it
  before the first fragment exists;
* a fragment is every box after that up to and including the ``mdat`` that follows
  a ``moof`` (so ``styp``/``sidx``/``prft`` ride with the fragment they announce).

Concatenating the emitted segments gives back the input bytes exactly. Segments carry
no times: :class:`~capture.muxer.FragmentMuxer` gives each fragment the times of the
packets it holds (:mod:`capture.fragment_clock`).
"""

from dataclasses import dataclass, field

from capture import isobmff
from capture.segments import SegmentKind

DEFAULT_MAX_BOX_SIZE = 256 * 1024 * 1024
"""Largest top-level box accepted; a 1 s fragment of 4K video is far below this."""

_INDEX_BOXES = frozenset({"mfra", "free", "skip"})
"""Boxes that may trail the last fragment and carry nothing a player needs."""


@dataclass(frozen=True)
class Box:
    """One complete top-level box: its four-character type and its raw bytes."""

    type: str
    data: bytes

    def __post_init__(self) -> None:
        if len(self.type) != 4:
            raise ValueError(f"box type must be 4 characters, got {self.type!r}")
        header = isobmff.read_header(self.data)
        if header is None:
            raise ValueError(f"box {self.type!r}: {len(self.data)} bytes is shorter than a header")
        if header.type != self.type:
            raise ValueError(f"box type {self.type!r} does not match header type {header.type!r}")
        size = len(self.data) if header.size is None else header.size
        if size != len(self.data):
            raise ValueError(f"box {self.type!r}: header says {size} bytes, have {len(self.data)}")

    @classmethod
    def parse(cls, data: bytes) -> "Box":
        """Parse exactly one box from ``data``."""
        header = isobmff.read_header(data)
        if header is None:
            raise ValueError(f"{len(data)} bytes is shorter than a box header")
        return cls(header.type, bytes(data))

    def __bytes__(self) -> bytes:
        return self.data

    @property
    def header_size(self) -> int:
        """8, or 16 for a box with a 64-bit ``largesize``."""
        header = isobmff.read_header(self.data)
        assert header is not None  # checked in __post_init__
        return header.header_size

    @property
    def payload(self) -> bytes:
        """The bytes after the header."""
        return self.data[self.header_size :]


class BoxSplitter:
    """Incremental top-level box splitter.

    ``feed`` any number of bytes; it returns the boxes completed by them, in order.
    Feeding a stream byte by byte gives the same boxes as feeding it at once.
    ``size == 0`` ("box runs to end of file") is rejected since a stream has no end
    to measure against; so is any box larger than ``max_box_size``.
    """

    def __init__(self, max_box_size: int = DEFAULT_MAX_BOX_SIZE) -> None:
        if max_box_size < isobmff.LARGE_HEADER_SIZE:
            raise ValueError(f"max_box_size must be >= 16, got {max_box_size}")
        self._max_box_size = max_box_size
        self._buffer = bytearray()
        self._offset = 0
        """Stream offset of ``_buffer[0]``, for error messages."""
        self._needed: int | None = None
        """Total size of the box at the head of the buffer, once its header is known."""

    @property
    def pending(self) -> int:
        """Bytes received that do not yet form a complete box."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[Box]:
        """Add ``data``; return every box it completes."""
        self._buffer += data
        boxes: list[Box] = []
        while True:
            if self._needed is None:
                self._needed = self._read_size()
                if self._needed is None:
                    break
            if len(self._buffer) < self._needed:
                break
            raw = bytes(self._buffer[: self._needed])
            del self._buffer[: self._needed]
            self._offset += self._needed
            self._needed = None
            boxes.append(Box.parse(raw))
        return boxes

    def close(self) -> None:
        """Declare the end of the stream; ``ValueError`` if a box was left incomplete."""
        if self._buffer:
            raise ValueError(
                f"stream ends inside a box: {len(self._buffer)} bytes at offset "
                f"{self._offset} do not form a complete box"
            )

    def _read_size(self) -> int | None:
        try:
            header = isobmff.read_header(self._buffer)
        except ValueError as error:
            raise ValueError(f"stream offset {self._offset}: {error}") from None
        if header is None:
            return None
        if header.size is None:
            raise ValueError(
                f"box {header.type!r} at stream offset {self._offset} has size 0 "
                "(runs to end of file), which a stream cannot have"
            )
        if header.size > self._max_box_size:
            raise ValueError(
                f"box {header.type!r} at stream offset {self._offset} declares "
                f"{header.size} bytes, more than the {self._max_box_size}-byte limit"
            )
        return header.size


@dataclass(frozen=True)
class SegmentBytes:
    """An init segment or a fragment as cut from the stream, before it is given times."""

    kind: SegmentKind
    data: bytes


@dataclass
class SegmentGrouper:
    """Turns top-level boxes, in stream order, into media segments."""

    _pending: list[Box] = field(default_factory=list)
    _seen_moov: bool = False
    _moof: Box | None = None

    def push(self, box: Box) -> SegmentBytes | None:
        """Add the next box; return the segment it completes, if any."""
        self._pending.append(box)
        if not self._seen_moov:
            if box.type in ("moof", "mdat"):
                raise ValueError(f"{box.type!r} box before moov: not a fragmented MP4 stream")
            if box.type != "moov":
                return None
            self._seen_moov = True
            return self._emit(SegmentKind.INIT)
        if box.type == "moof":
            if self._moof is not None:
                raise ValueError("moof follows moof without an mdat between them")
            self._moof = box
        elif box.type == "mdat" and self._moof is not None:
            self._moof = None
            return self._emit(SegmentKind.FRAGMENT)
        return None

    def close(self) -> None:
        """Declare the end of the stream; ``ValueError`` if a segment was left incomplete.

        Trailing index boxes (``mfra``, ``free``, ``skip``) are dropped: players do
        not need them and no fragment can carry them.
        """
        if not self._seen_moov:
            raise ValueError("stream ended before its moov box: no init segment")
        leftover = [box.type for box in self._pending if box.type not in _INDEX_BOXES]
        if leftover:
            raise ValueError(f"stream ends inside a fragment: boxes {leftover} have no mdat")
        self._pending.clear()

    def _emit(self, kind: SegmentKind) -> SegmentBytes:
        data = b"".join(box.data for box in self._pending)
        self._pending.clear()
        return SegmentBytes(kind, data)


class SegmentStream:
    """:class:`BoxSplitter` + :class:`SegmentGrouper`: bytes in, segments out."""

    def __init__(self, max_box_size: int = DEFAULT_MAX_BOX_SIZE) -> None:
        self._splitter = BoxSplitter(max_box_size)
        self._grouper = SegmentGrouper()

    def feed(self, data: bytes) -> list[SegmentBytes]:
        """Add ``data``; return the segments it completes."""
        segments = []
        for box in self._splitter.feed(data):
            segment = self._grouper.push(box)
            if segment is not None:
                segments.append(segment)
        return segments

    def close(self) -> None:
        """Declare the end of the stream; ``ValueError`` if anything was left incomplete."""
        self._splitter.close()
        self._grouper.close()
