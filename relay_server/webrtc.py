"""WebRTC ingest: signaling answers, admission control, one session per data channel.

Messages of a channel are handled strictly in order by one task per session, so a
receipt never overtakes an earlier chunk's answer. Bytes waiting in a session's queue are
bounded; past the bound the session is closed with `overloaded`.
"""

import asyncio
import ipaddress
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass

from aiortc import (
    RTCConfiguration,
    RTCDataChannel,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
)

from relay_server.ice_logins import IceLogins
from relay_server.ingest import AcceptedRecording, Ingest
from relay_server.logs import log_event
from relay_server.metrics import Metrics
from relay_server.settings import Settings
from vault.wire.datachannel import (
    CHANNEL_LABEL,
    ChunkFrame,
    ErrorMessage,
    Hello,
    Reassembler,
    ReceiptMessage,
    parse_message,
    welcome_messages,
)
from vault.wire.errors import ErrorCode, RelayError

FLUSH_TIMEOUT_S = 5.0
MAX_OFFER_BYTES = 64 * 1024


def ice_servers(ice: IceLogins) -> list[RTCIceServer]:
    """The relay's own ICE servers for one peer connection."""
    server = ice.for_relay()
    if server is None:
        return []
    return [RTCIceServer(list(server.urls), server.username, server.credential)]


@dataclass(frozen=True)
class Answer:
    sdp: str
    type: str


class ChannelSession:
    """The relay's end of one `testigo/v1` data channel."""

    def __init__(
        self,
        channel: RTCDataChannel,
        ingest: Ingest,
        settings: Settings,
        metrics: Metrics,
        on_done: Callable[[], Awaitable[None]],
    ) -> None:
        self._channel = channel
        self._ingest = ingest
        self._settings = settings
        self._metrics = metrics
        self._queue: asyncio.Queue[bytes | str | None] = asyncio.Queue()
        self._queued_bytes = 0
        self._max_queued = 2 * settings.max_chunk_bytes + 1024 * 1024
        self._reassembler = Reassembler(settings.max_chunk_bytes)
        self._recording: AcceptedRecording | None = None
        self._dead = False
        self._overloaded = False
        self._done = on_done
        self._closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        channel.on("message", self._on_message)
        channel.on("close", self._on_close)
        self.task = asyncio.ensure_future(self._run())

    def _on_message(self, message: bytes | str) -> None:
        if self._dead or self._overloaded:
            return
        self._queued_bytes += len(message)
        if self._queued_bytes > self._max_queued:
            self._overloaded = True
            self._queue.put_nowait(None)
            return
        self._queue.put_nowait(message)

    def _on_close(self) -> None:
        self._queue.put_nowait(None)
        if not self._closed.done():
            self._closed.set_result(None)

    async def _run(self) -> None:
        try:
            while not self._dead:
                try:
                    async with asyncio.timeout(self._settings.session_idle_seconds):
                        message = await self._queue.get()
                except TimeoutError:
                    log_event(logging.INFO, "session.idle", recording=self._log_id)
                    break
                if message is None:
                    if self._overloaded:
                        error = RelayError(ErrorCode.OVERLOADED, "too many bytes queued; slow down")
                        await self._fail(error)
                    break
                self._queued_bytes -= len(message)
                try:
                    await self._handle(message)
                except RelayError as error:
                    await self._fail(error)
        finally:
            self._dead = True
            if self._channel.readyState == "open":
                self._channel.close()
                try:  # the peer acknowledges the close after all our messages
                    async with asyncio.timeout(FLUSH_TIMEOUT_S):
                        await self._closed
                except TimeoutError:
                    pass
            await self._done()

    @property
    def _log_id(self) -> str | None:
        return None if self._recording is None else self._recording.log_id

    async def _handle(self, data: bytes | str) -> None:
        message = parse_message(data)
        if isinstance(message, Hello):
            self._reassembler.reset()
            self._recording = await self._ingest.accept_header(message.header)
            for welcome in welcome_messages(await self._ingest.held_ranges(self._recording)):
                self._send(bytes(welcome))
        elif isinstance(message, ChunkFrame):
            if self._recording is None:
                self._metrics.reject(ErrorCode.NO_HEADER.wire_name)
                await self._fail(
                    RelayError(ErrorCode.NO_HEADER, "send HELLO first", index=message.index),
                    fatal=True,
                )
                return
            chunk = self._reassembler.feed(message)
            if chunk is None:
                return
            if message.index != int.from_bytes(chunk[20:24], "big"):
                raise RelayError(ErrorCode.MALFORMED, "frame index differs from the chunk's")
            stored = await self._ingest.accept_chunk(self._recording, chunk)
            self._send(bytes(ReceiptMessage(stored.receipt, stored.duplicate)))
        else:
            raise RelayError(ErrorCode.MALFORMED, "a relay-to-client message sent to the relay")

    def _send(self, data: bytes) -> None:
        if self._channel.readyState == "open":
            self._channel.send(data)

    async def _fail(self, error: RelayError, *, fatal: bool | None = None) -> None:
        is_fatal = error.code.fatal if fatal is None else fatal
        if error.code in (ErrorCode.MALFORMED, ErrorCode.OVERLOADED):
            self._metrics.reject(error.code.wire_name)
        self._send(bytes(ErrorMessage(error.code, str(error), error.index, is_fatal)))
        if not is_fatal:
            return
        self._dead = True
        log_event(
            logging.WARNING,
            "session.closed_on_error",
            recording=self._log_id,
            error=error.code.wire_name,
        )
        await self._flush()

    async def _flush(self) -> None:
        """Wait until queued outgoing messages reached SCTP, so they precede the close."""
        if self._channel.readyState != "open" or self._channel.bufferedAmount == 0:
            return
        drained = asyncio.get_running_loop().create_future()

        def low() -> None:
            if not drained.done():
                drained.set_result(None)

        self._channel.bufferedAmountLowThreshold = 0
        self._channel.on("bufferedamountlow", low)
        try:
            async with asyncio.timeout(FLUSH_TIMEOUT_S):
                await drained
        except TimeoutError:
            pass
        finally:
            self._channel.remove_listener("bufferedamountlow", low)


MAX_OFFER_CANDIDATES = 32


def check_offer(sdp: str) -> None:
    """Refuse, before any WebRTC work, an offer that cannot be a testigo/v1 client's: it
    must offer a data channel (`m=application … webrtc-datachannel`, or the older
    `DTLS/SCTP`), nothing else, and at most MAX_OFFER_CANDIDATES ICE candidates."""
    media = [line for line in sdp.splitlines() if line.startswith("m=")]
    if not media:
        raise RelayError(ErrorCode.MALFORMED, "the offer has no data channel")
    for line in media:
        if not line.startswith("m=application ") or not (
            "webrtc-datachannel" in line or "DTLS/SCTP" in line
        ):
            raise RelayError(ErrorCode.MALFORMED, "the offer holds more than a data channel")
    candidates = sum(1 for line in sdp.splitlines() if line.startswith("a=candidate:"))
    if candidates > MAX_OFFER_CANDIDATES:
        raise RelayError(ErrorCode.MALFORMED, "the offer holds too many ICE candidates")


def usable_candidate(line: str, *, any_address: bool) -> bool:
    """Whether the relay tries this remote `a=candidate:` line: with any_address False,
    only a public IP address (not loopback, private, link-local, multicast, reserved or
    an mDNS .local name), so a stranger cannot make it send to a network behind it."""
    fields = line.split()
    if len(fields) < 8:
        return False
    if any_address:
        return True
    try:
        address = ipaddress.ip_address(fields[4])
    except ValueError:
        return False  # a host name, e.g. an mDNS "….local": nothing the relay should look up
    return address.is_global and not address.is_multicast


def admitted_offer(sdp: str, *, any_address: bool) -> str:
    """The offer with only the remote candidates the relay will try (see check_offer)."""
    kept = [
        line
        for line in sdp.split("\r\n")
        if not line.startswith("a=candidate:") or usable_candidate(line, any_address=any_address)
    ]
    return "\r\n".join(kept)


class WebRTCSessions:
    """Every live peer connection, under `max_webrtc_sessions`."""

    def __init__(
        self, ingest: Ingest, settings: Settings, metrics: Metrics, ice: IceLogins
    ) -> None:
        self._ingest = ingest
        self._settings = settings
        self._ice = ice
        self._metrics = metrics
        self._connections: set[RTCPeerConnection] = set()
        self._opened: set[RTCPeerConnection] = set()  # its testigo/v1 channel is open
        self._deadlines: dict[RTCPeerConnection, asyncio.TimerHandle] = {}
        self._background: set[asyncio.Task[None]] = set()
        self._sessions: set[ChannelSession] = set()
        self._closing = False

    def __len__(self) -> int:
        return len(self._connections)

    async def answer(self, sdp: str, kind: str) -> Answer:
        if self._closing:
            raise RelayError(ErrorCode.BUSY, "the relay is shutting down; use the HTTPS path")
        if kind != "offer":
            raise RelayError(ErrorCode.MALFORMED, "expected an SDP offer")
        check_offer(sdp)
        sdp = admitted_offer(sdp, any_address=self._settings.remote_candidates == "any")
        if len(self._connections) >= self._settings.max_webrtc_sessions:
            raise RelayError(ErrorCode.BUSY, "relay busy, use the HTTPS path")
        connection = RTCPeerConnection(RTCConfiguration(iceServers=ice_servers(self._ice)))
        self._connections.add(connection)
        self._metrics.webrtc_sessions = len(self._connections)
        self._deadlines[connection] = asyncio.get_running_loop().call_later(
            self._settings.webrtc_open_seconds,
            lambda: self._spawn(self._expire(connection)),
        )

        @connection.on("datachannel")
        def on_datachannel(channel: RTCDataChannel) -> None:
            self._open_channel(connection, channel)

        @connection.on("connectionstatechange")
        async def on_state() -> None:
            if connection.connectionState in ("failed", "closed"):
                await self._drop(connection)

        try:
            await connection.setRemoteDescription(RTCSessionDescription(sdp=sdp, type=kind))
            await connection.setLocalDescription(await connection.createAnswer())
        except Exception as error:  # whatever a junk offer breaks, the slot is freed
            await self._drop(connection)
            reason = str(error) or type(error).__name__
            raise RelayError(ErrorCode.MALFORMED, f"unusable SDP offer: {reason}") from None
        except BaseException:
            await self._drop(connection)
            raise
        local = connection.localDescription
        return Answer(sdp=str(local.sdp), type=str(local.type))

    def _spawn(self, work: Coroutine[object, object, None]) -> None:
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _expire(self, connection: RTCPeerConnection) -> None:
        """A connection that has not opened its channel in time gives its slot back."""
        if connection in self._connections and connection not in self._opened:
            log_event(logging.INFO, "webrtc.open_timeout")
            await self._drop(connection)

    def _open_channel(self, connection: RTCPeerConnection, channel: RTCDataChannel) -> None:
        label = getattr(channel, "label", "")
        if label != CHANNEL_LABEL or connection in self._opened:
            log_event(logging.INFO, "webrtc.unexpected_channel")
            channel.close()
            self._spawn(self._drop(connection))
            return
        self._opened.add(connection)

        async def finished() -> None:
            self._sessions.discard(session)
            await self._drop(connection)

        session = ChannelSession(channel, self._ingest, self._settings, self._metrics, finished)
        self._sessions.add(session)

    async def _drop(self, connection: RTCPeerConnection) -> None:
        deadline = self._deadlines.pop(connection, None)
        if deadline is not None:
            deadline.cancel()
        self._opened.discard(connection)
        if connection in self._connections:
            self._connections.discard(connection)
            self._metrics.webrtc_sessions = len(self._connections)
            await connection.close()

    async def close_all(self) -> None:
        """Close every peer connection (on shutdown)."""
        self._closing = True
        for connection in list(self._connections):
            await self._drop(connection)
        for session in list(self._sessions):
            session.task.cancel()
        await asyncio.gather(*(s.task for s in self._sessions), return_exceptions=True)
