"""The on-device spool: every sealed chunk on disk, durably, before anyone sees it.

Layout of one recording (the directory name is the recording id in hex):

    SPOOL/<recording-id>/header                 the header bytes
    SPOOL/<recording-id>/chunks/<index>.chunk   one sealed chunk, index as 10 digits
    SPOOL/<recording-id>/receipts/<index>.receipt   the relay's receipt, once it has one

Every file is written to a temporary name, fsynced, renamed and its directory fsynced
before the writer returns, so a crash or `kill -9` leaves whole files only. The spool
holds ciphertext, signatures and receipts only; never a key.
"""

import os
from collections.abc import Iterator
from pathlib import Path

from vault.atomic import fsync_directory, write_file_atomically
from vault.errors import MalformedError, TestigoError
from vault.format import CHUNK_PREAMBLE_SIZE, HEADER_MAX_SIZE, Chunk, Header
from vault.verify import RawChunk

HEADER_FILE = "header"
CHUNKS_DIR = "chunks"
RECEIPTS_DIR = "receipts"
CHUNK_SUFFIX = ".chunk"
RECEIPT_SUFFIX = ".receipt"


def chunk_name(index: int) -> str:
    return f"{index:010d}{CHUNK_SUFFIX}"


class SpoolRecording:
    """One recording's directory in the spool."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @property
    def header_path(self) -> Path:
        return self.directory / HEADER_FILE

    @classmethod
    def create(cls, spool: Path, header: Header) -> "SpoolRecording":
        """A new recording directory holding the header, durably."""
        directory = spool / header.recording_id.hex()
        spool.mkdir(mode=0o700, parents=True, exist_ok=True)
        directory.mkdir(mode=0o700)
        (directory / CHUNKS_DIR).mkdir(mode=0o700)
        (directory / RECEIPTS_DIR).mkdir(mode=0o700)
        fsync_directory(directory)
        fsync_directory(spool)
        recording = cls(directory)
        write_file_atomically(recording.header_path, bytes(header), mode=0o600)
        return recording

    def append(self, chunk: Chunk) -> Path:
        """Store a sealed chunk durably; only then may it be offered for upload."""
        path = self.directory / CHUNKS_DIR / chunk_name(chunk.index)
        if not write_file_atomically(path, bytes(chunk), mode=0o600, overwrite=False):
            raise TestigoError(f"chunk {chunk.index} is already in the spool")
        return path

    def store_receipt(self, index: int, receipt: bytes) -> None:
        path = self.directory / RECEIPTS_DIR / f"{index:010d}{RECEIPT_SUFFIX}"
        write_file_atomically(path, receipt, mode=0o600)

    def header(self) -> Header:
        try:
            data = self.header_path.read_bytes()
        except FileNotFoundError:
            raise MalformedError(
                f"{self.directory} has no header: not a spooled recording"
            ) from None
        if len(data) > HEADER_MAX_SIZE:
            raise MalformedError("spooled header is too large")
        return Header.parse(data)

    def indices(self) -> list[int]:
        """Indices of the stored chunks, ascending."""
        found = []
        for name in os.listdir(self.directory / CHUNKS_DIR):
            stem, suffix = name[: -len(CHUNK_SUFFIX)], name[-len(CHUNK_SUFFIX) :]
            if suffix == CHUNK_SUFFIX and stem.isdigit() and len(stem) == 10:
                found.append(int(stem))
        return sorted(found)

    def receipted(self) -> set[int]:
        found = set()
        for name in os.listdir(self.directory / RECEIPTS_DIR):
            stem = name.removesuffix(RECEIPT_SUFFIX)
            if name.endswith(RECEIPT_SUFFIX) and stem.isdigit():
                found.add(int(stem))
        return found

    def pending(self) -> list[int]:
        """Chunks that have no receipt yet, ascending."""
        receipted = self.receipted()
        return [i for i in self.indices() if i not in receipted]

    def read_chunk(self, index: int) -> bytes:
        return (self.directory / CHUNKS_DIR / chunk_name(index)).read_bytes()

    def read_preamble(self, index: int) -> bytes:
        """The first CHUNK_PREAMBLE_SIZE bytes of chunk index (its signed fields)."""
        with (self.directory / CHUNKS_DIR / chunk_name(index)).open("rb") as chunk:
            return chunk.read(CHUNK_PREAMBLE_SIZE)

    def read_receipt(self, index: int) -> bytes:
        return (self.directory / RECEIPTS_DIR / f"{index:010d}{RECEIPT_SUFFIX}").read_bytes()

    def raw_chunks(self) -> Iterator[RawChunk]:
        for index in self.indices():
            yield RawChunk.split(self.read_chunk(index))


def recordings_in(spool: Path) -> list[SpoolRecording]:
    """Every recording in a spool directory (or the one recording directory given)."""
    if (spool / HEADER_FILE).is_file():
        return [SpoolRecording(spool)]
    if not spool.is_dir():
        raise TestigoError(
            f"{spool} is not a spool directory", hint="give the -o of testigo record"
        )
    return [SpoolRecording(p) for p in sorted(spool.iterdir()) if (p / HEADER_FILE).is_file()]


def find_recording(path: Path) -> SpoolRecording:
    """The spooled recording at path: a recording directory, or a spool holding one."""
    if (path / HEADER_FILE).is_file():
        return SpoolRecording(path)
    candidates = sorted(p for p in path.iterdir() if (p / HEADER_FILE).is_file())
    if len(candidates) == 1:
        return SpoolRecording(candidates[0])
    if not candidates:
        raise TestigoError(
            f"{path} is a directory without a recording", hint="give a recording file or spool"
        )
    names = ", ".join(p.name for p in candidates[:5])
    raise TestigoError(f"{path} holds {len(candidates)} recordings", hint=f"pick one: {names} ...")
