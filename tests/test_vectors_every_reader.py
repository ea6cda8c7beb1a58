"""Every vector of tests/vectors/ through the other readers (issue 11): `testigo decrypt`
(vault.decrypt) and the relay's ingest checks, with the outcomes that tests/test_vectors.py
checks for `verify`. Two readers must never give one file two verdicts.
"""

import io
from pathlib import Path

import pytest

import vault
from relay_server.enrollment import Enrollment
from relay_server.ingest import Ingest
from relay_server.metrics import Metrics
from relay_server.settings import Settings
from relay_server.storage.fs import FilesystemStorage
from tests.vectors.kit import DATA_DIR, Vector
from vault.archive import FramingError, iter_chunks
from vault.decrypt import decrypt_recording
from vault.format import HEADER_MAX_SIZE
from vault.keys import DeviceKey
from vault.wire.errors import RelayError

VECTOR_PATHS = sorted(DATA_DIR.iterdir())
READABLE = ("complete", "incomplete", "tampered", "malformed")


def load(path: Path) -> Vector:
    return Vector.decode(path.name, path.read_bytes())


@pytest.mark.parametrize("path", VECTOR_PATHS, ids=lambda path: path.name)
def test_decrypt_agrees_with_verify(path: Path, tmp_path: Path) -> None:
    vector = load(path)
    recording = tmp_path / "vector.tgr"
    recording.write_bytes(vector.recording)
    identity = vault.RecipientIdentity(vector.identity)
    output = tmp_path / "out.mp4"
    if vector.expect not in READABLE:
        with pytest.raises(vault.TestigoError):
            decrypt_recording(recording, [identity], output)
        assert not output.exists()  # nothing half-written
        return
    result = decrypt_recording(recording, [identity], output)
    assert result.report.status.value == vector.expect
    assert output.exists()
    assert tuple(result.report.missing_indices) == vector.missing


def split(recording: bytes) -> tuple[bytes, list[bytes]]:
    """The header's bytes and each whole chunk, as a device would upload them."""
    _header, length = vault.Header.parse_prefix(recording[:HEADER_MAX_SIZE])
    chunks = []
    for raw in iter_chunks(io.BytesIO(recording[length:])):
        if isinstance(raw, FramingError):
            break
        chunks.append(raw.preamble + raw.ciphertext)
    return recording[:length], chunks


@pytest.mark.asyncio
@pytest.mark.parametrize("path", VECTOR_PATHS, ids=lambda path: path.name)
async def test_the_relay_stores_what_a_reader_finds_authentic(path: Path, tmp_path: Path) -> None:
    """The relay checks each chunk alone (any order: devices resend), so it must store
    every chunk of an authentic vector, refuse with a clear error what is not a valid
    chunk, and never fail otherwise."""
    vector = load(path)
    settings = Settings(storage=str(tmp_path / "relay"))
    storage = FilesystemStorage(settings.storage)
    try:
        enrollment = Enrollment(storage)
        ingest = Ingest(storage, enrollment, vault.RelayIdentity.generate(), settings, Metrics())
        try:
            header_bytes, chunks = split(vector.recording)
            header = vault.Header.parse(header_bytes)
        except vault.TestigoError:
            assert vector.expect in ("header failure", "malformed")
            return
        await enrollment.enroll(DeviceKey(header.device_key))
        try:
            accepted = await ingest.accept_header(header_bytes)
        except RelayError:
            assert vector.expect == "header failure"
            return
        assert vector.expect != "header failure"
        stored = []
        for chunk in chunks:
            try:
                stored.append((await ingest.accept_chunk(accepted, chunk)).index)
            except RelayError:
                assert vector.expect in ("tampered", "malformed"), vector.name
        if vector.expect in ("complete", "incomplete"):
            assert len(stored) == len(chunks)
            assert set(vector.valid) <= set(stored)
    finally:
        await storage.close()


@pytest.mark.parametrize("name", ["reordered", "duplicated"])
def test_decrypt_of_a_reordered_recording_plays_each_stretch_once_in_order(
    name: str, tmp_path: Path
) -> None:
    """FORMAT.md §5: the media holds the valid chunks that pass the sequence checks, in
    file order; a chunk out of order or again is left out, and named."""
    vector = load(DATA_DIR / name)
    recording = tmp_path / "vector.tgr"
    recording.write_bytes(vector.recording)
    identity = vault.RecipientIdentity(vector.identity)
    kept: list[tuple[vault.Chunk, bytes | None]] = []
    vault.verify_stream(
        io.BytesIO(vector.recording), [identity], sink=lambda c, p: kept.append((c, p))
    )
    media = b"".join(
        p or b"" for c, p in kept if c.kind in (vault.ChunkKind.INIT, vault.ChunkKind.MEDIA)
    )
    result = decrypt_recording(recording, [identity], tmp_path / "out.mp4")
    assert result.report.status is vault.Status.TAMPERED
    assert (tmp_path / "out.mp4").read_bytes() == media
    assert [c.index for c, _ in kept] == list(vector.valid)
    assert result.report.problems  # the chunk left out is named
