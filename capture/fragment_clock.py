"""Each fragment's start and duration, from the packets handed to FFmpeg's mp4 muxer.

The times are those the muxer writes into the fragment (``tfdt`` and the ``trun`` sample
durations of the reference track), found from the packets instead of read back from
the boxes. They follow the rules of FFmpeg's ``mov`` muxer for the options that
:class:`~capture.muxer.FragmentMuxer` sets (fragmented, no edit list):

* all timestamps are shifted so that the earliest first timestamp of any stream is 0
  (``avoid_negative_ts=make_zero``; the shift is rounded up in each stream's time base),
  and the first sample of each track is then moved to 0;
* the reference track is the video track, else the only stream (or, for a recording whose
  video never got a frame, the first stream that has packets); a fragment of it ends
  where the muxer cuts: at the first keyframe (or, cutting by time, the first packet)
  at least ``cut_microseconds`` after the fragment's first sample, measured as the
  muxer does, in whole microseconds;
* a fragment lasts until the next one starts, the last one until the end of its last
  sample; a packet without a duration lasts one frame (video) or one codec frame (audio).

A fragment's start is its first sample's time on the track timeline, so a fragment that
is missing later shows up as a gap instead of shifting every later time.
"""

import math
from dataclasses import dataclass
from fractions import Fraction

_MICROSECOND = Fraction(1, 1_000_000)


def round_near_inf(value: Fraction) -> int:
    """Round to the nearest integer, halves away from zero (FFmpeg's ``AV_ROUND_NEAR_INF``)."""
    rounded = math.floor(abs(value) + Fraction(1, 2))
    return rounded if value >= 0 else -rounded


@dataclass(frozen=True)
class _Sample:
    dts: int
    """Decode time in the reference track's time base, before the shift."""
    duration: int
    keyframe: bool


@dataclass(frozen=True)
class FragmentTime:
    start_seconds: float
    duration_seconds: float


class FragmentClock:
    """Follows the packets given to the muxer; tells each fragment's time once it is written.

    Call :meth:`add` for every packet the muxer accepted, in the order given, and
    :meth:`next_fragment` for every fragment the muxer wrote, in order (``final=True``
    for the one written when it was closed last).
    """

    def __init__(
        self,
        reference: int,
        time_base: Fraction,
        *,
        cut_microseconds: int,
        cut_at_keyframes: bool,
        default_duration: int,
    ) -> None:
        """``reference``: the reference stream's index, ``time_base`` its time base,
        ``default_duration``: the duration the muxer gives its packets that have none."""
        self._reference = reference
        self._time_base = time_base
        self._cut_microseconds = cut_microseconds
        self._cut_at_keyframes = cut_at_keyframes
        self._default_duration = default_duration
        self._first_seconds: dict[int, Fraction] = {}
        """Each stream's first decode time, in seconds (the shift comes from the earliest)."""
        self._samples: list[_Sample] = []
        """Samples of the reference track not yet in a written fragment."""
        self._others: dict[int, tuple[Fraction, list[_Sample]]] = {}
        """Time base and samples of the other streams until the first fragment (in case the
        reference track has none: a camera that never delivered a frame)."""
        self._started = False
        """Whether a fragment was written (until then the first sample is at 0)."""

    def add(
        self, stream: int, dts: int, duration: int, time_base: Fraction, *, keyframe: bool
    ) -> None:
        """A packet of ``stream`` that the muxer accepted; times in ``time_base``."""
        self._first_seconds.setdefault(stream, dts * time_base)
        if stream == self._reference:
            self._samples.append(_Sample(dts, duration or self._default_duration, keyframe))
        elif not self._started:
            self._others.setdefault(stream, (time_base, []))[1].append(
                _Sample(dts, duration, keyframe)
            )

    def next_fragment(self, *, final: bool) -> FragmentTime:
        """The time of the next fragment the muxer wrote."""
        if not self._samples and self._others:  # the fragment carries only other tracks
            self._reference = min(self._others)
            self._time_base, self._samples = self._others[self._reference]
        self._others.clear()
        if not self._samples:
            raise RuntimeError("the muxer wrote a fragment without samples")
        start = self._timeline(0)
        count = len(self._samples) if final else self._cut_index(start)
        if count < len(self._samples):
            end = self._timeline(count)
        else:
            end = self._timeline(count - 1) + self._samples[-1].duration
        del self._samples[:count]
        self._started = True
        return FragmentTime(float(start * self._time_base), float((end - start) * self._time_base))

    def _timeline(self, index: int) -> int:
        """Decode time on the track timeline of the pending sample at ``index``."""
        if index == 0 and not self._started:
            return 0
        earliest = min(self._first_seconds.values())
        shift = math.ceil(-earliest / self._time_base)
        return self._samples[index].dts + shift

    def _cut_index(self, start: int) -> int:
        """Where the muxer cut; should its rules not say, at the last place it could."""
        candidates = [
            index
            for index in range(1, len(self._samples))
            if self._samples[index].keyframe or not self._cut_at_keyframes
        ]
        for index in candidates:
            elapsed = (self._timeline(index) - start) * self._time_base / _MICROSECOND
            if round_near_inf(elapsed) >= self._cut_microseconds:
                return index
        return candidates[-1] if candidates else len(self._samples)
