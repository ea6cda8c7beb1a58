"""A machine-readable time code burned into the synthetic picture.

A strip of 64 black/white blocks across the top of the frame carries 40 bits of the wall
clock (Unix ms, modulo 2**40), 16 bits of the frame counter and an 8-bit check. Blocks
are large enough to survive H.264 at low bit rates, so later stages (the watcher, the
benchmarks, the fault tests) can read, from decoded pictures alone, when each frame was
captured: glass-to-glass delay and the evidence-loss window are measured with it.
"""

from dataclasses import dataclass
from typing import Final

import av
import numpy as np
import numpy.typing as npt

BITS: Final = 64
CLOCK_BITS: Final = 40
FRAME_BITS: Final = 16
CHECK_BITS: Final = 8
_BLACK: Final = 16
_WHITE: Final = 235

Luma = npt.NDArray[np.uint8]


@dataclass(frozen=True)
class TimeCode:
    clock_ms: int  # modulo 2**40; see `unwrap`
    frame: int  # modulo 2**16

    def unwrap(self, near_ms: int) -> int:
        """The full Unix ms time closest to near_ms with these low 40 bits."""
        period = 1 << CLOCK_BITS
        base = near_ms - near_ms % period + self.clock_ms
        return min((base - period, base, base + period), key=lambda t: abs(t - near_ms))


def strip_height(height: int) -> int:
    return max(8, (height // 24) & ~1)


def _check(value: int) -> int:
    """An 8-bit check of the 56 data bits (sum of bytes, rotated), catches misreads."""
    total = 0
    for shift in range(0, 56, 8):
        total = ((total << 1) | (total >> 7)) & 0xFF
        total ^= (value >> shift) & 0xFF
    return total


def _word(clock_ms: int, frame: int) -> int:
    data = ((clock_ms % (1 << CLOCK_BITS)) << FRAME_BITS) | (frame % (1 << FRAME_BITS))
    return (data << CHECK_BITS) | _check(data)


def draw(luma: Luma, clock_ms: int, frame: int) -> None:
    """Burn the time code into the top rows of a luma plane (in place)."""
    height, width = luma.shape
    rows = strip_height(height)
    word = _word(clock_ms, frame)
    for bit in range(BITS):
        left, right = bit * width // BITS, (bit + 1) * width // BITS
        on = (word >> (BITS - 1 - bit)) & 1
        luma[:rows, left:right] = _WHITE if on else _BLACK


def read(luma: Luma) -> TimeCode | None:
    """The time code of a decoded luma plane, or None if it does not check out."""
    height, width = luma.shape
    rows = strip_height(height)
    word = 0
    for bit in range(BITS):
        left, right = bit * width // BITS, (bit + 1) * width // BITS
        inset = max(0, (right - left) // 4)
        block = luma[rows // 4 : rows - rows // 4, left + inset : right - inset]
        word = (word << 1) | int(float(block.mean()) > (_BLACK + _WHITE) / 2)
    data, check = word >> CHECK_BITS, word & 0xFF
    if _check(data) != check:
        return None
    return TimeCode(clock_ms=data >> FRAME_BITS, frame=data & ((1 << FRAME_BITS) - 1))


def read_frame(frame: av.VideoFrame) -> TimeCode | None:
    """The time code of a decoded video frame (any pixel format)."""
    luma = np.asarray(frame.to_ndarray(format="gray8"), dtype=np.uint8)
    return read(luma)
