"""Shared fixtures and helpers for the relay tests (tests/test_relay_*.py).

Registered once for the whole suite by `pytest_plugins` in the root conftest.py. The
S3 tests run against moto's standalone server, started once per session as a separate
process on a free loopback port.
"""

import asyncio
import dataclasses
import hashlib
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, NamedTuple, Protocol

import boto3
import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient

from relay_server import operator
from relay_server.app import create_app
from relay_server.settings import Settings
from relay_server.storage import BlobStorage
from relay_server.storage.fs import FilesystemStorage
from relay_server.storage.s3 import S3Storage
from stream.demo.local_relay import LocalRelay
from stream.phone.uploader import SafeChunk, Uploader
from tests.ceph_rgw import CephRgw
from vault import (
    Chunk,
    ChunkKind,
    DeviceIdentity,
    Header,
    RecipientIdentity,
    RecordingSealer,
    RelayIdentity,
)
from vault.keys import DeviceKey
from vault.spool import SpoolRecording

MEDIA_TYPE = 'video/mp4; codecs="avc1.42E01E"'
MOTO_START_TIMEOUT_S = 30


@dataclass(frozen=True)
class MotoServer:
    endpoint_url: str

    def new_bucket(self, *, object_lock: bool = False) -> str:
        name = f"testigo-{uuid.uuid4().hex[:16]}"
        client = boto3.client("s3", endpoint_url=self.endpoint_url, region_name="us-east-1")
        client.create_bucket(Bucket=name, ObjectLockEnabledForBucket=object_lock)
        return name


def _moto_command() -> list[str]:
    script = Path(sys.executable).with_name("moto_server")
    if not script.exists():
        pytest.fail("moto_server is missing: pip install 'moto[server]'")
    return [str(script), "-H", "127.0.0.1", "-p", "0"]


def _drain(stream: IO[str]) -> None:
    """Read moto's request log so its pipe never fills up."""
    for _line in stream:
        pass


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    """A real S3-protocol server (moto) in its own process, on a free loopback port."""
    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    os.environ["AWS_ACCESS_KEY_ID"] = "testing"
    os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
    process = subprocess.Popen(
        _moto_command(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stderr is not None
        endpoint = None
        # werkzeug prints this line once the socket listens: no sleeping, no polling
        for line in process.stderr:
            found = re.search(r"Running on (http://127\.0\.0\.1:\d+)", line)
            if found:
                endpoint = found.group(1)
                break
        if endpoint is None:
            pytest.fail(f"moto_server did not start (exit code {process.poll()})")
        stderr = process.stderr
        threading.Thread(target=_drain, args=(stderr,), daemon=True).start()
        yield MotoServer(endpoint)
    finally:
        process.terminate()
        process.wait(timeout=MOTO_START_TIMEOUT_S)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest_asyncio.fixture(params=["filesystem", "s3-moto", "s3-ceph", "s3-ceph-object-lock"])
async def storage(
    request: pytest.FixtureRequest, tmp_path: Path, moto_server: MotoServer
) -> AsyncIterator[BlobStorage]:
    """Each storage backend in turn, empty: the filesystem, moto's S3 server, and a real
    Ceph RGW (plain and Object Lock buckets; opt-in locally, always run in CI)."""
    backend: BlobStorage
    if request.param == "filesystem":
        backend = FilesystemStorage(tmp_path / "store", threads=4)
    else:
        server: MotoServer | CephRgw = moto_server
        if request.param.startswith("s3-ceph"):
            server = request.getfixturevalue("ceph_rgw")
        locked = request.param.endswith("object-lock")
        backend = S3Storage(
            bucket=server.new_bucket(object_lock=locked),
            prefix="relay/",
            endpoint_url=server.endpoint_url,
            retention_days=1 if locked else 0,
            threads=4,
        )
    yield backend
    await backend.close()


@pytest.fixture
def relay_identity() -> RelayIdentity:
    return RelayIdentity.generate()


@pytest.fixture
def device_identity() -> DeviceIdentity:
    return DeviceIdentity.generate()


@pytest.fixture
def recipient() -> RecipientIdentity:
    return RecipientIdentity.generate()


@pytest.fixture
def relay_settings(tmp_path: Path) -> Settings:
    # the tests' peers are on loopback: the relay must try loopback candidates here
    return Settings(
        storage=str(tmp_path / "relay-data"), max_webrtc_sessions=4, remote_candidates="any"
    )


Client = TestClient[web.Request, web.Application]
MakeClient = Callable[[web.Application], Awaitable[Client]]


class StartRelay(Protocol):
    async def __call__(
        self, settings: Settings | None = None, *, also: Sequence[DeviceKey] = ()
    ) -> Client: ...


@pytest.fixture
def start_relay(
    aiohttp_client: MakeClient,
    relay_settings: Settings,
    relay_identity: RelayIdentity,
    device_identity: DeviceIdentity,
) -> StartRelay:
    """Start the real relay app (default: relay_settings) with device_identity (and the
    devices in `also`) enrolled; a test client for it."""

    async def start(settings: Settings | None = None, *, also: Sequence[DeviceKey] = ()) -> Client:
        chosen = settings or relay_settings
        for key in (device_identity.public, *also):
            assert await operator.enroll(chosen, key)
        return await aiohttp_client(create_app(chosen, relay=relay_identity))

    return start


@dataclass(frozen=True)
class SealedRecording:
    header: bytes
    chunks: list[bytes]
    recording_id: bytes


def seal_recording(
    device: DeviceIdentity,
    recipient: RecipientIdentity,
    sizes: list[int],
    *,
    final: bool = True,
    max_chunk_size: int = 4 * 1024 * 1024 + 16,
    created_ms: int | None = None,
) -> SealedRecording:
    """A sealed recording: an init chunk, media chunks of the given plaintext sizes, end.
    created_ms: what the header claims (default: now)."""
    with RecordingSealer.start(
        device, [recipient.public], MEDIA_TYPE, max_chunk_size=max_chunk_size, created_ms=created_ms
    ) as sealer:
        chunks = [bytes(sealer.seal(ChunkKind.INIT, b"ftyp-moov"))]
        for i, size in enumerate(sizes):
            payload = bytes([i % 251]) * size
            chunks.append(bytes(sealer.seal(ChunkKind.MEDIA, payload)))
        if final:
            chunks.append(bytes(sealer.finish(b'{"reason": "stopped"}')))
        header = sealer.header
    return SealedRecording(bytes(header), chunks, header.recording_id)


def one_chunk(device: DeviceIdentity, recipient: RecipientIdentity) -> Chunk:
    """The first chunk of a fresh recording."""
    with RecordingSealer.start(device, [recipient.public], MEDIA_TYPE) as sealer:
        return sealer.seal(ChunkKind.INIT, b"init")


def signed_chunk(
    device: DeviceIdentity, header: bytes, after: bytes, index: int, kind: ChunkKind
) -> bytes:
    """A chunk at index, linked to the chunk `after` and validly signed by device: what
    whoever holds the device key can make (its ciphertext opens for nobody)."""
    parsed_header = Header.parse(header)
    previous = Chunk.parse(after)
    ciphertext = bytes(48)
    unsigned = dataclasses.replace(
        previous,
        index=index,
        kind=kind,
        final=kind is ChunkKind.END,
        prev_hash=previous.chunk_hash,
        ciphertext=ciphertext,
        ciphertext_hash=hashlib.blake2b(ciphertext, digest_size=32).digest(),
    )
    signature = device.sign(unsigned.signature_message(parsed_header.header_hash))
    return bytes(dataclasses.replace(unsigned, signature=signature))


def forged_chunk(device: DeviceIdentity, header: bytes, chunk: bytes, ciphertext: bytes) -> bytes:
    """Another chunk for the same index, validly signed by device: what a device that
    equivocates (or whose key was stolen) would send."""
    parsed_header = Header.parse(header)
    original = Chunk.parse(chunk)
    replaced = dataclasses.replace(
        original,
        ciphertext=ciphertext,
        ciphertext_hash=hashlib.blake2b(ciphertext, digest_size=32).digest(),
    )
    signature = device.sign(replaced.signature_message(parsed_header.header_hash))
    return bytes(dataclasses.replace(replaced, signature=signature))


class Streamed(NamedTuple):
    safe: list[SafeChunk]
    spool: SpoolRecording
    uploader: Uploader
    end: Chunk


async def stream_until_webrtc(
    relay: LocalRelay, device: DeviceIdentity, spool_dir: Path
) -> Streamed:
    """Record into a spool at a recorder's pace, uploading to relay, until a chunk has
    come back over WebRTC (or 30 s passed), then end the recording and drain it."""
    sealer = RecordingSealer.start(device, [RecipientIdentity.generate().public], "video/mp4")
    spool = SpoolRecording.create(spool_dir, sealer.header)
    safe: list[SafeChunk] = []
    uploader = Uploader(spool, relay.url, relay.key, device=device, on_safe=safe.append)
    uploader.expect_more()
    task = asyncio.ensure_future(uploader.run())
    deadline = time.monotonic() + 30
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
    return Streamed(safe, spool, uploader, end)
