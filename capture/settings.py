"""Every recorder setting, declared once: name, default, help and bounds.

`CaptureConfig` (capture/encoder.py) checks its fields against these rows, `testigo
record` takes its options' bounds, defaults and help from them, and a test checks that
the README's recorder settings table says the same (as the relay's settings do).
"""

import math
from dataclasses import dataclass
from typing import Final

MIN_FRAGMENT_SECONDS: Final = 0.25
MAX_FRAGMENT_SECONDS: Final = 60.0
SEAL_FRAGMENT_SECONDS: Final = 1.0
"""`testigo seal`'s default: a file already on disk has no loss window or live delay to
shorten, so its fragments stay at 1 s (fewer keyframes where it is re-encoded)."""
X264_PRESETS: Final = (
    "ultrafast",
    "superfast",
    "veryfast",
    "faster",
    "fast",
    "medium",
    "slow",
    "slower",
    "veryslow",
)

RecorderValue = int | float | str


def _number(value: float | None) -> str:
    """1e8 as 100000000, 0.25 as 0.25: as a person would type it."""
    if value is None:
        return "?"
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


@dataclass(frozen=True)
class RecorderSetting:
    """One row of the recorder's settings table."""

    name: str
    default: RecorderValue | None
    help: str
    minimum: float | None = None
    maximum: float | None = None
    unit: str = ""
    """Printed after the bounds in an error, e.g. " bit/s"."""
    even: bool = False
    choices: tuple[str, ...] = ()
    option: str = ""
    """The `testigo record` option that sets it; empty if none does."""

    @property
    def range_text(self) -> str:
        """The allowed values, as the error messages and the README say them."""
        if self.choices:
            return "one of " + ", ".join(self.choices)
        if self.maximum is None:
            return f">= {_number(self.minimum)}{self.unit}"
        evenness = "even and " if self.even else ""
        return f"{evenness}within {_number(self.minimum)}..{_number(self.maximum)}{self.unit}"

    def check(self, value: object) -> None:
        """Raise ValueError with a message naming the setting if value is not allowed."""
        if value is None and self.default is None:
            return
        if self.choices:
            allowed = value in self.choices
        elif isinstance(value, int | float) and not isinstance(value, bool):
            low = -math.inf if self.minimum is None else self.minimum
            high = math.inf if self.maximum is None else self.maximum
            allowed = low <= value <= high and not (self.even and value % 2)
        else:
            allowed = False
        if not allowed:
            raise ValueError(f"{self.name} must be {self.range_text}, got {value!r}")


RECORDER_SETTINGS: Final[tuple[RecorderSetting, ...]] = (
    RecorderSetting(
        "width", 1280, "Video width in pixels; sources are scaled to it.",
        minimum=16, maximum=8192, even=True, option="--resolution",
    ),
    RecorderSetting(
        "height", 720, "Video height in pixels.",
        minimum=16, maximum=8192, even=True, option="--resolution",
    ),
    RecorderSetting("fps", 30, "Video frames per second.", minimum=1, maximum=240, option="--fps"),
    RecorderSetting(
        "bitrate", 1_500_000, "Video bits per second.",
        minimum=10_000, maximum=100_000_000, unit=" bit/s", option="--bitrate",
    ),
    RecorderSetting(
        "fragment_seconds", 0.25, "Length of each fragment, that is of each sealed chunk.",
        minimum=MIN_FRAGMENT_SECONDS, maximum=MAX_FRAGMENT_SECONDS, option="--fragment-seconds",
    ),
    RecorderSetting(
        "keyframe_interval", None,
        "Most frames between keyframes; none: one keyframe per fragment (a keyframe also "
        "starts every fragment).",
        minimum=1, unit=" frames", option="--keyframe-interval",
    ),
    RecorderSetting(
        "audio_bitrate", 64_000, "AAC bits per second.",
        minimum=8_000, maximum=512_000, unit=" bit/s",
    ),
    RecorderSetting("preset", "veryfast", "x264 speed preset.", choices=X264_PRESETS),
)  # fmt: skip

RECORDER_SETTING: Final = {setting.name: setting for setting in RECORDER_SETTINGS}
