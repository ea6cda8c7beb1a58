"""Fragment times come from the packets, and equal what the muxer wrote into the boxes.

`box_times` below is a small parser of its own (``tkhd``/``mdhd``/``hdlr``/``trex`` in
``moov``, ``tfhd``/``tfdt``/``trun`` in each ``moof``) that reads the times FFmpeg wrote;
the times capture/ gives each fragment (found from the packets by
capture/fragment_clock.py) must be exactly those, on every kind of recording.
"""

import itertools
import struct
import subprocess
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import pytest

from capture.encoder import CaptureConfig, LiveEncoder, encode_source
from capture.fragment_clock import FragmentClock, FragmentTime, round_near_inf
from capture.fragmenter import fragment_file
from capture.segments import MediaSegment, SegmentKind
from capture.sources import SyntheticSource

AAC_PRIMING_SECONDS = 1024 / 48_000
"""The AAC encoder's delay, which shifts every track (an empty moov has no edit list)."""


# --- an independent reading of the times in the boxes ------------------------------------


def boxes(data: bytes) -> Iterator[tuple[str, bytes]]:
    offset = 0
    while offset < len(data):
        size, kind = struct.unpack_from(">I4s", data, offset)
        header = 8
        if size == 1:
            (size,) = struct.unpack_from(">Q", data, offset + 8)
            header = 16
        yield kind.decode("latin-1"), data[offset + header : offset + size]
        offset += size


def first(data: bytes, *path: str) -> bytes:
    for name in path:
        data = next(payload for kind, payload in boxes(data) if kind == name)
    return data


def version_field(payload: bytes, v0_offset: int, v1_offset: int) -> int:
    """A u32 of a full box at different offsets in versions 0 and 1."""
    offset = v1_offset if payload[0] == 1 else v0_offset
    return int(struct.unpack_from(">I", payload, offset)[0])


def box_times(segments: list[MediaSegment]) -> list[tuple[float, float]]:
    """(start, duration) of each fragment's reference track, as written in its moof."""
    moov = first(segments[0].data, "moov")
    tracks = {}  # track_ID -> (handler, timescale)
    for kind, trak in boxes(moov):
        if kind == "trak":
            track_id = version_field(first(trak, "tkhd"), 12, 20)
            timescale = version_field(first(trak, "mdia", "mdhd"), 12, 20)
            tracks[track_id] = (first(trak, "mdia", "hdlr")[8:12], timescale)
    trex_durations = {}
    for kind, trex in boxes(first(moov, "mvex")):
        if kind == "trex":
            track_id, _, duration = struct.unpack_from(">III", trex, 4)
            trex_durations[track_id] = duration
    times = []
    for segment in segments[1:]:
        found = []
        for kind, traf in boxes(first(segment.data, "moof")):
            if kind != "traf":
                continue
            tfhd = first(traf, "tfhd")
            flags = int.from_bytes(tfhd[1:4], "big")
            (track_id,) = struct.unpack_from(">I", tfhd, 4)
            offset = 8 + 8 * bool(flags & 0x01) + 4 * bool(flags & 0x02)
            default = trex_durations.get(track_id, 0)
            if flags & 0x08:
                (default,) = struct.unpack_from(">I", tfhd, offset)
            tfdt = first(traf, "tfdt")
            start = struct.unpack_from(">Q" if tfdt[0] == 1 else ">I", tfdt, 4)[0]
            ticks = 0
            for run_kind, trun in boxes(traf):
                if run_kind != "trun":
                    continue
                run_flags = int.from_bytes(trun[1:4], "big")
                (count,) = struct.unpack_from(">I", trun, 4)
                at = 8 + 4 * bool(run_flags & 0x001) + 4 * bool(run_flags & 0x004)
                fields = sum(bool(run_flags & bit) for bit in (0x100, 0x200, 0x400, 0x800))
                if run_flags & 0x100:
                    ticks += sum(
                        struct.unpack_from(">I", trun, at + 4 * fields * i)[0] for i in range(count)
                    )
                else:
                    ticks += count * default
            handler, timescale = tracks[track_id]
            found.append((handler, start, ticks, timescale))
        handler, start, ticks, timescale = next(
            (track for track in found if track[0] == b"vide"), found[0]
        )
        times.append((start / timescale, ticks / timescale))
    return times


def packet_times(segments: list[MediaSegment]) -> list[tuple[float, float]]:
    assert segments[0].kind is SegmentKind.INIT
    assert all(segment.kind is SegmentKind.FRAGMENT for segment in segments[1:])
    return [(segment.start_seconds, segment.duration_seconds) for segment in segments[1:]]


# --- recordings ----------------------------------------------------------------------------


def encoded(
    fps: int,
    fragment_seconds: float,
    *,
    video: bool = True,
    frames: bool = True,
    audio: bool = True,
    start: float = 0,
) -> list[MediaSegment]:
    """Three seconds of the synthetic pattern encoded live, its clock starting at `start`
    (`frames=False`: a video track that gets no frame)."""
    source = SyntheticSource(160, 96, fps, audio=audio, seconds=3.0, realtime=False)
    config = CaptureConfig(160, 96, fps, bitrate=200_000, fragment_seconds=fragment_seconds)
    encoder = LiveEncoder(config, source.video_format if video else None, source.audio_format)
    segments = [encoder.init_segment]
    for frame in source.frames():
        if isinstance(frame, av.VideoFrame) and not (video and frames):
            continue
        assert frame.pts is not None
        assert frame.time_base is not None
        frame.pts += round(start / frame.time_base)
        segments += encoder.push(frame)
    segments += encoder.finish()
    source.close()
    return segments


RECORDINGS = {
    "video and audio, 0.25 s": lambda: encoded(30, 0.25),
    "a camera that never delivers a frame": lambda: encoded(30, 0.5, frames=False),
    "video only, 1 s at 24 fps": lambda: encoded(24, 1.0, audio=False),
    "audio only, 0.5 s": lambda: encoded(30, 0.5, video=False),
    "a camera clock far from 0": lambda: encoded(25, 0.5, start=1000.123),
}


@pytest.mark.parametrize("recording", list(RECORDINGS))
def test_live_fragment_times_are_the_times_in_the_boxes(recording: str) -> None:
    segments = RECORDINGS[recording]()
    assert len(segments) >= 2
    assert packet_times(segments) == box_times(segments)


@pytest.fixture(scope="module")
def b_frame_clip(tmp_path_factory: pytest.TempPathFactory, ffmpeg_exe: str) -> Path:
    """H.264 with B-frames (negative first dts) and a keyframe every 0.5 s, AAC at 44.1 kHz,
    timestamps starting at 5 s."""
    path = tmp_path_factory.mktemp("media") / "b-frames.mp4"
    video = ["-f", "lavfi", "-i", "testsrc2=size=160x96:rate=30:duration=3"]
    audio = ["-f", "lavfi", "-i", "sine=sample_rate=44100:duration=3"]
    codecs = ["-c:v", "libx264", "-g", "15", "-bf", "2", "-c:a", "aac"]
    subprocess.run(
        [ffmpeg_exe, "-v", "error", *video, *audio, *codecs, "-output_ts_offset", "5", str(path)],
        check=True,
        timeout=60,
    )
    return path


@pytest.mark.parametrize("fragment_seconds", [1.0, 0.5])
def test_remuxed_fragment_times_are_the_times_in_the_boxes(
    b_frame_clip: Path, synthetic_clip: Path, fragment_seconds: float
) -> None:
    for clip in (b_frame_clip, synthetic_clip):
        with fragment_file(clip, fragment_seconds) as media:
            assert media.remuxed
            segments = list(media.segments)
        assert len(segments) > 3
        assert packet_times(segments) == box_times(segments)


def test_fragments_follow_each_other_at_the_frame_rate() -> None:
    fragments = encode_source(
        SyntheticSource(160, 96, 30, seconds=1.0, realtime=False),
        CaptureConfig(160, 96, 30, bitrate=200_000, fragment_seconds=0.25),
    )
    times = packet_times(list(fragments))
    for (start, duration), (after, _) in itertools.pairwise(times):
        assert after == pytest.approx(start + duration, abs=1e-9)
    # The first video frame sits after the AAC priming shift, moved back to 0.
    assert times[0][0] == 0.0
    end = times[-1][0] + times[-1][1]
    assert end == pytest.approx(1.0 + AAC_PRIMING_SECONDS, abs=1e-3)
    assert all(duration == pytest.approx(0.25, abs=0.03) for _, duration in times)
    # Without audio nothing is shifted: 1 s fragments of 24 frames each.
    video_only = packet_times(encoded(24, 1.0, audio=False))
    assert video_only == [(0.0, 1.0), (1.0, 1.0), (2.0, 1.0)]


# --- the clock on its own ------------------------------------------------------------------

TICK = Fraction(1, 1000)


def clock(cut_microseconds: int = 500_000, *, keyframes: bool = True) -> FragmentClock:
    return FragmentClock(
        0, TICK, cut_microseconds=cut_microseconds, cut_at_keyframes=keyframes, default_duration=40
    )


def test_the_earliest_stream_sets_the_shift_and_the_first_sample_moves_to_zero() -> None:
    times = clock()
    times.add(1, -21, 21, TICK, keyframe=True)  # audio priming: everything moves 21 ms later
    for dts in range(0, 1200, 100):
        times.add(0, dts, 100, TICK, keyframe=dts % 500 == 0)
    assert times.next_fragment(final=False) == FragmentTime(0.0, 0.521)
    assert times.next_fragment(final=False) == FragmentTime(0.521, 0.5)
    assert times.next_fragment(final=True) == FragmentTime(1.021, 0.2)


def test_a_keyframe_too_early_does_not_cut() -> None:
    times = clock(cut_microseconds=450_000)
    for dts in range(0, 1000, 100):
        times.add(0, dts, 0, TICK, keyframe=dts in (0, 300, 500, 700))
    assert times.next_fragment(final=False) == FragmentTime(0.0, 0.5)  # not at 0.3
    # the last packet has no duration: it lasts default_duration, 40 ticks
    assert times.next_fragment(final=True) == FragmentTime(0.5, 0.44)


def test_cutting_by_time_cuts_at_any_packet() -> None:
    times = clock(cut_microseconds=250_000, keyframes=False)
    for dts in range(1000, 1600, 100):
        times.add(0, dts, 100, TICK, keyframe=False)
    assert times.next_fragment(final=False) == FragmentTime(0.0, 0.3)
    assert times.next_fragment(final=True) == FragmentTime(0.3, 0.3)


def test_the_cut_is_measured_in_whole_microseconds_rounded_to_nearest() -> None:
    nanosecond = Fraction(1, 10**9)
    times = FragmentClock(
        0, nanosecond, cut_microseconds=2, cut_at_keyframes=True, default_duration=1
    )
    for dts in (0, 1499, 1500, 2000):
        times.add(0, dts, 1, nanosecond, keyframe=True)
    # 1.499 µs rounds to 1 µs, too short; 1.5 µs rounds to 2 µs
    assert times.next_fragment(final=False) == FragmentTime(0.0, 1500e-9)


def test_a_cut_the_rules_do_not_explain_is_put_at_the_last_place_it_could_be() -> None:
    times = clock()
    for dts in range(0, 400, 100):
        times.add(0, dts, 100, TICK, keyframe=dts in (0, 100, 200))
    assert times.next_fragment(final=False) == FragmentTime(0.0, 0.2)  # 0.2 < 0.5 s
    assert times.next_fragment(final=False) == FragmentTime(0.2, 0.2)  # no keyframe left
    with pytest.raises(RuntimeError, match="without samples"):
        times.next_fragment(final=True)


def test_a_fragment_without_video_is_timed_by_the_first_other_track() -> None:
    times = clock()
    audio = Fraction(1, 48_000)
    for index in range(50):
        times.add(1, 1024 * index - 1024, 1024, audio, keyframe=True)
    times.add(2, 0, 0, TICK, keyframe=True)
    assert times.next_fragment(final=True) == FragmentTime(0.0, 50 * 1024 / 48_000)


def test_round_near_inf_rounds_halves_away_from_zero() -> None:
    assert [round_near_inf(Fraction(n, 2)) for n in (-3, -1, 1, 3, 4)] == [-2, -1, 1, 2, 2]
