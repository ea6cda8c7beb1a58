"""Data channel messages: layouts, framing and reassembly; the parser never crashes."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vault.wire.datachannel import (
    MAX_FRAME_DATA,
    MAX_MESSAGE_SIZE,
    MAX_RANGES_PER_WELCOME,
    ChunkFrame,
    ErrorMessage,
    Hello,
    Message,
    Reassembler,
    ReceiptMessage,
    Welcome,
    index_ranges,
    parse_message,
    split_chunk,
    welcome_messages,
)
from vault.wire.errors import ErrorCode, RelayError


def test_byte_layouts_match_the_spec() -> None:
    assert bytes(Hello(b"HDR")) == b"\x01\x01HDR"
    assert bytes(ChunkFrame(7, 10, 4, b"abc")) == (
        b"\x02" + (7).to_bytes(4, "big") + (10).to_bytes(4, "big") + (4).to_bytes(4, "big") + b"abc"
    )
    assert bytes(Welcome(((0, 3), (5, 5)), more=True)) == (
        b"\x81\x01\x00\x02" + bytes.fromhex("00000000 00000003 00000005 00000005")
    )
    assert bytes(ReceiptMessage(bytes(160), duplicate=True)) == b"\x82\x01" + bytes(160)
    assert bytes(ErrorMessage(8, "no", 3, fatal=False)) == b"\x83\x00\x08\x00\x00\x00\x03\x00no"
    assert bytes(ErrorMessage(1, "x"))[3:7] == b"\xff\xff\xff\xff"
    assert MAX_FRAME_DATA == 65523
    assert MAX_RANGES_PER_WELCOME == 8191


@pytest.mark.parametrize(
    "message",
    [
        Hello(b"x" * 100),
        ChunkFrame(2**31 - 1, 5, 0, b"12345"),
        Welcome(()),
        Welcome(((0, 0), (2, 9)), more=True),
        ReceiptMessage(bytes(range(160)), duplicate=False),
        ErrorMessage(5, "the chunk failed authentication", 9, fatal=False),
        ErrorMessage(11, "busy", None, fatal=True),
    ],
)
def test_messages_round_trip(message: Message) -> None:
    data = bytes(message)
    assert len(data) <= MAX_MESSAGE_SIZE
    assert parse_message(data) == message


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", ErrorCode.MALFORMED),
        ("text", ErrorCode.MALFORMED),
        (b"\x09", ErrorCode.MALFORMED),
        (b"\x01\x02header", ErrorCode.UNSUPPORTED_VERSION),
        (b"\x01", ErrorCode.MALFORMED),
        (b"\x02\x00\x00\x00", ErrorCode.MALFORMED),
        (bytes(ChunkFrame(0, 3, 0, b"abc"))[:-3], ErrorCode.MALFORMED),  # empty data
        (b"\x02" + bytes(4) + (2).to_bytes(4, "big") + bytes(4) + b"abc", ErrorCode.MALFORMED),
        (b"\x02" + b"\x80" + bytes(11) + b"a", ErrorCode.MALFORMED),  # index >= 2**31
        (b"\x81\x00\x00\x01", ErrorCode.MALFORMED),
        (b"\x82\x00" + bytes(159), ErrorCode.MALFORMED),
        (b"\x83\x00\x01\x00\x00\x00\x00\x00\xff", ErrorCode.MALFORMED),
        (b"\x02" + bytes(MAX_MESSAGE_SIZE), ErrorCode.MALFORMED),
    ],
)
def test_malformed_messages_get_a_clear_error(data: bytes | str, code: ErrorCode) -> None:
    with pytest.raises(RelayError) as caught:
        parse_message(data)
    assert caught.value.code is code
    assert str(caught.value)


def test_welcome_splits_many_ranges() -> None:
    indices = range(0, 2 * (MAX_RANGES_PER_WELCOME + 5), 2)  # every other index: no runs
    ranges = index_ranges(indices)
    messages = welcome_messages(ranges)
    assert [m.more for m in messages] == [True, False]
    assert all(len(bytes(m)) <= MAX_MESSAGE_SIZE for m in messages)
    assert [r for m in messages for r in m.ranges] == ranges
    assert welcome_messages([]) == [Welcome(())]
    assert index_ranges([0, 1, 2, 5, 6, 9]) == [(0, 2), (5, 6), (9, 9)]


def test_split_and_reassemble_a_large_chunk() -> None:
    chunk = bytes(range(256)) * 700  # 179 200 bytes: three frames
    frames = list(split_chunk(4, chunk))
    assert len(frames) == 3
    assert all(len(bytes(f)) <= MAX_MESSAGE_SIZE for f in frames)
    reassembler = Reassembler(max_chunk_bytes=len(chunk))
    parsed = [parse_message(bytes(f)) for f in frames]
    assert all(isinstance(frame, ChunkFrame) for frame in parsed)
    results = [reassembler.feed(frame) for frame in parsed if isinstance(frame, ChunkFrame)]
    assert results[:2] == [None, None]
    assert results[2] == chunk
    assert reassembler.buffered == 0


def test_oversize_chunk_is_refused_at_its_first_frame_and_skipped() -> None:
    chunk = bytes(200_000)
    reassembler = Reassembler(max_chunk_bytes=100_000)
    frames = list(split_chunk(1, chunk))
    with pytest.raises(RelayError) as caught:
        reassembler.feed(frames[0])
    assert caught.value.code is ErrorCode.TOO_LARGE
    assert caught.value.index == 1
    assert [reassembler.feed(f) for f in frames[1:]] == [None] * (len(frames) - 1)
    assert reassembler.buffered == 0
    small = bytes(10)
    assert reassembler.feed(ChunkFrame(2, 10, 0, small)) == small  # the next chunk goes on


@pytest.mark.parametrize(
    "second",
    [ChunkFrame(1, 10, 3, b"def"), ChunkFrame(0, 11, 3, b"def"), ChunkFrame(0, 10, 4, b"def")],
)
def test_interleaved_or_out_of_order_frames_are_malformed(second: ChunkFrame) -> None:
    reassembler = Reassembler(max_chunk_bytes=100)
    assert reassembler.feed(ChunkFrame(0, 10, 0, b"abc")) is None
    with pytest.raises(RelayError) as caught:
        reassembler.feed(second)
    assert caught.value.code is ErrorCode.MALFORMED
    with pytest.raises(RelayError, match="offset 0"):
        Reassembler(100).feed(ChunkFrame(0, 10, 3, b"abc"))


@settings(max_examples=500, deadline=None)
def parsed_or_refused(data: bytes) -> Message | RelayError:
    try:
        return parse_message(data)
    except RelayError as error:
        return error


@given(
    st.one_of(
        st.binary(max_size=300),
        st.binary(min_size=1, max_size=300).map(
            lambda b: bytes([b[0] % 4 + 0x80 if b[0] & 1 else b[0] % 3]) + b[1:]
        ),
    )
)
def test_parser_never_crashes(data: bytes) -> None:
    result = parsed_or_refused(data)
    if isinstance(result, RelayError):
        assert result.code in (ErrorCode.MALFORMED, ErrorCode.UNSUPPORTED_VERSION)
        assert str(result)
    else:
        assert bytes(result) == data  # accepted means canonical


frame_fields = st.builds(
    lambda kind, index, total, offset, data: (
        bytes([kind])
        + index.to_bytes(4, "big")
        + total.to_bytes(4, "big")
        + offset.to_bytes(4, "big")
        + data
    ),
    st.sampled_from([0x02]),
    st.integers(0, 3),
    st.integers(0, 40),
    st.integers(0, 40),
    st.binary(max_size=20),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(frame_fields, max_size=30))
def test_reassembler_never_crashes_and_never_exceeds_its_limit(raw_frames: list[bytes]) -> None:
    reassembler = Reassembler(max_chunk_bytes=30)
    codes = []
    for raw in raw_frames:
        try:
            frame = parse_message(raw)
            assert isinstance(frame, ChunkFrame)
            chunk = reassembler.feed(frame)
        except RelayError as error:
            codes.append(error.code)
            continue
        if chunk is not None:
            assert len(chunk) == frame.total_length <= 30
        assert reassembler.buffered <= 40
    assert set(codes) <= {ErrorCode.MALFORMED, ErrorCode.TOO_LARGE}
