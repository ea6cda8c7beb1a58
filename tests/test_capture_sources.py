"""Frame sources and the synthetic pattern and tone."""

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt
import pytest

from capture import timecode
from capture.errors import MediaError
from capture.sources import (
    AudioFormat,
    CameraSource,
    FileSource,
    FrameSource,
    SyntheticSource,
    VideoFormat,
)
from capture.synthetic import AUDIO_RATE, TestPattern, ToneGenerator, format_clock


class FakeClock:
    """A clock that only moves when someone sleeps."""

    def __init__(self, start: float) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_sources_satisfy_the_protocol(synthetic_clip: Path) -> None:
    sources: list[FrameSource] = [SyntheticSource(64, 64), FileSource(synthetic_clip)]
    for source in sources:
        source.close()
        source.close()


def test_synthetic_source_frames_and_timestamps() -> None:
    source = SyntheticSource(160, 96, 30, seconds=1.0, realtime=False)
    frames = list(source.frames())
    video = [f for f in frames if isinstance(f, av.VideoFrame)]
    audio = [f for f in frames if isinstance(f, av.AudioFrame)]
    assert len(video) == 30
    assert [f.pts for f in video] == list(range(30))
    assert all(f.time_base == Fraction(1, 30) for f in video)
    assert (video[0].width, video[0].height, video[0].format.name) == (160, 96, "yuv420p")
    assert sum(f.samples for f in audio) >= AUDIO_RATE * 29 / 30
    assert [f.pts for f in audio] == [i * 1024 for i in range(len(audio))]
    assert source.video_format == VideoFormat(160, 96, Fraction(30))
    assert source.audio_format == AudioFormat(AUDIO_RATE, 1)


def test_synthetic_source_interleaves_audio_before_each_frame() -> None:
    frames = list(SyntheticSource(64, 64, 10, seconds=1.0, realtime=False).frames())
    audio_time = 0.0
    for frame in frames:
        assert frame.pts is not None
        assert frame.time_base is not None
        seconds = float(frame.pts * frame.time_base)
        if isinstance(frame, av.AudioFrame):
            audio_time = seconds + frame.samples / AUDIO_RATE
        else:
            assert audio_time >= seconds


def test_synthetic_source_without_audio() -> None:
    source = SyntheticSource(64, 64, 10, audio=False, seconds=0.5, realtime=False)
    frames = list(source.frames())
    assert source.audio_format is None
    assert len(frames) == 5
    assert all(isinstance(f, av.VideoFrame) for f in frames)


def test_realtime_pacing_follows_the_clock() -> None:
    clock = FakeClock(1_000.0)
    source = SyntheticSource(
        64, 64, 10, audio=False, seconds=1.0, clock=clock.time, sleep=clock.sleep
    )
    frames = list(source.frames())
    assert len(frames) == 10
    assert clock.now == pytest.approx(1_000.9)
    assert clock.sleeps == pytest.approx([0.1] * 9)


def test_realtime_pacing_does_not_sleep_when_late() -> None:
    clock = FakeClock(50.0)

    def slow_clock() -> float:
        clock.now += 0.5  # every frame takes longer than its slot
        return clock.now

    source = SyntheticSource(
        64, 64, 10, audio=False, seconds=0.5, clock=slow_clock, sleep=clock.sleep
    )
    assert len(list(source.frames())) == 5
    assert clock.sleeps == []


def test_synthetic_source_burns_in_the_wall_clock() -> None:
    clock = FakeClock(3_600.25)
    source = SyntheticSource(160, 96, 10, audio=False, seconds=0.1, clock=clock.time)
    (frame,) = list(source.frames())
    assert isinstance(frame, av.VideoFrame)
    expected = TestPattern(160, 96).render(0, 3_600_250)
    assert np.array_equal(frame.to_ndarray(), expected)


def test_endless_synthetic_source_stops_when_closed() -> None:
    source = SyntheticSource(64, 64, 10, audio=False, realtime=False)
    count = 0
    for _ in source.frames():
        count += 1
        if count == 25:
            source.close()
    assert count == 25


def test_pattern_shows_clock_and_frame_counter() -> None:
    pattern = TestPattern(320, 180)
    base = pattern.render(5, 1_000)
    assert np.array_equal(base, pattern.render(5, 1_000))
    band = 180 * 2 // 3
    strip = timecode.strip_height(180)
    clock_changed = np.argwhere(base[:180] != pattern.render(5, 2_000)[:180])
    assert clock_changed.size
    # Only the text band and the machine-readable time code strip change.
    assert all(row >= band or row < strip for row in clock_changed[:, 0])
    counter_changed = np.argwhere(base[:180] != pattern.render(6, 1_000)[:180])
    assert all(row >= band or row < strip for row in counter_changed[:, 0])
    assert timecode.read(pattern.render(6, 1_000)[:180]) == timecode.TimeCode(1_000, 6)
    # Text and bar are drawn in luma only: the chroma planes never change.
    assert np.array_equal(base[180:], pattern.render(6, 9_999)[180:])


def test_format_clock() -> None:
    assert format_clock(0) == "00:00:00.000"
    assert format_clock(3_723_004) == "01:02:03.004"
    assert format_clock(86_400_001) == "00:00:00.001"


def test_pattern_size_checks() -> None:
    with pytest.raises(ValueError, match="even dimensions >= 64, got 65x64"):
        TestPattern(65, 64)


def test_tone_is_440_hz_with_an_880_hz_pip_each_second() -> None:
    tone = ToneGenerator()
    samples = np.concatenate([tone.next_samples()[0] for _ in range(47)])[:AUDIO_RATE]
    pip = int(0.05 * AUDIO_RATE)

    def peak(chunk: npt.NDArray[np.float32]) -> float:
        spectrum = np.abs(np.fft.rfft(chunk))
        return float(np.argmax(spectrum) * AUDIO_RATE / len(chunk))

    assert peak(samples[:pip]) == pytest.approx(880, abs=20)
    assert peak(samples[pip:]) == pytest.approx(440, abs=2)
    assert np.max(np.abs(np.diff(samples))) < 0.05  # no clicks at the switch or frame edges


def test_file_source(synthetic_clip: Path) -> None:
    source = FileSource(synthetic_clip)
    assert source.video_format == VideoFormat(320, 180, Fraction(30))
    assert source.audio_format == AudioFormat(48_000, 1)
    frames = list(source.frames())
    assert sum(isinstance(f, av.VideoFrame) for f in frames) == 90
    assert all(f.pts is not None and f.time_base is not None for f in frames)


def test_file_source_missing(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="no such file"):
        FileSource(tmp_path / "missing.mp4")


def test_camera_missing() -> None:
    with pytest.raises(
        MediaError, match=r"^no camera found at /dev/video9; use --source synthetic$"
    ):
        CameraSource(9)


def test_camera_source_reads_frames_through_opencv(synthetic_clip: Path) -> None:
    """OpenCV opens a file like a camera, which exercises the capture loop without one."""
    source = CameraSource(str(synthetic_clip), 320, 180, 30)
    assert source.audio_format is None
    assert (source.video_format.width, source.video_format.height) == (320, 180)
    frames = list(source.frames())
    assert len(frames) == 90
    pts = [f.pts for f in frames if f.pts is not None]
    assert len(pts) == 90
    assert pts == sorted(pts)
    assert all(f.format.name == "bgr24" for f in frames if isinstance(f, av.VideoFrame))
