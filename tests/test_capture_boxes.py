"""The streaming box splitter and the segment grouper (times: test_capture_fragment_clock.py)."""

import functools
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from capture import isobmff
from capture.boxes import Box, BoxSplitter, SegmentGrouper, SegmentStream
from capture.encoder import CaptureConfig, encode_source
from capture.segments import SegmentKind
from capture.sources import SyntheticSource


def box(box_type: str, payload: bytes = b"") -> bytes:
    return struct.pack(">I4s", 8 + len(payload), box_type.encode("latin-1")) + payload


def large_box(box_type: str, payload: bytes = b"") -> bytes:
    header = struct.pack(">I4sQ", 1, box_type.encode("latin-1"), 16 + len(payload))
    return header + payload


@functools.cache
def fragmented_stream() -> bytes:
    """One second of real fragmented MP4 (init + four 0.25 s fragments)."""
    source = SyntheticSource(160, 96, 30, seconds=1.0, realtime=False)
    config = CaptureConfig(160, 96, 30, bitrate=200_000, fragment_seconds=0.25)
    return b"".join(segment.data for segment in encode_source(source, config))


# --- BoxSplitter -------------------------------------------------------------------------


def test_splitter_returns_whole_boxes_in_order() -> None:
    data = box("ftyp", b"isom") + large_box("mdat", b"x" * 20) + box("free")
    boxes = BoxSplitter().feed(data)
    assert [b.type for b in boxes] == ["ftyp", "mdat", "free"]
    assert b"".join(bytes(b) for b in boxes) == data
    assert boxes[1].header_size == 16
    assert boxes[1].payload == b"x" * 20


def test_splitter_waits_for_the_rest_of_a_box() -> None:
    data = box("moof", b"abcdef")
    splitter = BoxSplitter()
    assert splitter.feed(data[:5]) == []
    assert splitter.feed(data[5:-1]) == []
    assert splitter.pending == len(data) - 1
    assert splitter.feed(data[-1:]) == [Box("moof", data)]
    assert splitter.pending == 0
    splitter.close()


@given(cuts=st.lists(st.integers(min_value=0, max_value=10**9), max_size=40))
def test_splitter_result_does_not_depend_on_how_the_stream_is_cut(cuts: list[int]) -> None:
    data = fragmented_stream() + large_box("free", b"tail")
    points = sorted({cut % (len(data) + 1) for cut in cuts})
    pieces = [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]
    whole = BoxSplitter().feed(data)
    splitter = BoxSplitter()
    pieced = [found for piece in pieces for found in splitter.feed(piece)]
    splitter.close()
    assert pieced == whole
    assert b"".join(b.data for b in pieced) == data


def test_splitter_byte_by_byte_equals_all_at_once() -> None:
    data = fragmented_stream()
    splitter = BoxSplitter()
    pieced = [found for i in range(len(data)) for found in splitter.feed(data[i : i + 1])]
    assert pieced == BoxSplitter().feed(data)
    assert [b.type for b in pieced[:2]] == ["ftyp", "moov"]


@pytest.mark.parametrize("size", [2, 3, 7])
def test_splitter_rejects_32_bit_size_below_header(size: int) -> None:
    data = box("ftyp", b"isom") + struct.pack(">I4s", size, b"moov") + b"\0" * 16
    with pytest.raises(ValueError, match=rf"'moov' at offset 0: size {size} is smaller than"):
        BoxSplitter().feed(data)


def test_splitter_error_names_the_stream_offset() -> None:
    data = box("ftyp", b"isom") + struct.pack(">I4s", 5, b"moov")
    with pytest.raises(ValueError, match=r"stream offset 12: box 'moov'"):
        BoxSplitter().feed(data)


@pytest.mark.parametrize("large", [0, 8, 15])
def test_splitter_rejects_64_bit_size_below_header(large: int) -> None:
    data = struct.pack(">I4sQ", 1, b"mdat", large)
    with pytest.raises(ValueError, match=rf"64-bit size {large} is smaller than its 16-byte"):
        BoxSplitter().feed(data)


def test_splitter_rejects_size_zero() -> None:
    with pytest.raises(ValueError, match=r"'mdat' at stream offset 0 has size 0"):
        BoxSplitter().feed(struct.pack(">I4s", 0, b"mdat"))


def test_splitter_rejects_boxes_over_the_limit() -> None:
    splitter = BoxSplitter(max_box_size=1024)
    with pytest.raises(ValueError, match=r"declares 1025 bytes, more than the 1024-byte limit"):
        splitter.feed(struct.pack(">I4s", 1025, b"mdat"))


def test_splitter_close_rejects_a_partial_box() -> None:
    splitter = BoxSplitter()
    splitter.feed(box("ftyp", b"isom") + box("moov", b"abc")[:9])
    with pytest.raises(ValueError, match=r"9 bytes at offset 12 do not form a complete box"):
        splitter.close()


def test_box_parse_round_trip_and_checks() -> None:
    data = box("styp", b"msdh")
    assert bytes(Box.parse(data)) == data
    with pytest.raises(ValueError, match="header says 12 bytes, have 13"):
        Box("styp", data + b"x")
    with pytest.raises(ValueError, match="shorter than a header"):
        Box("styp", data[:7])
    with pytest.raises(ValueError, match="does not match header type"):
        Box("moof", data)


# --- SegmentGrouper ----------------------------------------------------------------------


def test_stream_groups_init_and_fragments_and_keeps_every_byte() -> None:
    data = fragmented_stream()
    stream = SegmentStream()
    segments = stream.feed(data)
    stream.close()
    assert [s.kind for s in segments] == [SegmentKind.INIT] + [SegmentKind.FRAGMENT] * 4
    assert b"".join(s.data for s in segments) == data
    assert [b.type for b in BoxSplitter().feed(segments[0].data)] == ["ftyp", "moov"]
    for fragment in segments[1:]:
        types = [b.type for b in BoxSplitter().feed(fragment.data)]
        assert types == ["moof", "mdat"]


def test_init_is_emitted_as_soon_as_moov_completes() -> None:
    data = fragmented_stream()
    boxes = BoxSplitter().feed(data)
    grouper = SegmentGrouper()
    assert grouper.push(boxes[0]) is None
    init = grouper.push(boxes[1])
    assert init is not None
    assert init.kind is SegmentKind.INIT
    assert init.data == boxes[0].data + boxes[1].data


def test_prefix_boxes_ride_with_their_fragment() -> None:
    boxes = BoxSplitter().feed(fragmented_stream())
    grouper = SegmentGrouper()
    for found in boxes[:2]:
        grouper.push(found)
    styp = Box.parse(box("styp", b"msdh"))
    assert grouper.push(styp) is None
    assert grouper.push(boxes[2]) is None
    fragment = grouper.push(boxes[3])
    assert fragment is not None
    assert fragment.data == styp.data + boxes[2].data + boxes[3].data


def test_grouper_rejects_fragments_before_moov() -> None:
    with pytest.raises(ValueError, match="'moof' box before moov"):
        SegmentGrouper().push(Box.parse(box("moof")))


def test_grouper_close_rejects_moof_without_mdat() -> None:
    boxes = BoxSplitter().feed(fragmented_stream())
    grouper = SegmentGrouper()
    for found in boxes[:3]:
        grouper.push(found)
    assert boxes[2].type == "moof"
    with pytest.raises(ValueError, match=r"boxes \['moof'\] have no mdat"):
        grouper.close()


def test_grouper_close_drops_trailing_index_boxes() -> None:
    boxes = BoxSplitter().feed(fragmented_stream())
    grouper = SegmentGrouper()
    for found in boxes:
        grouper.push(found)
    assert grouper.push(Box.parse(box("mfra", b"index"))) is None
    grouper.close()


def test_grouper_close_rejects_stream_without_moov() -> None:
    grouper = SegmentGrouper()
    grouper.push(Box.parse(box("ftyp", b"isom")))
    with pytest.raises(ValueError, match="before its moov box"):
        grouper.close()


# --- isobmff ------------------------------------------------------------------------------


def test_iter_children_rejects_overrun() -> None:
    with pytest.raises(ValueError, match="runs past the end of its 12-byte parent"):
        list(isobmff.iter_children(struct.pack(">I4s", 20, b"trak") + b"abcd"))
