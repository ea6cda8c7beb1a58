"""Write tests/vectors/data/: one vector file per scenario (format: tests/vectors/kit.py).

Run from the project root:

    .venv/bin/python -m tests.vectors.generate

Keys, recording ids, times and plaintexts are fixed, so the chunk layout is deterministic;
only the sealed-box stanzas are random (crypto_box_seal draws an ephemeral key), which
changes every hash downstream, so the files are generated once and committed. Every
expectation written here is what docs/FORMAT.md requires, not what vault/ happens to do.
"""

import hashlib
import json
import shutil
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from tests.vectors import spec
from tests.vectors.kit import DATA_DIR, Vector, payload_hash
from vault.format import ChunkKind
from vault.identity import DeviceIdentity, RecipientIdentity
from vault.keys import RecipientKey
from vault.seal import RecordingSealer


def _fixed(label: str) -> bytes:
    return hashlib.sha256(b"testigo test vector " + label.encode()).digest()


DEVICE = DeviceIdentity(_fixed("device"))
OTHER_DEVICE = DeviceIdentity(_fixed("other device"))
RECIPIENTS = tuple(RecipientIdentity(_fixed(f"recipient {i}")) for i in range(1, 6))
ME = RECIPIENTS[0]
STRANGER = RecipientIdentity(_fixed("stranger"))
RECORDING_ID = _fixed("recording id")[:16]
OTHER_RECORDING_ID = _fixed("other recording id")[:16]
FILE_KEY = _fixed("file key")
OTHER_FILE_KEY = _fixed("other file key")
CREATED_MS = 1_795_300_000_000
MEDIA_TYPE = 'video/mp4; codecs="avc1.42E01E,mp4a.40.2"'
MAX_CHUNK = 1024 * 1024 + 16

INIT, MEDIA, METADATA, END = ChunkKind.INIT, ChunkKind.MEDIA, ChunkKind.METADATA, ChunkKind.END
END_PAYLOAD = b'{"reason": "stopped"}'

Item = tuple[ChunkKind, bytes]


def init_segment() -> bytes:
    return b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso6" + b"moov" + _fixed("moov") * 3


def fragment(i: int) -> bytes:
    return b"moof" + i.to_bytes(4, "big") + b"mdat" + _fixed(f"fragment {i}") * (1 + i % 4)


def standard(media: int = 3) -> list[Item]:
    """init, `media` fragments, end: chunk 0 is init, the last chunk is the end."""
    media_items = [(MEDIA, fragment(i)) for i in range(1, media + 1)]
    return [(INIT, init_segment()), *media_items, (END, END_PAYLOAD)]


def time_of(index: int) -> int:
    return CREATED_MS + 1000 * index


@dataclass
class Built:
    """A header and chunks in the order they were made; plaintexts[i] belongs to chunks[i]."""

    header: bytes
    chunks: list[bytes] = field(default_factory=list)
    plaintexts: list[bytes] = field(default_factory=list)
    indices: list[int] = field(default_factory=list)

    def file(self, positions: Iterable[int] | None = None, tail: bytes = b"") -> bytes:
        chosen = range(len(self.chunks)) if positions is None else positions
        return self.header + b"".join(self.chunks[i] for i in chosen) + tail

    def opened(self, positions: Iterable[int]) -> list[tuple[int, bytes]]:
        return [(self.indices[i], self.plaintexts[i]) for i in positions]

    def all_opened(self) -> list[tuple[int, bytes]]:
        return self.opened(range(len(self.chunks)))


def sealed(
    items: Sequence[Item],
    *,
    recipients: Sequence[RecipientKey] = (ME.public,),
    recording_id: bytes = RECORDING_ID,
    max_chunk_size: int = MAX_CHUNK,
) -> Built:
    """A recording made by the real sealer (the way a device makes one)."""
    sealer = RecordingSealer._from_parts(
        DEVICE,
        recipients,
        MEDIA_TYPE,
        max_chunk_size=max_chunk_size,
        created_ms=CREATED_MS,
        recording_id=recording_id,
        file_key=FILE_KEY,
    )
    built = Built(bytes(sealer.header))
    for index, (kind, plaintext) in enumerate(items):
        built.chunks.append(bytes(sealer.seal(kind, plaintext, device_time_ms=time_of(index))))
        built.plaintexts.append(plaintext)
        built.indices.append(index)
    sealer.close()
    return built


class Forger:
    """Builds chunks from the spec (tests/vectors/spec.py), chained to the previous one.

    With the defaults it makes what the sealer makes; the keyword arguments make what a
    buggy or hostile device, or an attacker, could make.
    """

    def __init__(self, header: bytes) -> None:
        self.built = Built(header)
        self._prev = spec.header_hash(header)
        self._next = 0

    def add(
        self,
        kind: int,
        plaintext: bytes = b"",
        *,
        index: int | None = None,
        flags: int | None = None,
        prev_hash: bytes | None = None,
        signer: DeviceIdentity = DEVICE,
        file_key: bytes = FILE_KEY,
        recording_id: bytes = RECORDING_ID,
        ciphertext: bytes | None = None,
        ciphertext_length: int | None = None,
    ) -> bytes:
        index = self._next if index is None else index
        if flags is None:
            flags = spec.FLAG_FINAL if kind == spec.KIND_END else 0
        fields = spec.ChunkFields(
            recording_id=recording_id,
            index=index,
            kind=kind,
            flags=flags,
            device_time_ms=time_of(index),
            prev_hash=self._prev if prev_hash is None else prev_hash,
            plaintext=plaintext,
            ciphertext=ciphertext,
            ciphertext_length=ciphertext_length,
        )
        chunk = spec.encode_chunk(
            fields, header=self.built.header, file_key=file_key, signer=signer
        )
        self.built.chunks.append(chunk)
        self.built.plaintexts.append(plaintext)
        self.built.indices.append(index)
        self._prev = spec.chunk_hash(chunk)
        self._next = index + 1
        return chunk

    def add_items(self, items: Iterable[Item]) -> None:
        for kind, plaintext in items:
            self.add(kind, plaintext)


def forger(max_chunk_size: int = MAX_CHUNK) -> Forger:
    """A Forger on a header the real sealer made (one recipient: ME)."""
    return Forger(sealed([], max_chunk_size=max_chunk_size).header)


def raw_header(
    *,
    media_type: bytes = MEDIA_TYPE.encode(),
    max_chunk_size: int = MAX_CHUNK,
    stanzas: int = 1,
    stanza_count: int | None = None,
    version_line: bytes = spec.VERSION_LINE,
    signer: DeviceIdentity = DEVICE,
) -> bytes:
    """A header built from the spec and signed by `signer` (so only the rule under test fails)."""
    keys = [
        ME.public.raw,
        *(RecipientIdentity(_fixed(f"extra {i}")).public.raw for i in range(1, 80)),
    ]
    signed = spec.header_signed_part(
        recording_id=RECORDING_ID,
        device_key=DEVICE.public.raw,
        created_ms=CREATED_MS,
        max_chunk_size=max_chunk_size,
        media_type=media_type,
        stanzas=[spec.seal_file_key(key, FILE_KEY) for key in keys[:stanzas]],
        version_line=version_line,
        stanza_count=stanza_count,
    )
    return spec.sign_header(signed, signer)


def flip(data: bytes, offset: int, mask: int = 0x01) -> bytes:
    return data[:offset] + bytes([data[offset] ^ mask]) + data[offset + 1 :]


def make(
    name: str,
    expect: str,
    recording: bytes,
    comment: str,
    *,
    opened: Sequence[tuple[int, bytes]] | None = None,
    identity: RecipientIdentity = ME,
    missing: Sequence[int] = (),
    interrupted_after: int | None = None,
    expect_without_identity: str | None = None,
    error: str | None = None,
) -> Vector:
    return Vector(
        name=name,
        expect=expect,
        recording=recording,
        identity=identity.secret_bytes(),
        comment=comment,
        payload=None if opened is None else payload_hash([pt for _i, pt in opened]),
        valid=() if opened is None else tuple(i for i, _pt in opened),
        missing=tuple(missing),
        interrupted_after=interrupted_after,
        expect_without_identity=expect_without_identity,
        error=error,
    )


def valid_recordings() -> list[Vector]:
    single = sealed([(END, b"")])
    many_items = [
        (INIT, init_segment()),
        *((MEDIA, fragment(i)) for i in range(1, 31)),
        (METADATA, json.dumps({"type": "clock", "device_time_ms": time_of(31)}).encode()),
        *((MEDIA, fragment(i)) for i in range(32, 40)),
        (END, END_PAYLOAD),
    ]
    many = sealed(many_items)
    five = sealed(standard(2), recipients=[r.public for r in RECIPIENTS])
    location = json.dumps(
        {"type": "location", "lat": 40.4168, "lon": -3.7038, "accuracy_m": 12.5}
    ).encode()
    with_location = sealed(
        [(INIT, init_segment()), (METADATA, location), (MEDIA, fragment(1)), (END, END_PAYLOAD)]
    )
    empty_metadata = sealed(
        [(INIT, init_segment()), (MEDIA, fragment(1)), (METADATA, b""), (END, b"")]
    )
    init_media_end = sealed([(INIT, init_segment()), (MEDIA, fragment(1)), (END, END_PAYLOAD)])
    filler = 65536 - len(b'{"type": "note", "text": ""}')
    largest = b'{"type": "note", "text": "' + b"x" * filler + b'"}'
    assert len(largest) == 65536
    at_limit = sealed([(INIT, init_segment()), (METADATA, largest), (END, END_PAYLOAD)])
    huge = b'{"type": "note", "count": ' + b"7" * 5000 + b"}"
    huge_number = sealed([(INIT, init_segment()), (METADATA, huge), (END, END_PAYLOAD)])
    deepest = b'{"deep": ' + b"[" * 63 + b"]" * 63 + b"}"
    at_depth_limit = sealed([(INIT, init_segment()), (METADATA, deepest), (END, END_PAYLOAD)])
    no_init = sealed([(MEDIA, fragment(1)), (MEDIA, fragment(2)), (END, END_PAYLOAD)])
    junk_end = sealed([(INIT, init_segment()), (MEDIA, fragment(1)), (END, b"\xffnot json")])
    return [
        make(
            "single_end_chunk",
            "complete",
            single.file(),
            "the shortest complete recording: only the final end chunk, empty",
            opened=single.all_opened(),
        ),
        make(
            "many_chunks",
            "complete",
            many.file(),
            "init, 39 media fragments, a clock metadata chunk and the end chunk",
            opened=many.all_opened(),
        ),
        make(
            "recipients_five_opened_by_second",
            "complete",
            five.file(),
            "five stanzas in order; the identity's stanza is the second",
            opened=five.all_opened(),
            identity=RECIPIENTS[1],
        ),
        make(
            "recipients_five_opened_by_fifth",
            "complete",
            five.file(),
            "five stanzas in order; the identity's stanza is the last",
            opened=five.all_opened(),
            identity=RECIPIENTS[4],
        ),
        make(
            "metadata_empty",
            "complete",
            empty_metadata.file(),
            "an empty metadata plaintext is allowed, and an empty end plaintext",
            opened=empty_metadata.all_opened(),
        ),
        make(
            "metadata_location",
            "complete",
            with_location.file(),
            "a location metadata chunk between init and media",
            opened=with_location.all_opened(),
        ),
        make(
            "init_media_end",
            "complete",
            init_media_end.file(),
            "the smallest playable recording: init, one fragment, end",
            opened=init_media_end.all_opened(),
        ),
        make(
            "metadata_at_size_limit",
            "complete",
            at_limit.file(),
            "a metadata JSON object of exactly 64 KiB is allowed",
            opened=at_limit.all_opened(),
        ),
        make(
            "metadata_huge_number",
            "complete",
            huge_number.file(),
            "a JSON object (under 64 KiB) with a 5000-digit number is a JSON object; "
            "readers ignore members they do not know",
            opened=huge_number.all_opened(),
        ),
        make(
            "metadata_at_depth_limit",
            "complete",
            at_depth_limit.file(),
            "a metadata JSON object nested 64 levels deep (the limit) is allowed",
            opened=at_depth_limit.all_opened(),
        ),
        make(
            "media_without_init",
            "incomplete",
            no_init.file(),
            "every chunk present and final, but media and no init segment before it: "
            "authentic, not playable, so not complete",
            opened=no_init.all_opened(),
        ),
        make(
            "end_plaintext_not_json",
            "complete",
            junk_end.file(),
            "an end chunk whose plaintext is not a JSON object: the chunk stays valid (the "
            "device signed it); a reader reports its content as unreadable and goes on",
            opened=junk_end.all_opened(),
        ),
        make(
            "not_for_me",
            "no match",
            init_media_end.file(),
            "sealed to another recipient: no stanza opens; without a key it verifies",
            identity=STRANGER,
            expect_without_identity="complete",
        ),
    ]


def header_failures() -> list[Vector]:
    good = sealed(standard(2))
    header = good.header
    body = b"".join(good.chunks)
    m = len(MEDIA_TYPE)
    stanza_at = 73 + m
    cases: list[tuple[str, bytes, str, str]] = [
        ("header_flip_recording_id", flip(header, 11 + 3), "TamperedError", "recording id"),
        ("header_flip_device_key", flip(header, 27 + 5, 0x10), "TamperedError", "device key"),
        ("header_flip_created", flip(header, 59 + 7), "TamperedError", "creation time"),
        ("header_flip_max_chunk_size", flip(header, 67 + 3), "TamperedError", "max chunk size"),
        ("header_flip_media_type", flip(header, 72), "TamperedError", "media type (v -> w)"),
        ("header_flip_stanza", flip(header, stanza_at + 40, 0x80), "TamperedError", "stanza"),
        ("header_flip_signature", flip(header, len(header) - 20), "TamperedError", "signature"),
    ]
    vectors = [
        make(
            name,
            "header failure",
            flipped + body,
            f"one bit flipped in the header's {what}; the signature fails",
            error=error,
        )
        for name, flipped, error, what in cases
    ]
    other_signed = raw_header(signer=OTHER_DEVICE)
    malformed: list[tuple[str, bytes, str]] = [
        (
            "header_signed_by_other_device",
            other_signed + body,
            "the header names the device's key but another device signed it",
        ),
        (
            "header_version_2",
            raw_header(version_line=b"testigo/v2\n") + body,
            "version line testigo/v2: unsupported version",
        ),
        ("not_a_recording", init_segment() + fragment(1), "an fMP4 file, not a recording"),
        ("empty_file", b"", "zero bytes"),
        ("header_truncated", header[:-1], "the data ends inside the header signature"),
        (
            "header_stanza_count_0",
            raw_header(stanzas=0) + body,
            "stanza_count 0 (signed by the device)",
        ),
        (
            "header_stanza_count_65",
            raw_header(stanzas=65) + body,
            "65 stanzas (signed by the device)",
        ),
        (
            "header_max_chunk_size_above_limit",
            raw_header(max_chunk_size=16 * 1024 * 1024 + 17) + body,
            "max_chunk_size 16 MiB + 17 (signed)",
        ),
        (
            "header_max_chunk_size_below_16",
            raw_header(max_chunk_size=15) + body,
            "max_chunk_size 15 (signed)",
        ),
        (
            "header_media_type_control_char",
            raw_header(media_type=b"video/mp4\x07") + body,
            "media type holds 0x07 (signed)",
        ),
        (
            "header_media_type_non_ascii",
            raw_header(media_type="vidéo/mp4".encode()) + body,
            "media type holds UTF-8 bytes above 0x7e (signed)",
        ),
        ("header_media_type_empty", raw_header(media_type=b"") + body, "empty media type (signed)"),
        (
            "header_stanza_count_short",
            raw_header(stanzas=1, stanza_count=2),
            "stanza_count says 2, one stanza follows, then the data ends",
        ),
    ]
    for name, data, what in malformed:
        error = "TamperedError" if name == "header_signed_by_other_device" else "MalformedError"
        vectors.append(make(name, "header failure", data, what, error=error))
    return vectors


def chunk_failures() -> list[Vector]:
    """Chunk 2 of init, media x3, end is made invalid in one way; the others stay valid."""
    good = sealed(standard(3))
    keep = [0, 1, 3, 4]

    def replaced(chunk: bytes) -> bytes:
        return good.header + b"".join(chunk if i == 2 else c for i, c in enumerate(good.chunks))

    chunk2 = good.chunks[2]
    vectors = [
        make(
            f"chunk_flip_{what}",
            "tampered",
            replaced(flip(chunk2, offset)),
            f"one bit flipped in chunk 2's {what}",
            opened=good.opened(keep),
            missing=[2],
        )
        for what, offset in [
            ("device_time", 26 + 7),
            ("prev_hash", 34 + 31),
            ("ciphertext_hash", 66),
            ("signature", 102 + 10),
            ("ciphertext", len(chunk2) - 1),
        ]
    ]

    def forged(name: str, comment: str, add: Callable[[Forger, int, bytes], object]) -> Vector:
        """Chunk 2 made by `add`, chunks 3 and 4 chained to it."""
        f = forger()
        for position, (kind, plaintext) in enumerate(standard(3)):
            if position == 2:
                add(f, kind, plaintext)
            else:
                f.add(kind, plaintext)
        return make(
            name, "tampered", f.built.file(), comment, opened=f.built.opened(keep), missing=[2]
        )

    vectors += [
        forged(
            "chunk_signed_by_other_device",
            "chunk 2 made by someone holding the file key (a recipient: the AEAD opens) "
            "but signed by another device key",
            lambda f, kind, pt: f.add(kind, pt, signer=OTHER_DEVICE),
        ),
        forged(
            "chunk_ciphertext_for_other_recipients",
            "chunk 2's ciphertext made under another file key (another recipient set), its "
            "hash and signature recomputed by an attacker holding another device key",
            lambda f, kind, pt: f.add(kind, pt, signer=OTHER_DEVICE, file_key=OTHER_FILE_KEY),
        ),
        forged(
            "chunk_final_flag_on_media",
            "a media chunk with the final flag, signed by the device",
            lambda f, kind, pt: f.add(kind, pt, flags=spec.FLAG_FINAL),
        ),
        forged(
            "chunk_unknown_kind",
            "chunk 2 of kind 5 (unknown), signed by the device",
            lambda f, kind, pt: f.add(5, pt),
        ),
        forged(
            "chunk_kind_zero",
            "chunk 2 of kind 0 (unknown), signed by the device",
            lambda f, kind, pt: f.add(0, pt),
        ),
        forged(
            "chunk_unknown_flag_bits",
            "a media chunk with flag bit 1 set, signed by the device",
            lambda f, kind, pt: f.add(kind, pt, flags=0x02),
        ),
        forged(
            "chunk_end_unknown_flag_bits",
            "an end chunk at index 2 with flags 0x81, signed by the device",
            lambda f, kind, pt: f.add(spec.KIND_END, pt, flags=0x81),
        ),
        forged(
            "chunk_other_recording_id",
            "chunk 2 names another recording's id (signed by the device for this header)",
            lambda f, kind, pt: f.add(kind, pt, recording_id=OTHER_RECORDING_ID),
        ),
        forged(
            "chunk_ciphertext_below_16",
            "chunk 2 has ciphertext_length 8 (below 16), signed by the device; the length "
            "still frames it, so the chunks after it open",
            lambda f, kind, pt: f.add(kind, pt, ciphertext=b"\x00" * 8),
        ),
    ]

    # the device signs a ciphertext that does not open: only a key holder can tell
    f = forger()
    for position, (kind, plaintext) in enumerate(standard(3)):
        f.add(kind, plaintext, file_key=OTHER_FILE_KEY if position == 2 else FILE_KEY)
    vectors.append(
        make(
            "chunk_aead_fails",
            "tampered",
            f.built.file(),
            "chunk 2 signed by the device but encrypted under another key: the signature "
            "and chain hold, the AEAD does not",
            opened=f.built.opened(keep),
            missing=[2],
            expect_without_identity="complete",
        )
    )

    # a chunk of another recording by the same device spliced in
    other = sealed(standard(3), recording_id=OTHER_RECORDING_ID)
    vectors.append(
        make(
            "chunk_from_other_recording",
            "tampered",
            replaced(other.chunks[2]),
            "chunk 2 replaced by chunk 2 of another recording of the same device",
            opened=good.opened(keep),
            missing=[2],
        )
    )

    # ciphertext longer than the header's max_chunk_size (64), signed by the device
    small = [
        (INIT, b"i" * 40),
        (MEDIA, b"m" * 48),
        (MEDIA, b"x" * 100),
        (MEDIA, b"n" * 8),
        (END, b""),
    ]
    f = forger(max_chunk_size=64)
    f.add_items(small)
    vectors.append(
        make(
            "chunk_larger_than_header_max",
            "tampered",
            f.built.file(),
            "the header's max_chunk_size is 64; chunk 2's ciphertext is 116 bytes (signed)",
            opened=f.built.opened(keep),
            missing=[2],
        )
    )

    # index 2**31, signed by the device, after chunks 0 and 1
    f = forger()
    f.add(INIT, init_segment())
    f.add(MEDIA, fragment(1))
    f.add(MEDIA, fragment(2), index=2**31)
    vectors.append(
        make(
            "chunk_index_2_31",
            "tampered",
            f.built.file(),
            "a chunk with index 2**31 (signed by the device); no final chunk",
            opened=f.built.opened([0, 1]),
            interrupted_after=1,
        )
    )

    # the end chunk without the final flag
    f = forger()
    f.add(INIT, init_segment())
    f.add(MEDIA, fragment(1))
    f.add(END, END_PAYLOAD, flags=0)
    vectors.append(
        make(
            "chunk_end_without_final",
            "tampered",
            f.built.file(),
            "an end chunk with flags 0, signed by the device",
            opened=f.built.opened([0, 1]),
            interrupted_after=1,
        )
    )

    # metadata plaintexts that are not allowed
    bad_metadata = [
        ("metadata_not_object", b"[1, 2, 3]", "a JSON array"),
        ("metadata_json_null", b"null", "JSON null"),
        ("metadata_not_json", b'{"type": "location", "lat": ', "cut-off JSON"),
        ("metadata_not_utf8", b'{"note": "\xff\xfe"}', "not UTF-8"),
        ("metadata_nan", b'{"type": "location", "lat": NaN, "lon": 1}', "NaN (not RFC 8259)"),
        (
            "metadata_too_deep",
            b'{"deep": ' + b"[" * 64 + b"]" * 64 + b"}",
            "nested 65 levels deep",
        ),
        (
            "metadata_too_large",
            b'{"type": "note", "text": "' + b"x" * (65537 - 28) + b'"}',
            "a JSON object of 64 KiB + 1 bytes",
        ),
    ]
    for name, plaintext, what in bad_metadata:
        f = forger()
        items = standard(3)
        items[2] = (METADATA, plaintext)
        f.add_items(items)
        vectors.append(
            make(
                name,
                "tampered",
                f.built.file(),
                f"metadata chunk 2 is {what} (device-signed, AEAD valid): only a key holder "
                "can see it",
                opened=f.built.opened(keep),
                missing=[2],
                expect_without_identity="complete",
            )
        )
    assert len(bad_metadata[-1][1]) == 65537
    return vectors


def sequence_failures() -> list[Vector]:
    good = sealed(standard(3))  # chunks 0..4, 4 is the end
    ten = sealed(standard(8))  # chunks 0..9, 9 is the end
    vectors = [
        make(
            "reordered",
            "tampered",
            good.file([0, 1, 3, 2, 4]),
            "chunks 2 and 3 swapped",
            opened=good.opened([0, 1, 3, 4]),
            missing=[2],
        ),
        make(
            "duplicated",
            "tampered",
            good.file([0, 1, 2, 2, 3, 4]),
            "chunk 2 twice",
            opened=good.all_opened(),
        ),
        make(
            "duplicated_final",
            "tampered",
            good.file([0, 1, 2, 3, 4, 4]),
            "the end chunk twice",
            opened=good.all_opened(),
        ),
        make(
            "missing_middle",
            "incomplete",
            ten.file([0, 1, 2, 4, 5, 6, 7, 8, 9]),
            "chunk 3 lost; the rest opens",
            opened=ten.opened([0, 1, 2, 4, 5, 6, 7, 8, 9]),
            missing=[3],
        ),
        make(
            "missing_several",
            "incomplete",
            ten.file([0, 1, 3, 4, 7, 8, 9]),
            "chunks 2, 5 and 6 lost",
            opened=ten.opened([0, 1, 3, 4, 7, 8, 9]),
            missing=[2, 5, 6],
        ),
        make(
            "missing_first",
            "incomplete",
            ten.file(range(1, 10)),
            "chunk 0 (the init segment) lost",
            opened=ten.opened(range(1, 10)),
            missing=[0],
        ),
        make(
            "only_end_kept",
            "incomplete",
            ten.file([9]),
            "only the end chunk survived",
            opened=ten.opened([9]),
            missing=range(9),
        ),
        make(
            "missing_final",
            "incomplete",
            good.file([0, 1, 2, 3]),
            "cut off before the end chunk",
            opened=good.opened([0, 1, 2, 3]),
            interrupted_after=3,
        ),
        make(
            "missing_middle_and_final",
            "incomplete",
            ten.file([0, 1, 3, 4, 5]),
            "chunk 2 lost, cut off after chunk 5",
            opened=ten.opened([0, 1, 3, 4, 5]),
            missing=[2],
            interrupted_after=5,
        ),
        make(
            "header_only",
            "incomplete",
            good.header,
            "cut off before the first chunk: authentic, nothing to open",
            opened=[],
        ),
        make(
            "trailing_garbage",
            "malformed",
            good.file(tail=bytes(range(256))),
            "256 bytes that are not a chunk after the end chunk",
            opened=good.all_opened(),
        ),
        make(
            "trailing_garbage_short",
            "malformed",
            good.file(tail=b"junk\n"),
            "5 stray bytes after the end chunk",
            opened=good.all_opened(),
        ),
        make(
            "truncated_last_chunk",
            "malformed",
            good.file()[:-1],
            "the end chunk lacks its last byte",
            opened=good.opened([0, 1, 2, 3]),
            interrupted_after=3,
        ),
        make(
            "truncated_in_preamble",
            "malformed",
            good.file([0, 1, 2]) + good.chunks[3][:100],
            "the data ends inside chunk 3's preamble",
            opened=good.opened([0, 1, 2]),
            interrupted_after=2,
        ),
    ]

    f = forger()
    f.add_items([(INIT, init_segment()), (MEDIA, fragment(1)), (END, END_PAYLOAD)])
    f.add(END, b'{"reason": "again"}')
    vectors.append(
        make(
            "two_finals",
            "tampered",
            f.built.file(),
            "a second end chunk, chained and signed, after the first",
            opened=f.built.opened([0, 1, 2]),
        )
    )

    f = forger()
    f.add_items([(INIT, init_segment()), (MEDIA, fragment(1)), (END, END_PAYLOAD)])
    f.add(MEDIA, fragment(3))
    vectors.append(
        make(
            "chunk_after_final",
            "tampered",
            f.built.file(),
            "a media chunk, chained and signed, after the end chunk",
            opened=f.built.opened([0, 1, 2]),
        )
    )

    f = forger()
    f.add_items(
        [
            (INIT, init_segment()),
            (MEDIA, fragment(1)),
            (INIT, init_segment()),
            (MEDIA, fragment(3)),
            (END, END_PAYLOAD),
        ]
    )
    vectors.append(
        make(
            "second_init",
            "tampered",
            f.built.file(),
            "a second init segment at index 2, chained and signed",
            opened=f.built.opened([0, 1, 3, 4]),
            missing=[2],
        )
    )

    # a device that signs two different chunk 3s; chunk 4 follows the one not in the file
    f = forger()
    f.add_items([(INIT, init_segment()), (MEDIA, fragment(1)), (MEDIA, fragment(2))])
    fork_point = spec.chunk_hash(f.built.chunks[-1])
    f.add(MEDIA, fragment(3))  # 3a, in the file
    f.add(MEDIA, b"a different chunk 3", index=3, prev_hash=fork_point)  # 3b, not in the file
    f.add_items([(MEDIA, fragment(4)), (END, END_PAYLOAD)])
    vectors.append(
        make(
            "forked_chain",
            "tampered",
            f.built.file([0, 1, 2, 3, 5, 6]),
            "the real device signed two chunk 3s; chunk 4 chains to the other one",
            opened=f.built.opened([0, 1, 2, 3, 5, 6]),
        )
    )

    f = forger()
    f.add(INIT, init_segment(), prev_hash=bytes(32))
    f.add_items([(MEDIA, fragment(1)), (END, END_PAYLOAD)])
    vectors.append(
        make(
            "chunk_0_wrong_prev_hash",
            "tampered",
            f.built.file(),
            "chunk 0's prev_hash is not the header hash (signed by the device)",
            opened=f.built.all_opened(),
        )
    )

    # the header re-signed by another device: chunks no longer verify under its key
    resigned = raw_header(signer=OTHER_DEVICE)
    other_header = resigned[:27] + OTHER_DEVICE.public.raw + resigned[59:-64]
    other_header = spec.sign_header(other_header, OTHER_DEVICE)
    vectors.append(
        make(
            "header_resigned_by_other_device",
            "tampered",
            other_header + b"".join(good.chunks),
            "a valid header of another device on this recording's chunks",
            opened=[],
        )
    )
    return vectors


def all_vectors() -> list[Vector]:
    vectors = valid_recordings() + header_failures() + chunk_failures() + sequence_failures()
    names = [v.name for v in vectors]
    assert len(names) == len(set(names)), "vector names must be unique"
    return vectors


def main() -> None:
    vectors = all_vectors()
    kept = DATA_DIR / "sealed_by_javascript"  # tests/vectors/from_browser.py writes it
    sealed_by_javascript = kept.read_bytes() if kept.exists() else None
    if DATA_DIR.exists():
        shutil.rmtree(DATA_DIR)
    DATA_DIR.mkdir(parents=True)
    if sealed_by_javascript is not None:
        kept.write_bytes(sealed_by_javascript)
    for vector in vectors:
        (DATA_DIR / vector.name).write_bytes(vector.encode())
    print(f"wrote {len(vectors)} vectors to {DATA_DIR}")


if __name__ == "__main__":
    main()
