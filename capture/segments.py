"""The unit that leaves capture/: an init segment or one fragment of fragmented MP4."""

import enum
import math
from dataclasses import dataclass


class SegmentKind(enum.Enum):
    """What a :class:`MediaSegment` holds."""

    INIT = "init"
    """``ftyp`` + ``moov`` (codec setup); carries no samples."""
    FRAGMENT = "fragment"
    """Optional ``styp``/``sidx``/``prft`` + ``moof`` + ``mdat``: about one ``fragment_seconds``."""


@dataclass(frozen=True)
class MediaSegment:
    """Bytes of whole top-level MP4 boxes, in stream order.

    Concatenating the init segment and the fragments in order gives a playable
    fragmented MP4. ``start_seconds`` is the fragment's decode time on the media
    timeline (its ``tfdt``), ``duration_seconds`` the sum of its sample durations (its
    ``trun``), both as capture/fragment_clock.py finds them from the packets; both are 0
    for the init segment.
    """

    kind: SegmentKind
    data: bytes
    start_seconds: float
    duration_seconds: float

    def __post_init__(self) -> None:
        if not isinstance(self.kind, SegmentKind):
            raise TypeError(f"kind must be a SegmentKind, not {type(self.kind).__name__}")
        if not isinstance(self.data, bytes):
            raise TypeError(f"data must be bytes, not {type(self.data).__name__}")
        if not self.data:
            raise ValueError("a media segment cannot be empty")
        for name in ("start_seconds", "duration_seconds"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be finite and >= 0, got {value!r}")
        if self.kind is SegmentKind.INIT and (self.start_seconds or self.duration_seconds):
            raise ValueError(
                "an init segment has no timing: start_seconds and duration_seconds must be 0, "
                f"got {self.start_seconds!r} and {self.duration_seconds!r}"
            )

    @property
    def end_seconds(self) -> float:
        """``start_seconds + duration_seconds``."""
        return self.start_seconds + self.duration_seconds
