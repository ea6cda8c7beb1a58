"""The uploader on its own, against a real relay process: transports and receipts."""

import asyncio
import time
from pathlib import Path

import pytest

from stream.demo.local_relay import LocalRelay
from stream.phone.uploader import SafeChunk, Uploader
from vault import DeviceIdentity, RecipientIdentity
from vault.format import ChunkKind
from vault.keys import DeviceKey
from vault.seal import RecordingSealer
from vault.spool import SpoolRecording

pytestmark = pytest.mark.asyncio


async def test_first_chunks_go_over_https_while_webrtc_connects(tmp_path: Path) -> None:
    device = DeviceIdentity.generate()
    assert isinstance(device.public, DeviceKey)
    relay = LocalRelay(tmp_path / "relay")
    relay.enroll(device.public)
    with relay:
        sealer = RecordingSealer.start(device, [RecipientIdentity.generate().public], "video/mp4")
        spool = SpoolRecording.create(tmp_path / "spool", sealer.header)
        safe: list[SafeChunk] = []
        uploader = Uploader(spool, relay.url, relay.key, device=device, on_safe=safe.append)
        uploader.expect_more()
        task = asyncio.ensure_future(uploader.run())
        deadline = time.monotonic() + 30
        # Feed a chunk every 50 ms until one has come back over WebRTC (bounded).
        while not any(s.transport == "webrtc" for s in safe) and time.monotonic() < deadline:
            chunk = sealer.seal(ChunkKind.MEDIA, bytes(20_000))
            spool.append(chunk)
            uploader.chunk_added(chunk.index)
            await asyncio.sleep(0.05)  # the pace of a recorder, not a synchronisation
        end = sealer.finish()
        spool.append(end)
        uploader.chunk_added(end.index)
        uploader.recording_done()
        await asyncio.wait_for(task, timeout=60)
    assert safe[0].index == 0
    assert safe[0].transport == "https"  # the first receipt did not wait for ICE
    assert any(s.transport == "webrtc" for s in safe)  # and then it moved to WebRTC
    assert sorted(s.index for s in safe) == list(range(end.index + 1))
    assert spool.receipted() == set(range(end.index + 1))
    assert uploader.unsafe_indices == []
