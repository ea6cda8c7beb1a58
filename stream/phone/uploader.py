"""Draining a spooled recording to the relay, surviving any network or relay failure.

The decisions are `stream.phone.upload_machine.UploadMachine`'s (sans-IO: what to send,
when to reconnect, how to react to each refusal); this module only performs them, on a
WebRTC data channel and the HTTPS fallback (`stream.phone.transports`), and feeds back
what happened. A chunk stays "pending" in the spool until the relay's receipt for it has
been checked and written next to it.
"""

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import aiohttp

from stream.phone.transports import (
    Answer,
    ConnectionLost,
    DeviceProver,
    HTTPSTransport,
    Transport,
    WebRTCTransport,
)
from stream.phone.upload_machine import (
    RECEIPT_TIMEOUT_S,
    Action,
    Close,
    Connect,
    LinkKind,
    Send,
    StoreReceipt,
    Tell,
    UploadMachine,
    UploadStatus,
)
from stream.relay_http import relay_session
from vault.errors import MalformedError
from vault.format import Chunk
from vault.identity import DeviceIdentity
from vault.keys import DeviceKey, RelayKey
from vault.receipts import Receipt
from vault.spool import SpoolRecording
from vault.wire.errors import RelayError

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
StatusListener = Callable[[UploadStatus], None]


class Uploader:
    """Uploads one spooled recording. Call `chunk_added` when the recorder adds one."""

    def __init__(
        self,
        recording: SpoolRecording,
        relay_url: str,
        relay_key: RelayKey,
        *,
        webrtc: bool = True,
        device: DeviceIdentity | None = None,
        on_safe: SafeListener | None = None,
        on_note: NoteListener | None = None,
        on_status: StatusListener | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.recording = recording
        self.relay_url = relay_url.rstrip("/")
        self.relay_key = relay_key
        self._on_safe = on_safe
        self._on_note = on_note
        self._on_status = on_status
        self._shown_status: UploadStatus | None = None
        header = recording.header()
        self._header = bytes(header)
        # the device key proves the device to the relay for a TURN login; without it
        # (`testigo upload` does not open the key) WebRTC goes without TURN
        self._prover = (
            DeviceProver(device, relay_key)
            if device is not None and device.public.raw == header.device_key
            else None
        )
        receipted = receipted_by(recording, relay_key)
        self.receipted_at_start = frozenset(receipted)
        self.machine = UploadMachine(
            recording_id=header.recording_id,
            relay_key=relay_key,
            device_text=str(DeviceKey(header.device_key)),
            pending=(i for i in recording.indices() if i not in receipted),
            receipted=len(receipted),
            webrtc=webrtc,
            rng=rng,
        )
        self._events: asyncio.Queue[Event] = asyncio.Queue()
        self._links: dict[LinkKind, Transport] = {}
        self._connecting: dict[LinkKind, asyncio.Task[None]] = {}
        self._readers: dict[LinkKind, asyncio.Task[None]] = {}

    # -- what the recorder tells us --

    def expect_more(self) -> None:
        """The recorder is still adding chunks: don't finish when the spool is drained."""
        self.machine.expect_more()

    def chunk_added(self, index: int) -> None:
        """Chunk index is durably in the spool (call on the event loop's thread)."""
        self.machine.chunk_spooled(index)
        self._events.put_nowait(_wake)

    def recording_done(self) -> None:
        self.machine.recording_done()
        self._events.put_nowait(_wake)

    @property
    def unsafe_indices(self) -> list[int]:
        """Chunks in the spool without a receipt (what losing the device now would lose)."""
        return self.machine.unsafe_indices

    @property
    def safe_count(self) -> int:
        return self.machine.safe_count

    @property
    def status(self) -> UploadStatus:
        return self.machine.status

    # -- the loop --

    async def run(self) -> None:
        """Upload until every chunk has a receipt (or was refused for good) and the
        recorder is done."""
        async with relay_session() as session:
            try:
                while True:
                    now = time.monotonic()
                    while not self._events.empty():
                        self._events.get_nowait()(now)
                    for action in self.machine.actions(now):
                        await self._perform(action, session)
                    self._tell_status()
                    if self.machine.finished and self._events.empty():
                        return
                    wake_at = self.machine.wake_at()
                    timeout = None if wake_at is None else max(0.0, wake_at - time.monotonic())
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(timeout):
                            event = await self._events.get()
                            event(time.monotonic())
            finally:
                await self._close_everything()

    def _tell_status(self) -> None:
        status = self.machine.status
        if self._on_status is not None and status != self._shown_status:
            self._shown_status = status
            self._on_status(status)

    async def _perform(self, action: Action, session: aiohttp.ClientSession) -> None:
        match action:
            case Connect(kind):
                self._connecting[kind] = asyncio.ensure_future(self._connect(kind, session))
            case Send(kind, index):
                await self._send(kind, index)
            case Close(kind):
                await self._close(kind)
            case StoreReceipt(index, receipt, device_time_ms, received_ms, kind):
                self.recording.store_receipt(index, receipt)
                if self._on_safe is not None:
                    self._on_safe(SafeChunk(index, device_time_ms, received_ms, kind.value))
            case Tell(text):
                self._note(text)

    async def _connect(self, kind: LinkKind, session: aiohttp.ClientSession) -> None:
        """Open a link and send HELLO; the outcome goes to the machine as an event."""
        transport: Transport | None = None
        try:
            if kind is LinkKind.WEBRTC:
                transport = await WebRTCTransport.connect(session, self.relay_url, self._prover)
            else:
                transport = HTTPSTransport(session, self.relay_url)
            await transport.hello(self._header)
        except ConnectionLost as lost:
            if transport is not None:
                await transport.close()
            self._events.put_nowait(partial(self.machine.connect_failed, kind, str(lost)))
            return
        except RelayError as refusal:
            if transport is not None:
                await transport.close()
            code, text = refusal.code, str(refusal)
            self._events.put_nowait(lambda now: self.machine.session_refused(kind, code, text, now))
            return
        except asyncio.CancelledError:
            if transport is not None:
                await transport.close()
            raise
        self._links[kind] = transport
        self._readers[kind] = asyncio.ensure_future(self._read(kind, transport))
        self._events.put_nowait(partial(self.machine.connected, kind))

    async def _read(self, kind: LinkKind, transport: Transport) -> None:
        """Feed the link's answers to the machine until the link fails."""
        while True:
            try:
                answer = await transport.answer()
            except ConnectionLost as lost:
                self._from(kind, transport, partial(self.machine.lost, kind, str(lost)))
                return
            self._from(kind, transport, _answer_event(self.machine, kind, answer))

    def _from(self, kind: LinkKind, transport: Transport, event: "Event") -> None:
        """Queue event unless it comes from a link that has been closed since."""

        def if_current(now: float) -> None:
            if self._links.get(kind) is transport:
                event(now)

        self._events.put_nowait(if_current)

    async def _send(self, kind: LinkKind, index: int) -> None:
        transport = self._links.get(kind)
        try:
            data = self.recording.read_chunk(index)
            chunk = Chunk.parse(data)
        except (OSError, MalformedError) as error:
            self.machine.unreadable(index, str(error))
            return
        self.machine.sent(index, chunk.chunk_hash, chunk.device_time_ms)
        if transport is None:
            return
        try:
            async with asyncio.timeout(RECEIPT_TIMEOUT_S):
                await transport.submit(index, data)
        except (TimeoutError, ConnectionLost) as error:
            reason = str(error) or "the relay stopped taking data"
            self._from(kind, transport, partial(self.machine.lost, kind, reason))

    async def _close(self, kind: LinkKind) -> None:
        connecting = self._connecting.pop(kind, None)
        if connecting is not None and not connecting.done():
            connecting.cancel()
            await asyncio.gather(connecting, return_exceptions=True)
        reader = self._readers.pop(kind, None)
        if reader is not None:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
        transport = self._links.pop(kind, None)
        if transport is not None:
            await transport.close()

    async def _close_everything(self) -> None:
        for kind in LinkKind:
            await self._close(kind)

    def _note(self, text: str) -> None:
        logger.info(text)
        if self._on_note is not None:
            self._on_note(text)


Event = Callable[[float], None]


def receipted_by(recording: SpoolRecording, relay_key: RelayKey) -> set[int]:
    """The chunks whose stored receipt is signed by relay_key and names that very chunk
    (recording, index, chunk hash). Any other stored receipt is as good as none: the
    chunk is sent again, and the relay's answer replaces it."""
    recording_id = recording.header().recording_id
    good = set()
    for index in recording.receipted():
        try:
            receipt = Receipt.parse(recording.read_receipt(index))
            chunk_hash = Chunk.hash_of_preamble(recording.read_preamble(index))
        except (OSError, MalformedError):
            continue
        if receipt.names(recording_id, index, chunk_hash) and receipt.verify(relay_key):
            good.add(index)
    return good


def _wake(_now: float) -> None:
    """An event that only makes the loop look at the machine again."""


def _answer_event(machine: UploadMachine, kind: LinkKind, answer: Answer) -> Event:
    def apply(now: float) -> None:
        if answer.error is not None:
            error = answer.error
            if answer.index is None:
                machine.session_refused(kind, error.code, str(error), now)
            else:
                machine.refused(kind, answer.index, error.code, str(error), now)
        elif answer.receipt is not None and answer.index is not None:
            machine.receipt(kind, answer.index, answer.receipt, now)

    return apply
