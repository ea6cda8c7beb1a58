"""Reading ISO-BMFF (MP4) box headers and the few box payloads capture/ needs.

Only what timing and codec strings require is parsed: ``tkhd``, ``mdhd``, ``hdlr``,
``trex``, ``tfhd``, ``tfdt``, ``trun`` and the sample entries under ``stsd``. Every
reader raises ``ValueError`` with the box name and the offending value when the
bytes do not fit the layout (ISO/IEC 14496-12).
"""

import struct
from collections.abc import Iterator
from dataclasses import dataclass

HEADER_SIZE = 8
"""``size`` (u32) + ``type`` (4 chars)."""
LARGE_HEADER_SIZE = 16
"""Header with a 64-bit ``largesize`` (``size == 1``)."""

CONTAINER_TYPES = frozenset(
    {"moov", "trak", "mdia", "minf", "stbl", "mvex", "moof", "traf", "edts", "dinf"}
)
"""Boxes whose payload is nothing but child boxes."""


@dataclass(frozen=True)
class BoxHeader:
    """A box header as read from the start of ``data[offset:]``."""

    type: str
    header_size: int
    size: int | None
    """Total size in bytes including the header; ``None`` for ``size == 0`` ("to the end")."""


def read_header(data: bytes | bytearray | memoryview, offset: int = 0) -> BoxHeader | None:
    """Read the header at ``offset``; ``None`` if too few bytes are there yet.

    Raises ``ValueError`` for sizes no box can have: a 32-bit size of 2..7 or a
    64-bit ``largesize`` smaller than its own 16-byte header.
    """
    available = len(data) - offset
    if available < HEADER_SIZE:
        return None
    size, raw_type = struct.unpack_from(">I4s", data, offset)
    box_type = raw_type.decode("latin-1")
    if size == 0:
        return BoxHeader(box_type, HEADER_SIZE, None)
    if size == 1:
        if available < LARGE_HEADER_SIZE:
            return None
        (large,) = struct.unpack_from(">Q", data, offset + HEADER_SIZE)
        if large < LARGE_HEADER_SIZE:
            raise ValueError(
                f"box {box_type!r} at offset {offset}: 64-bit size {large} is smaller than "
                f"its {LARGE_HEADER_SIZE}-byte header"
            )
        return BoxHeader(box_type, LARGE_HEADER_SIZE, large)
    if size < HEADER_SIZE:
        raise ValueError(
            f"box {box_type!r} at offset {offset}: size {size} is smaller than "
            f"its {HEADER_SIZE}-byte header"
        )
    return BoxHeader(box_type, HEADER_SIZE, size)


def iter_children(payload: bytes) -> Iterator[tuple[str, bytes]]:
    """Yield ``(type, payload)`` of each box in ``payload`` (a container's content)."""
    offset = 0
    while offset < len(payload):
        header = read_header(payload, offset)
        if header is None:
            raise ValueError(f"truncated box header at offset {offset} of {len(payload)}")
        size = len(payload) - offset if header.size is None else header.size
        if offset + size > len(payload):
            raise ValueError(
                f"box {header.type!r} at offset {offset}: size {size} runs past the end "
                f"of its {len(payload)}-byte parent"
            )
        yield header.type, payload[offset + header.header_size : offset + size]
        offset += size


def child(payload: bytes, box_type: str) -> bytes | None:
    """The payload of the first child of type ``box_type``, or ``None``."""
    for found_type, found in iter_children(payload):
        if found_type == box_type:
            return found
    return None


def children(payload: bytes, box_type: str) -> list[bytes]:
    """The payloads of every child of type ``box_type``."""
    return [found for found_type, found in iter_children(payload) if found_type == box_type]


def descend(payload: bytes, *path: str) -> bytes | None:
    """Follow ``path`` (e.g. ``"mdia", "mdhd"``) through first children; ``None`` if absent."""
    current: bytes | None = payload
    for box_type in path:
        if current is None:
            return None
        current = child(current, box_type)
    return current


def _full_box(payload: bytes, name: str, body_size: int) -> tuple[int, int]:
    """``(version, flags)`` of a full box, checking ``body_size`` bytes follow them."""
    if len(payload) < 4 + body_size:
        raise ValueError(f"{name} box too short: {len(payload)} bytes")
    version_flags: int = struct.unpack_from(">I", payload)[0]
    return version_flags >> 24, version_flags & 0xFFFFFF


def parse_mdhd_timescale(payload: bytes) -> int:
    """The media timescale (ticks per second) from an ``mdhd`` payload."""
    version, _ = _full_box(payload, "mdhd", 12)
    if version == 1:
        _full_box(payload, "mdhd", 20)
        (timescale,) = struct.unpack_from(">I", payload, 4 + 16)
    elif version == 0:
        (timescale,) = struct.unpack_from(">I", payload, 4 + 8)
    else:
        raise ValueError(f"mdhd version {version} is not 0 or 1")
    if timescale == 0:
        raise ValueError("mdhd timescale is 0")
    return int(timescale)


def parse_tkhd_track_id(payload: bytes) -> int:
    """The ``track_ID`` from a ``tkhd`` payload."""
    version, _ = _full_box(payload, "tkhd", 12)
    if version == 1:
        _full_box(payload, "tkhd", 20)
        (track_id,) = struct.unpack_from(">I", payload, 4 + 16)
    elif version == 0:
        (track_id,) = struct.unpack_from(">I", payload, 4 + 8)
    else:
        raise ValueError(f"tkhd version {version} is not 0 or 1")
    return int(track_id)


def parse_hdlr_type(payload: bytes) -> str:
    """The handler type (``vide``, ``soun``, ...) from an ``hdlr`` payload."""
    _full_box(payload, "hdlr", 8)
    return payload[8:12].decode("latin-1")


@dataclass(frozen=True)
class TrackExtends:
    """Defaults from ``trex`` that fragments may leave out."""

    track_id: int
    default_sample_duration: int


def parse_trex(payload: bytes) -> TrackExtends:
    """Parse a ``trex`` payload."""
    _full_box(payload, "trex", 20)
    track_id, _, duration = struct.unpack_from(">III", payload, 4)
    return TrackExtends(track_id, duration)


@dataclass(frozen=True)
class TrackFragmentHeader:
    """The fields of ``tfhd`` that timing needs."""

    track_id: int
    default_sample_duration: int | None


def parse_tfhd(payload: bytes) -> TrackFragmentHeader:
    """Parse a ``tfhd`` payload (optional fields per its flags)."""
    _, flags = _full_box(payload, "tfhd", 4)
    (track_id,) = struct.unpack_from(">I", payload, 4)
    offset = 8
    if flags & 0x01:
        offset += 8  # base_data_offset
    if flags & 0x02:
        offset += 4  # sample_description_index
    duration: int | None = None
    if flags & 0x08:
        if len(payload) < offset + 4:
            raise ValueError(f"tfhd box too short for its flags {flags:#08x}")
        (duration,) = struct.unpack_from(">I", payload, offset)
    return TrackFragmentHeader(track_id, duration)


def parse_tfdt(payload: bytes) -> int:
    """``baseMediaDecodeTime`` from a ``tfdt`` payload, in media timescale ticks."""
    version, _ = _full_box(payload, "tfdt", 4)
    if version == 1:
        _full_box(payload, "tfdt", 8)
        (time,) = struct.unpack_from(">Q", payload, 4)
    elif version == 0:
        (time,) = struct.unpack_from(">I", payload, 4)
    else:
        raise ValueError(f"tfdt version {version} is not 0 or 1")
    return int(time)


@dataclass(frozen=True)
class TrackRun:
    """A ``trun``: its sample count and, when present, each sample's duration."""

    sample_count: int
    sample_durations: tuple[int, ...] | None


def parse_trun(payload: bytes) -> TrackRun:
    """Parse a ``trun`` payload."""
    _, flags = _full_box(payload, "trun", 4)
    (count,) = struct.unpack_from(">I", payload, 4)
    offset = 8
    if flags & 0x001:
        offset += 4  # data_offset
    if flags & 0x004:
        offset += 4  # first_sample_flags
    fields = [bit for bit in (0x100, 0x200, 0x400, 0x800) if flags & bit]
    record = 4 * len(fields)
    if len(payload) < offset + record * count:
        raise ValueError(
            f"trun box too short: {count} samples of {record} bytes need "
            f"{offset + record * count} bytes, have {len(payload)}"
        )
    if not flags & 0x100:
        return TrackRun(count, None)
    durations = tuple(
        int(struct.unpack_from(">I", payload, offset + i * record)[0]) for i in range(count)
    )
    return TrackRun(count, durations)
