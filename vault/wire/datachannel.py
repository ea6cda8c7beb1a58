"""Data channel messages (docs/PROTOCOL.md §3.2): parse / bytes, framing, reassembly.

Every message is binary, at most `MAX_MESSAGE_SIZE` bytes, one type byte then fields.
`parse_message` raises only `RelayError` (code MALFORMED or UNSUPPORTED_VERSION).
"""

import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import IntEnum
from typing import Final, Self

from vault.format import HEADER_MAX_SIZE, MAX_INDEX
from vault.receipts import RECEIPT_SIZE
from vault.wire.errors import ErrorCode, RelayError

PROTOCOL_VERSION: Final = 1
CHANNEL_LABEL: Final = "testigo/v1"
MAX_MESSAGE_SIZE: Final = 65536
MAX_ERROR_TEXT: Final = 1024
NO_INDEX: Final = 0xFFFFFFFF

_CHUNK_FIELDS = struct.Struct(">BIII")
_WELCOME_FIELDS = struct.Struct(">BBH")
_RANGE = struct.Struct(">II")
_ERROR_FIELDS = struct.Struct(">BHIB")
MAX_FRAME_DATA: Final = MAX_MESSAGE_SIZE - _CHUNK_FIELDS.size  # 65 523
MAX_RANGES_PER_WELCOME: Final = (MAX_MESSAGE_SIZE - _WELCOME_FIELDS.size) // _RANGE.size


class MessageType(IntEnum):
    HELLO = 0x01
    CHUNK = 0x02
    WELCOME = 0x81
    RECEIPT = 0x82
    ERROR = 0x83


def _malformed(message: str) -> RelayError:
    return RelayError(ErrorCode.MALFORMED, message)


@dataclass(frozen=True)
class Hello:
    """Client → relay: start a session for the recording of this header."""

    header: bytes
    version: int = PROTOCOL_VERSION

    def __bytes__(self) -> bytes:
        return bytes([MessageType.HELLO, self.version]) + self.header

    @classmethod
    def parse(cls, data: bytes) -> Self:
        if len(data) < 2:
            raise _malformed("HELLO is truncated")
        if data[1] != PROTOCOL_VERSION:
            raise RelayError(ErrorCode.UNSUPPORTED_VERSION, f"protocol version {data[1]}")
        if len(data) - 2 > HEADER_MAX_SIZE:
            raise _malformed("HELLO carries more than a header")
        return cls(header=bytes(data[2:]), version=data[1])


@dataclass(frozen=True)
class ChunkFrame:
    """Client → relay: data[offset : offset + len(data)] of chunk `index`."""

    index: int
    total_length: int
    offset: int
    data: bytes

    def __post_init__(self) -> None:
        if not 0 <= self.index <= MAX_INDEX:
            raise _malformed("CHUNK index out of range")
        if len(self.data) > MAX_FRAME_DATA:
            raise _malformed("CHUNK frame too large")
        if not self.data or self.offset + len(self.data) > self.total_length:
            raise _malformed("CHUNK frame is empty or runs past the chunk's length")

    def __bytes__(self) -> bytes:
        fields = _CHUNK_FIELDS.pack(MessageType.CHUNK, self.index, self.total_length, self.offset)
        return fields + self.data

    @property
    def last(self) -> bool:
        return self.offset + len(self.data) == self.total_length

    @classmethod
    def parse(cls, data: bytes) -> Self:
        if len(data) < _CHUNK_FIELDS.size:
            raise _malformed("CHUNK is truncated")
        _type, index, total, offset = _CHUNK_FIELDS.unpack_from(data)
        return cls(index, total, offset, bytes(data[_CHUNK_FIELDS.size :]))


@dataclass(frozen=True)
class Welcome:
    """Relay → client: ranges (first, last) of chunk indices the relay already holds."""

    ranges: tuple[tuple[int, int], ...]
    more: bool = False

    def __post_init__(self) -> None:
        if len(self.ranges) > MAX_RANGES_PER_WELCOME:
            raise _malformed("WELCOME holds too many ranges")
        if any(not 0 <= a <= b <= MAX_INDEX for a, b in self.ranges):
            raise _malformed("WELCOME holds an invalid range")

    def __bytes__(self) -> bytes:
        fields = _WELCOME_FIELDS.pack(MessageType.WELCOME, int(self.more), len(self.ranges))
        return fields + b"".join(_RANGE.pack(a, b) for a, b in self.ranges)

    @classmethod
    def parse(cls, data: bytes) -> Self:
        if len(data) < _WELCOME_FIELDS.size:
            raise _malformed("WELCOME is truncated")
        _type, more, count = _WELCOME_FIELDS.unpack_from(data)
        if more > 1 or len(data) != _WELCOME_FIELDS.size + count * _RANGE.size:
            raise _malformed("WELCOME length does not match its range count")
        ranges = tuple(
            _RANGE.unpack_from(data, _WELCOME_FIELDS.size + i * _RANGE.size) for i in range(count)
        )
        return cls(ranges=ranges, more=bool(more))


@dataclass(frozen=True)
class ReceiptMessage:
    """Relay → client: the receipt of a stored chunk."""

    receipt: bytes
    duplicate: bool = False

    def __bytes__(self) -> bytes:
        return bytes([MessageType.RECEIPT, int(self.duplicate)]) + self.receipt

    @classmethod
    def parse(cls, data: bytes) -> Self:
        if len(data) != 2 + RECEIPT_SIZE or data[1] > 1:
            raise _malformed("RECEIPT has the wrong length")
        return cls(receipt=bytes(data[2:]), duplicate=bool(data[1]))


@dataclass(frozen=True)
class ErrorMessage:
    """Relay → client: a refusal; `index` is None when it is not about one chunk."""

    code: int
    message: str
    index: int | None = None
    fatal: bool = False

    def __bytes__(self) -> bytes:
        text = self.message.encode("utf-8")[:MAX_ERROR_TEXT].decode("utf-8", "ignore")
        index = NO_INDEX if self.index is None else self.index
        fields = _ERROR_FIELDS.pack(MessageType.ERROR, self.code, index, int(self.fatal))
        return fields + text.encode("utf-8")

    @classmethod
    def parse(cls, data: bytes) -> Self:
        if len(data) < _ERROR_FIELDS.size or len(data) > _ERROR_FIELDS.size + MAX_ERROR_TEXT:
            raise _malformed("ERROR has the wrong length")
        _type, code, index, fatal = _ERROR_FIELDS.unpack_from(data)
        if fatal > 1:
            raise _malformed("ERROR fatal flag must be 0 or 1")
        try:
            text = bytes(data[_ERROR_FIELDS.size :]).decode("utf-8")
        except UnicodeDecodeError:
            raise _malformed("ERROR text is not UTF-8") from None
        return cls(code, text, None if index == NO_INDEX else index, bool(fatal))

    @classmethod
    def of(cls, error: RelayError) -> Self:
        return cls(error.code, str(error), error.index, error.code.fatal)

    def error(self) -> RelayError:
        """The refusal this message carries (an unknown code reads as MALFORMED)."""
        return RelayError(ErrorCode.of(self.code), self.message, index=self.index)


Message = Hello | ChunkFrame | Welcome | ReceiptMessage | ErrorMessage

_PARSERS: dict[int, type[Hello | ChunkFrame | Welcome | ReceiptMessage | ErrorMessage]] = {
    MessageType.HELLO: Hello,
    MessageType.CHUNK: ChunkFrame,
    MessageType.WELCOME: Welcome,
    MessageType.RECEIPT: ReceiptMessage,
    MessageType.ERROR: ErrorMessage,
}


def parse_message(data: bytes | str) -> Message:
    """One data channel message; RelayError (MALFORMED, ...) when it is not valid."""
    if isinstance(data, str):
        raise _malformed("text messages are not part of the protocol")
    if not data:
        raise _malformed("empty message")
    if len(data) > MAX_MESSAGE_SIZE:
        raise _malformed(f"message larger than {MAX_MESSAGE_SIZE} bytes")
    parser = _PARSERS.get(data[0])
    if parser is None:
        raise _malformed(f"unknown message type 0x{data[0]:02x}")
    return parser.parse(data)


def split_chunk(index: int, chunk: bytes, frame_size: int = MAX_FRAME_DATA) -> Iterator[ChunkFrame]:
    """The CHUNK frames that carry chunk, in order."""
    if not 1 <= frame_size <= MAX_FRAME_DATA:
        raise ValueError("frame size out of range")
    for offset in range(0, len(chunk), frame_size):
        yield ChunkFrame(index, len(chunk), offset, chunk[offset : offset + frame_size])


def index_ranges(indices: Iterable[int]) -> list[tuple[int, int]]:
    """Sorted indices as ranges of consecutive values."""
    ranges: list[tuple[int, int]] = []
    for index in indices:
        if ranges and index == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], index)
        elif not ranges or index > ranges[-1][1]:
            ranges.append((index, index))
    return ranges


def welcome_messages(ranges: list[tuple[int, int]]) -> list[Welcome]:
    """WELCOME messages for ranges: as many as needed, `more` on all but the last."""
    size = MAX_RANGES_PER_WELCOME
    parts = [tuple(ranges[i : i + size]) for i in range(0, len(ranges), size)] or [()]
    return [Welcome(part, more=i < len(parts) - 1) for i, part in enumerate(parts)]


class Reassembler:
    """Joins CHUNK frames into chunks, refusing oversize chunks before buffering them."""

    def __init__(self, max_chunk_bytes: int) -> None:
        self.max_chunk_bytes = max_chunk_bytes
        self._index: int | None = None
        self._total = 0
        self._parts: list[bytes] = []
        self._received = 0
        self._skipping = False

    @property
    def buffered(self) -> int:
        return self._received

    def feed(self, frame: ChunkFrame) -> bytes | None:
        """The whole chunk when frame completes it, else None. RelayError on bad frames.

        A chunk above the limit is refused at its first frame; its later frames are
        still checked for order but not buffered.
        """
        if self._index is None:
            if frame.offset != 0:
                raise _malformed("a chunk's first frame must have offset 0")
            self._index, self._total = frame.index, frame.total_length
            self._skipping = frame.total_length > self.max_chunk_bytes
        elif (
            frame.index != self._index
            or frame.total_length != self._total
            or frame.offset != self._received
        ):
            self.reset()
            raise _malformed("CHUNK frames out of order or interleaved")
        first = frame.offset == 0
        self._received += len(frame.data)
        if not self._skipping:
            self._parts.append(frame.data)
        complete = self._received == self._total
        data = b"".join(self._parts) if complete and not self._skipping else None
        skipped = self._skipping
        if complete:
            self.reset()
        if skipped and first:
            raise RelayError(
                ErrorCode.TOO_LARGE,
                f"chunk of {frame.total_length} bytes is above the relay's limit",
                index=frame.index,
            )
        return data

    def reset(self) -> None:
        self._index = None
        self._total = 0
        self._parts = []
        self._received = 0
        self._skipping = False
