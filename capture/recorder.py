"""The recorder: frames in, sealed chunks durably in the spool out, one per fragment.

source -> LiveEncoder (H.264/AAC fMP4 fragments) -> RecordingSealer -> SpoolRecording.
Each fragment is sealed and written (fsync, rename, fsync dir) the moment the muxer
completes it; then `on_chunk` is called so an uploader can send it. Stopping (duration,
`stop()`, SIGINT/SIGTERM in the CLI) flushes the encoder and seals the final chunk;
being killed leaves a spool that verifies as "interrupted after chunk N".
"""

import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from capture.encoder import CaptureConfig, LiveEncoder
from capture.segments import MediaSegment, SegmentKind
from capture.sources import FrameSource
from vault.errors import TestigoError
from vault.format import Chunk, ChunkKind
from vault.identity import DeviceIdentity
from vault.keys import RecipientKey
from vault.seal import RecordingSealer
from vault.spool import SpoolRecording

METADATA_MIN_INTERVAL_S = 1.0


@dataclass(frozen=True)
class Location:
    lat: float
    lon: float
    accuracy_m: float | None = None

    def __post_init__(self) -> None:
        if not (-90 <= self.lat <= 90 and -180 <= self.lon <= 180):
            raise ValueError("latitude must be within -90..90 and longitude within -180..180")

    @classmethod
    def parse(cls, text: str) -> "Location":
        """LAT,LON in decimal degrees, e.g. 40.4168,-3.7038."""
        try:
            lat_text, lon_text = text.split(",")
            lat, lon = float(lat_text), float(lon_text)
        except ValueError:
            raise ValueError(
                "a location is LAT,LON in decimal degrees, e.g. 40.4168,-3.7038"
            ) from None
        return cls(lat, lon)  # which checks the range, and says so

    def to_json(self) -> bytes:
        document: dict[str, object] = {"type": "location", "lat": self.lat, "lon": self.lon}
        if self.accuracy_m is not None:
            document["accuracy_m"] = self.accuracy_m
        return json.dumps(document).encode()


@dataclass(frozen=True)
class RecorderStatus:
    elapsed_s: float
    chunks: int
    bytes_sealed: int


LocationProvider = Callable[[], Location | None]
ChunkListener = Callable[[Chunk], None]
StatusListener = Callable[[RecorderStatus], None]
RecordingListener = Callable[[SpoolRecording], None]


class Recorder:
    """Records one recording from a source into the spool."""

    def __init__(
        self,
        source: FrameSource,
        config: CaptureConfig,
        device: DeviceIdentity,
        recipients: Sequence[RecipientKey],
        spool: Path,
        *,
        location: LocationProvider | None = None,
        on_chunk: ChunkListener | None = None,
        on_status: StatusListener | None = None,
        on_recording: RecordingListener | None = None,
    ) -> None:
        self._source = source
        self._config = config
        self._device = device
        self._recipients = list(dict.fromkeys(recipients))
        self._spool = spool
        self._location = location
        self._on_chunk = on_chunk
        self._on_status = on_status
        self._on_recording = on_recording
        self._stop = threading.Event()
        self._chunks = 0
        self._bytes = 0
        self._last_location: Location | None = None
        self._last_location_time = float("-inf")
        self.recording: SpoolRecording | None = None

    def stop(self) -> None:
        """Ask the recorder to finish: the current fragment is flushed and sealed."""
        self._stop.set()

    def run(self, duration_s: float | None = None) -> SpoolRecording:
        encoder = LiveEncoder.for_source(self._config, self._source)
        started = time.monotonic()
        with RecordingSealer.start(self._device, self._recipients, encoder.media_type) as sealer:
            self.recording = SpoolRecording.create(self._spool, sealer.header)
            if self._on_recording is not None:
                self._on_recording(self.recording)
            self._store(sealer, ChunkKind.INIT, encoder.init_segment.data, started)
            self._maybe_location(sealer, started)
            reason = "stopped"
            failure: TestigoError | OSError | None = None
            try:
                for frame in self._source.frames():
                    if duration_s is not None and (frame.time or 0.0) >= duration_s:
                        reason = "duration"  # [0, duration): this frame is past the end
                        break
                    for segment in encoder.push(frame):
                        self._store_segment(sealer, segment, started)
                    if self._stop.is_set():
                        break
                for segment in encoder.finish():
                    self._store_segment(sealer, segment, started)
            except (TestigoError, OSError) as error:  # the camera went away, the disk is full
                failure, reason = error, "failed"
            finally:
                encoder.close()
                self._source.close()
            end = json.dumps({"reason": reason}).encode()
            try:
                self._emit(sealer.finish(end), started)  # end what was recorded, if it can
            except (TestigoError, OSError):
                if failure is None:
                    raise
            if failure is not None:
                raise failure
        return self.recording

    def _store_segment(
        self, sealer: RecordingSealer, segment: MediaSegment, started: float
    ) -> None:
        kind = ChunkKind.INIT if segment.kind is SegmentKind.INIT else ChunkKind.MEDIA
        self._store(sealer, kind, segment.data, started)
        self._maybe_location(sealer, started)

    def _maybe_location(self, sealer: RecordingSealer, started: float) -> None:
        if self._location is None:
            return
        location = self._location()
        now = time.monotonic()
        if (
            location is None
            or location == self._last_location
            or now - self._last_location_time < METADATA_MIN_INTERVAL_S
        ):
            return
        self._last_location = location
        self._last_location_time = now
        self._store(sealer, ChunkKind.METADATA, location.to_json(), started)

    def _store(self, sealer: RecordingSealer, kind: ChunkKind, data: bytes, started: float) -> None:
        self._emit(sealer.seal(kind, data), started)

    def _emit(self, chunk: Chunk, started: float) -> None:
        assert self.recording is not None
        self.recording.append(chunk)
        self._chunks += 1
        self._bytes += chunk.size
        if self._on_chunk is not None:
            self._on_chunk(chunk)
        if self._on_status is not None:
            self._on_status(RecorderStatus(time.monotonic() - started, self._chunks, self._bytes))
