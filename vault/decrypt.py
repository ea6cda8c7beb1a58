"""Decrypting a recording into a media file, a metadata log and a verification report.

The media file is the init segment followed by every valid media fragment in index
order, exactly as the device produced them; fMP4 fragments carry their own decode
times, so a gap stays a gap in time instead of breaking the file.
"""

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from vault.archive import ProgressCallback, verify_file
from vault.atomic import fsync_directory, write_file_atomically
from vault.format import Chunk, ChunkKind
from vault.identity import RecipientIdentity
from vault.verify import VerifyReport, parse_metadata


@dataclass(frozen=True)
class DecryptResult:
    report: VerifyReport
    media_path: Path
    media_bytes: int
    media_fragments: int
    init_present: bool
    metadata_path: Path | None
    report_path: Path


class _MediaOutput:
    """Writes plaintexts to a temporary file that becomes `path` only when complete."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.temporary = path.with_name(f".{path.name}.{os.getpid()}.partial")
        self._media: BinaryIO = self.temporary.open("wb")
        self.metadata: list[dict[str, object]] = []
        self.media_bytes = 0
        self.fragments = 0
        self.init_present = False
        self.fragments_before_init = 0

    def __call__(self, chunk: Chunk, plaintext: bytes | None) -> None:
        if plaintext is None:
            return
        if chunk.kind is ChunkKind.INIT:
            self.init_present = True
        elif chunk.kind is ChunkKind.MEDIA:
            if not self.init_present:
                self.fragments_before_init += 1
            self.fragments += 1
        elif chunk.kind in (ChunkKind.METADATA, ChunkKind.END):
            entry: dict[str, object] = {
                "index": chunk.index,
                "kind": chunk.kind.name.lower(),
                "device_time_ms": chunk.device_time_ms,
            }
            if plaintext:
                entry["data"] = parse_metadata(plaintext)
            self.metadata.append(entry)
            return
        self._media.write(plaintext)
        self.media_bytes += len(plaintext)

    def commit(self) -> None:
        self._media.flush()
        os.fsync(self._media.fileno())
        self._media.close()
        os.replace(self.temporary, self.path)
        fsync_directory(self.path.parent)

    def abort(self) -> None:
        self._media.close()
        self.temporary.unlink(missing_ok=True)


def sidecar_path(media_path: Path, suffix: str) -> Path:
    return media_path.with_name(media_path.stem + suffix)


def decrypt_recording(
    recording: Path,
    identities: list[RecipientIdentity],
    media_path: Path,
    *,
    progress: ProgressCallback | None = None,
) -> DecryptResult:
    """Open every valid chunk of recording; write media, metadata and the report."""
    output = _MediaOutput(media_path)
    try:
        report = verify_file(recording, identities, sink=output, progress=progress)
    except BaseException:
        output.abort()
        raise
    output.commit()
    metadata_path = None
    if output.metadata:
        metadata_path = sidecar_path(media_path, ".metadata.jsonl")
        lines = "".join(json.dumps(entry) + "\n" for entry in output.metadata)
        write_file_atomically(metadata_path, lines.encode())
    report_path = sidecar_path(media_path, ".report.json")
    write_file_atomically(report_path, (json.dumps(report.to_json(), indent=2) + "\n").encode())
    return DecryptResult(
        report=report,
        media_path=media_path,
        media_bytes=output.media_bytes,
        media_fragments=output.fragments,
        init_present=output.init_present,
        metadata_path=metadata_path,
        report_path=report_path,
    )
