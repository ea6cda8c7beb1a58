"""Properties of the sealed recording format under arbitrary damage (Hypothesis).

* Nothing but the original bytes verifies as complete, whatever is dropped, duplicated,
  reordered, flipped or cut off.
* A recording cut off after any chunk verifies as incomplete, "interrupted after" its last
  chunk, and everything before the cut opens.
* Any set of lost middle chunks is named exactly, and every other chunk still opens.
* The parsers raise nothing but MalformedError, and what they accept re-encodes exactly.
"""

import io

from hypothesis import given, settings
from hypothesis import strategies as st

import vault
from tests.vectors.generate import ME, sealed, standard
from vault import Chunk, Header, MalformedError, Status

FAST = settings(max_examples=200, deadline=None)

SMALL = sealed(standard(6))  # chunks 0..7: init, 6 fragments, end
SMALL_FILE = SMALL.file()
LARGE = sealed(standard(18))  # chunks 0..19
LARGE_MIDDLE = range(1, len(LARGE.chunks) - 1)


class Opened:
    """A `sink=` that keeps (index, plaintext) pairs."""

    def __init__(self) -> None:
        self.chunks: list[tuple[int, bytes | None]] = []

    def __call__(self, chunk: Chunk, plaintext: bytes | None) -> None:
        self.chunks.append((chunk.index, plaintext))


def verify(data: bytes, *, with_key: bool = True) -> vault.VerifyReport | None:
    """The report, or None when the header is refused (a header failure)."""
    try:
        return vault.verify_stream(io.BytesIO(data), [ME] if with_key else None, workers=1)
    except (vault.MalformedError, vault.TamperedError):
        return None


@st.composite
def damaged(draw: st.DrawFn) -> bytes:
    """SMALL after a few chunk-level and byte-level operations."""
    chunks = list(SMALL.chunks)
    for _ in range(draw(st.integers(0, 4))):
        operation = draw(st.sampled_from(["drop", "duplicate", "move", "swap"]))
        if not chunks:
            break
        i = draw(st.integers(0, len(chunks) - 1))
        j = draw(st.integers(0, len(chunks) - 1))
        if operation == "drop":
            del chunks[i]
        elif operation == "duplicate":
            chunks.insert(j, chunks[i])
        elif operation == "move":
            chunks.insert(j, chunks.pop(i))
        else:
            chunks[i], chunks[j] = chunks[j], chunks[i]
    data = bytearray(SMALL.header + b"".join(chunks))
    for _ in range(draw(st.integers(0, 3))):
        operation = draw(st.sampled_from(["flip", "truncate", "append"]))
        if operation == "flip" and data:
            offset = draw(st.integers(0, len(data) - 1))
            data[offset] ^= 1 << draw(st.integers(0, 7))
        elif operation == "truncate" and data:
            del data[draw(st.integers(0, len(data) - 1)) :]
        elif operation == "append":
            data += draw(st.sampled_from([b"\x00", b"tgck", SMALL.chunks[-1][:200]]))
    return bytes(data)


@FAST
@given(damaged())
def test_only_the_original_verifies_as_complete(data: bytes) -> None:
    for with_key in (True, False):
        report = verify(data, with_key=with_key)
        complete = report is not None and report.status is Status.COMPLETE
        assert complete == (data == SMALL_FILE)


@FAST
@given(st.integers(0, len(SMALL.chunks)))
def test_a_recording_cut_after_any_chunk_is_interrupted_there(count: int) -> None:
    sink = Opened()
    report = vault.verify_stream(io.BytesIO(SMALL.file(range(count))), [ME], sink=sink)
    assert report.missing_indices == []
    assert sink.chunks == list(SMALL.all_opened()[:count])
    if count == len(SMALL.chunks):
        assert report.status is Status.COMPLETE
        assert report.interrupted_after is None
    else:
        assert report.status is Status.INCOMPLETE
        assert report.interrupted_after == (count - 1 if count else None)


@FAST
@given(st.sets(st.sampled_from(LARGE_MIDDLE)))
def test_lost_middle_chunks_are_named_and_the_rest_opens(lost: set[int]) -> None:
    kept = [i for i in range(len(LARGE.chunks)) if i not in lost]
    sink = Opened()
    report = vault.verify_stream(io.BytesIO(LARGE.file(kept)), [ME], sink=sink, workers=1)
    assert report.missing_indices == sorted(lost)
    assert report.status is (Status.INCOMPLETE if lost else Status.COMPLETE)
    assert report.interrupted_after is None
    assert report.final_index == len(LARGE.chunks) - 1
    assert sink.chunks == list(LARGE.opened(kept))


def _mutations(valid: bytes) -> st.SearchStrategy[bytes]:
    @st.composite
    def mutate(draw: st.DrawFn) -> bytes:
        data = bytearray(valid)
        for _ in range(draw(st.integers(1, 4))):
            offset = draw(st.integers(0, len(data)))
            operation = draw(st.sampled_from(["flip", "set", "cut", "insert"]))
            if operation == "flip" and offset < len(data):
                data[offset] ^= 1 << draw(st.integers(0, 7))
            elif operation == "set" and offset < len(data):
                data[offset] = draw(st.sampled_from([0x00, 0x01, 0x40, 0x7F, 0x80, 0xFF]))
            elif operation == "cut":
                del data[offset:]
            else:
                data[offset:offset] = draw(st.binary(min_size=1, max_size=8))
        return bytes(data)

    return mutate()


HEADER_INPUTS = st.one_of(
    st.binary(max_size=400),
    st.binary(max_size=400).map(lambda tail: b"testigo/v1\n" + tail),
    _mutations(SMALL.header),
)
CHUNK_INPUTS = st.one_of(
    st.binary(max_size=400),
    st.binary(max_size=400).map(lambda tail: b"tgck" + tail),
    _mutations(SMALL.chunks[1]),
)


@FAST
@given(HEADER_INPUTS)
def test_header_parse_raises_only_malformed(data: bytes) -> None:
    try:
        header = Header.parse(data)
    except MalformedError:
        return
    assert bytes(header) == data


@FAST
@given(CHUNK_INPUTS)
def test_chunk_parse_raises_only_malformed(data: bytes) -> None:
    try:
        chunk = Chunk.parse(data)
    except MalformedError:
        return
    assert bytes(chunk) == data
