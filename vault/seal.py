"""Sealing a recording chunk by chunk, on the device (docs/FORMAT.md section 3)."""

import dataclasses
import random
import time
from collections.abc import Sequence
from typing import Self

from vault import _primitives as p
from vault.format import (
    CHUNK_PREAMBLE_SIZE,
    HEADER_SIGNATURE_CONTEXT,
    MAX_CHUNK_SIZE_LIMIT,
    MAX_INDEX,
    MAX_STANZAS,
    RECORDING_ID_SIZE,
    Chunk,
    ChunkKind,
    Header,
    payload_key,
)
from vault.identity import DeviceIdentity
from vault.keys import RecipientKey

DEFAULT_MAX_CHUNK_SIZE = 4 * 1024 * 1024 + p.AEAD_TAG_SIZE


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class RecordingSealer:
    """Seals one recording: a signed header, then chunks, then the final end chunk.

    Memory use is constant: the sealer keeps the file key, the header hash, the next
    index and the previous chunk's hash. The file key lives only in this object and is
    overwritten by `close()`; use the sealer as a context manager.

    Make one with `RecordingSealer.start(...)`, which draws the randomness and the time
    and hands them to `_from_parts` (as Fernet's `encrypt` hands them to
    `_encrypt_from_parts`); the test vectors call `_from_parts` with fixed parts.
    """

    @classmethod
    def start(
        cls,
        device: DeviceIdentity,
        recipients: Sequence[RecipientKey],
        media_type: str,
        *,
        max_chunk_size: int = DEFAULT_MAX_CHUNK_SIZE,
        created_ms: int | None = None,
    ) -> Self:
        """Start sealing a new recording: draws its id, its file key, the stanza order
        and (unless created_ms is given) the time, then seals the header from those."""
        shuffled = list(recipients)
        random.SystemRandom().shuffle(shuffled)
        return cls._from_parts(
            device,
            shuffled,
            media_type,
            max_chunk_size=max_chunk_size,
            created_ms=now_ms() if created_ms is None else created_ms,
            recording_id=p.random_bytes(RECORDING_ID_SIZE),
            file_key=p.random_bytes(p.KEY_SIZE),
        )

    @classmethod
    def _from_parts(
        cls,
        device: DeviceIdentity,
        recipients: Sequence[RecipientKey],
        media_type: str,
        *,
        max_chunk_size: int,
        created_ms: int,
        recording_id: bytes,
        file_key: bytes,
    ) -> Self:
        """The header sealed from given parts, stanzas in recipient order: `start` and
        the test vectors call this; never reuse a recording id and file key."""
        if not 1 <= len(recipients) <= MAX_STANZAS:
            raise ValueError(f"a recording needs 1..{MAX_STANZAS} recipients")
        if len(set(recipients)) != len(recipients):
            raise ValueError("a recipient is listed twice")
        if not p.AEAD_TAG_SIZE <= max_chunk_size <= MAX_CHUNK_SIZE_LIMIT:
            raise ValueError("max_chunk_size out of range")
        unsigned = Header(
            recording_id=recording_id,
            device_key=device.public.raw,
            created_ms=created_ms,
            max_chunk_size=max_chunk_size,
            media_type=media_type,
            stanzas=tuple(p.seal_to(r.raw, file_key) for r in recipients),
            signature=bytes(p.SIGNATURE_SIZE),
        )
        signature = device.sign(HEADER_SIGNATURE_CONTEXT + unsigned.signed_part())
        return cls(device, dataclasses.replace(unsigned, signature=signature), file_key)

    def __init__(self, device: DeviceIdentity, header: Header, file_key: bytes) -> None:
        """Not for callers (use `start`): continues a header device signed, whose stanzas
        wrap file_key."""
        if header.device_key != device.public.raw:
            raise ValueError("the header names another device")
        self._device = device
        self.header = header
        self._file_key = bytearray(file_key)
        self._payload_key = bytearray(payload_key(file_key, header.recording_id))
        self._header_hash = header.header_hash
        self._prev_hash = self._header_hash
        self._next_index = 0
        self._finished = False

    @property
    def next_index(self) -> int:
        return self._next_index

    @property
    def finished(self) -> bool:
        return self._finished

    @property
    def max_plaintext_size(self) -> int:
        return self.header.max_chunk_size - p.AEAD_TAG_SIZE

    def seal(self, kind: ChunkKind, plaintext: bytes, device_time_ms: int | None = None) -> Chunk:
        """Seal the next chunk. kind END finishes the recording (see `finish`)."""
        if self._finished:
            raise ValueError("the recording is already finished")
        if not self._payload_key:
            raise ValueError("the sealer is closed")
        if len(plaintext) > self.max_plaintext_size:
            raise ValueError(
                f"chunk plaintext of {len(plaintext)} bytes exceeds {self.max_plaintext_size}"
            )
        if self._next_index > MAX_INDEX:
            raise ValueError("too many chunks in one recording")
        unsealed = Chunk(
            recording_id=self.header.recording_id,
            index=self._next_index,
            kind=kind,
            final=kind is ChunkKind.END,
            device_time_ms=now_ms() if device_time_ms is None else device_time_ms,
            prev_hash=self._prev_hash,
            ciphertext_hash=bytes(p.HASH_SIZE),
            signature=bytes(p.SIGNATURE_SIZE),
            ciphertext=bytes(p.AEAD_TAG_SIZE),
        )
        ciphertext = p.aead_encrypt(
            bytes(self._payload_key),
            unsealed.nonce(),
            unsealed.associated_data(self._header_hash),
            plaintext,
        )
        hashed = dataclasses.replace(
            unsealed, ciphertext_hash=p.hash32(ciphertext), ciphertext=ciphertext
        )
        signature = self._device.sign(hashed.signature_message(self._header_hash))
        chunk = dataclasses.replace(hashed, signature=signature)
        self._prev_hash = chunk.chunk_hash
        self._next_index += 1
        if chunk.final:
            self._finished = True
            self.close()
        return chunk

    def finish(self, payload: bytes = b"", device_time_ms: int | None = None) -> Chunk:
        """Seal the final end-of-recording chunk and wipe the key."""
        return self.seal(ChunkKind.END, payload, device_time_ms)

    def close(self) -> None:
        """Overwrite the keys in memory. The sealer cannot seal afterwards."""
        for buffer in (self._file_key, self._payload_key):
            for i in range(len(buffer)):
                buffer[i] = 0
            del buffer[:]

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def chunk_overhead() -> int:
    """Bytes a sealed chunk adds to its plaintext."""
    return CHUNK_PREAMBLE_SIZE + p.AEAD_TAG_SIZE
