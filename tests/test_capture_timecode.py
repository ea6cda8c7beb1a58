"""The burned-in time code survives real H.264 encoding and decoding."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from capture import timecode
from capture.encoder import CaptureConfig, encode_source
from capture.sources import SyntheticSource


@given(st.integers(0, 2**41), st.integers(0, 2**17))
def test_round_trip_on_a_clean_plane(clock_ms: int, frame: int) -> None:
    luma = np.full((240, 320), 16, dtype=np.uint8)
    timecode.draw(luma, clock_ms, frame)
    code = timecode.read(luma)
    assert code == timecode.TimeCode(clock_ms % 2**40, frame % 2**16)


def test_a_damaged_strip_is_refused_not_misread() -> None:
    luma = np.full((240, 320), 16, dtype=np.uint8)
    timecode.draw(luma, 1_795_000_000_123, 42)
    luma[:10, 0:5] = 235 - luma[:10, 0:5] + 16  # flip one block
    assert timecode.read(luma) is None


def test_unwrap_restores_the_full_time() -> None:
    now = 1_795_387_652_434
    code = timecode.TimeCode(now % 2**40, 0)
    assert code.unwrap(now + 5_000) == now


@pytest.mark.parametrize(
    ("width", "height", "bitrate"), [(320, 240, 150_000), (1280, 720, 1_500_000)]
)
def test_readable_after_h264(width: int, height: int, bitrate: int) -> None:
    import io

    import av

    source = SyntheticSource(width, height, 15, seconds=1.0, realtime=False, audio=False)
    config = CaptureConfig(width=width, height=height, fps=15, bitrate=bitrate)
    data = b"".join(segment.data for segment in encode_source(source, config))

    with av.open(io.BytesIO(data), mode="r") as container:
        codes = [timecode.read_frame(frame) for frame in container.decode(video=0)]
    assert len(codes) == 15
    assert all(code is not None for code in codes)
    frames = [code.frame for code in codes if code is not None]
    assert frames == list(range(15))
