"""Both storage backends: no overwrite, identical vs conflict, listing, durability errors.

The S3 runs go to moto's standalone server over HTTP (see tests/relay_fixtures.py).
"""

import errno
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest

from relay_server.errors import StorageError
from relay_server.storage import BlobStorage, PutResult
from relay_server.storage.fs import FilesystemStorage
from relay_server.storage.s3 import S3Storage
from tests.ceph_rgw import CephRgw
from tests.relay_fixtures import MotoServer

pytestmark = pytest.mark.asyncio

DEVICE = bytes(range(32))
RECORDING = bytes(range(16))
OTHER_RECORDING = bytes(range(1, 17))


async def test_put_chunk_never_overwrites(storage: BlobStorage) -> None:
    assert await storage.put_chunk(DEVICE, RECORDING, 3, b"chunk three") is PutResult.STORED
    assert await storage.put_chunk(DEVICE, RECORDING, 3, b"chunk three") is PutResult.IDENTICAL
    assert await storage.put_chunk(DEVICE, RECORDING, 3, b"another one") is PutResult.CONFLICT
    assert await storage.read_chunk(DEVICE, RECORDING, 3) == b"chunk three"
    assert await storage.read_chunk(DEVICE, RECORDING, 4) is None


async def test_headers_and_receipts_never_overwrite(storage: BlobStorage) -> None:
    assert await storage.read_header(DEVICE, RECORDING) is None
    assert await storage.put_header(DEVICE, RECORDING, b"header") is PutResult.STORED
    assert await storage.put_header(DEVICE, RECORDING, b"header") is PutResult.IDENTICAL
    assert await storage.put_header(DEVICE, RECORDING, b"other") is PutResult.CONFLICT
    assert await storage.read_header(DEVICE, RECORDING) == b"header"
    assert await storage.put_receipt(DEVICE, RECORDING, 0, b"r0") is PutResult.STORED
    assert await storage.put_receipt(DEVICE, RECORDING, 0, b"r1") is PutResult.CONFLICT
    assert await storage.read_receipt(DEVICE, RECORDING, 0) == b"r0"


async def test_chunk_indices_and_recordings_are_listed_in_order(storage: BlobStorage) -> None:
    for index in (10, 2, 0, 1_000_000):
        await storage.put_chunk(DEVICE, RECORDING, index, b"x")
    await storage.put_header(DEVICE, RECORDING, b"h")
    await storage.put_header(DEVICE, OTHER_RECORDING, b"h")
    await storage.put_receipt(DEVICE, RECORDING, 2, b"r")
    assert [i async for i in storage.chunk_indices(DEVICE, RECORDING)] == [0, 2, 10, 1_000_000]
    assert [i async for i in storage.chunk_indices(DEVICE, OTHER_RECORDING)] == []
    assert await storage.list_recordings(DEVICE) == [RECORDING, OTHER_RECORDING]
    assert await storage.list_recordings(bytes(32)) == []


async def test_device_records_are_replaced(storage: BlobStorage) -> None:
    assert await storage.read_device_record(DEVICE) is None
    await storage.write_device_record(DEVICE, b"one")
    await storage.write_device_record(DEVICE, b"two")
    assert await storage.read_device_record(DEVICE) == b"two"
    assert await storage.list_devices() == [DEVICE]  # the devices-changed marker is not one
    assert await storage.read_devices_changed() is None
    await storage.write_devices_changed(b"first")
    await storage.write_devices_changed(b"second")
    assert await storage.read_devices_changed() == b"second"
    assert await storage.list_devices() == [DEVICE]


async def test_filesystem_layout_leaves_no_temporary_files(tmp_path: Path) -> None:
    storage = FilesystemStorage(tmp_path, threads=2)
    try:
        await storage.put_chunk(DEVICE, RECORDING, 7, b"seven")
        await storage.put_chunk(DEVICE, RECORDING, 7, b"other")
    finally:
        await storage.close()
    folder = tmp_path / "recordings" / DEVICE.hex() / RECORDING.hex() / "chunks"
    assert sorted(os.listdir(folder)) == ["0000000007"]
    assert (folder / "0000000007").read_bytes() == b"seven"


async def test_filesystem_fsync_failure_is_a_storage_error_and_stores_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = FilesystemStorage(tmp_path, threads=2)

    def disk_full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    try:
        with pytest.raises(StorageError, match="the disk is full") as caught:
            await storage.put_chunk(DEVICE, RECORDING, 0, b"data")
        assert DEVICE.hex() not in str(caught.value)  # no keys in messages
        monkeypatch.undo()
        assert await storage.read_chunk(DEVICE, RECORDING, 0) is None
        folder = tmp_path / "recordings" / DEVICE.hex() / RECORDING.hex() / "chunks"
        assert not folder.exists() or os.listdir(folder) == []
        assert await storage.put_chunk(DEVICE, RECORDING, 0, b"data") is PutResult.STORED
    finally:
        await storage.close()


async def test_s3_object_lock_retention_is_set(moto_server: MotoServer) -> None:
    bucket = moto_server.new_bucket(object_lock=True)
    storage = S3Storage(
        bucket=bucket, endpoint_url=moto_server.endpoint_url, retention_days=30, threads=2
    )
    try:
        assert await storage.put_chunk(DEVICE, RECORDING, 0, b"c") is PutResult.STORED
    finally:
        await storage.close()
    client = boto3.client("s3", endpoint_url=moto_server.endpoint_url, region_name="us-east-1")
    head = client.head_object(
        Bucket=bucket, Key=f"recordings/{DEVICE.hex()}/{RECORDING.hex()}/chunks/0000000000"
    )
    assert head["ObjectLockMode"] == "COMPLIANCE"
    retain_until = head["ObjectLockRetainUntilDate"]
    assert retain_until > datetime.now(UTC) + timedelta(days=29)


async def test_s3_missing_bucket_is_a_storage_error(moto_server: MotoServer) -> None:
    storage = S3Storage(bucket="no-such-bucket-here", endpoint_url=moto_server.endpoint_url)
    try:
        with pytest.raises(StorageError, match="S3 answered 404"):
            await storage.put_chunk(DEVICE, RECORDING, 0, b"c")
    finally:
        await storage.close()


async def test_ceph_object_lock_bucket_keeps_serving_the_first_version(ceph_rgw: CephRgw) -> None:
    """Ceph 16 ignores IfNoneMatch on versioned buckets: a racing writer's second version
    is stored beside the first. The relay must keep serving (and comparing with) the first,
    which COMPLIANCE retention keeps from being deleted or shortened."""
    bucket = ceph_rgw.new_bucket(object_lock=True)
    storage = S3Storage(
        bucket=bucket, endpoint_url=ceph_rgw.endpoint_url, retention_days=1, threads=2
    )
    key = f"recordings/{DEVICE.hex()}/{RECORDING.hex()}/chunks/0000000003"
    try:
        assert await storage.put_chunk(DEVICE, RECORDING, 3, b"original") is PutResult.STORED
        client = boto3.client("s3", **ceph_rgw.client_kwargs())
        client.put_object(Bucket=bucket, Key=key, Body=b"forged", IfNoneMatch="*")  # accepted
        versions = client.list_object_versions(Bucket=bucket, Prefix=key)["Versions"]
        assert len(versions) == 2
        assert await storage.read_chunk(DEVICE, RECORDING, 3) == b"original"
        assert await storage.put_chunk(DEVICE, RECORDING, 3, b"original") is PutResult.IDENTICAL
        assert await storage.put_chunk(DEVICE, RECORDING, 3, b"forged") is PutResult.CONFLICT
        oldest = versions[-1]["VersionId"]
        retention = client.get_object_retention(Bucket=bucket, Key=key, VersionId=oldest)
        assert retention["Retention"]["Mode"] == "COMPLIANCE"
    finally:
        await storage.close()


def _all_versions(endpoint_url: str, bucket: str) -> list[str]:
    client = boto3.client("s3", endpoint_url=endpoint_url, region_name="us-east-1")
    answer = client.list_object_versions(Bucket=bucket)
    uploads = client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    assert uploads == []  # the write check leaves no upload behind
    return [f"{v['Key']}@{v['VersionId']}" for v in answer.get("Versions", [])]


@pytest.mark.parametrize("default_retention", [False, True])
async def test_s3_start_checks_leave_at_most_one_object_version(
    moto_server: MotoServer, default_retention: bool
) -> None:
    """Every version on an Object Lock bucket stays for the retention period: `relay
    serve` checks its storage at each start, and must not leave one behind each time."""
    bucket = moto_server.new_bucket(object_lock=True)
    if default_retention:
        client = boto3.client("s3", endpoint_url=moto_server.endpoint_url, region_name="us-east-1")
        client.put_object_lock_configuration(
            Bucket=bucket,
            ObjectLockConfiguration={
                "ObjectLockEnabled": "Enabled",
                "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 1}},
            },
        )
    for _start in range(3):  # three relay starts, each with its own storage
        storage = S3Storage(
            bucket=bucket,
            prefix="relay-a/",
            endpoint_url=moto_server.endpoint_url,
            retention_days=0 if default_retention else 1,
            threads=2,
        )
        try:
            await storage.check()
            await storage.check()
        finally:
            await storage.close()
    versions = _all_versions(moto_server.endpoint_url, bucket)
    assert len(versions) == 1
    assert versions[0].startswith("relay-a/relay/storage-probe@")


async def test_s3_check_fails_on_a_bucket_it_cannot_use(moto_server: MotoServer) -> None:
    missing = S3Storage(bucket="no-such-bucket-here", endpoint_url=moto_server.endpoint_url)
    try:
        with pytest.raises(StorageError, match="checking writes to the bucket failed"):
            await missing.check()
    finally:
        await missing.close()
    bucket = moto_server.new_bucket()
    client = boto3.client("s3", endpoint_url=moto_server.endpoint_url, region_name="us-east-1")
    client.put_object(Bucket=bucket, Key="relay/storage-probe", Body=b"something else")
    storage = S3Storage(bucket=bucket, endpoint_url=moto_server.endpoint_url, threads=2)
    try:
        with pytest.raises(StorageError, match="holds other bytes"):
            await storage.check()
    finally:
        await storage.close()


async def test_every_backend_passes_its_own_check(storage: BlobStorage) -> None:
    await storage.check()
    await storage.check()
