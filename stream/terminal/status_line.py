"""The one-line status of `testigo record` on a terminal."""

import sys
from collections.abc import Callable

from capture.recorder import RecorderStatus

Echo = Callable[[str], None]


class StatusLine:
    """A one-line status on a terminal (rewritten in place); a line every 10 s elsewhere."""

    def __init__(self, echo: Echo) -> None:
        self._echo = echo
        self._terminal = sys.stderr.isatty()
        self._last_printed = -10.0
        self._recording = RecorderStatus(0.0, 0, 0)
        self.safe_seconds: float | None = None

    def recording(self, status: RecorderStatus) -> None:
        self._recording = status
        self._show()

    def safe(self, seconds: float) -> None:
        self.safe_seconds = seconds
        self._show()

    def _show(self) -> None:
        status = self._recording
        elapsed = int(status.elapsed_s)
        text = (
            f"REC {elapsed // 60:02d}:{elapsed % 60:02d}  {status.chunks} chunks sealed  "
            f"{status.bytes_sealed / 1e6:.1f} MB"
        )
        if self.safe_seconds is not None:
            text += f"  {self.safe_seconds:.1f} s safely off-device"
        if self._terminal:
            sys.stderr.write("\r" + text + "  ")
            sys.stderr.flush()
        elif status.elapsed_s - self._last_printed >= 10:
            self._last_printed = status.elapsed_s
            self._echo(text)

    def close(self) -> None:
        if self._terminal:
            sys.stderr.write("\n")
