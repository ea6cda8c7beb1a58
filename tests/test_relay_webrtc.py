"""WebRTC ingest with a real aiortc peer over loopback against the real relay app."""

import asyncio

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from relay_server.settings import Settings
from relay_server.state import METRICS, SESSIONS
from relay_server.webrtc import admitted_offer, usable_candidate
from stream.phone.datachannel import ChannelClosed, DataChannelClient, Signaling
from tests.relay_fixtures import Client, StartRelay, forged_chunk, seal_recording
from vault import Chunk, DeviceIdentity, RecipientIdentity, RelayIdentity, RelayKey
from vault.receipts import Receipt
from vault.wire.datachannel import CHANNEL_LABEL, ChunkFrame, ErrorMessage, ReceiptMessage
from vault.wire.errors import ErrorCode

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(120)]


def signaling(client: Client) -> Signaling:
    async def signal(offer: dict[str, str]) -> dict[str, str]:
        response = await client.post("/v1/webrtc/offer", json=offer)
        assert response.status == 200, await response.text()
        answer: dict[str, str] = await response.json()
        return answer

    return signal


async def test_chunks_over_the_data_channel_get_verified_receipts(
    start_relay: StartRelay,
    relay_settings: Settings,
    relay_identity: RelayIdentity,
    device_identity: DeviceIdentity,
    recipient: RecipientIdentity,
) -> None:
    client = await start_relay()
    recording = seal_recording(device_identity, recipient, [250_000, 10, 150_000])
    channel = await DataChannelClient.connect(signaling(client))
    try:
        assert await channel.hello(recording.header) == []
        answers = await channel.upload(list(enumerate(recording.chunks)))
        key = relay_identity.public
        assert isinstance(key, RelayKey)
        for chunk, answer in zip(recording.chunks, answers, strict=True):
            assert isinstance(answer, ReceiptMessage)
            assert not answer.duplicate
            assert Receipt.parse(answer.receipt).verify(key, Chunk.parse(chunk))
        again = await channel.upload([(1, recording.chunks[1])])
        first_answer = answers[1]
        assert isinstance(first_answer, ReceiptMessage)
        assert again == [ReceiptMessage(first_answer.receipt, duplicate=True)]
    finally:
        await channel.close()
    resumed = await DataChannelClient.connect(signaling(client))
    try:
        assert await resumed.hello(recording.header) == [(0, len(recording.chunks) - 1)]
    finally:
        await resumed.close()


async def test_rejects_on_the_channel_are_errors_and_the_session_goes_on(
    start_relay: StartRelay,
    relay_settings: Settings,
    relay_identity: RelayIdentity,
    device_identity: DeviceIdentity,
    recipient: RecipientIdentity,
) -> None:
    settings = relay_settings.replace(max_chunk_bytes=100_000)
    client = await start_relay(settings)
    recording = seal_recording(device_identity, recipient, [10, 200_000])
    other = seal_recording(device_identity, recipient, [10])
    tampered = bytearray(recording.chunks[0])
    tampered[130] ^= 1
    conflicting = forged_chunk(device_identity, recording.header, recording.chunks[0], bytes(20))
    channel = await DataChannelClient.connect(signaling(client))
    try:
        await channel.hello(recording.header)
        answers = await channel.upload(
            [
                (0, bytes(tampered)),
                (0, other.chunks[0]),
                (2, recording.chunks[2]),  # 200 kB: above max_chunk_bytes
                (0, recording.chunks[0]),
                (0, conflicting),
                (1, recording.chunks[1]),
            ]
        )
    finally:
        await channel.close()
    codes = [a.code if isinstance(a, ErrorMessage) else "receipt" for a in answers]
    assert codes == [
        ErrorCode.BAD_SIGNATURE,
        ErrorCode.WRONG_RECORDING,
        ErrorCode.TOO_LARGE,
        "receipt",
        ErrorCode.CONFLICT,
        "receipt",
    ]
    assert all(not a.fatal for a in answers if isinstance(a, ErrorMessage))


@pytest.mark.parametrize(
    ("message", "code"),
    [
        (b"\x7f junk", ErrorCode.MALFORMED),
        (bytes(ChunkFrame(0, 10, 0, b"abc")), ErrorCode.NO_HEADER),
        (b"\x01\x01not a header", ErrorCode.MALFORMED),
    ],
)
async def test_malformed_messages_close_the_channel_with_an_error(
    start_relay: StartRelay,
    relay_settings: Settings,
    relay_identity: RelayIdentity,
    device_identity: DeviceIdentity,
    message: bytes,
    code: ErrorCode,
) -> None:
    client = await start_relay()
    channel = await DataChannelClient.connect(signaling(client))
    try:
        await channel.send(message)
        answer = await channel.receive()
        assert isinstance(answer, ErrorMessage)
        assert (answer.code, answer.fatal) == (code, True)
        with pytest.raises(ChannelClosed):
            await channel.receive()
    finally:
        await channel.close()


async def test_unknown_device_hello_is_refused(
    start_relay: StartRelay,
    relay_settings: Settings,
    relay_identity: RelayIdentity,
    device_identity: DeviceIdentity,
    recipient: RecipientIdentity,
) -> None:
    client = await start_relay()
    stranger = seal_recording(DeviceIdentity.generate(), recipient, [10])
    channel = await DataChannelClient.connect(signaling(client))
    try:
        with pytest.raises(Exception, match="not enrolled") as caught:
            await channel.hello(stranger.header)
        assert getattr(caught.value, "code", None) is ErrorCode.UNKNOWN_DEVICE
    finally:
        await channel.close()


async def test_busy_relay_refuses_new_sessions_and_shutdown_closes_them(
    start_relay: StartRelay,
    relay_settings: Settings,
    relay_identity: RelayIdentity,
    device_identity: DeviceIdentity,
) -> None:
    settings = relay_settings.replace(max_webrtc_sessions=1)
    client = await start_relay(settings)
    channel = await DataChannelClient.connect(signaling(client))
    try:
        assert len(client.app[SESSIONS]) == 1
        with pytest.raises(AssertionError, match="busy, use the HTTPS path"):
            await DataChannelClient.connect(signaling(client))
        metrics = client.app[METRICS].render()
        assert "testigo_relay_webrtc_sessions 1" in metrics
        await client.app.shutdown()
        assert len(client.app[SESSIONS]) == 0
        with pytest.raises(ChannelClosed):
            await channel.receive()
    finally:
        await channel.close()


# -- admission: junk cannot hold WebRTC (PROTOCOL.md §3.1) --

CANDIDATE = "a=candidate:1 1 udp 2130706431 127.0.0.1 {port} typ host"


async def real_offer(label: str = CHANNEL_LABEL) -> tuple[RTCPeerConnection, str]:
    """A genuine aiortc offer with one data channel (its connection is the caller's)."""
    connection = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    connection.createDataChannel(label)
    await connection.setLocalDescription(await connection.createOffer())
    return connection, connection.localDescription.sdp


async def wait_for_slots(client: Client, count: int) -> None:
    """Until the relay holds count WebRTC connections (polled, with a deadline)."""
    async with asyncio.timeout(30):
        while len(client.app[SESSIONS]) != count:
            await asyncio.sleep(0.02)  # polling the relay's state, not a timing guess


async def test_offers_that_are_not_a_data_channel_take_no_slot(start_relay: StartRelay) -> None:
    client = await start_relay()
    connection, genuine = await real_offer()
    await connection.close()
    head, _, rest = genuine.partition("m=application")
    junk = {
        "no media": "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n",
        "audio": genuine.replace("m=application", "m=audio", 1),
        "audio as well": genuine + "m=audio 9 UDP/TLS/RTP/SAVPF 0\r\n",
        "too many candidates": head
        + "m=application"
        + rest
        + "".join(CANDIDATE.format(port=1000 + i) + "\r\n" for i in range(40)),
        "garbage": "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n\x00\x01",
    }
    for name, sdp in junk.items():
        response = await client.post("/v1/webrtc/offer", json={"sdp": sdp, "type": "offer"})
        assert response.status == 400, name
        assert (await response.json())["error"]["name"] == "malformed", name
        assert len(client.app[SESSIONS]) == 0, name


async def test_connections_that_never_open_their_channel_give_their_slots_back(
    start_relay: StartRelay,
    relay_settings: Settings,
    device_identity: DeviceIdentity,
    recipient: RecipientIdentity,
) -> None:
    # long enough for a genuine peer to open its channel on a loaded machine, short enough
    # for the test to see abandoned slots come back
    settings = relay_settings.replace(max_webrtc_sessions=2, webrtc_open_seconds=3.0)
    client = await start_relay(settings)
    abandoned = []
    for _ in range(2):  # offers whose answers are never used: the attacker walks away
        connection, sdp = await real_offer()
        abandoned.append(connection)
        response = await client.post("/v1/webrtc/offer", json={"sdp": sdp, "type": "offer"})
        assert response.status == 200
    refused = await client.post("/v1/webrtc/offer", json={"sdp": sdp, "type": "offer"})
    assert refused.status == 503  # all slots held, for now
    await wait_for_slots(client, 0)
    for connection in abandoned:
        await connection.close()
    channel = await DataChannelClient.connect(signaling(client))  # a genuine device gets in
    try:
        recording = seal_recording(device_identity, recipient, [10])
        assert await channel.hello(recording.header) == []
        answers = await channel.upload(list(enumerate(recording.chunks)))
        assert all(isinstance(a, ReceiptMessage) for a in answers)
    finally:
        await channel.close()


async def test_a_channel_with_another_label_loses_its_connection(start_relay: StartRelay) -> None:
    client = await start_relay()
    connection, sdp = await real_offer("not-testigo")
    try:
        response = await client.post("/v1/webrtc/offer", json={"sdp": sdp, "type": "offer"})
        answer = await response.json()
        await connection.setRemoteDescription(RTCSessionDescription(**answer))
        await wait_for_slots(client, 0)
    finally:
        await connection.close()


async def test_only_public_remote_candidates_are_tried_by_default() -> None:
    line = "a=candidate:1 1 udp 2130706431 {address} 50000 typ host"
    usable = {
        address: usable_candidate(line.format(address=address), any_address=False)
        for address in (
            "203.0.113.7",  # documentation range: not global either
            "8.8.8.8",
            "2001:4860:4860::8888",
            "127.0.0.1",
            "10.1.2.3",
            "192.168.1.20",
            "169.254.1.1",
            "::1",
            "fe80::1",
            "224.0.0.1",
            "0.0.0.0",  # noqa: S104 - an address in a candidate, not one to bind
            "4f1c2d3e-aaaa-bbbb-cccc-1234567890ab.local",
        )
    }
    assert {a for a, ok in usable.items() if ok} == {"8.8.8.8", "2001:4860:4860::8888"}
    assert usable_candidate(line.format(address="127.0.0.1"), any_address=True)
    sdp = "v=0\r\n" + line.format(address="127.0.0.1") + "\r\n" + line.format(address="8.8.8.8")
    assert admitted_offer(sdp, any_address=False) == "v=0\r\n" + line.format(address="8.8.8.8")


async def test_a_peer_offering_only_loopback_candidates_never_connects_by_default(
    start_relay: StartRelay, relay_settings: Settings
) -> None:
    settings = relay_settings.replace(remote_candidates="public", webrtc_open_seconds=2.0)
    client = await start_relay(settings)
    connection = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    channel = connection.createDataChannel(CHANNEL_LABEL)
    opened = asyncio.Event()
    channel.on("open", opened.set)
    try:
        await connection.setLocalDescription(await connection.createOffer())
        offer = {"sdp": connection.localDescription.sdp, "type": "offer"}
        answer = await (await client.post("/v1/webrtc/offer", json=offer)).json()
        await connection.setRemoteDescription(RTCSessionDescription(**answer))
        await wait_for_slots(client, 0)  # the relay gave up: it had no candidate to try
        assert not opened.is_set()
    finally:
        await connection.close()
