"""Errors of the relay itself (its refusals, `RelayError`, are in `vault.wire.errors`)."""

from vault.errors import TestigoError


class StorageError(TestigoError):
    """Raised when the storage cannot durably keep or read an object; never answered by a
    receipt."""

    hint = "check the disk or the S3 endpoint; the client retries later"
