"""S3 storage via boto3: PutObject with If-None-Match: * and optional Object Lock.

The same calls work against AWS S3, MinIO and Ceph RGW (set `endpoint_url`). Only
`IfNoneMatch='*'` is relied on for "no overwrite" (Ceph 16 gets `If-Match` wrong).
Credentials come from boto3's usual chain (environment, files), never from settings.

Versioned buckets (every Object Lock bucket is one) need more: Ceph 16 ignores
`IfNoneMatch` there and stores a second version. So on a versioned bucket the relay
looks before it writes, and after writing checks that its version is the oldest; the
oldest version of an evidence key is the one that counts, for reads too. A later version can only
come from a concurrent writer and is never served.
"""

from datetime import UTC, datetime, timedelta

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from relay_server.errors import StorageError
from relay_server.storage.base import BlobStorage, PutResult, describe_key

_CONFLICT_RETRIES = 5
IMMUTABLE_PREFIX = "recordings/"  # evidence: written once; device records are replaced
# Read as their oldest version too: an invite's closing mark decides who used it.
WRITE_ONCE_PREFIXES = (IMMUTABLE_PREFIX, "invites/")
# The start-up check's fixed object (written once, at the first start) and the key its
# write test never completes. Not base.PROBE_KEY: relays before this one rewrote that key
# with random bytes at every start.
CHECK_KEY = "relay/storage-probe"
CHECK_DATA = b"testigo relay storage check\n"
WRITE_CHECK_KEY = "relay/storage-write-check"


def _error_code(error: ClientError) -> tuple[str, int]:
    response = error.response
    code = str(response.get("Error", {}).get("Code", ""))
    status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
    return code, status


class S3Storage(BlobStorage):
    def __init__(
        self,
        *,
        bucket: str,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        retention_days: int = 0,
        threads: int = 8,
    ) -> None:
        super().__init__(threads)
        self.bucket = bucket
        self.prefix = prefix
        self.retention_days = retention_days
        self._versioned: bool | None = None
        self._client = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            config=Config(
                max_pool_connections=threads,
                retries={"mode": "standard", "max_attempts": 3},
                connect_timeout=5,
                read_timeout=30,
            ),
        )

    def _key(self, key: str) -> str:
        return self.prefix + key

    def _fail(self, action: str, key: str, error: Exception) -> StorageError:
        if isinstance(error, ClientError):
            code, status = _error_code(error)
            return StorageError(f"{action} {describe_key(key)} failed: S3 answered {status} {code}")
        return StorageError(f"{action} {describe_key(key)} failed: {type(error).__name__}")

    def _is_versioned(self) -> bool:
        if self._versioned is None:
            try:
                answer = self._client.get_bucket_versioning(Bucket=self.bucket)
            except (ClientError, BotoCoreError) as error:
                raise self._fail("checking", "the bucket", error) from None
            self._versioned = answer.get("Status") in ("Enabled", "Suspended")
        return self._versioned

    def _versions(self, key: str) -> list[str]:
        """Version ids of key, oldest first (delete markers left out)."""
        full = self._key(key)
        try:
            answer = self._client.list_object_versions(Bucket=self.bucket, Prefix=full)
        except (ClientError, BotoCoreError) as error:
            raise self._fail("listing", key, error) from None
        versions = [v for v in answer.get("Versions", []) if v.get("Key") == full]
        return [str(v["VersionId"]) for v in reversed(versions)]  # S3 lists newest first

    def _put_new(self, key: str, data: bytes) -> bool:
        if self._is_versioned():
            if self._versions(key):
                return False
            stored = self._put_if_absent(key, data)
            versions = self._versions(key)
            return stored and len(versions) == 1
        return self._put_if_absent(key, data)

    def _put_if_absent(self, key: str, data: bytes) -> bool:
        extra = self._lock_arguments()
        for _attempt in range(_CONFLICT_RETRIES):
            try:
                self._client.put_object(
                    Bucket=self.bucket, Key=self._key(key), Body=data, IfNoneMatch="*", **extra
                )
            except ClientError as error:
                code, status = _error_code(error)
                if status == 412 or code == "PreconditionFailed":
                    return False
                if status == 409 and code == "ConditionalRequestConflict":
                    continue  # a concurrent write of the same key; ask again
                raise self._fail("storing", key, error) from None
            except BotoCoreError as error:
                raise self._fail("storing", key, error) from None
            return True
        raise StorageError(
            f"storing {describe_key(key)} failed: concurrent writes kept conflicting"
        )

    def _confirm(self, key: str) -> None:
        """S3 acknowledges a PUT only once the object is durable: nothing to do."""

    def _get(self, key: str) -> bytes | None:
        version: dict[str, str] = {}
        if key.startswith(WRITE_ONCE_PREFIXES) and self._is_versioned():
            versions = self._versions(key)
            if not versions:
                return None
            version["VersionId"] = versions[0]
        try:
            response = self._client.get_object(Bucket=self.bucket, Key=self._key(key), **version)
            data: bytes = response["Body"].read()
        except ClientError as error:
            code, status = _error_code(error)
            if status == 404 or code in ("NoSuchKey", "404"):
                return None
            raise self._fail("reading", key, error) from None
        except BotoCoreError as error:
            raise self._fail("reading", key, error) from None
        return data

    def _children(self, prefix: str) -> list[str]:
        full = self._key(prefix)
        names: list[str] = []
        try:
            paginator = self._client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=full, Delimiter="/"):
                for entry in page.get("CommonPrefixes", []):
                    names.append(str(entry["Prefix"])[len(full) :].rstrip("/"))
                for entry in page.get("Contents", []):
                    names.append(str(entry["Key"])[len(full) :])
        except (ClientError, BotoCoreError) as error:
            raise self._fail("listing", prefix, error) from None
        return sorted(n for n in names if n)

    def _replace(self, key: str, data: bytes) -> None:
        try:
            self._client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)
        except (ClientError, BotoCoreError) as error:
            raise self._fail("storing", key, error) from None

    async def check(self) -> None:
        """Writes work, and reads give back what was written, without leaving a new object
        version at every start: on an Object Lock bucket (COMPLIANCE, or a bucket default
        retention, which no request can avoid) each version would stay, undeletable, for
        the retention period. So:

        * the write test is a multipart upload of one part, then aborted: it needs the
          same permission and Object Lock headers as a chunk, and completes no object
          (an aborted upload leaves no version);
        * the read test is one fixed object, CHECK_KEY, stored with the same
          no-overwrite write as evidence the first time (so at most one version, ever)
          and read back and compared at every start.
        """
        await self._run(self._check_writable)
        if await self._put_once(CHECK_KEY, CHECK_DATA) is PutResult.CONFLICT:
            raise StorageError(f"{CHECK_KEY} holds other bytes than the relay's check")
        if await self._read(CHECK_KEY) != CHECK_DATA:
            raise StorageError("storage did not give back what was written to it")

    def _check_writable(self) -> None:
        key = self._key(WRITE_CHECK_KEY)
        try:
            upload = self._client.create_multipart_upload(
                Bucket=self.bucket, Key=key, **self._lock_arguments()
            )
            upload_id = str(upload["UploadId"])
        except (ClientError, BotoCoreError) as error:
            raise self._fail("checking writes to", "the bucket", error) from None
        failure: Exception | None = None
        try:
            self._client.upload_part(
                Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=1, Body=CHECK_DATA
            )
        except (ClientError, BotoCoreError) as error:
            failure = error
        try:
            self._client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
        except (ClientError, BotoCoreError) as error:
            failure = failure or error
        if failure is not None:
            raise self._fail("checking writes to", "the bucket", failure)

    def _lock_arguments(self) -> dict[str, str | datetime]:
        if not self.retention_days:
            return {}
        return {
            "ObjectLockMode": "COMPLIANCE",
            "ObjectLockRetainUntilDate": datetime.now(UTC) + timedelta(days=self.retention_days),
        }

    async def close(self) -> None:
        await super().close()
        self._client.close()
