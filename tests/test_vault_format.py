"""Header and chunk byte layouts (docs/FORMAT.md 3.1, 3.2): round trips, agreement with a
second encoder written from the spec (tests/vectors/spec.py), and every rule a parser can
check without keys, one by one."""

import dataclasses
import struct
from collections.abc import Callable

import pytest

from tests.vectors import spec
from tests.vectors.generate import (
    CREATED_MS,
    DEVICE,
    END_PAYLOAD,
    FILE_KEY,
    MAX_CHUNK,
    ME,
    MEDIA_TYPE,
    OTHER_DEVICE,
    RECORDING_ID,
    Forger,
    fragment,
    init_segment,
    raw_header,
    sealed,
    time_of,
)
from vault import (
    Chunk,
    ChunkKind,
    Header,
    MalformedError,
    NotAChunkError,
    UnsupportedVersionError,
)
from vault.format import CHUNK_PREAMBLE_SIZE, HEADER_MAX_SIZE, MAX_CHUNK_SIZE_LIMIT

ITEMS = [
    (ChunkKind.INIT, init_segment()),
    (ChunkKind.MEDIA, fragment(1)),
    (ChunkKind.METADATA, b'{"type": "clock", "device_time_ms": 1}'),
    (ChunkKind.METADATA, b""),
    (ChunkKind.MEDIA, fragment(2)),
    (ChunkKind.END, END_PAYLOAD),
]
GOOD = sealed(ITEMS)
HEADER = Header.parse(GOOD.header)


# --- header -----------------------------------------------------------------------------


def test_header_round_trip() -> None:
    assert bytes(HEADER) == GOOD.header
    assert Header.parse(bytes(HEADER)) == HEADER
    assert Header.parse_prefix(GOOD.header + GOOD.chunks[0]) == (HEADER, len(GOOD.header))


def test_header_fields() -> None:
    assert HEADER.recording_id == RECORDING_ID
    assert HEADER.device_key == DEVICE.public.raw
    assert HEADER.created_ms == CREATED_MS
    assert HEADER.max_chunk_size == MAX_CHUNK
    assert HEADER.media_type == MEDIA_TYPE
    assert len(HEADER.stanzas) == 1
    assert ME.unwrap(HEADER.stanzas[0]) == FILE_KEY
    assert len(GOOD.header) == 73 + len(MEDIA_TYPE) + 80 + 64


def test_header_is_laid_out_as_the_spec_says() -> None:
    signed = spec.header_signed_part(
        recording_id=RECORDING_ID,
        device_key=DEVICE.public.raw,
        created_ms=CREATED_MS,
        max_chunk_size=MAX_CHUNK,
        media_type=MEDIA_TYPE.encode(),
        stanzas=HEADER.stanzas,
    )
    assert spec.sign_header(signed, DEVICE) == GOOD.header
    assert HEADER.signed_part() == signed
    assert HEADER.header_hash == spec.header_hash(GOOD.header)
    assert HEADER.signature_is_valid()


def test_header_max_size_is_the_documented_one() -> None:
    assert HEADER_MAX_SIZE == 5512
    assert MAX_CHUNK_SIZE_LIMIT == 16 * 1024 * 1024 + 16


def test_header_followed_by_bytes_is_rejected_by_parse() -> None:
    with pytest.raises(MalformedError):
        Header.parse(GOOD.header + b"\x00")


def test_data_ending_inside_the_header_is_rejected() -> None:
    for length in range(len(GOOD.header)):
        with pytest.raises(MalformedError):
            Header.parse_prefix(GOOD.header[:length])


@pytest.mark.parametrize(
    "line", [b"testigo/v2\n", b"testigo/v0\n", b"testigo/v1\r\n", b"testigo/v11\n", b"testigo/vX"]
)
def test_unknown_version_is_unsupported(line: bytes) -> None:
    data = line + GOOD.header[len(spec.VERSION_LINE) :]
    with pytest.raises(UnsupportedVersionError, match="unsupported format version"):
        Header.parse_prefix(data)


@pytest.mark.parametrize(
    "data",
    [b"", b"testigo", b"Testigo/v1\n", b"TESTIGO/V1\n", b"\x00" * 100, b"tgck" + bytes(200)],
)
def test_not_a_recording(data: bytes) -> None:
    with pytest.raises(MalformedError):
        Header.parse_prefix(data)


def test_not_a_recording_says_so() -> None:
    with pytest.raises(MalformedError, match="not a Testigo recording"):
        Header.parse_prefix(init_segment())


@pytest.mark.parametrize("size", [0, 15, MAX_CHUNK_SIZE_LIMIT + 1, 2**32 - 1])
def test_max_chunk_size_out_of_range_is_rejected(size: int) -> None:
    with pytest.raises(MalformedError, match="max chunk size"):
        Header.parse(raw_header(max_chunk_size=size))


@pytest.mark.parametrize("size", [16, 17, MAX_CHUNK_SIZE_LIMIT])
def test_max_chunk_size_in_range_is_accepted(size: int) -> None:
    header = Header.parse(raw_header(max_chunk_size=size))
    assert header.max_chunk_size == size
    assert header.signature_is_valid()


@pytest.mark.parametrize(
    "media_type",
    [b"", b"video/mp4\x00", b"\x1f", b"video\tmp4", b"video/mp4\n", b"\x7f", b"\x80", b"\xff"],
)
def test_bad_media_type_is_rejected(media_type: bytes) -> None:
    with pytest.raises(MalformedError, match="media type"):
        Header.parse(raw_header(media_type=media_type))


@pytest.mark.parametrize("media_type", [b" ", b"~", b"x" * 255, bytes(range(0x20, 0x7F))])
def test_printable_media_type_is_accepted(media_type: bytes) -> None:
    assert Header.parse(raw_header(media_type=media_type)).media_type == media_type.decode()


@pytest.mark.parametrize("count", [0, 65])
def test_stanza_count_out_of_range_is_rejected(count: int) -> None:
    with pytest.raises(MalformedError, match="stanza count"):
        Header.parse(raw_header(stanzas=count))


@pytest.mark.parametrize("count", [1, 2, 64])
def test_stanza_count_in_range_is_accepted(count: int) -> None:
    header = Header.parse(raw_header(stanzas=count))
    assert len(header.stanzas) == count
    assert header.signature_is_valid()


def test_signature_by_another_device_does_not_verify() -> None:
    header = Header.parse(raw_header(signer=OTHER_DEVICE))
    assert header.device_key == DEVICE.public.raw
    assert not header.signature_is_valid()


@pytest.mark.parametrize("offset", [11, 27, 59, 67, 72, 73 + len(MEDIA_TYPE), -1])
def test_any_changed_header_field_fails_the_signature(offset: int) -> None:
    data = bytearray(GOOD.header)
    data[offset] ^= 0x01
    try:
        header = Header.parse(bytes(data))
    except MalformedError:
        return  # e.g. an unusable device key is also acceptable
    assert not header.signature_is_valid()


def test_header_with_an_unusable_device_key_does_not_verify() -> None:
    header = dataclasses.replace(HEADER, device_key=bytes(32))
    assert not header.signature_is_valid()


@pytest.mark.parametrize(
    "change",
    [
        lambda h: dataclasses.replace(h, recording_id=bytes(15)),
        lambda h: dataclasses.replace(h, device_key=bytes(33)),
        lambda h: dataclasses.replace(h, created_ms=-1),
        lambda h: dataclasses.replace(h, created_ms=2**64),
        lambda h: dataclasses.replace(h, max_chunk_size=15),
        lambda h: dataclasses.replace(h, media_type=""),
        lambda h: dataclasses.replace(h, media_type="é"),
        lambda h: dataclasses.replace(h, media_type="x" * 256),
        lambda h: dataclasses.replace(h, stanzas=()),
        lambda h: dataclasses.replace(h, stanzas=(bytes(80),) * 65),
        lambda h: dataclasses.replace(h, stanzas=(bytes(79),)),
        lambda h: dataclasses.replace(h, signature=bytes(63)),
    ],
)
def test_header_constructor_checks(change: Callable[[Header], Header]) -> None:
    with pytest.raises(MalformedError):
        change(HEADER)


# --- chunks -----------------------------------------------------------------------------


def test_chunk_round_trip() -> None:
    for data in GOOD.chunks:
        chunk = Chunk.parse(data)
        assert bytes(chunk) == data
        assert Chunk.parse(bytes(chunk)) == chunk
        assert chunk.size == len(data)


def test_chunk_fields() -> None:
    previous = HEADER.header_hash
    for index, data in enumerate(GOOD.chunks):
        chunk = Chunk.parse(data)
        kind, _plaintext = ITEMS[index]
        assert chunk.recording_id == RECORDING_ID
        assert chunk.index == index
        assert chunk.kind is kind
        assert chunk.final == (kind is ChunkKind.END)
        assert chunk.device_time_ms == time_of(index)
        assert chunk.prev_hash == previous
        assert chunk.ciphertext_hash == spec.h(chunk.ciphertext)
        assert len(chunk.ciphertext) == len(ITEMS[index][1]) + 16
        previous = chunk.chunk_hash


def test_sealer_chunks_are_laid_out_as_the_spec_says() -> None:
    forger = Forger(GOOD.header)
    forger.add_items(ITEMS)
    assert forger.built.chunks == GOOD.chunks


def test_chunk_hash_nonce_and_associated_data_are_the_specs() -> None:
    data = GOOD.chunks[-1]
    chunk = Chunk.parse(data)
    assert chunk.chunk_hash == spec.chunk_hash(data)
    # a receipt can be checked against a spooled chunk from its preamble alone
    assert Chunk.hash_of_preamble(data[:CHUNK_PREAMBLE_SIZE]) == spec.chunk_hash(data)
    assert chunk.nonce() == RECORDING_ID + struct.pack(">IBB", 5, 4, 1) + b"\x00\x00"
    assert len(chunk.nonce()) == 24
    assert chunk.associated_data(HEADER.header_hash) == (
        b"testigo/v1 chunk" + HEADER.header_hash + data[:66]
    )
    assert chunk.signature_message(HEADER.header_hash) == (
        b"testigo/v1 chunk-signature" + HEADER.header_hash + data[:102]
    )


def raw_chunk(
    *,
    kind: int = spec.KIND_MEDIA,
    flags: int = 0,
    index: int = 1,
    ciphertext: bytes | None = None,
    ciphertext_length: int | None = None,
) -> bytes:
    fields = spec.ChunkFields(
        recording_id=RECORDING_ID,
        index=index,
        kind=kind,
        flags=flags,
        device_time_ms=time_of(index),
        prev_hash=bytes(32),
        plaintext=b"hello",
        ciphertext=ciphertext,
        ciphertext_length=ciphertext_length,
    )
    return spec.encode_chunk(fields, header=GOOD.header, file_key=FILE_KEY, signer=DEVICE)


def test_raw_chunk_helper_makes_parseable_chunks() -> None:
    chunk = Chunk.parse(raw_chunk())
    assert (chunk.kind, chunk.index, chunk.final) == (ChunkKind.MEDIA, 1, False)


def test_bad_magic_is_rejected() -> None:
    for magic in (b"tgcK", b"TGCK", b"\x00\x00\x00\x00", b"tgc "):
        with pytest.raises(NotAChunkError, match="magic"):
            Chunk.parse(magic + raw_chunk()[4:])


@pytest.mark.parametrize("kind", [0, 5, 6, 127, 255])
def test_unknown_kind_is_rejected(kind: int) -> None:
    with pytest.raises(MalformedError, match="kind"):
        Chunk.parse(raw_chunk(kind=kind))


@pytest.mark.parametrize("flags", [0x02, 0x04, 0x80, 0x03, 0xFF])
def test_unknown_flag_bits_are_rejected(flags: int) -> None:
    with pytest.raises(MalformedError, match="flags"):
        Chunk.parse(raw_chunk(kind=spec.KIND_END if flags & 1 else spec.KIND_MEDIA, flags=flags))


@pytest.mark.parametrize("kind", [spec.KIND_INIT, spec.KIND_MEDIA, spec.KIND_METADATA])
def test_final_flag_on_a_chunk_that_is_not_the_end_is_rejected(kind: int) -> None:
    with pytest.raises(MalformedError, match="final"):
        Chunk.parse(raw_chunk(kind=kind, flags=spec.FLAG_FINAL))


def test_end_chunk_without_final_flag_is_rejected() -> None:
    with pytest.raises(MalformedError, match="final"):
        Chunk.parse(raw_chunk(kind=spec.KIND_END, flags=0))


@pytest.mark.parametrize("index", [2**31, 2**31 + 1, 2**32 - 1])
def test_index_2_31_or_above_is_rejected(index: int) -> None:
    with pytest.raises(MalformedError, match="index"):
        Chunk.parse(raw_chunk(index=index))


def test_index_2_31_minus_1_is_accepted() -> None:
    assert Chunk.parse(raw_chunk(index=2**31 - 1)).index == 2**31 - 1


@pytest.mark.parametrize("length", [0, 1, 15])
def test_ciphertext_below_16_is_rejected(length: int) -> None:
    with pytest.raises(MalformedError):
        Chunk.parse(raw_chunk(ciphertext=bytes(length)))


def test_ciphertext_of_16_is_accepted() -> None:
    assert Chunk.parse(raw_chunk(ciphertext=bytes(16))).ciphertext == bytes(16)


def test_ciphertext_length_above_the_limit_is_rejected() -> None:
    data = raw_chunk(ciphertext_length=MAX_CHUNK_SIZE_LIMIT + 1)
    with pytest.raises(MalformedError, match="length"):
        Chunk.parse_preamble(data[:166])


def test_ciphertext_length_that_disagrees_with_the_data_is_rejected() -> None:
    data = raw_chunk()
    for length in (len(data) - 166 - 1, len(data) - 166 + 1):
        changed = raw_chunk(ciphertext_length=length)
        with pytest.raises(MalformedError):
            Chunk.parse(changed)


def test_truncated_chunk_is_rejected() -> None:
    data = GOOD.chunks[1]
    for length in range(len(data)):
        with pytest.raises(MalformedError):
            Chunk.parse(data[:length])


def test_chunk_followed_by_bytes_is_rejected() -> None:
    with pytest.raises(MalformedError, match="followed"):
        Chunk.parse(GOOD.chunks[1] + b"\x00")


@pytest.mark.parametrize(
    "change",
    [
        lambda c: dataclasses.replace(c, recording_id=bytes(17)),
        lambda c: dataclasses.replace(c, index=-1),
        lambda c: dataclasses.replace(c, index=2**31),
        lambda c: dataclasses.replace(c, final=True),
        lambda c: dataclasses.replace(c, device_time_ms=2**64),
        lambda c: dataclasses.replace(c, prev_hash=bytes(31)),
        lambda c: dataclasses.replace(c, ciphertext_hash=bytes(33)),
        lambda c: dataclasses.replace(c, signature=bytes(65)),
        lambda c: dataclasses.replace(c, ciphertext=bytes(15)),
    ],
)
def test_chunk_constructor_checks(change: Callable[[Chunk], Chunk]) -> None:
    with pytest.raises(MalformedError):
        change(Chunk.parse(GOOD.chunks[1]))
