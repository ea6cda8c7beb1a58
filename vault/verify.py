"""Checking a whole recording: signatures, order, hash chain, gaps, completeness.

The checks of one chunk on its own (`RecordingVerifier.check`) are independent of every
other chunk, so callers may run them in parallel; the checks of the sequence
(`RecordingVerifier.accept`) must see the chunks in the order they are stored.
"""

import json
from dataclasses import dataclass, field
from enum import StrEnum

from vault import _primitives as p
from vault.errors import MalformedError, TamperedError
from vault.format import CHUNK_PREAMBLE_SIZE, MAX_METADATA_SIZE, Chunk, ChunkKind, Header
from vault.keys import DeviceKey
from vault.open import RecordingOpener


class Status(StrEnum):
    COMPLETE = "complete"
    INCOMPLETE = "incomplete"
    TAMPERED = "tampered"
    MALFORMED = "malformed"

    @property
    def exit_code(self) -> int:
        return {"complete": 0, "incomplete": 10, "tampered": 20, "malformed": 20}[self.value]


INVALID_CHUNK = "failed authentication"


@dataclass(frozen=True)
class RawChunk:
    """A chunk as read from storage: its fixed-size preamble and its ciphertext."""

    preamble: bytes
    ciphertext: bytes

    @property
    def size(self) -> int:
        return len(self.preamble) + len(self.ciphertext)

    @classmethod
    def split(cls, data: bytes) -> "RawChunk":
        return cls(data[:CHUNK_PREAMBLE_SIZE], data[CHUNK_PREAMBLE_SIZE:])


@dataclass(frozen=True)
class ChunkCheck:
    """What one chunk's own checks found; `chunk` is None when it did not parse."""

    chunk: Chunk | None
    size: int
    problem: str | None = None
    plaintext: bytes | None = None
    metadata: dict[str, object] | None = None


@dataclass(frozen=True)
class Run:
    """Consecutive indices first..last with their device times (ms)."""

    first: int
    last: int
    first_time_ms: int
    last_time_ms: int


@dataclass(frozen=True)
class Gap:
    """Missing indices first..last, between the device times of their neighbours."""

    first: int
    last: int
    after_time_ms: int | None
    before_time_ms: int | None


@dataclass(frozen=True)
class Problem:
    index: int | None
    what: str


@dataclass
class VerifyReport:
    recording_id: str
    device_key: str
    device_fingerprint: str
    created_ms: int
    media_type: str
    recipients: int
    decrypted: bool
    chunks_valid: int = 0
    bytes_valid: int = 0
    present: list[Run] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    final_index: int | None = None
    last_index: int | None = None
    last_time_ms: int | None = None
    chain_intact: bool = True
    framing_error: str | None = None
    locations: int = 0
    media_before_init: int | None = None  # the first media chunk with no init before it

    @property
    def tampered(self) -> bool:
        return bool(self.problems) or not self.chain_intact

    @property
    def status(self) -> Status:
        if self.tampered:
            return Status.TAMPERED
        if self.framing_error is not None:
            return Status.MALFORMED
        if self.gaps or self.final_index is None or self.media_before_init is not None:
            return Status.INCOMPLETE
        return Status.COMPLETE

    @property
    def missing_indices(self) -> list[int]:
        return [i for gap in self.gaps for i in range(gap.first, gap.last + 1)]

    @property
    def interrupted_after(self) -> int | None:
        """The last index of a recording without a final chunk (None if it has one)."""
        if self.final_index is not None:
            return None
        return self.last_index

    def seconds(self, time_ms: int | None) -> float | None:
        return None if time_ms is None else (time_ms - self.created_ms) / 1000

    def to_json(self) -> dict[str, object]:
        return {
            "status": self.status.value,
            "recording_id": self.recording_id,
            "device_key": self.device_key,
            "device_fingerprint": self.device_fingerprint,
            "created_ms": self.created_ms,
            "media_type": self.media_type,
            "recipients": self.recipients,
            "decrypted": self.decrypted,
            "chunks_valid": self.chunks_valid,
            "bytes_valid": self.bytes_valid,
            "present": [
                {
                    "first": r.first,
                    "last": r.last,
                    "from_s": self.seconds(r.first_time_ms),
                    "to_s": self.seconds(r.last_time_ms),
                }
                for r in self.present
            ],
            "missing": [
                {
                    "first": g.first,
                    "last": g.last,
                    "after_s": self.seconds(g.after_time_ms),
                    "before_s": self.seconds(g.before_time_ms),
                }
                for g in self.gaps
            ],
            "final_index": self.final_index,
            "interrupted_after": self.interrupted_after,
            "interrupted_at_s": (
                self.seconds(self.last_time_ms) if self.interrupted_after is not None else None
            ),
            "media_before_init": self.media_before_init,
            "chain_intact": self.chain_intact,
            "problems": [{"index": x.index, "what": x.what} for x in self.problems],
            "framing_error": self.framing_error,
            "location_updates": self.locations,
        }


def _bounded_int(text: str) -> int | float:
    """JSON integers too long for int() (a CPU guard in Python) are read as floats."""
    return int(text) if len(text) <= 4000 else float(text)


MAX_METADATA_DEPTH = 64  # arrays and objects inside each other (FORMAT.md §3.2)


def _not_json(name: str) -> float:
    raise ValueError(f"{name} is not JSON (RFC 8259)")


def nesting_depth(text: str) -> int:
    """How deeply arrays and objects nest in JSON text (brackets in strings ignored)."""
    depth = deepest = 0
    in_string = escaped = False
    for character in text:
        if in_string:
            if escaped:
                escaped = False
            elif character == "\\":
                escaped = True
            elif character == '"':
                in_string = False
        elif character == '"':
            in_string = True
        elif character in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif character in "]}":
            depth -= 1
    return deepest


def parse_metadata(plaintext: bytes) -> dict[str, object]:
    """A metadata chunk's JSON object ({} when empty); MalformedError otherwise.

    The same outcome in every reader: RFC 8259 JSON only (no NaN or Infinity), at most
    MAX_METADATA_DEPTH levels deep, at most 64 KiB.
    """
    if not plaintext:
        return {}
    if len(plaintext) > MAX_METADATA_SIZE:
        raise MalformedError("metadata chunk larger than 64 KiB")
    try:
        text = plaintext.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedError("metadata chunk is not JSON") from None
    if nesting_depth(text) > MAX_METADATA_DEPTH:
        raise MalformedError(f"metadata chunk nests more than {MAX_METADATA_DEPTH} levels")
    try:
        value = json.loads(text, parse_int=_bounded_int, parse_constant=_not_json)
    except ValueError:
        raise MalformedError("metadata chunk is not JSON") from None
    if not isinstance(value, dict):
        raise MalformedError("metadata chunk is not a JSON object")
    return {str(k): v for k, v in value.items()}


class RecordingVerifier:
    """Verifies one recording whose header signature has been checked."""

    def __init__(self, header: Header, opener: RecordingOpener | None = None) -> None:
        if not header.signature_is_valid():
            raise TamperedError("the recording header failed authentication")
        self.header = header
        self._header_hash = header.header_hash
        self._opener = opener
        device = DeviceKey(header.device_key)
        self.report = VerifyReport(
            recording_id=header.recording_id.hex(),
            device_key=str(device),
            device_fingerprint=device.fingerprint,
            created_ms=header.created_ms,
            media_type=header.media_type,
            recipients=len(header.stanzas),
            decrypted=opener is not None,
        )
        self._last_hash: bytes | None = None
        self._last_index = -1
        self._last_time_ms: int | None = None
        self._init_seen = False

    def check(self, data: RawChunk) -> ChunkCheck:
        """The checks of one chunk on its own. Thread-safe."""
        try:
            chunk = Chunk.from_parts(data.preamble, data.ciphertext)
        except MalformedError as error:
            return ChunkCheck(None, data.size, str(error))
        return self.check_parsed(chunk)

    def check_parsed(self, chunk: Chunk) -> ChunkCheck:
        """`check` for a chunk already parsed (the relay parses each chunk once)."""
        size = chunk.size
        if chunk.recording_id != self.header.recording_id:
            return ChunkCheck(chunk, size, "belongs to another recording")
        if len(chunk.ciphertext) > self.header.max_chunk_size:
            return ChunkCheck(chunk, size, "larger than the header allows")
        if not (
            p.constant_time_equal(p.hash32(chunk.ciphertext), chunk.ciphertext_hash)
            and p.ed25519_verify(
                self.header.device_key, chunk.signature_message(self._header_hash), chunk.signature
            )
        ):
            return ChunkCheck(chunk, size, INVALID_CHUNK)
        if self._opener is None:
            return ChunkCheck(chunk, size)
        try:
            plaintext = self._opener.open(chunk)
        except TamperedError:
            return ChunkCheck(chunk, size, INVALID_CHUNK)
        metadata = None
        if chunk.kind is ChunkKind.METADATA:
            try:
                metadata = parse_metadata(plaintext)
            except MalformedError as error:
                return ChunkCheck(chunk, size, str(error))
        return ChunkCheck(chunk, size, None, plaintext, metadata)

    def accept(self, check: ChunkCheck) -> bool:
        """Apply the sequence checks; True when the chunk counts as valid evidence."""
        report = self.report
        chunk = check.chunk
        if check.problem is not None or chunk is None:
            index = chunk.index if chunk is not None else None
            report.problems.append(Problem(index, check.problem or "unreadable"))
            return False
        if report.final_index is not None:
            report.problems.append(Problem(chunk.index, "follows the final chunk"))
            return False
        if chunk.index <= self._last_index:
            what = "duplicate" if chunk.index == self._last_index else "out of order"
            report.problems.append(Problem(chunk.index, what))
            return False
        if chunk.kind is ChunkKind.INIT:
            if self._init_seen:
                report.problems.append(Problem(chunk.index, "second init segment"))
                return False
            self._init_seen = True
        elif (
            chunk.kind is ChunkKind.MEDIA
            and not self._init_seen
            and report.media_before_init is None
        ):
            report.media_before_init = chunk.index  # unplayable from here: not complete
        expected_prev = self._header_hash if chunk.index == 0 else self._last_hash
        if (
            chunk.index == self._last_index + 1
            and expected_prev is not None
            and not p.constant_time_equal(chunk.prev_hash, expected_prev)
        ):
            report.chain_intact = False
            report.problems.append(Problem(chunk.index, "hash chain broken"))
        if chunk.index > self._last_index + 1:
            report.gaps.append(
                Gap(self._last_index + 1, chunk.index - 1, self._last_time_ms, chunk.device_time_ms)
            )
        if report.present and report.present[-1].last == chunk.index - 1:
            last = report.present[-1]
            report.present[-1] = Run(
                last.first, chunk.index, last.first_time_ms, chunk.device_time_ms
            )
        else:
            report.present.append(
                Run(chunk.index, chunk.index, chunk.device_time_ms, chunk.device_time_ms)
            )
        self._last_index = chunk.index
        self._last_hash = chunk.chunk_hash
        self._last_time_ms = chunk.device_time_ms
        report.last_index = chunk.index
        report.last_time_ms = chunk.device_time_ms
        report.chunks_valid += 1
        report.bytes_valid += check.size
        if chunk.final:
            report.final_index = chunk.index
        if check.metadata is not None and check.metadata.get("type") == "location":
            report.locations += 1
        return True

    def framing_error(self, message: str) -> None:
        self.report.framing_error = message
