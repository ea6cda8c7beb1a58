"""Accepting headers and chunks: check, store durably, then sign a receipt.

Transport-independent: the data channel (webrtc.py) and the HTTPS fallback (http_api.py)
call the same two methods. Every refusal is a `RelayError`; nothing is written for a
header of an unknown device or a chunk that fails a check.
"""

import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from relay_server.enrollment import Enrollment
from relay_server.errors import StorageError
from relay_server.limits import HourlyBudget
from relay_server.logs import log_event
from relay_server.metrics import Metrics
from relay_server.recording_bounds import RecordingBounds
from relay_server.settings import Settings
from relay_server.storage import PutResult, Storage
from vault import Chunk, DeviceKey, Header, RecordingVerifier, RelayIdentity
from vault.errors import MalformedError, TamperedError, UnsupportedVersionError
from vault.format import CHUNK_PREAMBLE_SIZE, HEADER_MAX_SIZE
from vault.receipts import Receipt, sign_receipt
from vault.wire.datachannel import index_ranges
from vault.wire.errors import ErrorCode, RelayError

STORAGE_FAILURE_TEXT = (
    "the relay cannot store this now; it was not acknowledged: send it again later"
)


def storage_failure(error: StorageError, *, index: int | None = None) -> RelayError:
    """The refusal for a storage failure: the detail (paths, errno, the S3 endpoint's
    words) goes to the operator's log; clients, who may be anyone, get a fixed text."""
    log_event(logging.ERROR, "storage.failure", index=index, error=str(error))
    return RelayError(ErrorCode.STORAGE_FAILURE, STORAGE_FAILURE_TEXT, index=index)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True)
class AcceptedRecording:
    """A recording whose header passed every check and is stored."""

    header: Header
    verifier: RecordingVerifier

    @property
    def device(self) -> bytes:
        return self.header.device_key

    @property
    def recording_id(self) -> bytes:
        return self.header.recording_id

    @property
    def log_id(self) -> str:
        return self.header.recording_id.hex()


@dataclass(frozen=True)
class StoredChunk:
    """The answer to an accepted chunk."""

    index: int
    receipt: bytes
    duplicate: bool


class IngestListener(Protocol):
    """Told about what Ingest stored, on the event loop, before the answer is sent.

    Both calls MUST NOT block or await: a listener that has work to do queues it (the
    live hub, alerts). An exception is logged and otherwise ignored.
    """

    def header_stored(self, accepted: AcceptedRecording, data: bytes, *, new: bool) -> None:
        """A header was accepted; new is False when the same header was stored before."""

    def chunk_stored(self, accepted: AcceptedRecording, chunk: Chunk, data: bytes) -> None:
        """A checked chunk is durably stored (now, or identically before)."""


class Ingest:
    def __init__(
        self,
        storage: Storage,
        enrollment: Enrollment,
        relay: RelayIdentity,
        settings: Settings,
        metrics: Metrics,
        clock_ms: Callable[[], int] = now_ms,
        listeners: Sequence[IngestListener] = (),
    ) -> None:
        self._storage = storage
        self._enrollment = enrollment
        self._relay = relay
        self._settings = settings
        self._metrics = metrics
        self._clock_ms = clock_ms
        self._listeners = tuple(listeners)
        self._budget = HourlyBudget(settings.max_device_bytes_per_hour, clock_ms)
        self._new_recordings = HourlyBudget(settings.max_recordings_per_hour, clock_ms)
        self._cache: OrderedDict[tuple[bytes, bytes], AcceptedRecording] = OrderedDict()
        self._bounds = RecordingBounds(storage, settings.header_cache_size)

    # -- headers --

    async def accept_header(self, data: bytes, *, stored: bool = False) -> AcceptedRecording:
        """Check and store a header (HELLO, POST /v1/headers); stored: data was just read
        from storage (nothing to charge, nothing to look up again)."""
        try:
            return await self._accept_header(data, stored)
        except RelayError as error:
            self._metrics.reject(error.code.wire_name)
            raise

    async def _accept_header(self, data: bytes, stored: bool) -> AcceptedRecording:
        if len(data) > HEADER_MAX_SIZE:
            raise RelayError(ErrorCode.MALFORMED, "a header is at most 5512 bytes")
        try:
            header = Header.parse(data)
        except UnsupportedVersionError as error:
            raise RelayError(ErrorCode.UNSUPPORTED_VERSION, f"header: {error}") from None
        except MalformedError as error:
            raise RelayError(ErrorCode.MALFORMED, f"header: {error}") from None
        try:  # the signature first: only the device key's holder learns if it is enrolled
            verifier = RecordingVerifier(header)
        except TamperedError:
            raise RelayError(ErrorCode.BAD_HEADER, "the header failed authentication") from None
        if not await self._enrolled(header.device_key):
            log_event(logging.WARNING, "header.unknown_device", recording=header.recording_id.hex())
            raise RelayError(
                ErrorCode.UNKNOWN_DEVICE, "this device is not enrolled on this relay (or revoked)"
            )
        accepted = AcceptedRecording(header, verifier)
        known = stored or await self._is_stored(accepted, data)
        device = header.device_key
        if not known and not self._new_recordings.allows(device, 1):
            raise RelayError(
                ErrorCode.RATE_LIMITED, "this device started too many recordings this hour"
            )
        if not known and not self._budget.allows(device, len(data)):
            raise RelayError(
                ErrorCode.RATE_LIMITED, "this device's hourly upload budget is used up"
            )
        result = await self._store(
            self._storage.put_header(header.device_key, header.recording_id, data)
        )
        if result is PutResult.CONFLICT:
            log_event(
                logging.ERROR,
                "alarm.conflicting_header",
                recording=accepted.log_id,
                device=DeviceKey(header.device_key).fingerprint,
            )
            raise RelayError(ErrorCode.CONFLICT, "another header is stored for this recording")
        if result is PutResult.STORED:
            self._new_recordings.charge(device, 1)
            self._budget.charge(device, len(data))
        log_event(
            logging.INFO,
            "header.accepted",
            recording=accepted.log_id,
            device=DeviceKey(header.device_key).fingerprint,
            again=result is PutResult.IDENTICAL,
        )
        self._remember(accepted)
        for listener in self._listeners:
            try:
                listener.header_stored(accepted, data, new=result is PutResult.STORED)
            except Exception as error:  # a listener must never break ingest
                log_event(logging.ERROR, "listener.failed", error=type(error).__name__)
        return accepted

    async def _is_stored(self, accepted: AcceptedRecording, data: bytes) -> bool:
        """Whether this very header is stored already (a device sending HELLO again):
        it then costs nothing of the device's budgets."""
        if (accepted.device, accepted.recording_id) in self._cache:
            return True
        try:
            stored = await self._storage.read_header(accepted.device, accepted.recording_id)
        except StorageError as error:
            raise storage_failure(error) from None
        return stored == data

    async def _enrolled(self, device: bytes) -> bool:
        try:
            return await self._enrollment.may_upload(device)
        except StorageError as error:
            raise storage_failure(error) from None
        except MalformedError:
            return False

    def _remember(self, accepted: AcceptedRecording) -> None:
        key = (accepted.device, accepted.recording_id)
        self._cache[key] = accepted
        self._cache.move_to_end(key)
        while len(self._cache) > self._settings.header_cache_size:
            self._cache.popitem(last=False)

    async def recording(self, device: bytes, recording_id: bytes) -> AcceptedRecording:
        """An accepted recording by its device and id (for the HTTPS fallback)."""
        cached = self._cache.get((device, recording_id))
        if cached is not None:
            self._cache.move_to_end((device, recording_id))
            return cached
        try:
            data = await self._storage.read_header(device, recording_id)
        except StorageError as error:
            self._metrics.reject(ErrorCode.STORAGE_FAILURE.wire_name)
            raise storage_failure(error) from None
        if data is None:
            self._metrics.reject(ErrorCode.NO_HEADER.wire_name)
            raise RelayError(ErrorCode.NO_HEADER, "send the recording's header first")
        return await self.accept_header(data, stored=True)

    def known_ended(self, device: bytes, recording_id: bytes) -> bool:
        """Whether the recording's final chunk is stored, as far as memory tells (true for
        a recording whose chunks were checked since the relay started and that ended;
        false when unknown)."""
        bounds = self._bounds.known(device, recording_id)
        return bounds is not None and bounds.final is not None

    async def held_ranges(self, accepted: AcceptedRecording) -> list[tuple[int, int]]:
        """Ranges of the chunk indices of this recording already stored."""
        try:
            indices = [
                i async for i in self._storage.chunk_indices(accepted.device, accepted.recording_id)
            ]
        except StorageError as error:
            raise storage_failure(error) from None
        return index_ranges(indices)

    # -- chunks --

    async def accept_chunk(self, accepted: AcceptedRecording, data: bytes) -> StoredChunk:
        """Check a chunk, store it durably, and answer with its receipt."""
        started = time.perf_counter()
        try:
            stored = await self._accept_chunk(accepted, data)
        except RelayError as error:
            self._metrics.reject(error.code.wire_name)
            raise
        self._metrics.stored(
            len(data), duplicate=stored.duplicate, seconds=time.perf_counter() - started
        )
        return stored

    def _check(self, accepted: AcceptedRecording, data: bytes) -> Chunk:
        header = accepted.header
        if len(data) > self._settings.max_chunk_bytes:
            raise RelayError(ErrorCode.TOO_LARGE, "chunk above the relay's max_chunk_bytes")
        try:
            chunk = Chunk.parse(data)
        except MalformedError as error:
            raise RelayError(ErrorCode.MALFORMED, str(error)) from None
        if chunk.recording_id != header.recording_id:
            raise RelayError(
                ErrorCode.WRONG_RECORDING, "chunk of another recording", index=chunk.index
            )
        if len(data) > header.max_chunk_size + CHUNK_PREAMBLE_SIZE:
            raise RelayError(
                ErrorCode.TOO_LARGE, "chunk above the header's max_chunk_size", index=chunk.index
            )
        if chunk.index >= self._settings.max_chunks_per_recording:
            raise RelayError(
                ErrorCode.RECORDING_LIMIT, "too many chunks in one recording", index=chunk.index
            )
        check = accepted.verifier.check_parsed(chunk)
        if check.problem is not None:
            raise RelayError(
                ErrorCode.BAD_SIGNATURE, "the chunk failed authentication", index=chunk.index
            )
        return chunk

    async def _accept_chunk(self, accepted: AcceptedRecording, data: bytes) -> StoredChunk:
        if not await self._enrolled(accepted.device):
            raise RelayError(ErrorCode.UNKNOWN_DEVICE, "this device was revoked on this relay")
        chunk = self._check(accepted, data)
        device, recording_id, index = accepted.device, accepted.recording_id, chunk.index
        try:
            bounds = await self._bounds.of(device, recording_id)
        except StorageError as error:
            raise storage_failure(error, index=index) from None
        refusal = bounds.refusal(chunk)
        if refusal is not None:
            log_event(
                logging.WARNING,
                "alarm.chunk_beyond_bounds",
                recording=accepted.log_id,
                index=index,
                device=DeviceKey(device).fingerprint,
            )
            raise RelayError(ErrorCode.CONFLICT, refusal, index=index)
        if not self._budget.allows(device, len(data)):
            raise RelayError(
                ErrorCode.RATE_LIMITED, "this device's hourly upload budget is used up", index=index
            )
        result = await self._store(
            self._storage.put_chunk(device, recording_id, index, data), index=index
        )
        if result is PutResult.CONFLICT:
            log_event(
                logging.ERROR,
                "alarm.conflicting_chunk",
                recording=accepted.log_id,
                index=index,
                device=DeviceKey(device).fingerprint,
            )
            raise RelayError(
                ErrorCode.CONFLICT, "a different chunk is stored at this index", index=index
            )
        duplicate = result is PutResult.IDENTICAL
        bounds.stored(chunk)
        if not duplicate:
            self._budget.charge(device, len(data))
        for listener in self._listeners:
            try:
                listener.chunk_stored(accepted, chunk, data)
            except Exception as error:  # a listener must never break ingest
                log_event(logging.ERROR, "listener.failed", index=index, error=type(error).__name__)
        receipt = await self._receipt(accepted, chunk, look_first=duplicate)
        log_event(
            logging.DEBUG,
            "chunk.stored",
            recording=accepted.log_id,
            index=index,
            size=len(data),
            duplicate=duplicate,
        )
        return StoredChunk(index, receipt, duplicate)

    async def _receipt(
        self, accepted: AcceptedRecording, chunk: Chunk, *, look_first: bool
    ) -> bytes:
        """The stored receipt of a stored chunk, signed and stored now if there is none."""
        device, recording_id, index = accepted.device, accepted.recording_id, chunk.index
        if look_first:
            existing = await self._read_receipt(accepted, chunk)
            if existing is not None:
                return existing
        receipt = bytes(sign_receipt(self._relay, chunk, self._clock_ms()))
        result = await self._store(
            self._storage.put_receipt(device, recording_id, index, receipt), index=index
        )
        if result is PutResult.CONFLICT:  # stored concurrently: answer the stored one
            existing = await self._read_receipt(accepted, chunk)
            if existing is None:
                raise storage_failure(StorageError("receipt vanished"), index=index)
            return existing
        return receipt

    async def _read_receipt(self, accepted: AcceptedRecording, chunk: Chunk) -> bytes | None:
        try:
            data = await self._storage.read_receipt(
                accepted.device, accepted.recording_id, chunk.index
            )
        except StorageError as error:
            raise storage_failure(error, index=chunk.index) from None
        if data is None:
            return None
        try:
            valid = Receipt.parse(data).verify(self._relay.public, chunk)
        except MalformedError:
            valid = False
        if not valid:
            log_event(
                logging.ERROR,
                "alarm.bad_stored_receipt",
                recording=accepted.log_id,
                index=chunk.index,
            )
            raise storage_failure(StorageError("the stored receipt is damaged"), index=chunk.index)
        return data

    async def _store(self, operation: Awaitable[PutResult], index: int | None = None) -> PutResult:
        try:
            return await operation
        except StorageError as error:
            raise storage_failure(error, index=index) from None
