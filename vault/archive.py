"""Reading and writing recording files: a header, then chunks in index order.

Reading streams in constant memory; chunk checks run on a small thread pool (libsodium
releases the GIL), the sequence checks run in file order.
"""

import os
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from vault.errors import MalformedError, NotAChunkError, TestigoError
from vault.format import (
    CHUNK_PREAMBLE_SIZE,
    HEADER_MAX_SIZE,
    Chunk,
    Header,
)
from vault.identity import RecipientIdentity
from vault.open import RecordingOpener
from vault.spool import find_recording
from vault.verify import ChunkCheck, RawChunk, RecordingVerifier, VerifyReport

# Called with each valid chunk and its plaintext (None when no identity was given).
ChunkSink = Callable[[Chunk, bytes | None], None]
ProgressCallback = Callable[[int], None]


@dataclass(frozen=True)
class FramingError:
    """The file stops making sense at `offset`; nothing after it is read."""

    offset: int
    message: str


def read_header(stream: BinaryIO) -> tuple[Header, bytes]:
    """Parse the header at the start of stream; returns it and the bytes read past it."""
    data = stream.read(HEADER_MAX_SIZE)
    header, length = Header.parse_prefix(data)
    return header, data[length:]


def iter_chunks(stream: BinaryIO, leftover: bytes = b"") -> Iterator[RawChunk | FramingError]:
    """Yield each chunk as read; a FramingError ends the iteration."""
    pending = leftover
    offset = 0

    def read(size: int) -> bytes:
        nonlocal pending
        if pending:
            head, pending = pending[:size], pending[size:]
            if len(head) == size:
                return head
            return head + _read_exactly(stream, size - len(head))
        return _read_exactly(stream, size)

    while True:
        preamble = read(CHUNK_PREAMBLE_SIZE)
        if not preamble:
            return
        if len(preamble) < CHUNK_PREAMBLE_SIZE:
            yield FramingError(offset, "the file ends inside a chunk (truncated)")
            return
        try:
            _index, length = Chunk.parse_preamble(preamble)
        except NotAChunkError:
            yield FramingError(offset, "unexpected bytes after the last chunk (trailing garbage)")
            return
        except MalformedError as error:
            yield FramingError(offset, str(error))
            return
        ciphertext = read(length)
        if len(ciphertext) < length:
            yield FramingError(offset, "the file ends inside a chunk (truncated)")
            return
        yield RawChunk(preamble, ciphertext)
        offset += CHUNK_PREAMBLE_SIZE + length


def _read_exactly(stream: BinaryIO, size: int) -> bytes:
    """Up to size bytes; fewer only at the end of the stream."""
    data = stream.read(size)
    if len(data) == size or not data:
        return data
    parts = [data]
    missing = size - len(data)
    while missing:
        more = stream.read(missing)
        if not more:
            break
        parts.append(more)
        missing -= len(more)
    return b"".join(parts)


def _pipelined(
    check: Callable[[RawChunk], ChunkCheck],
    items: Iterator[RawChunk | FramingError],
    workers: int,
) -> Iterator[ChunkCheck | FramingError]:
    """Run check over items on a thread pool, yielding results in input order."""
    if workers <= 1:
        for item in items:
            yield item if isinstance(item, FramingError) else check(item)
        return
    window = workers * 4
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="verify") as pool:
        pending: deque[Future[ChunkCheck] | FramingError] = deque()
        for item in items:
            pending.append(item if isinstance(item, FramingError) else pool.submit(check, item))
            while len(pending) > window:
                head = pending.popleft()
                yield head if isinstance(head, FramingError) else head.result()
        while pending:
            head = pending.popleft()
            yield head if isinstance(head, FramingError) else head.result()


def default_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def verify_chunks(
    header: Header,
    chunks: Iterator[RawChunk | FramingError],
    identities: list[RecipientIdentity] | None = None,
    *,
    sink: ChunkSink | None = None,
    progress: ProgressCallback | None = None,
    workers: int | None = None,
) -> VerifyReport:
    """Verify (and with identities, open) a recording given as a header and its chunks.

    Raises TamperedError when the header signature fails and NotForMeError when
    identities are given but none opens the recording. Problems with chunks do not
    raise: they are in the report, and every valid chunk still reaches `sink`.
    """
    # Both check the header signature first (TamperedError), the opener before any stanza.
    opener = RecordingOpener(header, identities) if identities else None
    verifier = RecordingVerifier(header, opener)
    header_size = len(bytes(header))
    if progress is not None:
        progress(header_size)
    for result in _pipelined(verifier.check, chunks, workers or default_workers()):
        if isinstance(result, FramingError):
            verifier.framing_error(f"at byte {header_size + result.offset}: {result.message}")
            break
        if progress is not None:
            progress(result.size)
        if verifier.accept(result) and sink is not None and result.chunk is not None:
            sink(result.chunk, result.plaintext)
    return verifier.report


def verify_stream(
    stream: BinaryIO,
    identities: list[RecipientIdentity] | None = None,
    *,
    sink: ChunkSink | None = None,
    progress: ProgressCallback | None = None,
    workers: int | None = None,
) -> VerifyReport:
    """Verify a recording file read from stream (see verify_chunks).

    Raises MalformedError when the header does not parse.
    """
    header, leftover = read_header(stream)
    return verify_chunks(
        header,
        iter_chunks(stream, leftover),
        identities,
        sink=sink,
        progress=progress,
        workers=workers,
    )


def verify_file(
    path: Path,
    identities: list[RecipientIdentity] | None = None,
    *,
    sink: ChunkSink | None = None,
    progress: ProgressCallback | None = None,
    workers: int | None = None,
) -> VerifyReport:
    """Verify a recording file, or a spooled recording directory."""
    if path.is_dir():
        spooled = find_recording(path)
        return verify_chunks(
            spooled.header(),
            spooled.raw_chunks(),
            identities,
            sink=sink,
            progress=progress,
            workers=workers,
        )
    try:
        stream = path.open("rb")
    except FileNotFoundError:
        raise TestigoError(f"{path} does not exist", hint="check the path") from None
    except OSError as error:
        raise TestigoError(
            f"cannot read {path}: {error.strerror}", hint="check the path and its permissions"
        ) from None
    with stream:
        return verify_stream(stream, identities, sink=sink, progress=progress, workers=workers)


class RecordingWriter:
    """Appends a header and chunks to a recording file, fsyncing on close."""

    def __init__(self, path: Path, header: Header) -> None:
        self._path = path
        self._file = path.open("xb")
        self._file.write(bytes(header))

    def write(self, chunk: Chunk) -> None:
        self._file.write(bytes(chunk))

    def close(self) -> None:
        if self._file.closed:
            return
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()

    def __enter__(self) -> "RecordingWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
