"""Receipts: the relay's signed statement that it stored a chunk (docs/PROTOCOL.md §2).

The relay signs with its `RelayIdentity`; anyone holding the relay's public key checks
a receipt against the chunk it names with `Receipt.verify`.
"""

import struct
from dataclasses import dataclass
from typing import Final, Self

from vault.errors import MalformedError
from vault.format import Chunk
from vault.identity import RelayIdentity
from vault.keys import RelayKey

RECEIPT_CONTEXT: Final = b"testigo/v1 receipt"
RECEIPT_MAGIC: Final = b"tgrc"
_SIGNED = struct.Struct(">4s16sI32sQ")  # magic .. received_ms
RECEIPT_SIZE: Final = _SIGNED.size + 32 + 64  # 160


@dataclass(frozen=True)
class Receipt:
    recording_id: bytes
    index: int
    chunk_hash: bytes
    received_ms: int
    relay_key: bytes
    signature: bytes

    def __post_init__(self) -> None:
        if len(self.recording_id) != 16:
            raise MalformedError("receipt: recording id must be 16 bytes")
        if not 0 <= self.index < 2**32:
            raise MalformedError("receipt: index out of range")
        if len(self.chunk_hash) != 32:
            raise MalformedError("receipt: chunk hash must be 32 bytes")
        if not 0 <= self.received_ms < 2**64:
            raise MalformedError("receipt: time out of range")
        if len(self.relay_key) != 32:
            raise MalformedError("receipt: relay key must be 32 bytes")
        if len(self.signature) != 64:
            raise MalformedError("receipt: signature must be 64 bytes")

    def signed_part(self) -> bytes:
        return _SIGNED.pack(
            RECEIPT_MAGIC, self.recording_id, self.index, self.chunk_hash, self.received_ms
        )

    def signature_message(self) -> bytes:
        return RECEIPT_CONTEXT + self.signed_part()[len(RECEIPT_MAGIC) :]

    def __bytes__(self) -> bytes:
        return self.signed_part() + self.relay_key + self.signature

    @classmethod
    def parse(cls, data: bytes) -> Self:
        if len(data) != RECEIPT_SIZE:
            raise MalformedError(f"a receipt is {RECEIPT_SIZE} bytes, got {len(data)}")
        magic, recording_id, index, chunk_hash, received_ms = _SIGNED.unpack_from(data)
        if magic != RECEIPT_MAGIC:
            raise MalformedError("not a Testigo receipt (bad magic)")
        return cls(
            recording_id=bytes(recording_id),
            index=index,
            chunk_hash=bytes(chunk_hash),
            received_ms=received_ms,
            relay_key=bytes(data[_SIGNED.size : _SIGNED.size + 32]),
            signature=bytes(data[_SIGNED.size + 32 :]),
        )

    def names(self, recording_id: bytes, index: int, chunk_hash: bytes) -> bool:
        """Whether this receipt is for that very chunk (not whether it is signed)."""
        return (
            self.recording_id == recording_id
            and self.index == index
            and self.chunk_hash == chunk_hash
        )

    def verify(self, relay_key: RelayKey, chunk: Chunk | None = None) -> bool:
        """True when relay_key signed this receipt (and it names chunk, if given)."""
        if self.relay_key != relay_key.raw:
            return False
        if chunk is not None and not self.names(chunk.recording_id, chunk.index, chunk.chunk_hash):
            return False
        return relay_key.verify(self.signature_message(), self.signature)


def sign_receipt(relay: RelayIdentity, chunk: Chunk, received_ms: int) -> Receipt:
    """The relay's receipt for chunk, stored at received_ms. Deterministic (Ed25519)."""
    unsigned = Receipt(
        recording_id=chunk.recording_id,
        index=chunk.index,
        chunk_hash=chunk.chunk_hash,
        received_ms=received_ms,
        relay_key=relay.public.raw,
        signature=bytes(64),
    )
    return Receipt(
        recording_id=unsigned.recording_id,
        index=unsigned.index,
        chunk_hash=unsigned.chunk_hash,
        received_ms=received_ms,
        relay_key=unsigned.relay_key,
        signature=relay.sign(unsigned.signature_message()),
    )


REVOCATION_CONTEXT: Final = b"testigo/v1 revocation"
REVOCATION_MAGIC: Final = b"tgrv"
# magic, device key, revoked_ms, reinstated_ms (0: not reinstated), zero padding
_REVOKED = struct.Struct(">4s32sQQ12x")
_PADDING = slice(52, _REVOKED.size)


@dataclass(frozen=True)
class RevocationStatement:
    """The relay's signed statement that it revoked a device at `revoked_ms` (its clock)
    and, when `reinstated_ms` is set, reinstated it then: a receipt of a chunk received in
    between names a chunk made with a key in other hands. One statement per revoked
    period; the same 160 bytes as a receipt, so it travels in the receipts file
    (PROTOCOL.md §2.1). A statement without `reinstated_ms` is signed exactly as the
    version-1 statement (which had no such field), so older files still verify.
    """

    device_key: bytes
    revoked_ms: int
    relay_key: bytes
    signature: bytes
    reinstated_ms: int | None = None  # None: still revoked when the relay signed it

    def __post_init__(self) -> None:
        if len(self.device_key) != 32:
            raise MalformedError("revocation statement: device key must be 32 bytes")
        if not 0 <= self.revoked_ms < 2**64:
            raise MalformedError("revocation statement: time out of range")
        if self.reinstated_ms is not None and not self.revoked_ms < self.reinstated_ms < 2**64:
            raise MalformedError("revocation statement: reinstated before it was revoked")
        if len(self.relay_key) != 32:
            raise MalformedError("revocation statement: relay key must be 32 bytes")
        if len(self.signature) != 64:
            raise MalformedError("revocation statement: signature must be 64 bytes")

    def signature_message(self) -> bytes:
        message = REVOCATION_CONTEXT + self.device_key + struct.pack(">Q", self.revoked_ms)
        if self.reinstated_ms is not None:
            message += struct.pack(">Q", self.reinstated_ms)
        return message

    def __bytes__(self) -> bytes:
        fields = _REVOKED.pack(
            REVOCATION_MAGIC, self.device_key, self.revoked_ms, self.reinstated_ms or 0
        )
        return fields + self.relay_key + self.signature

    @classmethod
    def parse(cls, data: bytes) -> Self:
        if len(data) != RECEIPT_SIZE or not data.startswith(REVOCATION_MAGIC):
            raise MalformedError("not a Testigo revocation statement")
        _magic, device_key, revoked_ms, reinstated_ms = _REVOKED.unpack_from(data)
        if any(data[_PADDING]):
            raise MalformedError("revocation statement: padding must be zero")
        return cls(
            bytes(device_key),
            revoked_ms,
            bytes(data[_REVOKED.size : _REVOKED.size + 32]),
            bytes(data[_REVOKED.size + 32 :]),
            reinstated_ms or None,
        )

    def covers(self, received_ms: int) -> bool:
        """Whether received_ms falls in the revoked period: [revoked_ms, reinstated_ms)."""
        return self.revoked_ms <= received_ms and (
            self.reinstated_ms is None or received_ms < self.reinstated_ms
        )

    def verify(self, relay_key: RelayKey) -> bool:
        if self.relay_key != relay_key.raw:
            return False
        return relay_key.verify(self.signature_message(), self.signature)


def sign_revocation(
    relay: RelayIdentity, device_key: bytes, revoked_ms: int, reinstated_ms: int | None = None
) -> RevocationStatement:
    """The relay's statement of one revoked period of device_key (open: reinstated_ms None)."""
    unsigned = RevocationStatement(
        device_key, revoked_ms, relay.public.raw, bytes(64), reinstated_ms
    )
    return RevocationStatement(
        device_key,
        revoked_ms,
        relay.public.raw,
        relay.sign(unsigned.signature_message()),
        reinstated_ms,
    )
