"""The one-line status of `testigo record` on a terminal: calm, short and true.

    REC 01:23  81.0 s safely off-device  2 pending  WebRTC
    REC 01:23  64.0 s safely off-device  19 pending  offline, retrying

It is rewritten in place on a terminal and printed every 10 s elsewhere (a log). It never
shows a library's error text: the uploader says each problem once, as a note, and here
only the link state stands.
"""

import sys
from collections.abc import Callable
from dataclasses import dataclass

from capture.recorder import RecorderStatus
from stream.phone.upload_machine import UploadStatus

Echo = Callable[[str], None]

_LINKS = {"webrtc": "WebRTC", "https": "HTTPS"}


@dataclass(frozen=True)
class Shown:
    recording: RecorderStatus
    safe_seconds: float | None
    upload: UploadStatus | None


def status_text(shown: Shown) -> str:
    elapsed = int(shown.recording.elapsed_s)
    parts = [f"REC {elapsed // 60:02d}:{elapsed % 60:02d}"]
    upload = shown.upload
    if upload is None and shown.safe_seconds is None:
        sealed = shown.recording
        parts.append(f"{sealed.chunks} chunks sealed  {sealed.bytes_sealed / 1e6:.1f} MB")
    if shown.safe_seconds is not None or upload is not None:
        parts.append(f"{shown.safe_seconds or 0.0:.1f} s safely off-device")
    if upload is not None:
        parts.append(f"{upload.pending} pending")
        if upload.stopped is not None:
            parts.append("upload stopped (see above)")
        elif upload.link == "offline":
            parts.append("offline, retrying")
        else:
            parts.append(_LINKS.get(upload.link, upload.link))
    return "  ".join(parts)


class StatusLine:
    """A one-line status on a terminal (rewritten in place); a line every 10 s elsewhere."""

    def __init__(self, echo: Echo) -> None:
        self._echo = echo
        self._terminal = sys.stderr.isatty()
        self._last_printed = -10.0
        self._shown = Shown(RecorderStatus(0.0, 0, 0), None, None)

    def recording(self, status: RecorderStatus) -> None:
        self._shown = Shown(status, self._shown.safe_seconds, self._shown.upload)
        self._show()

    def safe(self, seconds: float) -> None:
        self._shown = Shown(self._shown.recording, seconds, self._shown.upload)
        self._show()

    def upload(self, status: UploadStatus) -> None:
        self._shown = Shown(self._shown.recording, self._shown.safe_seconds, status)
        self._show()

    def _show(self) -> None:
        text = status_text(self._shown)
        if self._terminal:
            sys.stderr.write("\r" + text + "\x1b[K")
            sys.stderr.flush()
        elif self._shown.recording.elapsed_s - self._last_printed >= 10:
            self._last_printed = self._shown.recording.elapsed_s
            self._echo(text)

    def close(self) -> None:
        if self._terminal:
            sys.stderr.write("\n")
