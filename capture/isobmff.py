"""Reading ISO-BMFF (MP4) box headers and the few box payloads capture/ needs.

Only what splitting the stream and naming its codecs require is read: box headers,
children, ``hdlr`` and (in capture/codecs.py) the sample entries under ``stsd``.
Fragment times come from the packets instead (capture/fragment_clock.py). Every
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


def parse_hdlr_type(payload: bytes) -> str:
    """The handler type (``vide``, ``soun``, ...) from an ``hdlr`` payload."""
    _full_box(payload, "hdlr", 8)
    return payload[8:12].decode("latin-1")
