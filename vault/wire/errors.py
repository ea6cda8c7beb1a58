"""The relay's refusals (docs/PROTOCOL.md §5): one code table, one exception, one body.

The same codes travel in a data channel ERROR message (`vault.wire.datachannel`) and in
the JSON body of an HTTPS error answer (`ErrorBody`, below); both ends use this module,
so a code, its HTTP status and whether it ends a data channel session are said once.
"""

import json
from dataclasses import dataclass
from enum import IntEnum
from typing import Self

from vault.errors import MalformedError, TestigoError


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
    INVITE_UNUSABLE = 17

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

    @classmethod
    def of(cls, code: int) -> "ErrorCode":
        """The code for a number read off the wire; unknown numbers read as MALFORMED."""
        try:
            return cls(code)
        except ValueError:
            return cls.MALFORMED


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
    ErrorCode.INVITE_UNUSABLE: 403,
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


MAX_ERROR_BODY = 4096


@dataclass(frozen=True)
class ErrorBody:
    """The JSON body of an HTTPS error answer (PROTOCOL.md §4):
    `{"error": {"code": 8, "name": "conflict", "message": "…", "index": 3}}`."""

    code: ErrorCode
    message: str
    index: int | None = None

    @classmethod
    def of(cls, error: RelayError) -> Self:
        return cls(error.code, str(error), error.index)

    def to_json(self) -> dict[str, dict[str, int | str]]:
        fields: dict[str, int | str] = {
            "code": int(self.code),
            "name": self.code.wire_name,
            "message": self.message,
        }
        if self.index is not None:
            fields["index"] = self.index
        return {"error": fields}

    def __bytes__(self) -> bytes:
        return json.dumps(self.to_json()).encode()

    @classmethod
    def parse(cls, data: bytes) -> Self:
        """The body of an error answer; MalformedError when it is not one (for example a
        proxy's HTML page, or another server altogether)."""
        if len(data) > MAX_ERROR_BODY:
            raise MalformedError("error body too large")
        try:
            fields = json.loads(data)["error"]
            code, message, index = fields["code"], fields["message"], fields.get("index")
        except (ValueError, KeyError, TypeError):
            raise MalformedError("not a Testigo relay error body") from None
        if (
            not isinstance(code, int)
            or not isinstance(message, str)
            or not (index is None or isinstance(index, int))
        ):
            raise MalformedError("not a Testigo relay error body")
        return cls(ErrorCode.of(code), message, index)

    def error(self) -> RelayError:
        return RelayError(self.code, self.message, index=self.index)
