"""How a browser authenticates a live WebSocket (docs/PROTOCOL.md §12.1).

A browser cannot set an `Authorization` header on a WebSocket, and tokens must not go in
URLs (they end up in logs and histories). A browser can name a WebSocket subprotocol: a
viewer that asks for `LIVE_AUTH_PROTOCOL` sends its token as the first message, one text
message, before the relay sends anything:

    testigo-live-auth/1 tg-token-…

A request with neither that subprotocol nor the header is refused before the upgrade
(`401`), as before.

The relay closes the socket with an application close code when it is anything else,
late, or not a token for the device in the path; every failure of the token itself is
the same `CLOSE_UNAUTHORIZED`, as the `401` of the header path.
"""

import re
from dataclasses import dataclass
from typing import Final, Self

from vault.errors import MalformedError

LIVE_AUTH_PROTOCOL: Final = "testigo-live-auth.v1"  # Sec-WebSocket-Protocol
LIVE_AUTH_PREFIX: Final = "testigo-live-auth/1 "
MAX_LIVE_AUTH: Final = 128  # characters: the prefix and a 61-character token, with room
LIVE_AUTH_SECONDS: Final = 5.0  # the relay waits this long for the first message

CLOSE_UNAUTHORIZED: Final = 4401  # no, a malformed, late or wrong token
CLOSE_BUSY: Final = 4503  # too many live viewers (as `busy`, §5)

# The text form of a capability token (PROTOCOL.md §1): "tg-token-" and 52 base32 letters.
CAPABILITY_TOKEN: Final = re.compile(r"tg-token-[a-z2-7]{52}")


@dataclass(frozen=True)
class LiveAuth:
    """The first message of a browser's live WebSocket: its capability token (§1)."""

    token: str

    def __post_init__(self) -> None:
        if not CAPABILITY_TOKEN.fullmatch(self.token):
            raise MalformedError("not a capability token")

    def __str__(self) -> str:
        return LIVE_AUTH_PREFIX + self.token

    @classmethod
    def parse(cls, text: str) -> Self:
        if len(text) > MAX_LIVE_AUTH or not text.startswith(LIVE_AUTH_PREFIX):
            raise MalformedError("not a live authentication message")
        return cls(text[len(LIVE_AUTH_PREFIX) :])
