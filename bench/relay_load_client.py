"""Client side of bench/relay_load.py: one process that streams for many simulated devices.

Run by the orchestrator as `python -m bench.relay_load_client`; it talks JSON lines:

1. stdin: the spec (transport, device seeds, chunk size and count, each device's offset
   within the second). The process seals every device's recording (before any clock
   starts: sealing is the device's cost, not the relay's), then prints `sealed`.
2. stdin: `{"url": ...}`. Every device connects (WebRTC: signaling, data channel, HELLO;
   HTTPS: POST /v1/headers) and the process prints `ready` with what failed.
3. stdin: `{"start": T}` (a CLOCK_MONOTONIC time, shared by every process on the host).
   Device d sends its chunk i at T + offset_d + i, paced in real time, and waits for the
   receipts until the drain deadline; the process prints `result`.
4. stdin: any line, or end of file: the devices disconnect and the process exits.

Latency is measured per chunk: WebRTC from handing the chunk's last frame to the data
channel to receiving its RECEIPT; HTTPS from starting the POST to reading the receipt.
The ICE agent of this process only offers 127.0.0.1, so no media leaves the loopback.
"""

import asyncio
import contextlib
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Final

import aiohttp
import aioice.ice

from stream.phone.datachannel import ChannelClosed, DataChannelClient, json_signaling
from vault import ChunkKind, DeviceIdentity, RecipientIdentity, RecordingSealer
from vault.errors import MalformedError
from vault.wire import routes
from vault.wire.datachannel import ErrorMessage, ReceiptMessage
from vault.wire.errors import ErrorBody, ErrorCode, RelayError

MEDIA_TYPE: Final = 'video/mp4; codecs="avc1.42E01E"'
CONNECT_CONCURRENCY: Final = 8
CONNECT_TIMEOUT_S: Final = 30.0
CLOSE_TIMEOUT_S: Final = 5.0
RECEIPT_INDEX: Final = slice(20, 24)  # docs/PROTOCOL.md section 2
CHUNK_TYPE: Final = "application/octet-stream"


def loopback_only(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    """Host candidates for aioice: the loopback address only."""
    return ["127.0.0.1"] if use_ipv4 else []


class Refused(Exception):
    """The relay refused the device (busy, an HTTP error, a closed channel)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def as_list(value: object) -> list[object]:
    if not isinstance(value, list):
        raise ValueError("bad spec: expected a list")
    return value


@dataclass(frozen=True)
class Spec:
    transport: str
    seeds: list[str]
    offsets: list[float]
    chunk_bytes: int
    chunks: int
    drain_s: float

    @classmethod
    def from_json(cls, data: dict[str, object]) -> "Spec":
        spec = cls(
            transport=str(data["transport"]),
            seeds=[str(s) for s in as_list(data["seeds"])],
            offsets=[float(str(o)) for o in as_list(data["offsets"])],
            chunk_bytes=int(str(data["chunk_bytes"])),
            chunks=int(str(data["chunks"])),
            drain_s=float(str(data["drain_s"])),
        )
        if spec.transport not in ("webrtc", "https") or len(spec.seeds) != len(spec.offsets):
            raise ValueError("bad spec")
        return spec


@dataclass(frozen=True)
class SealedRecording:
    device: str
    recording_id: str
    header: bytes
    chunks: list[bytes]


@dataclass
class Results:
    """What every device of this process measured; printed as one JSON line."""

    latencies: list[float] = field(default_factory=list)
    lags: list[float] = field(default_factory=list)
    offered: int = 0
    receipted: int = 0
    receipted_bytes: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    last_receipt: float | None = None

    def sent(self, scheduled: float) -> float:
        now = time.monotonic()
        self.lags.append(now - scheduled)
        return now

    def receipt(self, sent_at: float, size: int) -> None:
        now = time.monotonic()
        self.latencies.append(now - sent_at)
        self.receipted += 1
        self.receipted_bytes += size
        if self.last_receipt is None or now > self.last_receipt:
            self.last_receipt = now

    def to_json(self) -> dict[str, object]:
        return {
            "event": "result",
            "latencies": [round(x, 6) for x in self.latencies],
            "lags": [round(x, 6) for x in self.lags],
            "offered": self.offered,
            "receipted": self.receipted,
            "receipted_bytes": self.receipted_bytes,
            "errors": dict(self.errors),
            "last_receipt": self.last_receipt,
        }


def seal_recordings(spec: Spec) -> list[SealedRecording]:
    recipient = RecipientIdentity.generate().public
    recordings = []
    for seed in spec.seeds:
        device = DeviceIdentity(bytes.fromhex(seed))
        payload = os.urandom(spec.chunk_bytes)
        with RecordingSealer.start(device, [recipient], MEDIA_TYPE) as sealer:
            chunks = [bytes(sealer.seal(ChunkKind.MEDIA, payload)) for _ in range(spec.chunks)]
            recordings.append(
                SealedRecording(
                    device=str(device.public),
                    recording_id=sealer.header.recording_id.hex(),
                    header=bytes(sealer.header),
                    chunks=chunks,
                )
            )
    return recordings


async def sleep_until(moment: float) -> None:
    delay = moment - time.monotonic()
    if delay > 0:
        await asyncio.sleep(delay)


def error_name(body: bytes, status: int) -> str:
    try:
        return ErrorBody.parse(body).code.wire_name
    except MalformedError:
        return f"http_{status}"


class Device:
    """One simulated device: connect, then stream its chunks paced in real time."""

    def __init__(self, recording: SealedRecording, offset: float) -> None:
        self.recording = recording
        self.offset = offset

    async def connect(self, session: aiohttp.ClientSession, url: str) -> None:
        raise NotImplementedError

    async def stream(self, start: float, deadline: float, results: Results) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        """Release the connection."""


class WebRTCDevice(Device):
    client: DataChannelClient | None = None

    async def connect(self, session: aiohttp.ClientSession, url: str) -> None:
        async def post(body: bytes) -> bytes:
            async with session.post(
                routes.WEBRTC_OFFER.url(url),
                data=body,
                headers={"Content-Type": "application/json"},
            ) as response:
                data = await response.read()
                if response.status != 200:
                    raise Refused(error_name(data, response.status))
                return data

        self.client = await DataChannelClient.connect(json_signaling(post))
        try:
            await self.client.hello(self.recording.header)
        except RelayError as error:
            raise Refused(error.code.wire_name) from None
        except ChannelClosed:
            raise Refused("channel_closed") from None

    async def stream(self, start: float, deadline: float, results: Results) -> None:
        client = self.client
        assert client is not None
        chunks = self.recording.chunks
        sent_at: dict[int, float] = {}
        waiting = set(range(len(chunks)))
        results.offered += len(chunks)

        async def receive() -> None:
            while waiting:
                message = await client.receive()
                if isinstance(message, ReceiptMessage):
                    index = int.from_bytes(message.receipt[RECEIPT_INDEX], "big")
                    if index in waiting and index in sent_at:
                        waiting.discard(index)
                        results.receipt(sent_at[index], len(chunks[index]))
                elif isinstance(message, ErrorMessage):
                    results.errors[ErrorCode(message.code).wire_name] += 1
                    if message.index is not None:
                        waiting.discard(message.index)
                    if message.fatal:
                        return

        receiver = asyncio.ensure_future(receive())
        try:
            async with asyncio.timeout_at(self._loop_time(deadline)):
                for index, chunk in enumerate(chunks):
                    scheduled = start + self.offset + index
                    await sleep_until(scheduled)
                    if receiver.done():
                        break
                    await client.send_chunk(index, chunk)
                    sent_at[index] = results.sent(scheduled)
                await receiver
        except TimeoutError:
            pass
        except ChannelClosed:
            results.errors["channel_closed"] += 1
        finally:
            receiver.cancel()
            with contextlib.suppress(asyncio.CancelledError, ChannelClosed):
                await receiver
        if waiting:
            results.errors["no_receipt_in_time"] += len(waiting)

    @staticmethod
    def _loop_time(moment: float) -> float:
        # asyncio's loop clock is time.monotonic() on Linux; convert defensively.
        loop = asyncio.get_running_loop()
        return loop.time() + (moment - time.monotonic())

    async def close(self) -> None:
        if self.client is not None:
            await self.client.close()


class HTTPSDevice(Device):
    session: aiohttp.ClientSession | None = None
    chunk_url: str = ""

    async def connect(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session = session
        async with session.post(
            routes.HEADERS.url(url),
            data=self.recording.header,
            headers={"Content-Type": CHUNK_TYPE},
        ) as response:
            body = await response.read()
            if response.status != 200:
                raise Refused(error_name(body, response.status))
        recording = self.recording
        self.chunk_url = routes.CHUNKS.url(
            url, device=recording.device, recording_id=recording.recording_id
        )

    async def _post(self, index: int, scheduled: float, results: Results) -> None:
        session = self.session
        assert session is not None
        chunk = self.recording.chunks[index]
        started = results.sent(scheduled)
        try:
            async with session.post(
                self.chunk_url, data=chunk, headers={"Content-Type": CHUNK_TYPE}
            ) as response:
                body = await response.read()
                if response.status == 200:
                    results.receipt(started, len(chunk))
                else:
                    results.errors[error_name(body, response.status)] += 1
        except aiohttp.ClientError as error:
            results.errors[type(error).__name__] += 1

    async def stream(self, start: float, deadline: float, results: Results) -> None:
        results.offered += len(self.recording.chunks)
        posts: list[asyncio.Task[None]] = []
        for index in range(len(self.recording.chunks)):
            scheduled = start + self.offset + index
            await sleep_until(scheduled)
            posts.append(asyncio.ensure_future(self._post(index, scheduled, results)))
        _done, late = await asyncio.wait(posts, timeout=max(0.0, deadline - time.monotonic()))
        for task in late:
            task.cancel()
        if late:
            results.errors["no_receipt_in_time"] += len(late)
            await asyncio.wait(late)


def emit(event: dict[str, object]) -> None:
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


async def read_line(reader: asyncio.StreamReader) -> dict[str, object]:
    line = await reader.readline()
    if not line:
        raise SystemExit("relay_load_client: the orchestrator went away")
    data = json.loads(line)
    assert isinstance(data, dict)
    return data


async def connect_all(
    devices: list[Device], session: aiohttp.ClientSession, url: str
) -> tuple[list[Device], Counter[str]]:
    limit = asyncio.Semaphore(CONNECT_CONCURRENCY)
    refused: Counter[str] = Counter()

    async def one(device: Device) -> Device | None:
        async with limit:
            try:
                async with asyncio.timeout(CONNECT_TIMEOUT_S):
                    await device.connect(session, url)
                return device
            except Refused as error:
                refused[error.reason] += 1
            except (TimeoutError, aiohttp.ClientError, OSError) as error:
                refused[type(error).__name__] += 1
            with contextlib.suppress(Exception):
                await device.close()
            return None

    connected = await asyncio.gather(*(one(d) for d in devices))
    return [d for d in connected if d is not None], refused


async def run(stdin: asyncio.StreamReader) -> None:
    spec = Spec.from_json(await read_line(stdin))
    recordings = seal_recordings(spec)
    emit({"event": "sealed"})
    url = str((await read_line(stdin))["url"])
    kind: Callable[[SealedRecording, float], Device] = (
        WebRTCDevice if spec.transport == "webrtc" else HTTPSDevice
    )
    devices = [kind(r, o) for r, o in zip(recordings, spec.offsets, strict=True)]
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_TIMEOUT_S)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        connected, refused = await connect_all(devices, session, url)
        emit({"event": "ready", "connected": len(connected), "refused": dict(refused)})
        start = float(str((await read_line(stdin))["start"]))
        deadline = start + spec.chunks + spec.drain_s
        results = Results()
        results.offered = spec.chunks * (len(devices) - len(connected))
        await asyncio.gather(*(d.stream(start, deadline, results) for d in connected))
        emit(results.to_json())
        # Stay connected (and alive, for the orchestrator's CPU readings) until told.
        with contextlib.suppress(SystemExit):
            await read_line(stdin)
        closing: list[Awaitable[None]] = [d.close() for d in connected]
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(CLOSE_TIMEOUT_S):
                await asyncio.gather(*closing, return_exceptions=True)


async def amain() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=16 * 1024 * 1024)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    await run(reader)


def main() -> None:
    aioice.ice.get_host_addresses = loopback_only
    asyncio.run(amain())


if __name__ == "__main__":
    main()
