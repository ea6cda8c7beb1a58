"""TURN logins, only for enrolled devices that prove themselves (docs/PROTOCOL.md §3.1).

A TURN login is a free relay for whoever holds it, so GET /v1/webrtc/config gives one
only with a valid device proof (vault/wire/device_proof.py); everybody else gets the
STUN URLs alone. With `turn_secret_file` a login is made per request and expires, as in
the TURN REST API draft (coturn `use-auth-secret`):

    username   = "<expiry, Unix seconds>:<random id>"
    credential = base64(HMAC-SHA1(shared secret, username))

HMAC-SHA1 is the TURN server's scheme, not Testigo's cryptography. The random id names
no device: the TURN server's logs cannot tell devices apart by it.
"""

import base64
import hashlib
import hmac
import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Final

from relay_server.logs import log_event
from relay_server.settings import Settings, SettingsError
from vault.errors import MalformedError
from vault.keys import DeviceKey, RelayKey
from vault.wire.device_proof import ICE_PROOF_CONTEXT, PROOF_WINDOW_MS, DeviceProof
from vault.wire.documents import IceConfig, IceServer

RELAY_LOGIN_ID: Final = "relay"  # the opaque id of the relay's own TURN logins
PROOF_MEMORY_DEVICES: Final = 65_536  # devices whose last proof time is remembered


def read_secret_file(path: str, setting: str) -> bytes:
    """The secret in the file at path (one line; its line ending is not part of it)."""
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise SettingsError(
            f"setting {setting}: cannot read {path}: {error.strerror or error}"
        ) from None
    secret = data.rstrip(b"\r\n")
    if not secret:
        raise SettingsError(f"setting {setting}: {path} is empty")
    return secret


def turn_login(secret: bytes, expiry_s: int, opaque_id: str) -> tuple[str, str]:
    """A TURN REST API login (username, credential) valid until expiry_s."""
    username = f"{expiry_s}:{opaque_id}"
    digest = hmac.new(secret, username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode("ascii")


class IceLogins:
    """The ICE servers for strangers, for proven devices, and for the relay itself."""

    def __init__(
        self,
        urls: tuple[str, ...],
        *,
        secret: bytes | None = None,
        ttl_s: int = 3600,
        static: tuple[str, str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._urls = urls
        self._secret = secret
        self._ttl_s = ttl_s
        self._static = static
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: Settings) -> "IceLogins":
        """The logins settings name, their secret files read now (a bad file fails here)."""
        secret = None
        static = None
        if settings.turn_secret_file:
            secret = read_secret_file(settings.turn_secret_file, "turn_secret_file")
        if settings.ice_username:
            credential = read_secret_file(settings.ice_credential_file, "ice_credential_file")
            try:
                static = (settings.ice_username, credential.decode())
            except UnicodeDecodeError:
                raise SettingsError("setting ice_credential_file: not UTF-8 text") from None
        return cls(
            settings.ice_server_urls,
            secret=secret,
            ttl_s=settings.turn_credential_seconds,
            static=static,
        )

    def _login(self, opaque_id: str) -> tuple[str, str] | None:
        if self._secret is not None:
            expiry_s = int(self._clock()) + self._ttl_s
            return turn_login(self._secret, expiry_s, opaque_id)
        return self._static

    def stun_only(self) -> IceConfig:
        """What a stranger gets: the STUN URLs (no TURN URL, no login)."""
        stun = tuple(u for u in self._urls if u.startswith("stun:"))
        return IceConfig((IceServer(stun),)) if stun else IceConfig()

    def for_device(self) -> IceConfig:
        """What a proven device gets: every URL, with a TURN login when there is one."""
        if not self._urls:
            return IceConfig()
        login = self._login(secrets.token_hex(8))
        if login is None:
            return IceConfig((IceServer(self._urls),))
        return IceConfig((IceServer(self._urls, *login),))

    def for_relay(self) -> IceServer | None:
        """The relay's own ICE servers for one peer connection."""
        if not self._urls:
            return None
        login = self._login(RELAY_LOGIN_ID)
        return IceServer(self._urls, *login) if login else IceServer(self._urls)


class DeviceProofs:
    """Checks device proofs: signature, time window, enrolled and not revoked, and fresh
    (a device's accepted proof times only ever grow, so a proof works once)."""

    def __init__(
        self,
        relay_key: RelayKey,
        may_upload: Callable[[bytes], Awaitable[bool]],
        *,
        clock_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
    ) -> None:
        self._relay_key = relay_key
        self._may_upload = may_upload
        self._clock_ms = clock_ms
        self._last: OrderedDict[bytes, int] = OrderedDict()

    async def device(
        self, authorization: str, *, purpose: bytes = ICE_PROOF_CONTEXT, subject: bytes = b""
    ) -> DeviceKey | None:
        """The device that proved itself in the Authorization header value for purpose
        (and subject), or None (the reason is logged; the caller answers every refusal
        alike)."""
        if not authorization:
            return None
        try:
            proof = DeviceProof.parse(authorization)
        except MalformedError:
            return self._refused("malformed")
        if abs(proof.time_ms - self._clock_ms()) > PROOF_WINDOW_MS:
            return self._refused("stale")
        if not proof.verify(self._relay_key, purpose=purpose, subject=subject):
            # checked before enrollment: a forger learns nothing
            return self._refused("bad_signature")
        device = proof.device.raw
        remembered = purpose + device  # a proof's time is fresh for its own purpose
        if not await self._may_upload(device):
            return self._refused("unknown_device")
        last = self._last.get(remembered)
        if last is not None and proof.time_ms <= last:  # no await since the lookup
            return self._refused("replayed")
        self._last[remembered] = proof.time_ms
        self._last.move_to_end(remembered)
        while len(self._last) > PROOF_MEMORY_DEVICES:
            self._last.popitem(last=False)
        return proof.device

    @staticmethod
    def _refused(reason: str) -> None:
        log_event(logging.INFO, "ice.proof_refused", reason=reason)
        return None
