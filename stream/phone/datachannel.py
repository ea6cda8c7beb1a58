"""A minimal data channel client for the relay: tests, benchmarks, reference for devices.

It speaks docs/PROTOCOL.md §3: HELLO, CHUNK frames under `bufferedAmount` flow control,
and hands back the relay's messages in order.
"""

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Final

from aiortc import (
    RTCConfiguration,
    RTCDataChannel,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
)

from vault.wire.datachannel import (
    CHANNEL_LABEL,
    ErrorMessage,
    Hello,
    Message,
    ReceiptMessage,
    Welcome,
    parse_message,
    split_chunk,
)
from vault.wire.documents import IceConfig
from vault.wire.errors import ErrorCode, RelayError

BUFFER_HIGH: Final = 1024 * 1024
BUFFER_LOW: Final = 256 * 1024
OPEN_TIMEOUT_S: Final = 20.0

# Sends the offer as JSON to POST /v1/webrtc/offer and returns the JSON answer.
Signaling = Callable[[dict[str, str]], Awaitable[dict[str, str]]]


class ChannelClosed(Exception):
    """The relay closed the data channel."""


class DataChannelClient:
    def __init__(self, connection: RTCPeerConnection, channel: RTCDataChannel) -> None:
        self.connection = connection
        self.channel = channel
        self._incoming: asyncio.Queue[Message | None] = asyncio.Queue()
        self._low = asyncio.Event()
        channel.bufferedAmountLowThreshold = BUFFER_LOW
        channel.on("message", self._on_message)
        channel.on("close", lambda: self._incoming.put_nowait(None))
        channel.on("bufferedamountlow", self._low.set)

    @classmethod
    async def connect(
        cls, signaling: Signaling, ice: IceConfig | None = None
    ) -> "DataChannelClient":
        """Offer a data channel through signaling and wait until it is open. Only the
        relay's ICE servers are used (none: host candidates only), never a default STUN."""
        servers = [
            RTCIceServer(urls=list(s.urls), username=s.username, credential=s.credential)
            for s in (ice or IceConfig()).servers
        ]
        connection = RTCPeerConnection(RTCConfiguration(iceServers=servers))
        channel = connection.createDataChannel(CHANNEL_LABEL)
        opened = asyncio.Event()
        channel.on("open", opened.set)
        client = cls(connection, channel)
        try:
            await connection.setLocalDescription(await connection.createOffer())
            local = connection.localDescription
            answer = await signaling({"sdp": local.sdp, "type": local.type})
            await connection.setRemoteDescription(
                RTCSessionDescription(sdp=answer["sdp"], type=answer["type"])
            )
            async with asyncio.timeout(OPEN_TIMEOUT_S):
                await opened.wait()
        except BaseException:
            await connection.close()
            raise
        return client

    def _on_message(self, data: bytes | str) -> None:
        self._incoming.put_nowait(parse_message(data))

    async def receive(self) -> Message:
        message = await self._incoming.get()
        if message is None:
            self._incoming.put_nowait(None)
            raise ChannelClosed("the relay closed the data channel")
        return message

    async def hello(self, header: bytes) -> list[tuple[int, int]]:
        """Start a recording; the ranges of chunk indices the relay already holds."""
        await self.send(bytes(Hello(header)))
        ranges: list[tuple[int, int]] = []
        while True:
            message = await self.receive()
            if isinstance(message, ErrorMessage):
                raise message.error()
            if not isinstance(message, Welcome):
                raise RelayError(ErrorCode.MALFORMED, "expected WELCOME")
            ranges.extend(message.ranges)
            if not message.more:
                return ranges

    async def send(self, data: bytes) -> None:
        """Send one message, waiting while too much is buffered."""
        while self.channel.bufferedAmount > BUFFER_HIGH:
            self._low.clear()
            await self._low.wait()
        self.channel.send(data)

    async def send_chunk(self, index: int, chunk: bytes) -> None:
        for frame in split_chunk(index, chunk):
            await self.send(bytes(frame))

    async def upload(self, chunks: list[tuple[int, bytes]]) -> list[ReceiptMessage | ErrorMessage]:
        """Send chunks and collect one answer per chunk, in order."""
        answers: list[ReceiptMessage | ErrorMessage] = []

        async def collect() -> None:
            while len(answers) < len(chunks):
                message = await self.receive()
                if isinstance(message, ReceiptMessage | ErrorMessage):
                    answers.append(message)

        collector = asyncio.ensure_future(collect())
        try:
            for index, chunk in chunks:
                await self.send_chunk(index, chunk)
            await collector
        finally:
            collector.cancel()
        return answers

    async def close(self) -> None:
        await self.connection.close()


def json_signaling(post: Callable[[bytes], Awaitable[bytes]]) -> Signaling:
    async def signal(offer: dict[str, str]) -> dict[str, str]:
        answer = json.loads(await post(json.dumps(offer).encode()))
        return {"sdp": str(answer["sdp"]), "type": str(answer["type"])}

    return signal
