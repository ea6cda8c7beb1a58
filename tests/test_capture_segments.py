"""MediaSegment validation."""

import math

import pytest

from capture.segments import MediaSegment, SegmentKind


def test_fragment() -> None:
    segment = MediaSegment(SegmentKind.FRAGMENT, b"moof", 2.0, 0.5)
    assert segment.end_seconds == 2.5


def test_init_has_no_timing() -> None:
    assert MediaSegment(SegmentKind.INIT, b"ftyp", 0.0, 0.0).end_seconds == 0.0
    with pytest.raises(ValueError, match="an init segment has no timing"):
        MediaSegment(SegmentKind.INIT, b"ftyp", 1.0, 0.0)


@pytest.mark.parametrize("value", [-0.1, math.nan, math.inf])
def test_times_must_be_finite_and_non_negative(value: float) -> None:
    with pytest.raises(ValueError, match="start_seconds must be finite and >= 0"):
        MediaSegment(SegmentKind.FRAGMENT, b"x", value, 1.0)
    with pytest.raises(ValueError, match="duration_seconds must be finite and >= 0"):
        MediaSegment(SegmentKind.FRAGMENT, b"x", 1.0, value)


def test_data_must_be_non_empty_bytes() -> None:
    with pytest.raises(ValueError, match="cannot be empty"):
        MediaSegment(SegmentKind.FRAGMENT, b"", 0.0, 0.0)
    with pytest.raises(TypeError, match="data must be bytes, not bytearray"):
        MediaSegment(SegmentKind.FRAGMENT, bytearray(b"x"), 0.0, 0.0)  # type: ignore[arg-type]  # the wrong type is the test


def test_is_frozen() -> None:
    segment = MediaSegment(SegmentKind.FRAGMENT, b"x", 0.0, 0.0)
    with pytest.raises(AttributeError):
        segment.data = b"y"  # type: ignore[misc]  # writing a frozen field is the test
