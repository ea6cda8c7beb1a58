"""Byte layouts of the header and chunks (docs/FORMAT.md section 3).

`Header.parse` / `Chunk.parse` check everything that can be checked without keys; the
signature checks need only the device key in the header; opening needs a file key.
"""

import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import Final, Self

from vault import _primitives as p
from vault.errors import MalformedError, NotAChunkError, UnsupportedVersionError

VERSION_LINE: Final = b"testigo/v1\n"
VERSION_PREFIX: Final = b"testigo/v"
RECORDING_ID_SIZE: Final = 16
MAX_CHUNK_SIZE_LIMIT: Final = 16 * 1024 * 1024 + p.AEAD_TAG_SIZE
MIN_CHUNK_SIZE: Final = p.AEAD_TAG_SIZE
MAX_STANZAS: Final = 64
MAX_MEDIA_TYPE: Final = 255
MAX_INDEX: Final = 2**31 - 1
MAX_METADATA_SIZE: Final = 64 * 1024
FLAG_FINAL: Final = 0x01

HEADER_SIGNATURE_CONTEXT: Final = b"testigo/v1 header-signature"
HEADER_HASH_CONTEXT: Final = b"testigo/v1 header-hash"
PAYLOAD_KEY_CONTEXT: Final = b"testigo/v1 payload-key"
CHUNK_AD_CONTEXT: Final = b"testigo/v1 chunk"
CHUNK_SIGNATURE_CONTEXT: Final = b"testigo/v1 chunk-signature"
CHUNK_HASH_CONTEXT: Final = b"testigo/v1 chunk-hash"

_HEADER_FIXED = struct.Struct(">16s32sQIB")  # recording id .. media type length
HEADER_MAX_SIZE: Final = (
    len(VERSION_LINE) + _HEADER_FIXED.size + MAX_MEDIA_TYPE + 1
    + MAX_STANZAS * p.SEALED_KEY_SIZE + p.SIGNATURE_SIZE
)  # fmt: skip

CHUNK_MAGIC: Final = b"tgck"
_CHUNK_SIGNED = struct.Struct(">4s16sIBBQ32s32sI")
CHUNK_SIGNED_SIZE: Final = _CHUNK_SIGNED.size  # 102
CHUNK_AD_SIZE: Final = 66
CHUNK_PREAMBLE_SIZE: Final = CHUNK_SIGNED_SIZE + p.SIGNATURE_SIZE  # 166


class ChunkKind(IntEnum):
    INIT = 1
    MEDIA = 2
    METADATA = 3
    END = 4


@dataclass(frozen=True)
class Header:
    recording_id: bytes
    device_key: bytes
    created_ms: int
    max_chunk_size: int
    media_type: str
    stanzas: tuple[bytes, ...]
    signature: bytes

    def __post_init__(self) -> None:
        if len(self.recording_id) != RECORDING_ID_SIZE:
            raise MalformedError("header: recording id must be 16 bytes")
        if len(self.device_key) != p.KEY_SIZE:
            raise MalformedError("header: device key must be 32 bytes")
        if not 0 <= self.created_ms < 2**64:
            raise MalformedError("header: creation time out of range")
        if not MIN_CHUNK_SIZE <= self.max_chunk_size <= MAX_CHUNK_SIZE_LIMIT:
            raise MalformedError(
                f"header: max chunk size {self.max_chunk_size} outside "
                f"{MIN_CHUNK_SIZE}..{MAX_CHUNK_SIZE_LIMIT}"
            )
        if not 1 <= len(self.media_type) <= MAX_MEDIA_TYPE:
            raise MalformedError(f"header: media type must be 1..{MAX_MEDIA_TYPE} bytes")
        if not all(0x20 <= ord(c) <= 0x7E for c in self.media_type):
            raise MalformedError("header: media type must be printable ASCII")
        if not 1 <= len(self.stanzas) <= MAX_STANZAS:
            raise MalformedError(f"header: stanza count must be 1..{MAX_STANZAS}")
        if any(len(s) != p.SEALED_KEY_SIZE for s in self.stanzas):
            raise MalformedError("header: every stanza must be 80 bytes")
        if len(self.signature) != p.SIGNATURE_SIZE:
            raise MalformedError("header: signature must be 64 bytes")

    def signed_part(self) -> bytes:
        media_type = self.media_type.encode("ascii")
        return b"".join(
            (
                VERSION_LINE,
                _HEADER_FIXED.pack(
                    self.recording_id,
                    self.device_key,
                    self.created_ms,
                    self.max_chunk_size,
                    len(media_type),
                ),
                media_type,
                bytes([len(self.stanzas)]),
                *self.stanzas,
            )
        )

    def __bytes__(self) -> bytes:
        return self.signed_part() + self.signature

    @classmethod
    def parse_prefix(cls, data: bytes) -> tuple[Self, int]:
        """Parse a header at the start of data; returns it and its length in bytes."""
        if not data.startswith(VERSION_LINE):
            if data.startswith(VERSION_PREFIX):
                line = data[: data.find(b"\n")] if b"\n" in data[:32] else data[:16]
                raise UnsupportedVersionError(
                    f"unsupported format version {line.decode('ascii', 'replace')!r}"
                )
            raise MalformedError("not a Testigo recording (no testigo/v1 version line)")
        offset = len(VERSION_LINE)
        if len(data) < offset + _HEADER_FIXED.size:
            raise MalformedError("header is truncated")
        recording_id, device_key, created_ms, max_chunk_size, media_length = (
            _HEADER_FIXED.unpack_from(data, offset)
        )
        offset += _HEADER_FIXED.size
        if len(data) < offset + media_length + 1:
            raise MalformedError("header is truncated")
        raw_media = bytes(data[offset : offset + media_length])
        offset += media_length
        if any(not 0x20 <= c <= 0x7E for c in raw_media):
            raise MalformedError("header: media type must be printable ASCII")
        stanza_count = data[offset]
        offset += 1
        end = offset + stanza_count * p.SEALED_KEY_SIZE + p.SIGNATURE_SIZE
        if len(data) < end:
            raise MalformedError("header is truncated")
        stanzas = tuple(
            bytes(data[offset + i * p.SEALED_KEY_SIZE : offset + (i + 1) * p.SEALED_KEY_SIZE])
            for i in range(stanza_count)
        )
        offset += stanza_count * p.SEALED_KEY_SIZE
        header = cls(
            recording_id=bytes(recording_id),
            device_key=bytes(device_key),
            created_ms=created_ms,
            max_chunk_size=max_chunk_size,
            media_type=raw_media.decode("ascii"),
            stanzas=stanzas,
            signature=bytes(data[offset:end]),
        )
        return header, end

    @classmethod
    def parse(cls, data: bytes) -> Self:
        header, length = cls.parse_prefix(data)
        if length != len(data):
            raise MalformedError("header is followed by unexpected bytes")
        return header

    def signature_is_valid(self) -> bool:
        return p.ed25519_public_is_valid(self.device_key) and p.ed25519_verify(
            self.device_key, HEADER_SIGNATURE_CONTEXT + self.signed_part(), self.signature
        )

    @property
    def header_hash(self) -> bytes:
        return p.hash32(HEADER_HASH_CONTEXT + bytes(self))


@dataclass(frozen=True)
class Chunk:
    recording_id: bytes
    index: int
    kind: ChunkKind
    final: bool
    device_time_ms: int
    prev_hash: bytes
    ciphertext_hash: bytes
    signature: bytes
    ciphertext: bytes

    def __post_init__(self) -> None:
        if len(self.recording_id) != RECORDING_ID_SIZE:
            raise MalformedError("chunk: recording id must be 16 bytes")
        if not 0 <= self.index <= MAX_INDEX:
            raise MalformedError(f"chunk: index {self.index} out of range")
        if self.final != (self.kind is ChunkKind.END):
            raise MalformedError("chunk: the final flag must be set on the end chunk only")
        if not 0 <= self.device_time_ms < 2**64:
            raise MalformedError("chunk: device time out of range")
        if len(self.prev_hash) != p.HASH_SIZE or len(self.ciphertext_hash) != p.HASH_SIZE:
            raise MalformedError("chunk: hashes must be 32 bytes")
        if len(self.signature) != p.SIGNATURE_SIZE:
            raise MalformedError("chunk: signature must be 64 bytes")
        if not MIN_CHUNK_SIZE <= len(self.ciphertext) <= MAX_CHUNK_SIZE_LIMIT:
            raise MalformedError("chunk: ciphertext size out of range")

    @property
    def flags(self) -> int:
        return FLAG_FINAL if self.final else 0

    def signed_part(self) -> bytes:
        return _CHUNK_SIGNED.pack(
            CHUNK_MAGIC,
            self.recording_id,
            self.index,
            self.kind,
            self.flags,
            self.device_time_ms,
            self.prev_hash,
            self.ciphertext_hash,
            len(self.ciphertext),
        )

    def __bytes__(self) -> bytes:
        return self.signed_part() + self.signature + self.ciphertext

    @property
    def size(self) -> int:
        return CHUNK_PREAMBLE_SIZE + len(self.ciphertext)

    @property
    def chunk_hash(self) -> bytes:
        return p.hash32(CHUNK_HASH_CONTEXT + self.signed_part())

    @classmethod
    def parse_preamble(cls, preamble: bytes) -> tuple[int, int]:
        """Frame a chunk from its first 166 bytes; returns (index, ciphertext length).

        Only what framing needs is checked here (the magic, and a length a reader can
        skip); every other rule makes the chunk invalid, not the file unreadable.
        """
        if len(preamble) < CHUNK_PREAMBLE_SIZE:
            raise MalformedError("chunk is truncated")
        magic, _rid, index, _kind, _flags, _time, _prev, _hash, length = _CHUNK_SIGNED.unpack_from(
            preamble
        )
        if magic != CHUNK_MAGIC:
            raise NotAChunkError("not a Testigo chunk (bad magic)")
        if length > MAX_CHUNK_SIZE_LIMIT:
            raise MalformedError(f"chunk: ciphertext length {length} out of range")
        return index, length

    @classmethod
    def parse(cls, data: bytes) -> Self:
        """Parse exactly one chunk. Size limits of a header are checked by the reader."""
        _index, length = cls.parse_preamble(data)
        if len(data) != CHUNK_PREAMBLE_SIZE + length:
            raise MalformedError(
                "chunk is truncated"
                if len(data) < CHUNK_PREAMBLE_SIZE + length
                else "chunk is followed by unexpected bytes"
            )
        return cls.from_parts(data[:CHUNK_PREAMBLE_SIZE], data[CHUNK_PREAMBLE_SIZE:])

    @classmethod
    def hash_of_preamble(cls, preamble: bytes) -> bytes:
        """The `chunk_hash` of the chunk this preamble starts (what its receipt names),
        without its ciphertext: the hash covers the signed fields only. MalformedError as
        `parse_preamble`."""
        cls.parse_preamble(preamble)
        return p.hash32(CHUNK_HASH_CONTEXT + preamble[:CHUNK_SIGNED_SIZE])

    @classmethod
    def from_parts(cls, preamble: bytes, ciphertext: bytes) -> Self:
        """A chunk from its 166-byte preamble and its ciphertext (no copy of the latter)."""
        _index, length = cls.parse_preamble(preamble)
        if len(preamble) != CHUNK_PREAMBLE_SIZE or len(ciphertext) != length:
            raise MalformedError("chunk length does not match its ciphertext")
        _magic, recording_id, index, kind, flags, device_time, prev, ct_hash, _len = (
            _CHUNK_SIGNED.unpack_from(preamble)
        )
        try:
            chunk_kind = ChunkKind(kind)
        except ValueError:
            raise MalformedError(f"chunk: unknown kind {kind}") from None
        if flags & ~FLAG_FINAL:
            raise MalformedError(f"chunk: unknown flags 0x{flags:02x}")
        return cls(
            recording_id=bytes(recording_id),
            index=index,
            kind=chunk_kind,
            final=bool(flags & FLAG_FINAL),
            device_time_ms=device_time,
            prev_hash=bytes(prev),
            ciphertext_hash=bytes(ct_hash),
            signature=bytes(preamble[CHUNK_SIGNED_SIZE:CHUNK_PREAMBLE_SIZE]),
            ciphertext=ciphertext,
        )

    def nonce(self) -> bytes:
        return self.recording_id + struct.pack(">IBB", self.index, self.kind, self.flags) + b"\0\0"

    def associated_data(self, header_hash: bytes) -> bytes:
        return CHUNK_AD_CONTEXT + header_hash + self.signed_part()[:CHUNK_AD_SIZE]

    def signature_message(self, header_hash: bytes) -> bytes:
        return CHUNK_SIGNATURE_CONTEXT + header_hash + self.signed_part()


def payload_key(file_key: bytes, recording_id: bytes) -> bytes:
    return p.keyed_hash32(file_key, PAYLOAD_KEY_CONTEXT + recording_id)
