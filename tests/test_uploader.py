"""The uploader on its own, against a real relay process: transports and receipts."""

from pathlib import Path

import pytest

from stream.demo.local_relay import LocalRelay
from tests.relay_fixtures import stream_until_webrtc
from vault import DeviceIdentity
from vault.keys import DeviceKey

pytestmark = pytest.mark.asyncio


async def test_first_chunks_go_over_https_while_webrtc_connects(tmp_path: Path) -> None:
    device = DeviceIdentity.generate()
    assert isinstance(device.public, DeviceKey)
    relay = LocalRelay(tmp_path / "relay")
    relay.enroll(device.public)
    with relay:
        safe, spool, uploader, end = await stream_until_webrtc(relay, device, tmp_path / "spool")
    assert safe[0].index == 0
    assert safe[0].transport == "https"  # the first receipt did not wait for ICE
    assert any(s.transport == "webrtc" for s in safe)  # and then it moved to WebRTC
    assert sorted(s.index for s in safe) == list(range(end.index + 1))
    assert spool.receipted() == set(range(end.index + 1))
    assert uploader.unsafe_indices == []
