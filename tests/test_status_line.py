"""The status line of `testigo record`: one short line, the link state, no library text."""

from capture.recorder import RecorderStatus
from stream.phone.upload_machine import UploadStatus
from stream.terminal.status_line import Shown, status_text

RECORDING = RecorderStatus(elapsed_s=83.4, chunks=84, bytes_sealed=21_000_000)


def test_offline_recording_shows_what_is_sealed() -> None:
    assert status_text(Shown(RECORDING, None, None)) == "REC 01:23  84 chunks sealed  21.0 MB"


def test_streaming_shows_what_is_safe_what_is_pending_and_the_link() -> None:
    upload = UploadStatus("webrtc", pending=2, safe=82)
    assert status_text(Shown(RECORDING, 81.0, upload)) == (
        "REC 01:23  81.0 s safely off-device  2 pending  WebRTC"
    )


def test_out_of_reach_is_one_calm_state_whatever_the_cause() -> None:
    upload = UploadStatus(
        "offline", pending=19, safe=65, problem="connection to the relay lost: [Errno 111] x"
    )
    text = status_text(Shown(RECORDING, 64.0, upload))
    assert text == "REC 01:23  64.0 s safely off-device  19 pending  offline, retrying"
    assert "Errno" not in text


def test_a_stopped_upload_says_so() -> None:
    upload = UploadStatus("offline", pending=84, safe=0, stopped="this relay's key is not …")
    assert status_text(Shown(RECORDING, None, upload)).endswith(
        "84 pending  upload stopped (see above)"
    )
