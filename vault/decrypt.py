"""Decrypting a recording into a media file, a metadata log and a verification report.

The media file is the init segment followed by every valid media fragment in index
order, exactly as the device produced them; fMP4 fragments carry their own decode
times, so a gap stays a gap in time instead of breaking the file.
"""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from vault.archive import ProgressCallback, verify_file
from vault.atomic import atomic_writer, write_file_atomically
from vault.errors import MalformedError
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
    unreadable_metadata: tuple[int, ...] = ()  # authentic, but not a JSON object


class _MediaOutput:
    """Writes the media plaintexts to media (a file that becomes the output only when
    complete: vault.atomic.atomic_writer) and keeps the metadata."""

    def __init__(self, media: BinaryIO) -> None:
        self._media = media
        self.metadata: list[dict[str, object]] = []
        self.unreadable: list[int] = []
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
                try:
                    entry["data"] = parse_metadata(plaintext)
                except MalformedError as error:  # FORMAT.md §4: report it, go on
                    entry["unreadable"] = str(error)
                    self.unreadable.append(chunk.index)
            self.metadata.append(entry)
            return
        self._media.write(plaintext)
        self.media_bytes += len(plaintext)


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
    # Plaintext evidence (and locations, in the metadata): readable by its owner only.
    with atomic_writer(media_path, mode=0o600) as media:
        output = _MediaOutput(media)
        report = verify_file(recording, identities, sink=output, progress=progress)
    metadata_path = None
    if output.metadata:
        metadata_path = sidecar_path(media_path, ".metadata.jsonl")
        lines = "".join(json.dumps(entry) + "\n" for entry in output.metadata)
        write_file_atomically(metadata_path, lines.encode(), mode=0o600)
    report_path = sidecar_path(media_path, ".report.json")
    report_text = (json.dumps(report.to_json(), indent=2) + "\n").encode()
    write_file_atomically(report_path, report_text, mode=0o600)
    return DecryptResult(
        report=report,
        media_path=media_path,
        media_bytes=output.media_bytes,
        media_fragments=output.fragments,
        init_present=output.init_present,
        metadata_path=metadata_path,
        report_path=report_path,
        unreadable_metadata=tuple(output.unreadable),
    )
