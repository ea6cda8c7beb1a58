"""Every vector in tests/vectors/data/ through `vault.verify_stream`, with and without a key.

The vectors are made by `python -m tests.vectors.generate`; their expectations come from
docs/FORMAT.md (see tests/vectors/kit.py for the file format).
"""

import hashlib
import io
import json
from pathlib import Path

import pytest

import vault
from tests.vectors.kit import DATA_DIR, Vector

VECTOR_PATHS = sorted(DATA_DIR.iterdir())

# A vector names the spec's category; a subclass of it (UnsupportedVersionError) is one.
HEADER_ERRORS: dict[str, type[vault.TestigoError]] = {
    "MalformedError": vault.MalformedError,
    "TamperedError": vault.TamperedError,
}


class Collected:
    """A `sink=` callback that keeps what reached it."""

    def __init__(self) -> None:
        self.indices: list[int] = []
        self.plaintexts: list[bytes | None] = []

    def __call__(self, chunk: vault.Chunk, plaintext: bytes | None) -> None:
        self.indices.append(chunk.index)
        self.plaintexts.append(plaintext)

    def payload_hash(self) -> str:
        digest = hashlib.sha256()
        for plaintext in self.plaintexts:
            assert plaintext is not None
            digest.update(plaintext)
        return digest.hexdigest()


def test_there_are_enough_vectors() -> None:
    assert len(VECTOR_PATHS) >= 30
    expectations = {Vector.decode(p.name, p.read_bytes()).expect for p in VECTOR_PATHS}
    assert expectations == {
        "complete",
        "incomplete",
        "tampered",
        "malformed",
        "header failure",
        "no match",
    }


@pytest.mark.parametrize("path", VECTOR_PATHS, ids=lambda path: path.name)
def test_vector(path: Path) -> None:
    vector = Vector.decode(path.name, path.read_bytes())
    identity = vault.RecipientIdentity(vector.identity)

    # with the recipient's key: the exact outcome, and the exact plaintexts
    if vector.expect in ("header failure", "no match"):
        error = (
            vault.NotForMeError
            if vector.expect == "no match"
            else HEADER_ERRORS[vector.error or ""]
        )
        with pytest.raises(vault.TestigoError) as caught:
            vault.verify_stream(io.BytesIO(vector.recording), [identity], sink=Collected())
        assert isinstance(caught.value, error), caught.value
    else:
        sink = Collected()
        report = vault.verify_stream(io.BytesIO(vector.recording), [identity], sink=sink)
        assert report.status.value == vector.expect, report.to_json()
        assert report.decrypted
        assert tuple(sink.indices) == vector.valid
        assert sink.payload_hash() == vector.payload
        assert tuple(report.missing_indices) == vector.missing
        assert report.interrupted_after == vector.interrupted_after
        if vector.expect in ("complete", "incomplete"):
            assert not report.problems
            assert report.chain_intact
            assert report.framing_error is None

    # with the device key alone (the relay's or an expert's view)
    expect = vector.expect_without_identity or vector.expect
    if expect == "header failure":
        with pytest.raises(vault.TestigoError) as caught:
            vault.verify_stream(io.BytesIO(vector.recording), sink=Collected())
        assert isinstance(caught.value, HEADER_ERRORS[vector.error or ""]), caught.value
        return
    sink = Collected()
    report = vault.verify_stream(io.BytesIO(vector.recording), sink=sink)
    assert report.status.value == expect, report.to_json()
    assert not report.decrypted
    assert all(plaintext is None for plaintext in sink.plaintexts)
    if vector.expect_without_identity is None:
        assert tuple(sink.indices) == vector.valid
        assert tuple(report.missing_indices) == vector.missing
        assert report.interrupted_after == vector.interrupted_after


def test_decrypt_goes_on_past_an_unreadable_end_plaintext(tmp_path: Path) -> None:
    """FORMAT.md §3.2: decrypt reports such content and never stops (it used to abort)."""
    from vault.decrypt import decrypt_recording

    path = DATA_DIR / "end_plaintext_not_json"
    vector = Vector.decode(path.name, path.read_bytes())
    recording = tmp_path / "recording.tgr"
    recording.write_bytes(vector.recording)
    identity = vault.RecipientIdentity(vector.identity)
    result = decrypt_recording(recording, [identity], tmp_path / "out.mp4")
    assert result.report.status is vault.Status.COMPLETE
    assert result.unreadable_metadata == (2,)
    assert result.media_bytes > 0
    assert result.metadata_path is not None
    entries = [json.loads(line) for line in result.metadata_path.read_text().splitlines()]
    assert entries[-1]["kind"] == "end"
    assert "unreadable" in entries[-1]
