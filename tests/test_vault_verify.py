"""Opening and verifying (docs/FORMAT.md 3.1-3.3, 5) beyond what the vector files cover."""

import dataclasses
import io
from collections.abc import Callable
from pathlib import Path

import pytest

import vault
from tests.vectors.generate import (
    END_PAYLOAD,
    ME,
    OTHER_DEVICE,
    OTHER_RECORDING_ID,
    RECIPIENTS,
    STRANGER,
    Built,
    forger,
    fragment,
    init_segment,
    raw_header,
    sealed,
    standard,
)
from vault import Chunk, ChunkKind, Header, RecordingOpener, RecordingVerifier, Status
from vault.format import CHUNK_PREAMBLE_SIZE
from vault.verify import parse_metadata

GOOD = sealed(standard(3))


Identities = list[vault.RecipientIdentity] | None


def verify(data: bytes, identities: Identities = None) -> vault.VerifyReport:
    return vault.verify_stream(io.BytesIO(data), identities)


# --- results and exit codes (section 5) -------------------------------------------------


def test_exit_codes_are_the_documented_ones() -> None:
    assert {s.value: s.exit_code for s in Status} == {
        "complete": 0,
        "incomplete": 10,
        "tampered": 20,
        "malformed": 20,
    }


def test_report_of_a_complete_recording() -> None:
    report = verify(GOOD.file(), [ME])
    assert report.status is Status.COMPLETE
    assert report.decrypted
    assert report.chunks_valid == 5
    assert report.bytes_valid == len(GOOD.file()) - len(GOOD.header)
    assert report.final_index == 4
    assert report.recipients == 1
    assert report.device_key == str(vault.DeviceKey(Header.parse(GOOD.header).device_key))
    assert report.to_json()["status"] == "complete"


def test_report_names_gaps_with_their_times() -> None:
    report = verify(GOOD.file([0, 3]), [ME])
    assert report.status is Status.INCOMPLETE
    assert report.missing_indices == [1, 2]
    (gap,) = report.gaps
    assert (gap.first, gap.last) == (1, 2)
    assert report.to_json()["interrupted_after"] == 3
    assert report.interrupted_after == 3


def test_location_updates_are_counted() -> None:
    location = b'{"type": "location", "lat": 1.5, "lon": 2.5, "accuracy_m": 3}'
    built = sealed([(ChunkKind.METADATA, location), (ChunkKind.METADATA, location)])
    assert verify(built.file(), [ME]).locations == 2


def test_progress_adds_up_to_the_file_size() -> None:
    seen: list[int] = []
    vault.verify_stream(io.BytesIO(GOOD.file()), [ME], progress=seen.append)
    assert sum(seen) == len(GOOD.file())


@pytest.mark.parametrize("positions", [[0, 1, 2, 3, 4], [0, 2, 4], [0, 1, 3, 2, 4], [1, 1]])
def test_worker_count_does_not_change_the_report(positions: list[int]) -> None:
    data = GOOD.file(positions)
    reports = [
        vault.verify_stream(io.BytesIO(data), [ME], workers=workers).to_json()
        for workers in (1, 2, 4)
    ]
    assert reports[0] == reports[1] == reports[2]


# --- opening: who may, and what a chunk is bound to ---------------------------------------


def test_any_of_several_identities_opens() -> None:
    five = sealed(standard(1), recipients=[r.public for r in RECIPIENTS])
    report = verify(five.file(), [STRANGER, RECIPIENTS[3]])
    assert report.status is Status.COMPLETE
    assert report.decrypted


def test_no_matching_identity_is_not_for_me() -> None:
    with pytest.raises(vault.NotForMeError):
        verify(GOOD.file(), [STRANGER, vault.RecipientIdentity(b"\x01" * 32)])


def test_an_empty_identity_list_verifies_without_opening() -> None:
    report = verify(GOOD.file(), [])
    assert report.status is Status.COMPLETE
    assert not report.decrypted


def test_a_header_that_fails_its_signature_is_not_used_to_open() -> None:
    header = Header.parse(raw_header(signer=OTHER_DEVICE))
    assert ME.unwrap(header.stanzas[0]) is not None  # the stanza itself would open
    with pytest.raises(vault.TamperedError):
        RecordingOpener(header, [ME])
    with pytest.raises(vault.TamperedError):
        RecordingVerifier(header)


@pytest.mark.parametrize(
    "move",
    [
        lambda c: dataclasses.replace(c, index=c.index + 1),
        lambda c: dataclasses.replace(c, kind=ChunkKind.INIT),
        lambda c: dataclasses.replace(c, device_time_ms=c.device_time_ms + 1),
        lambda c: dataclasses.replace(c, prev_hash=bytes(32)),
        lambda c: dataclasses.replace(c, recording_id=OTHER_RECORDING_ID),
    ],
    ids=["index", "kind", "time", "prev_hash", "recording"],
)
def test_the_aead_binds_a_chunk_to_its_place(move: Callable[[Chunk], Chunk]) -> None:
    opener = RecordingOpener(Header.parse(GOOD.header), [ME])
    chunk = Chunk.parse(GOOD.chunks[2])
    assert opener.open(chunk) == GOOD.plaintexts[2]
    with pytest.raises(vault.TamperedError):
        opener.open(move(chunk))


def test_a_chunk_cannot_be_turned_into_a_final_one() -> None:
    opener = RecordingOpener(Header.parse(GOOD.header), [ME])
    media = Chunk.parse(GOOD.chunks[3])
    with pytest.raises(vault.TamperedError):
        opener.open(dataclasses.replace(media, kind=ChunkKind.END, final=True))
    end = Chunk.parse(GOOD.chunks[4])
    assert opener.open(end) == END_PAYLOAD
    with pytest.raises(vault.MalformedError):
        dataclasses.replace(end, final=False)


def test_the_aead_binds_the_header() -> None:
    other = sealed(standard(3), recording_id=GOOD.header[11:27])  # same id, other stanzas
    assert other.header != GOOD.header
    opener = RecordingOpener(Header.parse(other.header), [ME])
    with pytest.raises(vault.TamperedError):
        opener.open(Chunk.parse(GOOD.chunks[1]))


def test_chunks_of_another_header_do_not_verify() -> None:
    # same device, same recording id, same file key, but another header (other stanzas):
    # chunk signatures cover the header hash
    other = sealed(standard(3), recording_id=GOOD.header[11:27])
    report = verify(other.header + b"".join(GOOD.chunks), [ME])
    assert report.status is Status.TAMPERED
    assert report.chunks_valid == 0


# --- metadata plaintexts ----------------------------------------------------------------


def test_metadata_empty_and_objects_are_accepted() -> None:
    assert parse_metadata(b"") == {}
    assert parse_metadata(b'{"type": "clock", "device_time_ms": 5}') == {
        "type": "clock",
        "device_time_ms": 5,
    }
    assert parse_metadata(b'{"unknown": [1, {"x": null}]}') == {"unknown": [1, {"x": None}]}
    largest = b'{"a": "' + b"x" * (65536 - 9) + b'"}'
    assert len(largest) == 65536
    assert parse_metadata(largest)["a"] == "x" * (65536 - 9)


@pytest.mark.parametrize(
    "plaintext",
    [
        b"[]",
        b"null",
        b"1",
        b'"text"',
        b"true",
        b"{",
        b"\xff",
        b" ",
        b'{"a": "' + b"x" * (65537 - 9) + b'"}',
    ],
)
def test_metadata_that_is_not_a_json_object_is_rejected(plaintext: bytes) -> None:
    with pytest.raises(vault.MalformedError):
        parse_metadata(plaintext)


def nested_metadata_recording() -> Built:
    depth = 20_000
    nested = b'{"a": ' + b"[" * depth + b"]" * depth + b"}"
    assert len(nested) <= 64 * 1024
    f = forger()
    f.add_items([(ChunkKind.INIT, init_segment()), (ChunkKind.METADATA, nested)])
    f.add_items([(ChunkKind.MEDIA, fragment(2)), (ChunkKind.END, END_PAYLOAD)])
    return f.built


def test_deeply_nested_metadata_does_not_crash_the_verifier() -> None:
    # a JSON object within 64 KiB, nested deeper than Python's json module recurses: the
    # reader must give a report (accept it, or count the chunk invalid), never crash
    built = nested_metadata_recording()
    report = verify(built.file(), [ME])
    assert report.status in (Status.COMPLETE, Status.TAMPERED)
    assert report.chunks_valid >= 3


def test_deeply_nested_metadata_parses_or_is_malformed() -> None:
    nested = b'{"a": ' + b"[" * 20_000 + b"]" * 20_000 + b"}"
    try:
        value = parse_metadata(nested)
    except vault.MalformedError:
        return
    assert list(value) == ["a"]


# --- files ------------------------------------------------------------------------------


def test_writer_and_verify_file_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "recording.tgr"
    with vault.RecordingWriter(path, Header.parse(GOOD.header)) as writer:
        for data in GOOD.chunks:
            writer.write(Chunk.parse(data))
    assert path.read_bytes() == GOOD.file()
    assert vault.verify_file(path, [ME]).status is Status.COMPLETE
    with pytest.raises(FileExistsError):
        vault.RecordingWriter(path, Header.parse(GOOD.header))


def test_verify_file_errors_are_testigo_errors(tmp_path: Path) -> None:
    with pytest.raises(vault.TestigoError, match="does not exist"):
        vault.verify_file(tmp_path / "missing.tgr")
    with pytest.raises(vault.TestigoError, match="directory"):
        vault.verify_file(tmp_path)


def test_read_header_returns_what_it_read_past_the_header() -> None:
    header, leftover = vault.read_header(io.BytesIO(GOOD.file()))
    assert bytes(header) == GOOD.header
    assert GOOD.file().startswith(GOOD.header + leftover)


def test_bytes_after_the_last_chunk_are_named_trailing_garbage() -> None:
    report = verify(GOOD.file(tail=b"not a chunk, just bytes" * 10))
    assert report.framing_error is not None
    assert report.framing_error.endswith("(trailing garbage)")
    assert report.chunks_valid == 5


def test_a_chunk_length_out_of_range_is_named_as_such() -> None:
    last = Chunk.parse(GOOD.chunks[-1])
    preamble = bytearray(bytes(last)[:CHUNK_PREAMBLE_SIZE])
    preamble[98:102] = (2**32 - 1).to_bytes(4, "big")  # the ciphertext length field
    report = verify(GOOD.file(range(4), tail=bytes(preamble)))
    assert report.framing_error is not None
    assert "out of range" in report.framing_error
    assert "trailing garbage" not in report.framing_error
