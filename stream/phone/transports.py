"""The two ways a device talks to the relay (docs/PROTOCOL.md §3, §4), behind one interface.

Both carry the same exchange: HELLO with the header, then chunks, each answered by a
receipt or an error. `Answer`s come back in the order the chunks were submitted.
"""

import asyncio
import time
from dataclasses import dataclass
from typing import Final, Protocol

import aiohttp

from stream.phone.datachannel import ChannelClosed, DataChannelClient
from stream.relay_http import client_timeout, failure_text
from vault.errors import MalformedError
from vault.identity import DeviceIdentity
from vault.keys import RelayKey
from vault.receipts import RECEIPT_SIZE, Receipt
from vault.wire import routes
from vault.wire.datachannel import ErrorMessage, ReceiptMessage
from vault.wire.device_proof import DeviceProof
from vault.wire.documents import HeaderAccepted, IceConfig
from vault.wire.errors import ErrorBody, RelayError

WEBRTC_CONNECT_TIMEOUT_S: Final = 5.0
HTTP_TIMEOUT_S: Final = 15.0


class ConnectionLost(Exception):
    """The transport stopped working; reconnect and resume."""


@dataclass(frozen=True)
class Answer:
    """The relay's answer to one chunk: a receipt, or a refusal. index is None for a
    refusal of the whole session (then error is set)."""

    index: int | None
    receipt: bytes | None
    error: RelayError | None


class DeviceProver:
    """Signs the device proof that gets TURN logins from /v1/webrtc/config (§3.1). The
    relay takes a device's proof times only in increasing order: each is later than the
    one before, even within one millisecond."""

    def __init__(self, identity: DeviceIdentity, relay_key: RelayKey) -> None:
        self._identity = identity
        self._relay_key = relay_key
        self._last_ms = 0

    def authorization(self) -> str:
        self._last_ms = max(time.time_ns() // 1_000_000, self._last_ms + 1)
        return DeviceProof.sign(self._identity, self._relay_key, self._last_ms).header_value()


class Transport(Protocol):
    name: str

    async def hello(self, header: bytes) -> None:
        """Start the recording's session; RelayError when the relay refuses the header,
        ConnectionLost when the link fails."""

    async def submit(self, index: int, chunk: bytes) -> None: ...

    async def answer(self) -> Answer: ...

    async def close(self) -> None: ...


class WebRTCTransport:
    """A data channel to the relay (aiortc). No ICE restart: a new one per reconnect."""

    name = "webrtc"

    def __init__(self, client: DataChannelClient) -> None:
        self._client = client

    @classmethod
    async def connect(
        cls,
        session: aiohttp.ClientSession,
        relay_url: str,
        prover: DeviceProver | None = None,
    ) -> "WebRTCTransport":
        """Signaling, then the data channel. Without a prover the relay's ICE
        configuration holds no TURN server (a stranger's)."""

        async def signal(offer: dict[str, str]) -> dict[str, str]:
            async with session.post(routes.WEBRTC_OFFER.url(relay_url), json=offer) as response:
                if response.status != 200:
                    raise ConnectionLost(f"relay refused WebRTC (HTTP {response.status})")
                answer = await response.json()
            return {"sdp": str(answer["sdp"]), "type": str(answer["type"])}

        try:
            async with asyncio.timeout(WEBRTC_CONNECT_TIMEOUT_S):
                proof = {"Authorization": prover.authorization()} if prover else {}
                config_url = routes.WEBRTC_CONFIG.url(relay_url)
                async with session.get(config_url, headers=proof) as response:
                    if response.status != 200:
                        raise ConnectionLost(f"relay refused WebRTC (HTTP {response.status})")
                    ice = IceConfig.parse(await response.read())
                client = await DataChannelClient.connect(signal, ice)
        except (
            TimeoutError,
            aiohttp.ClientError,
            OSError,
            ValueError,
            KeyError,
            MalformedError,
        ) as error:
            raise ConnectionLost(f"WebRTC did not connect: {failure_text(error)}") from None
        return cls(client)

    async def hello(self, header: bytes) -> None:
        try:
            await self._client.hello(header)
        except ChannelClosed as error:
            raise ConnectionLost(str(error)) from None

    async def submit(self, index: int, chunk: bytes) -> None:
        if self._client.channel.readyState != "open":
            raise ConnectionLost("the data channel is closed")
        await self._client.send_chunk(index, chunk)

    async def answer(self) -> Answer:
        while True:
            try:
                message = await self._client.receive()
            except ChannelClosed as error:
                raise ConnectionLost(str(error)) from None
            except RelayError as error:
                raise ConnectionLost(f"relay sent a malformed message: {error}") from None
            if isinstance(message, ReceiptMessage):
                try:
                    index = Receipt.parse(message.receipt).index
                except MalformedError:
                    raise ConnectionLost("the relay sent a malformed receipt") from None
                return Answer(index, message.receipt, None)
            if isinstance(message, ErrorMessage):
                # A fatal error is followed by the relay closing the channel: the next
                # answer() raises ConnectionLost.
                return Answer(message.index, None, message.error())

    async def close(self) -> None:
        await self._client.close()


class HTTPSTransport:
    """One POST per chunk (the fallback when WebRTC cannot connect)."""

    name = "https"

    def __init__(self, session: aiohttp.ClientSession, relay_url: str) -> None:
        self._session = session
        self._url = relay_url
        self._chunks_url = ""
        self._queue: asyncio.Queue[tuple[int, bytes]] = asyncio.Queue()

    async def hello(self, header: bytes) -> None:
        try:
            async with self._session.post(
                routes.HEADERS.url(self._url), data=header, timeout=client_timeout(HTTP_TIMEOUT_S)
            ) as response:
                body = await response.read()
                if response.status != 200:
                    raise _refusal(response.status, body)
                accepted = HeaderAccepted.parse(body)
        except (aiohttp.ClientError, TimeoutError, OSError, MalformedError) as error:
            raise ConnectionLost(f"HTTPS to the relay failed: {failure_text(error)}") from None
        self._chunks_url = routes.CHUNKS.url(
            self._url, device=accepted.device, recording_id=accepted.recording_id
        )

    async def submit(self, index: int, chunk: bytes) -> None:
        self._queue.put_nowait((index, chunk))

    async def answer(self) -> Answer:
        index, chunk = await self._queue.get()
        try:
            async with self._session.post(
                self._chunks_url, data=chunk, timeout=client_timeout(HTTP_TIMEOUT_S)
            ) as response:
                body = await response.read()
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            raise ConnectionLost(f"HTTPS to the relay failed: {failure_text(error)}") from None
        if response.status == 200 and len(body) == RECEIPT_SIZE:
            return Answer(index, body, None)
        refusal = _refusal(response.status, body)
        if isinstance(refusal, ConnectionLost):
            raise refusal
        return Answer(index, None, RelayError(refusal.code, str(refusal), index=index))

    async def close(self) -> None:
        """The session belongs to the caller."""


def _refusal(status: int, body: bytes) -> RelayError | ConnectionLost:
    """The relay's refusal in an error answer; ConnectionLost when it is not one (a
    proxy's page, another server)."""
    try:
        return ErrorBody.parse(body).error()
    except MalformedError:
        return ConnectionLost(f"the relay answered HTTP {status}")
