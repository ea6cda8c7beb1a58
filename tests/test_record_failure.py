"""When the recorder itself fails mid-recording (the camera goes away): the recording is
ended with a final chunk as far as possible, what was recorded still goes to the relay
for a bounded time, and the summary says what failed and what is not yet safe."""

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from capture.encoder import CaptureConfig
from capture.errors import MediaError
from capture.recorder import (
    ChunkListener,
    Recorder,
    RecorderStatus,
    RecordingListener,
    StatusListener,
)
from capture.sources import AudioFormat, Frame, SyntheticSource, VideoFormat
from stream.demo.local_relay import LocalRelay, free_port
from stream.phone import session
from stream.phone.session import RecorderFactory, RelayTarget, run_session
from stream.phone.upload_machine import UploadStatus
from vault import (
    Chunk,
    ChunkKind,
    DeviceIdentity,
    RecipientIdentity,
    RelayIdentity,
    Status,
    verify_file,
)
from vault.open import RecordingOpener
from vault.spool import find_recording

FAIL_AFTER_S = 1.5


class CameraThatGoesAway:
    """The synthetic pattern, until the 'camera' is unplugged after FAIL_AFTER_S."""

    def __init__(self) -> None:
        self._inner = SyntheticSource(160, 120, 10, realtime=False, audio=False)

    @property
    def video_format(self) -> VideoFormat | None:
        return self._inner.video_format

    @property
    def audio_format(self) -> AudioFormat | None:
        return None

    def frames(self) -> Iterator[Frame]:
        for frame in self._inner.frames():
            if (frame.time or 0.0) >= FAIL_AFTER_S:
                raise MediaError("the camera was disconnected")
            yield frame

    def close(self) -> None:
        self._inner.close()


class Quiet:
    """A display that keeps the last upload status."""

    def __init__(self) -> None:
        self.upload_status: UploadStatus | None = None

    def recording(self, status: RecorderStatus) -> None:
        pass

    def safe(self, seconds: float) -> None:
        pass

    def upload(self, status: UploadStatus) -> None:
        self.upload_status = status

    def close(self) -> None:
        pass


def failing_recorder(
    device: DeviceIdentity, recipient: RecipientIdentity, spool: Path
) -> RecorderFactory:
    def make(
        on_status: StatusListener, on_chunk: ChunkListener, on_recording: RecordingListener
    ) -> Recorder:
        config = CaptureConfig(width=160, height=120, fps=10, bitrate=100_000)
        return Recorder(
            CameraThatGoesAway(),
            config,
            device,
            [recipient.public],
            spool,
            on_status=on_status,
            on_chunk=on_chunk,
            on_recording=on_recording,
        )

    return make


def test_a_failed_recording_still_ends_with_a_final_chunk(tmp_path: Path) -> None:
    device, recipient = DeviceIdentity.generate(), RecipientIdentity.generate()
    make = failing_recorder(device, recipient, tmp_path / "spool")
    recorder = make(lambda _s: None, lambda _c: None, lambda _r: None)
    with pytest.raises(MediaError, match="disconnected"):
        recorder.run(None)
    spooled = find_recording(tmp_path / "spool")
    report = verify_file(spooled.directory, None)
    assert report.status is Status.COMPLETE  # nothing recorded is missing, and it ends
    final = Chunk.parse(spooled.read_chunk(max(spooled.indices())))
    assert final.kind is ChunkKind.END
    plaintext = RecordingOpener(spooled.header(), [recipient]).open(final)
    assert json.loads(plaintext) == {"reason": "failed"}


def test_what_was_recorded_reaches_the_relay_and_the_failure_is_reported(
    tmp_path: Path,
) -> None:
    device, recipient = DeviceIdentity.generate(), RecipientIdentity.generate()
    relay = LocalRelay(tmp_path / "relay")
    relay.enroll(device.public)
    with relay:
        make = failing_recorder(device, recipient, tmp_path / "spool")
        notes: list[str] = []
        summary = asyncio.run(
            run_session(make, None, notes.append, Quiet(), relay=RelayTarget(relay.url, relay.key))
        )
    assert isinstance(summary.failure, MediaError)
    assert summary.chunks > 2
    assert summary.unsafe == []
    assert summary.safe == summary.chunks  # the final chunk too


def test_with_the_relay_gone_the_drain_is_bounded_and_nothing_is_called_safe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(session, "DRAIN_AFTER_FAILURE_S", 1.0)
    device, recipient = DeviceIdentity.generate(), RecipientIdentity.generate()
    nowhere = RelayTarget(f"http://127.0.0.1:{free_port()}", RelayIdentity.generate().public)
    make = failing_recorder(device, recipient, tmp_path / "spool")
    notes: list[str] = []
    display = Quiet()
    summary = asyncio.run(run_session(make, None, notes.append, display, relay=nowhere))
    assert isinstance(summary.failure, MediaError)
    assert summary.safe == 0
    assert summary.unsafe == list(range(summary.chunks))
    assert any("the recording failed" in note for note in notes)
    assert display.upload_status is not None
    assert display.upload_status.link == "offline"
