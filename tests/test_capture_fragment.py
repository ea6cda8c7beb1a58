"""fragment_file: existing media in, init segment + fragments out, decodable when joined."""

import itertools
import subprocess
from dataclasses import dataclass
from pathlib import Path

import av
import pytest

from capture.boxes import BoxSplitter
from capture.errors import MediaError
from capture.fragmenter import fragment_file
from capture.segments import MediaSegment, SegmentKind
from capture.synthetic import write_synthetic_clip

AAC_PRIMING = 1024
"""Samples of encoder delay that the fragmented output keeps (an empty moov has no edit list)."""


@dataclass(frozen=True)
class Decoded:
    video_frames: int
    video_pts: tuple[float, ...]
    audio_samples: int


def decode(path: Path) -> Decoded:
    frames = 0
    samples = 0
    pts: list[float] = []
    with av.open(str(path)) as container:
        if container.streams.video:
            for frame in container.decode(video=0):
                frames += 1
                assert frame.pts is not None
                assert frame.time_base is not None
                pts.append(float(frame.pts * frame.time_base))
    with av.open(str(path)) as container:
        if container.streams.audio:
            samples = sum(frame.samples for frame in container.decode(audio=0))
    return Decoded(frames, tuple(pts), samples)


def join(path: Path, segments: list[MediaSegment]) -> Path:
    path.write_bytes(b"".join(segment.data for segment in segments))
    return path


def ffmpeg_errors(ffmpeg: str, path: Path) -> str:
    result = subprocess.run(
        [ffmpeg, "-v", "error", "-i", str(path), "-f", "null", "-"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stderr


def test_joined_segments_decode_like_the_source(
    synthetic_clip: Path, tmp_path: Path, ffmpeg_exe: str
) -> None:
    media = fragment_file(synthetic_clip, 1.0)
    segments = list(media.segments)
    assert media.remuxed
    assert [s.kind for s in segments] == [SegmentKind.INIT] + [SegmentKind.FRAGMENT] * 3
    joined = join(tmp_path / "joined.mp4", segments)
    source, result = decode(synthetic_clip), decode(joined)
    assert source.video_frames == 90
    assert result.video_frames == source.video_frames
    assert result.audio_samples == source.audio_samples + AAC_PRIMING
    # The muxer moves the timeline by the AAC priming (21 ms) so that no timestamp is
    # negative; the first video frame still starts at 0 (it lasts 21 ms longer).
    shift = AAC_PRIMING / 48_000
    assert result.video_pts[0] == source.video_pts[0] == 0
    expected = [p + shift for p in source.video_pts[1:]]
    assert list(result.video_pts[1:]) == pytest.approx(expected, abs=1e-3)
    assert ffmpeg_errors(ffmpeg_exe, joined) == ""


def test_media_type_comes_from_the_real_codec_setup(synthetic_clip: Path) -> None:
    with av.open(str(synthetic_clip)) as container:
        extradata = container.streams.video[0].codec_context.extradata
    assert extradata is not None
    media = fragment_file(synthetic_clip)
    media.close()
    assert media.media_type == f'video/mp4; codecs="avc1.{extradata[1:4].hex()},mp4a.40.2"'


def test_fragments_last_about_fragment_seconds(synthetic_clip: Path) -> None:
    fragments = [s for s in fragment_file(synthetic_clip, 1.0).segments][1:]
    assert [f.duration_seconds for f in fragments] == pytest.approx([1.0] * 3, abs=0.03)
    for before, after in itertools.pairwise(fragments):
        assert after.start_seconds == pytest.approx(before.end_seconds, abs=1e-6)


def test_fragment_seconds_follows_source_keyframes(tmp_path: Path) -> None:
    clip = tmp_path / "gop15.mp4"
    write_synthetic_clip(clip, 2.0, 160, 96, 30, keyframe_interval=15)
    half = list(fragment_file(clip, 0.5).segments)[1:]
    assert [f.duration_seconds for f in half] == pytest.approx([0.5] * 4, abs=0.03)
    # Keyframes every 0.5 s but fragments of at least 1 s: every other keyframe.
    whole = list(fragment_file(clip, 1.0).segments)[1:]
    assert [f.duration_seconds for f in whole] == pytest.approx([1.0] * 2, abs=0.03)


def test_every_fragment_starts_with_a_keyframe(synthetic_clip: Path, tmp_path: Path) -> None:
    init, *fragments = list(fragment_file(synthetic_clip).segments)
    for index, fragment in enumerate(fragments):
        alone = join(tmp_path / f"alone{index}.mp4", [init, fragment])
        with av.open(str(alone)) as container:
            first = next(container.demux(video=0))
        assert first.is_keyframe


def test_a_dropped_middle_fragment_leaves_a_gap(
    synthetic_clip: Path, tmp_path: Path, ffmpeg_exe: str
) -> None:
    init, first, middle, last = list(fragment_file(synthetic_clip).segments)
    holed = join(tmp_path / "holed.mp4", [init, first, last])
    result = decode(holed)
    assert result.video_frames == 60
    gaps = [b - a for a, b in zip(result.video_pts, result.video_pts[1:], strict=False)]
    assert max(gaps) == pytest.approx(middle.duration_seconds + 1 / 30, abs=1e-3)
    assert result.video_pts[30] == pytest.approx(last.start_seconds, abs=1e-3)
    assert ffmpeg_errors(ffmpeg_exe, holed) == ""


@pytest.mark.parametrize(
    ("video", "audio", "media_type"),
    [
        (True, False, 'video/mp4; codecs="avc1.42c00b"'),
        (False, True, 'audio/mp4; codecs="mp4a.40.2"'),
    ],
    ids=["video-only", "audio-only"],
)
def test_single_stream_inputs(
    video: bool, audio: bool, media_type: str, tmp_path: Path, ffmpeg_exe: str
) -> None:
    clip = tmp_path / "clip.mp4"
    write_synthetic_clip(clip, 2.0, 160, 96, 30, audio, video=video)
    media = fragment_file(clip)
    segments = list(media.segments)
    assert media.media_type == media_type
    assert len(segments) >= 3
    assert all(s.duration_seconds <= 1.05 for s in segments)
    joined = join(tmp_path / "joined.mp4", segments)
    source, result = decode(clip), decode(joined)
    assert result.video_frames == source.video_frames
    assert result.audio_samples in (source.audio_samples, source.audio_samples + AAC_PRIMING)
    assert ffmpeg_errors(ffmpeg_exe, joined) == ""


def test_other_codecs_are_reencoded(tmp_path: Path, ffmpeg_exe: str) -> None:
    clip = tmp_path / "mpeg4.mp4"
    write_synthetic_clip(clip, 2.0, 160, 96, 30, video_codec="mpeg4", audio_codec="libopus")
    media = fragment_file(clip, 0.5)
    segments = list(media.segments)
    assert not media.remuxed
    assert media.media_type.startswith('video/mp4; codecs="avc1.')
    assert media.media_type.endswith(',mp4a.40.2"')
    # A keyframe is forced every fragment_seconds.
    assert [s.duration_seconds for s in segments[2:]] == pytest.approx([0.5] * 3, abs=0.03)
    joined = join(tmp_path / "joined.mp4", segments)
    assert decode(joined).video_frames == 60
    assert ffmpeg_errors(ffmpeg_exe, joined) == ""


@pytest.mark.parametrize(
    ("suffix", "options", "remuxed", "fragments"),
    [
        (".mkv", ["-c", "copy"], True, 3),
        # MPEG-TS: the AAC setup (AudioSpecificConfig) is only in the packets.
        (".ts", ["-c", "copy"], False, 3),
        # Raw H.264 has no timestamps: frames are counted at the guessed 25 fps.
        (".h264", ["-c", "copy", "-an", "-bsf:v", "h264_mp4toannexb", "-f", "h264"], False, 4),
    ],
)
def test_other_containers(
    suffix: str,
    options: list[str],
    remuxed: bool,
    fragments: int,
    synthetic_clip: Path,
    tmp_path: Path,
    ffmpeg_exe: str,
) -> None:
    other = tmp_path / f"clip{suffix}"
    subprocess.run(
        [ffmpeg_exe, "-v", "error", "-i", str(synthetic_clip), *options, str(other)],
        check=True,
        timeout=60,
    )
    media = fragment_file(other)
    segments = list(media.segments)
    assert media.remuxed is remuxed
    assert len(segments) == 1 + fragments
    joined = join(tmp_path / "joined.mp4", segments)
    assert decode(joined).video_frames == 90
    assert ffmpeg_errors(ffmpeg_exe, joined) == ""


def test_reencode_can_be_forced(synthetic_clip: Path) -> None:
    media = fragment_file(synthetic_clip, reencode=True)
    assert not media.remuxed
    assert sum(s.kind is SegmentKind.FRAGMENT for s in media.segments) == 3


def test_segments_are_produced_lazily(tmp_path: Path) -> None:
    clip = tmp_path / "long.mp4"
    write_synthetic_clip(clip, 6.0, 64, 64, 10, audio=False)
    with fragment_file(clip) as media:
        init = next(media.segments)
        first = next(media.segments)
        assert init.kind is SegmentKind.INIT
        assert first.kind is SegmentKind.FRAGMENT
    # Closed early: the rest is not produced.
    assert list(media.segments) == []


def test_init_segment_is_ftyp_and_moov(synthetic_clip: Path) -> None:
    with fragment_file(synthetic_clip) as media:
        init = next(media.segments)
    assert [b.type for b in BoxSplitter().feed(init.data)] == ["ftyp", "moov"]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match=r"no such file: .*nothing\.mp4"):
        fragment_file(tmp_path / "nothing.mp4")


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="not a file"):
        fragment_file(tmp_path)


def test_not_media(tmp_path: Path) -> None:
    path = tmp_path / "notes.mp4"
    path.write_bytes(b"these are not the frames you are looking for\n" * 100)
    with pytest.raises(MediaError, match=r"notes\.mp4 is not a media file that can be read"):
        fragment_file(path)


def test_truncated_file(synthetic_clip: Path, tmp_path: Path) -> None:
    data = synthetic_clip.read_bytes()
    path = tmp_path / "truncated.mp4"
    path.write_bytes(data[: len(data) // 2])  # moov is at the end: cut off
    with pytest.raises(MediaError, match=r"truncated\.mp4"):
        list(fragment_file(path).segments)


def test_media_error_is_a_value_error() -> None:
    assert issubclass(MediaError, ValueError)


@pytest.mark.parametrize("seconds", [0.1, 0.0, -1.0, 61.0])
def test_fragment_seconds_is_checked(synthetic_clip: Path, seconds: float) -> None:
    with pytest.raises(ValueError, match=r"fragment_seconds must be within 0\.25\.\.60"):
        fragment_file(synthetic_clip, seconds)
