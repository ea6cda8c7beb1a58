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
_REVOKED = struct.Struct(">4s32sQ20x")  # magic, device key, revoked_ms, zero padding


@dataclass(frozen=True)
class RevocationStatement:
    """The relay's signed statement that it revoked a device at `revoked_ms` (its clock):
    a receipt of a chunk received after it names a chunk made with a key in other hands.
    The same 160 bytes as a receipt, so it travels in the receipts file (PROTOCOL.md §2.1).
    """

    device_key: bytes
    revoked_ms: int
    relay_key: bytes
    signature: bytes

    def signature_message(self) -> bytes:
        return REVOCATION_CONTEXT + self.device_key + struct.pack(">Q", self.revoked_ms)

    def __bytes__(self) -> bytes:
        fields = _REVOKED.pack(REVOCATION_MAGIC, self.device_key, self.revoked_ms)
        return fields + self.relay_key + self.signature

    @classmethod
    def parse(cls, data: bytes) -> Self:
        if len(data) != RECEIPT_SIZE or not data.startswith(REVOCATION_MAGIC):
            raise MalformedError("not a Testigo revocation statement")
        _magic, device_key, revoked_ms = _REVOKED.unpack_from(data)
        if any(data[44 : _REVOKED.size]):
            raise MalformedError("revocation statement: padding must be zero")
        return cls(
            bytes(device_key),
            revoked_ms,
            bytes(data[_REVOKED.size : _REVOKED.size + 32]),
            bytes(data[_REVOKED.size + 32 :]),
        )

    def verify(self, relay_key: RelayKey) -> bool:
        if self.relay_key != relay_key.raw:
            return False
        return relay_key.verify(self.signature_message(), self.signature)


def sign_revocation(
    relay: RelayIdentity, device_key: bytes, revoked_ms: int
) -> RevocationStatement:
    unsigned = RevocationStatement(device_key, revoked_ms, relay.public.raw, bytes(64))
    return RevocationStatement(
        device_key, revoked_ms, relay.public.raw, relay.sign(unsigned.signature_message())
    )
