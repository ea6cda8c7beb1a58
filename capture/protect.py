"""Sealing media recorded elsewhere: fragment it, then seal every fragment."""

from collections.abc import Iterator, Sequence
from pathlib import Path

from capture.fragmenter import fragment_file
from capture.segments import MediaSegment, SegmentKind
from capture.settings import SEAL_FRAGMENT_SECONDS
from vault.format import ChunkKind
from vault.identity import DeviceIdentity
from vault.keys import RecipientKey
from vault.seal import RecordingSealer
from vault.seal_file import PlainChunk, SealSummary, seal_to_file


def _plain_chunks(segments: Iterator[MediaSegment]) -> Iterator[PlainChunk]:
    for segment in segments:
        kind = ChunkKind.INIT if segment.kind is SegmentKind.INIT else ChunkKind.MEDIA
        yield PlainChunk(kind, segment.data, round(segment.start_seconds * 1000))


def protect_media_file(
    media: Path,
    output: Path,
    device: DeviceIdentity,
    recipients: Sequence[RecipientKey],
    fragment_seconds: float = SEAL_FRAGMENT_SECONDS,
) -> SealSummary:
    """Seal media (any file PyAV reads) into a new recording file at output."""
    unique = list(dict.fromkeys(recipients))
    with fragment_file(media, fragment_seconds) as fragmented:
        sealer = RecordingSealer.start(device, unique, fragmented.media_type)
        return seal_to_file(sealer, _plain_chunks(fragmented.segments), output)
