"""Where the relay keeps what devices upload: the `Storage` protocol and its backends.

`base` holds the protocol and the object layout, `fs` and `s3` the two backends;
`open_storage` picks the one the settings name. Backends are imported only when chosen,
so a filesystem relay never loads boto3.
"""

from relay_server.settings import FilesystemLocation, S3Location, Settings
from relay_server.storage.base import BlobStorage, PutResult, Storage

__all__ = ["BlobStorage", "PutResult", "Storage", "open_storage"]


def open_storage(settings: Settings) -> BlobStorage:
    """The storage the settings name (a directory, or an s3:// location)."""
    location = settings.storage_location
    if isinstance(location, FilesystemLocation):
        from relay_server.storage.fs import FilesystemStorage

        return FilesystemStorage(location.path, threads=settings.storage_threads)
    assert isinstance(location, S3Location)
    from relay_server.storage.s3 import S3Storage

    return S3Storage(
        bucket=location.bucket,
        prefix=location.prefix,
        endpoint_url=settings.s3_endpoint_url or None,
        region=settings.s3_region,
        retention_days=settings.s3_retention_days,
        threads=settings.storage_threads,
    )
