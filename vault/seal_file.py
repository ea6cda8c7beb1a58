"""Sealing a finished sequence of plaintext chunks into a recording file."""

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from vault.archive import RecordingWriter
from vault.atomic import fsync_directory
from vault.format import ChunkKind
from vault.seal import RecordingSealer


@dataclass(frozen=True)
class PlainChunk:
    kind: ChunkKind
    data: bytes
    offset_ms: int  # position in the recording, added to the header's creation time


@dataclass(frozen=True)
class SealSummary:
    chunks: int
    plaintext_bytes: int
    recording_bytes: int


def seal_to_file(
    sealer: RecordingSealer,
    chunks: Iterable[PlainChunk],
    path: Path,
    end_payload: bytes = b'{"reason": "sealed from a file"}',
) -> SealSummary:
    """Seal every chunk, then the final chunk, to a new file at path (never overwritten).

    The file is written under a temporary name and renamed when complete.
    """
    temporary = path.with_name(f".{path.name}.partial")
    count = plain = 0
    last_offset = 0
    try:
        with RecordingWriter(temporary, sealer.header) as writer:
            for item in chunks:
                last_offset = max(last_offset, item.offset_ms)
                writer.write(
                    sealer.seal(item.kind, item.data, sealer.header.created_ms + item.offset_ms)
                )
                count += 1
                plain += len(item.data)
            writer.write(sealer.finish(end_payload, sealer.header.created_ms + last_offset))
    except BaseException:
        sealer.close()
        temporary.unlink(missing_ok=True)
        raise
    if path.exists():
        temporary.unlink()
        raise FileExistsError(path)
    temporary.rename(path)
    fsync_directory(path.parent)
    return SealSummary(count + 1, plain, path.stat().st_size)
