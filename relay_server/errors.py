"""The relay's refusals (docs/PROTOCOL.md section 5): one code table, one exception."""

from enum import IntEnum

from vault.errors import TestigoError


class ErrorCode(IntEnum):
    """Error codes shared by the data channel and the HTTPS fallback."""

    MALFORMED = 1
    UNSUPPORTED_VERSION = 2
    UNKNOWN_DEVICE = 3
    BAD_HEADER = 4
    BAD_SIGNATURE = 5
    WRONG_RECORDING = 6
    TOO_LARGE = 7
    CONFLICT = 8
    RECORDING_LIMIT = 9
    RATE_LIMITED = 10
    BUSY = 11
    STORAGE_FAILURE = 12
    NO_HEADER = 13
    UNAUTHORIZED = 14
    NOT_FOUND = 15
    OVERLOADED = 16

    @property
    def wire_name(self) -> str:
        return self.name.lower()

    @property
    def http_status(self) -> int:
        return _HTTP_STATUS[self]

    @property
    def fatal(self) -> bool:
        """Whether the relay closes the data channel after this error."""
        return self in _FATAL


_HTTP_STATUS = {
    ErrorCode.MALFORMED: 400,
    ErrorCode.UNSUPPORTED_VERSION: 400,
    ErrorCode.UNKNOWN_DEVICE: 403,
    ErrorCode.BAD_HEADER: 422,
    ErrorCode.BAD_SIGNATURE: 422,
    ErrorCode.WRONG_RECORDING: 422,
    ErrorCode.TOO_LARGE: 413,
    ErrorCode.CONFLICT: 409,
    ErrorCode.RECORDING_LIMIT: 422,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.BUSY: 503,
    ErrorCode.STORAGE_FAILURE: 503,
    ErrorCode.NO_HEADER: 409,
    ErrorCode.UNAUTHORIZED: 401,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.OVERLOADED: 503,
}

_FATAL = frozenset(
    {
        ErrorCode.MALFORMED,
        ErrorCode.UNSUPPORTED_VERSION,
        ErrorCode.UNKNOWN_DEVICE,
        ErrorCode.BAD_HEADER,
        ErrorCode.BUSY,
        ErrorCode.OVERLOADED,
    }
)


class RelayError(TestigoError):
    """Raised when the relay refuses a request (on the relay, and where a client reads
    the refusal); `code` says why (docs/PROTOCOL.md section 5)."""

    hint = "the relay refused it; docs/PROTOCOL.md section 5 says what each code means"

    def __init__(self, code: ErrorCode, message: str, *, index: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.index = index


class StorageError(TestigoError):
    """Raised when the storage cannot durably keep or read an object; never answered by a
    receipt."""

    hint = "check the disk or the S3 endpoint; the client retries later"
