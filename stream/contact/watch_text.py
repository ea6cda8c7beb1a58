"""What `testigo watch` prints for each event: short lines a worried person can read."""

from datetime import UTC, datetime
from typing import assert_never

from stream.contact.watch import (
    BacklogDropped,
    ChunkReceived,
    ChunkRejected,
    Connected,
    Disconnected,
    GapDetected,
    LocationUpdate,
    MediaWithoutInit,
    RecordingEnded,
    RecordingResumed,
    RecordingSilent,
    RecordingStarted,
    WatchEvent,
)
from vault.format import ChunkKind


def _clock(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%H:%M:%S UTC")


def _ended(event: RecordingEnded) -> str:
    gaps = f", {event.gaps} gap(s)" if event.gaps else ""
    if event.complete:
        return f"RECORDING complete: {event.chunks} chunks{gaps}"
    why = [] if event.final else ["without its final chunk"]
    if event.media_before_init is not None:
        why.append(
            f"no init segment came before its media (chunk {event.media_before_init}), "
            "so it cannot be played"
        )
    return f"RECORDING ended INCOMPLETE ({'; '.join(why)}): {event.chunks} chunks{gaps}"


def describe(event: WatchEvent, *, show_location: bool) -> str | None:
    """One line for event, or None for events not worth a line (each media chunk)."""
    if isinstance(event, Connected):
        return f"connected to {event.relay_url}; waiting for a recording"
    if isinstance(event, Disconnected):
        return f"lost the relay ({event.reason}); retrying in {event.retry_in_s:.0f} s"
    if isinstance(event, RecordingStarted):
        where = f", saving to {event.output}" if event.output else ""
        return (
            f"RECORDING started at {_clock(event.created_ms)} by device "
            f"{event.device_fingerprint}{where}"
        )
    if isinstance(event, ChunkReceived):
        if event.kind is ChunkKind.MEDIA and event.index % 10 == 0:
            return f"  live: chunk {event.index}, {event.delay_ms / 1000:.2f} s behind the phone"
        return None
    if isinstance(event, GapDetected):
        return f"  gap: chunks {event.first}-{event.last} did not arrive (yet)"
    if isinstance(event, LocationUpdate):
        if show_location:
            return f"  location: {event.lat:.5f}, {event.lon:.5f}"
        return "  location update received (use --show-location to print it)"
    if isinstance(event, ChunkRejected):
        return f"  WARNING: a chunk failed verification and was dropped ({event.reason})"
    if isinstance(event, BacklogDropped):
        return f"  fell behind: skipped {event.chunks} chunk(s) to stay live"
    if isinstance(event, MediaWithoutInit):
        return (
            f"  WARNING: chunk {event.index} is genuine media but no init segment came "
            "before it: it cannot be played"
        )
    if isinstance(event, RecordingSilent):
        return (
            f"  NO DATA for {event.silent_ms / 1000:.0f} s: the phone stopped sending without "
            "ending the recording (taken, switched off or out of signal?); what arrived is "
            "safe on the relay; waiting for more"
        )
    if isinstance(event, RecordingResumed):
        return f"  data again, after {event.silent_ms / 1000:.0f} s without any"
    if isinstance(event, RecordingEnded):
        return _ended(event)
    assert_never(event)
