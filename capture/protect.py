"""Sealing media recorded elsewhere: fragment it, then seal every fragment."""

from collections.abc import Iterator, Sequence
from pathlib import Path

from capture.errors import MediaError
from capture.fragmenter import fragment_file
from capture.segments import MediaSegment, SegmentKind
from vault.errors import TestigoError
from vault.format import ChunkKind
from vault.identity import SigningIdentity, StoredIdentity
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
    device: StoredIdentity,
    recipients: Sequence[RecipientKey],
    fragment_seconds: float = 1.0,
) -> SealSummary:
    """Seal media (any file PyAV reads) into a new recording file at output."""
    if not isinstance(device.identity, SigningIdentity):
        raise TestigoError("sealing needs a device key")
    unique = list(dict.fromkeys(recipients))
    try:
        with fragment_file(media, fragment_seconds) as fragmented:
            sealer = RecordingSealer(device.identity, unique, fragmented.media_type)
            return seal_to_file(sealer, _plain_chunks(fragmented.segments), output)
    except MediaError as error:
        raise TestigoError(
            str(error), hint="give an audio/video file that ffmpeg can read"
        ) from None
