"""Live viewing messages (docs/PROTOCOL.md §12): relay → viewer, one per binary WebSocket
message, a one-byte type then its fields. `parse_live_message` raises `MalformedError`.
"""

import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import Final, Self

from vault.errors import MalformedError
from vault.format import CHUNK_PREAMBLE_SIZE, MAX_CHUNK_SIZE_LIMIT

MAX_END_TEXT: Final = 1024
# What a viewer should accept: the type byte and the largest chunk any relay may store.
MAX_LIVE_MESSAGE: Final = 1 + CHUNK_PREAMBLE_SIZE + MAX_CHUNK_SIZE_LIMIT

_COUNT = struct.Struct(">I")
_SILENT = struct.Struct(">16sQI")  # recording_id, since_ms, silent_ms


class LiveType(IntEnum):
    """The first byte of every live WebSocket message."""

    HEADER = 0x01
    CHUNK = 0x02
    DROPPED = 0x03
    END = 0x04
    SILENT = 0x05


class EndReason(IntEnum):
    SHUTDOWN = 1


@dataclass(frozen=True)
class LiveHeader:
    """The header (FORMAT.md §3.1) of the recording the next chunks belong to."""

    header: bytes

    def __bytes__(self) -> bytes:
        return bytes([LiveType.HEADER]) + self.header

    @classmethod
    def parse(cls, data: bytes) -> Self:
        if len(data) < 2:
            raise MalformedError("live HEADER is empty")
        return cls(bytes(data[1:]))


@dataclass(frozen=True)
class LiveChunk:
    """One whole sealed chunk (FORMAT.md §3.2) of the recording of the last header."""

    chunk: bytes

    def __bytes__(self) -> bytes:
        return bytes([LiveType.CHUNK]) + self.chunk

    @classmethod
    def parse(cls, data: bytes) -> Self:
        if len(data) < 2:
            raise MalformedError("live CHUNK is empty")
        return cls(bytes(data[1:]))


@dataclass(frozen=True)
class LiveDropped:
    """count chunks queued for this viewer were dropped (it was too slow)."""

    count: int

    def __bytes__(self) -> bytes:
        return bytes([LiveType.DROPPED]) + _COUNT.pack(self.count)

    @classmethod
    def parse(cls, data: bytes) -> Self:
        if len(data) != 1 + _COUNT.size:
            raise MalformedError("live DROPPED has the wrong length")
        (count,) = _COUNT.unpack_from(data, 1)
        return cls(count)


@dataclass(frozen=True)
class LiveEnd:
    """The relay ends the stream (reason 1: it is shutting down)."""

    reason: int
    text: str

    def __bytes__(self) -> bytes:
        text = self.text.encode("utf-8")[:MAX_END_TEXT].decode("utf-8", "ignore")
        return bytes([LiveType.END, self.reason]) + text.encode("utf-8")

    @classmethod
    def parse(cls, data: bytes) -> Self:
        if not 2 <= len(data) <= 2 + MAX_END_TEXT:
            raise MalformedError("live END has the wrong length")
        return cls(data[1], bytes(data[2:]).decode("utf-8", "replace"))


@dataclass(frozen=True)
class LiveSilent:
    """The relay has stored nothing of recording recording_id (the recording in progress,
    not ended) since since_ms (relay clock: its last stored chunk, or its header), that is
    for silent_ms when this was sent. The next CHUNK of it means data flows again."""

    recording_id: bytes
    since_ms: int
    silent_ms: int

    def __bytes__(self) -> bytes:
        return bytes([LiveType.SILENT]) + _SILENT.pack(
            self.recording_id, self.since_ms, min(self.silent_ms, 2**32 - 1)
        )

    @classmethod
    def parse(cls, data: bytes) -> Self:
        if len(data) != 1 + _SILENT.size:
            raise MalformedError("live SILENT has the wrong length")
        recording_id, since_ms, silent_ms = _SILENT.unpack_from(data, 1)
        return cls(recording_id, since_ms, silent_ms)


LiveMessage = LiveHeader | LiveChunk | LiveDropped | LiveEnd | LiveSilent

_PARSERS: dict[int, type[LiveMessage]] = {
    LiveType.HEADER: LiveHeader,
    LiveType.CHUNK: LiveChunk,
    LiveType.DROPPED: LiveDropped,
    LiveType.END: LiveEnd,
    LiveType.SILENT: LiveSilent,
}


def parse_live_message(data: bytes) -> LiveMessage:
    """One live message; MalformedError when it is not one."""
    if not data:
        raise MalformedError("empty message")
    parser = _PARSERS.get(data[0])
    if parser is None:
        raise MalformedError(f"unknown message type 0x{data[0]:02x}")
    return parser.parse(data)
