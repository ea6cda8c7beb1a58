"""LiveEncoder: synthetic frames in, init segment + fragments out, as they complete."""

import itertools
import math
from fractions import Fraction
from pathlib import Path

import av
import pytest

from capture.encoder import CaptureConfig, LiveEncoder, encode_source
from capture.segments import MediaSegment, SegmentKind
from capture.sources import AudioFormat, SyntheticSource, VideoFormat


def small(fragment_seconds: float = 1.0, **changes: int) -> CaptureConfig:
    config = {"width": 160, "height": 96, "fps": 30, "bitrate": 200_000, **changes}
    return CaptureConfig(fragment_seconds=fragment_seconds, preset="ultrafast", **config)


def encode(seconds: float, config: CaptureConfig, audio: bool = True) -> list[MediaSegment]:
    source = SyntheticSource(
        config.width, config.height, config.fps, audio=audio, seconds=seconds, realtime=False
    )
    return list(encode_source(source, config))


def video_frames(path: Path) -> list[tuple[float, bool]]:
    """``(seconds, is_keyframe)`` of each video packet."""
    with av.open(str(path)) as container:
        return [
            (float(packet.pts * packet.time_base), packet.is_keyframe)
            for packet in container.demux(video=0)
            if packet.pts is not None and packet.time_base is not None
        ]


def decoded_frames(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def write(path: Path, segments: list[MediaSegment]) -> Path:
    path.write_bytes(b"".join(s.data for s in segments))
    return path


def test_three_seconds_decode_with_every_frame(tmp_path: Path) -> None:
    segments = encode(3.0, small())
    assert [s.kind for s in segments] == [SegmentKind.INIT] + [SegmentKind.FRAGMENT] * 3
    joined = write(tmp_path / "joined.mp4", segments)
    assert decoded_frames(joined) == 90
    with av.open(str(joined)) as container:
        samples = sum(frame.samples for frame in container.decode(audio=0))
    assert samples >= 3 * 48_000


@pytest.mark.parametrize("fragment_seconds", [0.25, 0.5, 1.0])
def test_fragment_seconds(fragment_seconds: float, tmp_path: Path) -> None:
    segments = encode(3.0, small(fragment_seconds))
    fragments = segments[1:]
    assert len(fragments) == round(3.0 / fragment_seconds)
    # Frame granularity: 0.25 s at 30 fps alternates 8 and 7 frames (+ the 21 ms AAC shift).
    for fragment in fragments:
        assert fragment.duration_seconds == pytest.approx(fragment_seconds, abs=1 / 30 + 0.022)
    for before, after in itertools.pairwise(fragments):
        assert after.start_seconds == pytest.approx(before.end_seconds, abs=1e-6)
    assert decoded_frames(write(tmp_path / "joined.mp4", segments)) == 90


@pytest.mark.parametrize("fps", [24, 25, 30])
@pytest.mark.parametrize("fragment_seconds", [0.25, 0.3, 0.31, 0.5])
def test_no_boundary_is_missed(fps: int, fragment_seconds: float) -> None:
    """Whatever fragment_seconds * fps is, every fragment is within a frame of the target."""
    config = CaptureConfig(64, 64, fps, fragment_seconds=fragment_seconds, preset="ultrafast")
    fragments = encode(2.0, config, audio=False)[1:]
    assert len(fragments) == math.ceil(2.0 / fragment_seconds - 1e-9)
    for fragment in fragments[:-1]:
        assert abs(fragment.duration_seconds - fragment_seconds) < 1 / fps + 1e-6


def test_every_fragment_starts_with_a_keyframe_and_decodes_alone(tmp_path: Path) -> None:
    init, *fragments = encode(2.0, small(0.5))
    for index, fragment in enumerate(fragments):
        alone = write(tmp_path / f"alone{index}.mp4", [init, fragment])
        packets = video_frames(alone)
        assert packets[0][1], f"fragment {index} does not start with a keyframe"
        assert decoded_frames(alone) == len(packets)


def test_keyframe_interval_adds_keyframes_inside_fragments(tmp_path: Path) -> None:
    segments = encode(2.0, small(1.0, keyframe_interval=10), audio=False)
    assert len(segments) == 3
    keyframes = [t for t, key in video_frames(write(tmp_path / "j.mp4", segments)) if key]
    assert keyframes == pytest.approx([i / 3 for i in range(6)], abs=1e-3)


def test_video_only_and_audio_only(tmp_path: Path) -> None:
    video_only = encode(1.0, small(0.5), audio=False)
    assert len(video_only) == 3
    assert decoded_frames(write(tmp_path / "v.mp4", video_only)) == 30
    encoder = LiveEncoder(small(0.5), None, AudioFormat(48_000, 1))
    assert encoder.media_type == 'audio/mp4; codecs="mp4a.40.2"'
    source = SyntheticSource(64, 64, 10, seconds=1.0, realtime=False)
    out = [encoder.init_segment]
    for frame in source.frames():
        if isinstance(frame, av.AudioFrame):
            out += encoder.push(frame)
    out += encoder.finish()
    assert len(out) >= 3
    assert all(s.duration_seconds <= 0.55 for s in out)


def test_fragment_comes_out_when_the_next_fragment_starts() -> None:
    """No fragment waits for more than the first frame of the next one."""
    config = small(0.5)
    source = SyntheticSource(160, 96, 30, audio=False, seconds=2.0, realtime=False)
    encoder = LiveEncoder.for_source(config, source)
    emitted_at: list[int] = []
    for index, frame in enumerate(source.frames()):
        for segment in encoder.push(frame):
            emitted_at.append(index)
            assert segment.end_seconds <= index / 30 + 1e-6
    assert emitted_at == [15, 30, 45]  # the keyframe that opens the next fragment
    assert len(encoder.finish()) == 1
    assert encoder.stats.fragments == 4
    assert encoder.stats.video_frames == 60


def test_frames_that_do_not_move_forward_are_dropped() -> None:
    encoder = LiveEncoder(small(), VideoFormat(160, 96, Fraction(30)), None)
    source = SyntheticSource(160, 96, 30, audio=False, seconds=0.2, realtime=False)
    frames = list(source.frames())
    for frame in frames[:4]:
        encoder.push(frame)
    frames[4].pts = 2  # goes back in time
    encoder.push(frames[4])
    assert encoder.stats.dropped_frames == 1
    assert encoder.stats.video_frames == 4
    encoder.close()


def test_frames_are_scaled_to_the_configured_size(tmp_path: Path) -> None:
    source = SyntheticSource(320, 180, 30, audio=False, seconds=0.5, realtime=False)
    segments = list(encode_source(source, small(0.5)))
    with av.open(str(write(tmp_path / "s.mp4", segments))) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == (160, 96)


def test_push_after_finish_and_wrong_kinds() -> None:
    encoder = LiveEncoder(small(), VideoFormat(160, 96, Fraction(30)), None)
    audio = next(f for f in SyntheticSource(64, 64).frames() if isinstance(f, av.AudioFrame))
    with pytest.raises(ValueError, match="audio frame pushed to an encoder opened without audio"):
        encoder.push(audio)
    encoder.finish()
    with pytest.raises(ValueError, match=r"push\(\) after finish\(\)"):
        encoder.push(audio)
    with pytest.raises(ValueError, match="neither video nor audio"):
        LiveEncoder(small(), None, None)


def test_stopping_early_closes_the_source() -> None:
    source = SyntheticSource(160, 96, 30, realtime=False)  # endless
    segments = encode_source(source, small(0.25))
    taken = list(itertools.islice(segments, 3))
    assert [s.kind for s in taken] == [SegmentKind.INIT] + [SegmentKind.FRAGMENT] * 2
    segments.close()
    assert list(source.frames()) == []  # the source was closed too


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"width": 161}, "width must be even and within 16..8192, got 161"),
        ({"height": 0}, "height must be even"),
        ({"fps": 0}, "fps must be within 1..240"),
        ({"bitrate": 5}, "bitrate must be within"),
        ({"fragment_seconds": 0.2}, r"fragment_seconds must be within 0\.25\.\.60"),
        ({"fragment_seconds": float("nan")}, "fragment_seconds must be within"),
        ({"keyframe_interval": 0}, "keyframe_interval must be >= 1 frame"),
        ({"audio_bitrate": 1}, "audio_bitrate must be within"),
        ({"preset": "warp"}, "preset must be one of ultrafast"),
    ],
)
def test_config_is_validated(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CaptureConfig(**changes)  # type: ignore[arg-type]  # wrong values are the test


def test_config_defaults() -> None:
    config = CaptureConfig()
    assert (config.width, config.height, config.fps, config.bitrate) == (1280, 720, 30, 1_500_000)
    assert config.fragment_seconds == 0.25
    assert config.gop_frames == 8
    assert CaptureConfig(fragment_seconds=1.0).gop_frames == 30
    assert CaptureConfig(fps=25, fragment_seconds=0.5).gop_frames == 13
    assert CaptureConfig(keyframe_interval=12).gop_frames == 12
    assert CaptureConfig(fragment_seconds=0.25).min_fragment_seconds == pytest.approx(6.5 / 30)
