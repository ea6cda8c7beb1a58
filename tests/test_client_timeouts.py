"""Clients against a relay that accepts connections and never answers (a hung or
tarpitted relay): each gives up in bounded time and says why, in words.

The "relay" is a real TCP server on loopback that reads whatever it is sent and writes
nothing. The read limit is shortened for the test (it is a plain constant).
"""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio

from stream import relay_http
from stream.contact.fetch import list_remote
from stream.contact.watch import WatchError, watch
from stream.phone.transports import ConnectionLost, HTTPSTransport
from vault import DeviceIdentity, RecipientIdentity, errors

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(30)]

SHORT_S = 0.3


@pytest_asyncio.fixture
async def silent_relay(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[str]:
    monkeypatch.setattr(relay_http, "READ_TIMEOUT_S", SHORT_S)
    connections: list[asyncio.StreamWriter] = []

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer)
        while await reader.read(65536):
            pass

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        for writer in connections:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_fetch_gives_up_and_says_the_relay_did_not_answer(silent_relay: str) -> None:
    device = DeviceIdentity.generate().public
    with pytest.raises(errors.TestigoError) as caught:
        await list_remote(silent_relay, "tg-token-x", device)
    assert str(caught.value) == f"cannot reach the relay at {silent_relay}: " + (
        "the relay did not answer in time"
    )
    assert caught.value.hint


async def test_watch_gives_up_and_says_why(silent_relay: str, tmp_path: Path) -> None:
    device = DeviceIdentity.generate().public
    with pytest.raises(WatchError, match="the relay did not answer in time"):
        await watch(
            silent_relay,
            "tg-token-x",
            device,
            [RecipientIdentity.generate()],
            tmp_path / "live.mp4",
            on_event=lambda _event: None,
            reconnect=False,
        )


async def test_the_uploader_treats_a_silent_relay_as_lost_with_a_reason(silent_relay: str) -> None:
    async with aiohttp.ClientSession(timeout=relay_http.client_timeout()) as session:
        transport = HTTPSTransport(session, silent_relay)
        with pytest.raises(ConnectionLost, match="the relay did not answer in time"):
            await transport.hello(b"testigo/v1\n")


async def test_a_closed_port_is_said_as_such() -> None:
    server = await asyncio.start_server(lambda _r, _w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()  # nothing listens there any more
    device = DeviceIdentity.generate().public
    with pytest.raises(
        errors.TestigoError, match=r"cannot connect to 127\.0\.0\.1:\d+ \("
    ) as caught:
        await list_remote(f"http://127.0.0.1:{port}", "tg-token-x", device)
    assert "refused" in str(caught.value)
