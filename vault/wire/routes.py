"""The relay's HTTP routes (docs/PROTOCOL.md §3.1, §4, §6, §10, §12, §15), spelled once.

The relay registers `Route.template`s with aiohttp; clients build URLs with `Route.url`.
Path parameters are `{device}` (a `tg-device-…` key string) and `{recording_id}` (32
lower-case hex digits).
"""

import re
from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class Route:
    template: str

    def path(self, **params: str) -> str:
        return re.sub(r"\{(\w+):[^}]*\}", r"{\1}", self.template).format(**params)

    def url(self, relay_url: str, **params: str) -> str:
        """relay_url (with or without a trailing slash) joined with this route's path."""
        return relay_url.rstrip("/") + self.path(**params)


WEBRTC_CONFIG: Final = Route("/v1/webrtc/config")
WEBRTC_OFFER: Final = Route("/v1/webrtc/offer")
HEADERS: Final = Route("/v1/headers")
ENROLL: Final = Route("/v1/enroll")  # self-enrollment with an invite (§15)
CHUNKS: Final = Route("/v1/recordings/{device}/{recording_id}/chunks")
RECORDINGS: Final = Route("/v1/devices/{device}/recordings")
ARCHIVE: Final = Route("/v1/devices/{device}/recordings/{recording_id}/archive")
RECEIPTS: Final = Route("/v1/devices/{device}/recordings/{recording_id}/receipts")
LIVE: Final = Route("/v1/devices/{device}/live")
TOKENS: Final = Route("/v1/devices/{device}/tokens")  # the device mints a read token
TOKEN: Final = Route("/v1/devices/{device}/tokens/{token_id}")  # … and withdraws one
METRICS: Final = Route("/metrics")
HEALTHZ: Final = Route("/healthz")
APP: Final = Route("/app/{path:.*}")  # the browser app (relay_server/web/)

RECEIPT_TYPE: Final = "application/vnd.testigo.receipt"
RECORDING_TYPE: Final = "application/vnd.testigo.recording"
RECEIPTS_TYPE: Final = "application/vnd.testigo.receipts"
