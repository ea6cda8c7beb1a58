"""The uploader's decisions, sans-IO (docs/PROTOCOL.md §14), in the style of h11.

`UploadMachine` knows what the device knows about one recording's upload and decides
what to do next. It does no I/O and reads no clock: events carry `now` (monotonic
seconds), and `actions(now)` returns what to do: open a link, send a chunk, store a
receipt, close a link, tell the person something. A driver (`stream.phone.uploader`)
performs the actions on real transports and feeds back what happened; the tests drive it
with a simulated relay and clock instead (tests/test_upload_machine.py).

The rules it implements:

* HTTPS starts at once and WebRTC connects alongside; the machine moves to WebRTC once
  its data channel is up and the chunks in flight on HTTPS are answered, and goes back to
  HTTPS (trying WebRTC again every `WEBRTC_RETRY_S`) when WebRTC cannot connect.
* At most `WINDOW_CHUNKS` chunks are in flight; a link whose oldest chunk has no answer
  within `RECEIPT_TIMEOUT_S` is treated as lost. After a lost link the machine waits a
  jittered, growing delay before connecting again; a verified receipt resets it.
* A chunk leaves the pending set only with a receipt that verifies under the configured
  relay key and names this recording, this index and this chunk's hash.
* Every refusal has a defined reaction (`LATER`, `FINAL_FOR_CHUNK`, `FINAL_FOR_RECORDING`),
  on HELLO as on CHUNK. "Later" never gives anything up; a chunk-level refusal gives up
  that chunk alone; only what makes every chunk unacceptable (an unenrolled or revoked
  device, a header the relay refuses, a relay whose key is not the configured one) ends
  the upload of the recording, and the person is told why.
"""

import random
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import Final

from vault.errors import MalformedError
from vault.keys import RelayKey
from vault.receipts import Receipt
from vault.wire.backoff import Backoff
from vault.wire.errors import ErrorCode

WINDOW_CHUNKS: Final = 8
RECEIPT_TIMEOUT_S: Final = 5.0
BACKOFF_INITIAL_S: Final = 0.25
BACKOFF_MAX_S: Final = 5.0
BACKOFF_JITTER: Final = 0.25  # phones cut off together (a relay restart) come back spread out
WEBRTC_RETRY_S: Final = 30.0  # on the fallback, try WebRTC again after this long

OUT_OF_REACH: Final = (
    "the relay is out of reach; retrying (chunks stay on this device until receipted)"
)
BACK_IN_REACH: Final = "the relay is taking chunks again"

# The relay may take it later: back off, then send again.
LATER: Final = frozenset(
    {
        ErrorCode.STORAGE_FAILURE,
        ErrorCode.RATE_LIMITED,
        ErrorCode.NO_HEADER,
        ErrorCode.BUSY,
        ErrorCode.OVERLOADED,
    }
)
# No chunk of this recording will ever be accepted by this relay.
FINAL_FOR_RECORDING: Final = frozenset(
    {
        ErrorCode.UNKNOWN_DEVICE,
        ErrorCode.BAD_HEADER,
        ErrorCode.UNSUPPORTED_VERSION,
        ErrorCode.UNAUTHORIZED,
    }
)
# Everything else (conflict, bad_signature, too_large, ...) is final for that chunk alone.


class LinkKind(StrEnum):
    WEBRTC = "webrtc"
    HTTPS = "https"


class LinkState(Enum):
    IDLE = "idle"
    CONNECTING = "connecting"
    UP = "up"


# -- actions (machine → driver) --


@dataclass(frozen=True)
class Connect:
    """Open a link of this kind and send HELLO; report `connected`, `connect_failed` or
    `session_refused`."""

    kind: LinkKind


@dataclass(frozen=True)
class Send:
    """Read chunk `index` from the spool, report `sent` (or `unreadable`), submit it."""

    kind: LinkKind
    index: int


@dataclass(frozen=True)
class Close:
    """Close this link; nothing more is expected from it."""

    kind: LinkKind


@dataclass(frozen=True)
class StoreReceipt:
    """Store this verified receipt beside its chunk (before anything else is done)."""

    index: int
    receipt: bytes
    device_time_ms: int
    received_ms: int
    kind: LinkKind


@dataclass(frozen=True)
class Tell:
    """A calm sentence for the person recording (shown once, not at every retry)."""

    text: str


Action = Connect | Send | Close | StoreReceipt | Tell


@dataclass
class _Flight:
    kind: LinkKind
    sent_at: float
    chunk_hash: bytes | None = None
    device_time_ms: int = 0


@dataclass
class _Link:
    state: LinkState = LinkState.IDLE
    retry_at: float = 0.0


@dataclass(frozen=True)
class UploadStatus:
    """What the status line shows: the link in use and the current problem, if any."""

    link: str  # "webrtc", "https" or "offline"
    pending: int
    safe: int
    problem: str | None = None
    stopped: str | None = None  # why the upload of this recording ended for good


class UploadMachine:
    """The upload of one recording; see the module docstring."""

    def __init__(
        self,
        *,
        recording_id: bytes,
        relay_key: RelayKey,
        device_text: str,
        pending: Iterable[int],
        receipted: int = 0,
        webrtc: bool = True,
        rng: random.Random | None = None,
    ) -> None:
        self._recording_id = recording_id
        self._relay_key = relay_key
        self._device_text = device_text
        self._pending: set[int] = set(pending)
        self._spooled: set[int] = set(self._pending)
        self._in_flight: dict[int, _Flight] = {}
        self._links = {kind: _Link() for kind in LinkKind}
        self._webrtc = webrtc
        self._active: LinkKind | None = None
        self._recording_done = True
        self._backoff = Backoff(
            BACKOFF_INITIAL_S, BACKOFF_MAX_S, jitter=BACKOFF_JITTER, rng=rng or random.Random()
        )
        self._send_after = 0.0
        self._stopped: str | None = None
        self._problem: str | None = None
        self._told: set[str] = set()
        self._outage = False
        self._actions: list[Action] = []
        self._safe = receipted
        self._given_up: dict[int, str] = {}

    # -- what the driver asks --

    @property
    def finished(self) -> bool:
        """Every chunk is receipted or given up, and the recorder will add no more."""
        if self._stopped is not None:
            return True
        return self._recording_done and not self._pending and not self._in_flight

    @property
    def safe_count(self) -> int:
        return self._safe

    @property
    def unsafe_indices(self) -> list[int]:
        """Spooled chunks without a receipt (what losing the device now would lose)."""
        return sorted(self._spooled)

    @property
    def given_up(self) -> dict[int, str]:
        """Chunks the relay will never take, with the reason."""
        return dict(self._given_up)

    @property
    def status(self) -> UploadStatus:
        link = self._active.value if self._active is not None else "offline"
        return UploadStatus(link, len(self._spooled), self._safe, self._problem, self._stopped)

    def wake_at(self) -> float | None:
        """The next moment at which `actions` may have something new without an event."""
        if self.finished:
            return None
        moments: list[float] = []
        active = self._active
        if active is not None and self._links[active].state is LinkState.UP:
            flights = [f.sent_at for f in self._in_flight.values() if f.kind is active]
            if flights:
                moments.append(min(flights) + RECEIPT_TIMEOUT_S)
            if self._may_send():
                moments.append(self._send_after)  # sending paused by a "later" refusal
        for kind in self._wanted_links():
            link = self._links[kind]
            if link.state is LinkState.IDLE:
                moments.append(link.retry_at)
        return min(moments) if moments else None

    def actions(self, now: float) -> list[Action]:
        """What to do now, in order. Call after every event and at `wake_at`."""
        self._check_timeouts(now)
        if self.finished:
            for kind, link in self._links.items():
                if link.state is not LinkState.IDLE:
                    self._close(kind)
        else:
            self._choose_active()
            for kind in self._wanted_links():
                link = self._links[kind]
                if link.state is LinkState.IDLE and now >= link.retry_at:
                    link.state = LinkState.CONNECTING
                    self._actions.append(Connect(kind))
            self._send(now)
        actions, self._actions = self._actions, []
        return actions

    # -- what the recorder says --

    def chunk_spooled(self, index: int) -> None:
        if index in self._spooled or index in self._given_up:
            return
        self._spooled.add(index)
        if self._stopped is not None:
            self._given_up[index] = self._stopped
        else:
            self._pending.add(index)

    def expect_more(self) -> None:
        """The recorder is still adding chunks: don't finish when these are receipted."""
        self._recording_done = False

    def recording_done(self) -> None:
        self._recording_done = True

    # -- what the links say --

    def connected(self, kind: LinkKind, now: float) -> None:
        """The link is open and the relay accepted HELLO."""
        link = self._links[kind]
        if link.state is not LinkState.CONNECTING or self.finished:
            self._close(kind)  # not wanted any more
            return
        link.state = LinkState.UP
        if kind is LinkKind.WEBRTC or self._active is None:
            self._problem = None

    def connect_failed(self, kind: LinkKind, reason: str, now: float) -> None:
        link = self._links[kind]
        if link.state is not LinkState.CONNECTING:
            return
        link.state = LinkState.IDLE
        if kind is LinkKind.WEBRTC:
            link.retry_at = now + WEBRTC_RETRY_S
            if self._webrtc:
                self._tell("WebRTC did not connect; using HTTPS")
        else:
            link.retry_at = now + self._backoff.next_delay()
            self._offline("cannot reach the relay")

    def session_refused(self, kind: LinkKind, code: ErrorCode, message: str, now: float) -> None:
        """The relay refused HELLO, or the whole session later (an error about no chunk)."""
        link = self._links[kind]
        if link.state is LinkState.IDLE:
            return
        for index in [i for i, f in self._in_flight.items() if f.kind is kind]:
            del self._in_flight[index]
            self._pending.add(index)
        self._close(kind)
        if code in FINAL_FOR_RECORDING:
            self._stop(self._final_reason(code, message))
        elif kind is LinkKind.WEBRTC and code in (ErrorCode.BUSY, ErrorCode.OVERLOADED):
            link.retry_at = now + WEBRTC_RETRY_S  # the relay has no WebRTC room: HTTPS
        else:
            link.retry_at = now + self._backoff.next_delay()
            self._offline(f"the relay cannot take this recording now ({code.wire_name})")

    def sent(self, index: int, chunk_hash: bytes, device_time_ms: int) -> None:
        """The driver read chunk `index` for a `Send`: what its receipt must name."""
        flight = self._in_flight.get(index)
        if flight is not None:
            flight.chunk_hash = chunk_hash
            flight.device_time_ms = device_time_ms

    def unreadable(self, index: int, reason: str) -> None:
        """The spooled chunk cannot be read: it cannot be uploaded either."""
        self._in_flight.pop(index, None)
        self._pending.discard(index)
        self._give_up(index, f"the spooled chunk cannot be read: {reason}")

    def receipt(self, kind: LinkKind, index: int, data: bytes, now: float) -> None:
        flight = self._in_flight.get(index)
        if flight is None or flight.kind is not kind or flight.chunk_hash is None:
            self._lose(kind, f"the relay answered for chunk {index}, which was not sent", now)
            return
        try:
            receipt = Receipt.parse(data)
        except MalformedError:
            self._lose(kind, f"the receipt for chunk {index} is malformed", now)
            return
        if not receipt.names(self._recording_id, index, flight.chunk_hash):
            self._lose(kind, f"the receipt for chunk {index} names another chunk", now)
            return
        if receipt.relay_key != self._relay_key.raw:
            self._stop(
                "this relay's key is not the one you set up; check --relay and --relay-key "
                f"(it signs with {RelayKey(receipt.relay_key)})"
            )
            return
        if not receipt.verify(self._relay_key):
            self._lose(kind, f"the receipt for chunk {index} does not verify", now)
            return
        del self._in_flight[index]
        self._spooled.discard(index)
        self._safe += 1
        self._backoff.reset()
        self._problem = None
        if self._outage:
            self._outage = False
            self._actions.append(Tell(BACK_IN_REACH))
        self._actions.append(
            StoreReceipt(index, data, flight.device_time_ms, receipt.received_ms, kind)
        )

    def refused(
        self, kind: LinkKind, index: int, code: ErrorCode, message: str, now: float
    ) -> None:
        flight = self._in_flight.get(index)
        if flight is None or flight.kind is not kind:
            self._lose(kind, f"the relay answered for chunk {index}, which was not sent", now)
            return
        del self._in_flight[index]
        if code in FINAL_FOR_RECORDING:
            self._pending.add(index)
            self._stop(self._final_reason(code, message))
        elif code is ErrorCode.NO_HEADER:
            self._pending.add(index)
            self._lose(kind, "the relay lost this recording's header", now)
        elif code in LATER:
            self._pending.add(index)
            self._send_after = max(self._send_after, now + self._backoff.next_delay())
            self._problem = f"the relay cannot take chunks right now ({code.wire_name}); retrying"
            self._tell(self._problem)
        else:
            self._give_up(index, f"{code.wire_name}: {message}")
            self._tell(f"the relay refused chunk {index} for good ({code.wire_name}: {message})")

    def lost(self, kind: LinkKind, reason: str, now: float) -> None:
        """The link stopped working (closed, timed out, a transport error)."""
        if self._links[kind].state is LinkState.IDLE:
            return
        self._lose(kind, reason, now)

    # -- inside --

    def _wanted_links(self) -> list[LinkKind]:
        if self._stopped is not None:
            return []
        wanted = [LinkKind.WEBRTC] if self._webrtc else []
        webrtc_up = self._webrtc and self._links[LinkKind.WEBRTC].state is LinkState.UP
        if not webrtc_up:
            wanted.append(LinkKind.HTTPS)
        return wanted

    def _choose_active(self) -> None:
        webrtc = self._links[LinkKind.WEBRTC]
        https = self._links[LinkKind.HTTPS]
        if webrtc.state is LinkState.UP:
            if self._active is LinkKind.HTTPS:
                if any(f.kind is LinkKind.HTTPS for f in self._in_flight.values()):
                    return  # let the chunks in flight on HTTPS be answered first
                self._close(LinkKind.HTTPS)
            elif https.state is not LinkState.IDLE:
                self._close(LinkKind.HTTPS)
            self._active = LinkKind.WEBRTC
        elif https.state is LinkState.UP and self._active is None:
            self._active = LinkKind.HTTPS

    def _may_send(self) -> bool:
        """Whether a chunk may go now, but for a pause after a "later" refusal."""
        kind = self._active
        if kind is None or self._links[kind].state is not LinkState.UP:
            return False
        if kind is LinkKind.HTTPS and self._links[LinkKind.WEBRTC].state is LinkState.UP:
            return False  # switching to WebRTC: drain HTTPS first
        return bool(self._pending) and len(self._in_flight) < WINDOW_CHUNKS

    def _send(self, now: float) -> None:
        kind = self._active
        if kind is None or now < self._send_after:
            return
        while self._may_send():
            index = min(self._pending)
            self._pending.discard(index)
            self._in_flight[index] = _Flight(kind, now)
            self._actions.append(Send(kind, index))

    def _check_timeouts(self, now: float) -> None:
        for kind in LinkKind:
            flights = [f.sent_at for f in self._in_flight.values() if f.kind is kind]
            if flights and now >= min(flights) + RECEIPT_TIMEOUT_S:
                self._lose(kind, f"no answer from the relay within {RECEIPT_TIMEOUT_S:.0f} s", now)

    def _lose(self, kind: LinkKind, reason: str, now: float) -> None:
        """Close the link, put its chunks in flight back, and connect again later."""
        for index in [i for i, f in self._in_flight.items() if f.kind is kind]:
            del self._in_flight[index]
            self._pending.add(index)
        link = self._links[kind]
        if link.state is not LinkState.IDLE:
            self._close(kind)
        delay = self._backoff.next_delay()
        link.retry_at = now + delay
        if kind is LinkKind.HTTPS or not self._webrtc:
            self._links[LinkKind.HTTPS].retry_at = now + delay
        self._offline(f"connection to the relay lost: {reason}")

    def _close(self, kind: LinkKind) -> None:
        self._links[kind].state = LinkState.IDLE
        if self._active is kind:
            self._active = None
        self._actions.append(Close(kind))

    def _offline(self, problem: str) -> None:
        """Say once per outage that the relay is out of reach; the detail goes to status."""
        if self._active is not None:
            return
        self._problem = problem
        if not self._outage:
            self._outage = True
            self._actions.append(Tell(OUT_OF_REACH))

    def _give_up(self, index: int, reason: str) -> None:
        self._given_up[index] = reason

    def _stop(self, reason: str) -> None:
        """No chunk of this recording will be accepted: end the upload, keep the spool."""
        if self._stopped is not None:
            return
        self._stopped = reason
        for index in sorted(self._pending | set(self._in_flight)):
            self._give_up(index, reason)
        self._pending.clear()
        self._in_flight.clear()
        for kind, link in self._links.items():
            if link.state is not LinkState.IDLE:
                self._close(kind)
        self._tell(f"upload stopped: {reason}")

    def _final_reason(self, code: ErrorCode, message: str) -> str:
        if code is ErrorCode.UNKNOWN_DEVICE:
            return (
                "the relay does not accept this device (not enrolled, or revoked); give the "
                f"relay's operator this device key: {self._device_text}"
            )
        if code is ErrorCode.UNAUTHORIZED:
            return "the relay refused this device"
        return f"the relay refused this recording ({code.wire_name}: {message})"

    def _tell(self, text: str) -> None:
        if text not in self._told:
            self._told.add(text)
            self._actions.append(Tell(text))
