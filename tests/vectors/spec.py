"""A second encoder for docs/FORMAT.md section 3, written from the spec, not from vault/.

The vector generator uses it to build what `vault.RecordingSealer` refuses to build (bad
flags, wrong kinds, forged or forked chunks, out-of-range fields), and the unit tests check
that it produces byte for byte what the sealer produces, so both agree with the spec.

Hashes use hashlib's BLAKE2b (the same function as libsodium's `crypto_generichash`);
only the AEAD, sealed boxes and signatures go through `vault._primitives`.
"""

import hashlib
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from vault import _primitives as p
from vault.identity import DeviceIdentity

VERSION_LINE = b"testigo/v1\n"
KIND_INIT, KIND_MEDIA, KIND_METADATA, KIND_END = 1, 2, 3, 4
FLAG_FINAL = 0x01
CHUNK_SIGNED_SIZE = 102
CHUNK_PREAMBLE_SIZE = 166


def h(data: bytes) -> bytes:
    """H(m): BLAKE2b, 32-byte output, no key."""
    return hashlib.blake2b(data, digest_size=32).digest()


def kh(key: bytes, data: bytes) -> bytes:
    """KH(k, m): BLAKE2b, 32-byte output, keyed."""
    return hashlib.blake2b(data, digest_size=32, key=key).digest()


def header_signed_part(
    *,
    recording_id: bytes,
    device_key: bytes,
    created_ms: int,
    max_chunk_size: int,
    media_type: bytes,
    stanzas: Sequence[bytes],
    version_line: bytes = VERSION_LINE,
    stanza_count: int | None = None,
) -> bytes:
    """header[0 : 73+M+80*S]; stanza_count overrides the count byte (for broken headers)."""
    count = len(stanzas) if stanza_count is None else stanza_count
    return b"".join(
        (
            version_line,
            recording_id,
            device_key,
            struct.pack(">QIB", created_ms, max_chunk_size, len(media_type)),
            media_type,
            bytes([count]),
            *stanzas,
        )
    )


def sign_header(signed_part: bytes, signer: DeviceIdentity) -> bytes:
    """The whole header: signed part || SIG(device_sk, context || signed part)."""
    return signed_part + signer.sign(b"testigo/v1 header-signature" + signed_part)


def header_hash(header: bytes) -> bytes:
    return h(b"testigo/v1 header-hash" + header)


def payload_key(file_key: bytes, recording_id: bytes) -> bytes:
    return kh(file_key, b"testigo/v1 payload-key" + recording_id)


def chunk_hash(chunk: bytes) -> bytes:
    return h(b"testigo/v1 chunk-hash" + chunk[:CHUNK_SIGNED_SIZE])


def seal_file_key(recipient_public: bytes, file_key: bytes) -> bytes:
    """A stanza: SEAL(recipient_pk, file_key)."""
    return p.seal_to(recipient_public, file_key)


@dataclass(frozen=True)
class ChunkFields:
    """Every field of a chunk; `ciphertext` None means: encrypt `plaintext` per the spec."""

    recording_id: bytes
    index: int
    kind: int
    flags: int
    device_time_ms: int
    prev_hash: bytes
    plaintext: bytes = b""
    ciphertext: bytes | None = None
    ciphertext_length: int | None = None  # overrides len(ciphertext) in the signed fields


def chunk_nonce(recording_id: bytes, index: int, kind: int, flags: int) -> bytes:
    return recording_id + struct.pack(">IBB", index, kind, flags) + b"\x00\x00"


def encode_chunk(
    fields: ChunkFields, *, header: bytes, file_key: bytes, signer: DeviceIdentity
) -> bytes:
    """A chunk as the spec lays it out, encrypted under file_key and signed by signer."""
    hheader = header_hash(header)
    first66 = (
        b"tgck"
        + fields.recording_id
        + struct.pack(">IBBQ", fields.index, fields.kind, fields.flags, fields.device_time_ms)
        + fields.prev_hash
    )
    assert len(first66) == 66
    ciphertext = fields.ciphertext
    if ciphertext is None:
        ciphertext = p.aead_encrypt(
            payload_key(file_key, fields.recording_id),
            chunk_nonce(fields.recording_id, fields.index, fields.kind, fields.flags),
            b"testigo/v1 chunk" + hheader + first66,
            fields.plaintext,
        )
    length = len(ciphertext) if fields.ciphertext_length is None else fields.ciphertext_length
    signed = first66 + h(ciphertext) + struct.pack(">I", length)
    signature = signer.sign(b"testigo/v1 chunk-signature" + hheader + signed)
    return signed + signature + ciphertext
