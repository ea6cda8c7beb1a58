"""A browser's live WebSocket: the token as the first message (PROTOCOL.md §12.1).

Browsers cannot set `Authorization` on a WebSocket and tokens never go in URLs, so a
viewer that names the `testigo-live-auth.v1` subprotocol sends its token first. What a
stranger with the URL can do with that path: nothing more than with the header path.
"""

from collections.abc import AsyncIterator

import aiohttp
import pytest
import pytest_asyncio

from relay_server import operator
from relay_server.settings import Settings
from stream.contact.watch import live_url
from tests.relay_fixtures import seal_recording
from tests.test_live import LiveRelay, MakeServer, start_relay
from vault import DeviceIdentity, RecipientIdentity
from vault.identity import RelayIdentity
from vault.wire.live import LiveType
from vault.wire.live_auth import (
    CLOSE_UNAUTHORIZED,
    LIVE_AUTH_PROTOCOL,
    LIVE_AUTH_SECONDS,
    LiveAuth,
)

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def relay(
    aiohttp_server: MakeServer,
    relay_settings: Settings,
    relay_identity: RelayIdentity,
    device_identity: DeviceIdentity,
) -> AsyncIterator[LiveRelay]:
    async for running in start_relay(
        aiohttp_server, relay_settings, relay_identity, device_identity
    ):
        yield running


async def open_in_band(
    relay: LiveRelay, device: str | None = None
) -> aiohttp.ClientWebSocketResponse:
    url = (
        live_url(relay.url, relay.device)
        if device is None
        else f"{relay.url}/v1/devices/{device}/live"
    )
    return await relay.http.ws_connect(url, protocols=(LIVE_AUTH_PROTOCOL,))


async def test_the_token_as_first_message_opens_the_stream(
    relay: LiveRelay, device_identity: DeviceIdentity, recipient: RecipientIdentity
) -> None:
    socket = await open_in_band(relay)
    assert socket.protocol == LIVE_AUTH_PROTOCOL
    await socket.send_str(str(LiveAuth(relay.token)))
    recording = seal_recording(device_identity, recipient, [100])
    await relay.post_header(recording.header)
    message = await socket.receive(timeout=10)
    assert message.type == aiohttp.WSMsgType.BINARY
    assert message.data[0] == LiveType.HEADER
    assert bytes(message.data[1:]) == recording.header
    await socket.close()


@pytest.mark.parametrize(
    "first",
    [
        "testigo-live-auth/1 tg-token-" + "a" * 52,  # well formed, not a token of this device
        "tg-token-" + "a" * 52,  # no prefix
        "testigo-live-auth/1 ",
        "testigo-live-auth/1 tg-token-" + "a" * 99,  # too long for a token
    ],
)
async def test_anything_but_the_devices_token_is_closed_unauthorized(
    relay: LiveRelay, first: str
) -> None:
    socket = await open_in_band(relay)
    await socket.send_str(first)
    message = await socket.receive(timeout=10)
    assert message.type == aiohttp.WSMsgType.CLOSE
    assert socket.close_code == CLOSE_UNAUTHORIZED


async def test_another_devices_token_and_an_unknown_device_are_the_same_refusal(
    relay: LiveRelay, relay_settings: Settings
) -> None:
    other = DeviceIdentity.generate()
    assert await operator.enroll(relay_settings, other.public)
    other_token = await operator.mint_token(relay_settings, other.public)
    codes = []
    for device, token in (
        (str(relay.device), other_token),  # a real token, for another device
        (str(DeviceIdentity.generate().public), relay.token),  # an unknown device
        ("not-a-device", relay.token),
    ):
        socket = await open_in_band(relay, device)
        await socket.send_str(str(LiveAuth(token)))
        message = await socket.receive(timeout=10)
        assert message.type == aiohttp.WSMsgType.CLOSE
        codes.append(socket.close_code)
    assert codes == [CLOSE_UNAUTHORIZED] * 3


async def test_an_oversized_first_message_is_closed_as_too_big(relay: LiveRelay) -> None:
    socket = await open_in_band(relay)
    await socket.send_str("x" * 65536)
    message = await socket.receive(timeout=10)
    assert message.type == aiohttp.WSMsgType.CLOSE
    assert socket.close_code == aiohttp.WSCloseCode.MESSAGE_TOO_BIG


async def test_a_binary_first_message_or_silence_is_closed(relay: LiveRelay) -> None:
    socket = await open_in_band(relay)
    await socket.send_bytes(str(LiveAuth(relay.token)).encode())
    message = await socket.receive(timeout=10)
    assert message.type == aiohttp.WSMsgType.CLOSE
    assert socket.close_code == CLOSE_UNAUTHORIZED
    silent = await open_in_band(relay)  # sends nothing: closed after LIVE_AUTH_SECONDS
    message = await silent.receive(timeout=LIVE_AUTH_SECONDS + 5)
    assert message.type == aiohttp.WSMsgType.CLOSE
    assert silent.close_code == CLOSE_UNAUTHORIZED


async def test_without_the_subprotocol_or_the_header_it_is_refused_before_the_upgrade(
    relay: LiveRelay,
) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await relay.http.ws_connect(live_url(relay.url, relay.device))
    assert refused.value.status == 401
