"""Draining a spooled recording to the relay, surviving any network or relay failure.

A chunk stays "pending" in the spool until the relay's receipt for it has been checked
(relay key, recording, index, chunk hash) and written next to it. The uploader:

* connects over WebRTC first; if that does not connect within a few seconds (UDP
  blocked, relay busy) it uses the HTTPS fallback, and tries WebRTC again later;
* sends pending chunks in index order with a bounded window;
* treats a connection as lost when it closes, or when the oldest chunk in flight has no
  answer within `RECEIPT_TIMEOUT_S` (a dead relay or network cannot make it wait for
  ever), then reconnects with backoff (aiortc has no ICE restart: a new peer connection
  each time) and resends what has no receipt yet — the relay answers a chunk it already
  holds with the same receipt, so resending is safe;
* finishes when the recorder is done and every chunk has its receipt.
"""

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import aiohttp

from relay_server.errors import ErrorCode
from stream.transports import Answer, ConnectionLost, HTTPSTransport, Transport, WebRTCTransport
from vault.errors import MalformedError
from vault.format import Chunk
from vault.keys import RelayKey
from vault.receipts import Receipt
from vault.spool import SpoolRecording

WINDOW_CHUNKS: Final = 8
RECEIPT_TIMEOUT_S: Final = 5.0
BACKOFF_INITIAL_S: Final = 0.25
BACKOFF_MAX_S: Final = 5.0
HTTPS_STINT_S: Final = 30.0  # on the fallback, try WebRTC again after this long

logger = logging.getLogger("testigo.uploader")


@dataclass(frozen=True)
class SafeChunk:
    """A chunk whose verified receipt is stored: it survives losing the device."""

    index: int
    device_time_ms: int
    received_ms: int
    transport: str


SafeListener = Callable[[SafeChunk], None]
NoteListener = Callable[[str], None]


@dataclass
class _InFlight:
    sent_at: float
    chunk_hash: bytes
    device_time_ms: int


async def _discard(attempt: "asyncio.Future[WebRTCTransport]") -> None:
    """Stop a WebRTC attempt that is no longer wanted, closing it if it connected."""
    if not attempt.done():
        attempt.cancel()
    try:
        transport = await attempt
    except (asyncio.CancelledError, ConnectionLost):
        return
    await transport.close()


class Uploader:
    """Uploads one spooled recording. Call `chunk_added` when the recorder adds one."""

    def __init__(
        self,
        recording: SpoolRecording,
        relay_url: str,
        relay_key: RelayKey,
        *,
        webrtc: bool = True,
        on_safe: SafeListener | None = None,
        on_note: NoteListener | None = None,
    ) -> None:
        self.recording = recording
        self.relay_url = relay_url.rstrip("/")
        self.relay_key = relay_key
        self._webrtc = webrtc
        self._on_safe = on_safe
        self._on_note = on_note
        self._header = bytes(recording.header())
        receipted = recording.receipted()
        self._pending = sorted(i for i in recording.indices() if i not in receipted)
        self._queued = set(self._pending)
        self._recording_done = True
        self._wake = asyncio.Event()
        self._given_up: set[int] = set()
        self.safe_count = len(receipted)

    # -- what the recorder tells us --

    def expect_more(self) -> None:
        """The recorder is still adding chunks: don't finish when the spool is drained."""
        self._recording_done = False

    def chunk_added(self, index: int) -> None:
        if index not in self._queued:
            self._queued.add(index)
            self._pending.append(index)
            self._pending.sort()
        self._wake.set()

    def recording_done(self) -> None:
        self._recording_done = True
        self._wake.set()

    @property
    def unsafe_indices(self) -> list[int]:
        """Chunks in the spool without a receipt (what losing the device now would lose)."""
        return sorted(self._queued)

    # -- the loop --

    async def run(self) -> None:
        """Upload until every chunk has a receipt and the recorder is done.

        Chunks start flowing over HTTPS at once while WebRTC connects alongside; the
        uploader moves to WebRTC as soon as its data channel is open (so the first
        receipt never waits for ICE), and stays on HTTPS when WebRTC cannot connect,
        trying again every HTTPS_STINT_S.
        """
        backoff = BACKOFF_INITIAL_S
        webrtc_due = 0.0
        attempt: asyncio.Task[WebRTCTransport] | None = None
        async with aiohttp.ClientSession() as session:
            try:
                while not self._finished():
                    if self._webrtc and attempt is None and time.monotonic() >= webrtc_due:
                        attempt = asyncio.ensure_future(
                            WebRTCTransport.connect(session, self.relay_url)
                        )
                    transport: Transport | None = None
                    try:
                        if attempt is not None and attempt.done():
                            finished, attempt = attempt, None
                            try:
                                transport = finished.result()
                            except ConnectionLost as error:
                                self._note(f"{error}; using HTTPS")
                                webrtc_due = time.monotonic() + HTTPS_STINT_S
                                continue
                        if transport is None:
                            transport = HTTPSTransport(session, self.relay_url)
                        await transport.hello(self._header)
                        backoff = BACKOFF_INITIAL_S
                        on_https = transport.name == "https"
                        await self._pump(
                            transport,
                            switch=attempt if on_https else None,
                            deadline=(
                                webrtc_due
                                if self._webrtc and on_https and attempt is None
                                else None
                            ),
                        )
                    except ConnectionLost as lost:
                        self._note(f"connection to the relay lost ({lost}); retrying")
                        await asyncio.sleep(backoff)  # retry pacing, not synchronisation
                        backoff = min(backoff * 2, BACKOFF_MAX_S)
                    finally:
                        if transport is not None:
                            await transport.close()
            finally:
                if attempt is not None:
                    await _discard(attempt)

    def _finished(self) -> bool:
        return self._recording_done and not self._queued - self._given_up

    async def _pump(
        self,
        transport: Transport,
        *,
        switch: "asyncio.Future[WebRTCTransport] | None",
        deadline: float | None,
    ) -> None:
        """Send and collect receipts until done, or until it is time to change transport:
        the WebRTC attempt `switch` has finished, or `deadline` (try WebRTC again) passed."""
        in_flight: dict[int, _InFlight] = {}
        answers: asyncio.Task[Answer] | None = None
        try:
            while True:
                self._wake.clear()
                stint_over = (switch is not None and switch.done()) or (
                    deadline is not None and time.monotonic() >= deadline
                )
                while not stint_over and self._pending and len(in_flight) < WINDOW_CHUNKS:
                    await self._send(transport, self._pending.pop(0), in_flight)
                if not in_flight:
                    if self._finished() or stint_over:
                        return
                    if not self._pending:
                        await self._wait_for_work(switch, deadline)
                    continue
                if answers is None:
                    answers = asyncio.ensure_future(transport.answer())
                oldest = min(flight.sent_at for flight in in_flight.values())
                timeout = max(0.0, oldest + RECEIPT_TIMEOUT_S - time.monotonic())
                waker = asyncio.ensure_future(self._wake.wait())
                done, _ = await asyncio.wait(
                    (answers, waker), timeout=timeout, return_when=asyncio.FIRST_COMPLETED
                )
                waker.cancel()
                if answers in done:
                    answer = answers.result()
                    answers = None
                    self._settle(answer, in_flight, transport.name)
                elif not done:
                    raise ConnectionLost(f"no receipt within {RECEIPT_TIMEOUT_S:.0f} s")
        finally:
            if answers is not None:
                answers.cancel()
            for index in in_flight:  # back to pending, for the next connection
                self._pending.append(index)
            self._pending.sort()

    async def _wait_for_work(
        self, switch: "asyncio.Future[WebRTCTransport] | None", deadline: float | None
    ) -> None:
        """Wait for a new chunk, the end of the recording, or a reason to change transport."""
        timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        waker = asyncio.ensure_future(self._wake.wait())
        waits = (waker,) if switch is None else (waker, switch)
        await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        waker.cancel()

    async def _send(
        self, transport: Transport, index: int, in_flight: dict[int, _InFlight]
    ) -> None:
        data = self.recording.read_chunk(index)
        chunk = Chunk.parse(data)
        in_flight[index] = _InFlight(time.monotonic(), chunk.chunk_hash, chunk.device_time_ms)
        try:
            async with asyncio.timeout(RECEIPT_TIMEOUT_S):
                await transport.submit(index, data)
        except TimeoutError:
            raise ConnectionLost("the relay stopped taking data") from None

    def _settle(self, answer: Answer, in_flight: dict[int, _InFlight], transport: str) -> None:
        flight = in_flight.pop(answer.index, None)
        if flight is None:
            raise ConnectionLost(f"relay answered for chunk {answer.index}, which was not sent")
        if answer.error is not None:
            self._refused(answer.index, answer.error.code, str(answer.error))
            return
        assert answer.receipt is not None
        try:
            receipt = Receipt.parse(answer.receipt)
        except MalformedError:
            receipt = None
        if (
            receipt is None
            or receipt.index != answer.index
            or receipt.recording_id.hex() != self.recording.directory.name
            or receipt.chunk_hash != flight.chunk_hash
            or not receipt.verify(self.relay_key)
        ):
            raise ConnectionLost(f"the receipt for chunk {answer.index} does not verify")
        self.recording.store_receipt(answer.index, answer.receipt)
        self._queued.discard(answer.index)
        self.safe_count += 1
        if self._on_safe is not None:
            self._on_safe(
                SafeChunk(answer.index, flight.device_time_ms, receipt.received_ms, transport)
            )

    def _refused(self, index: int, code: ErrorCode, message: str) -> None:
        if code in (ErrorCode.STORAGE_FAILURE, ErrorCode.RATE_LIMITED, ErrorCode.NO_HEADER):
            self._pending.append(index)  # the relay may take it later
            raise ConnectionLost(f"relay could not take chunk {index} now: {message}")
        # The relay will never accept this chunk (e.g. a conflict): stop offering it.
        self._given_up.add(index)
        self._note(f"relay refused chunk {index} for good: {code.wire_name}: {message}")

    def _note(self, text: str) -> None:
        logger.info(text)
        if self._on_note is not None:
            self._on_note(text)
