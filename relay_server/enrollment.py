"""Enrolled devices, capability tokens and alert targets (docs/PROTOCOL.md §1, §13).

One JSON record per enrolled device in the storage. A capability token is shown once,
when minted; only its hash is kept, and tokens are compared by hash in constant time.
The record also lists where to send alerts when the device starts a recording.
"""

import asyncio
import base64
import dataclasses
import hmac
import json
import re
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, Self
from urllib.parse import urlsplit

from relay_server.storage import Storage
from vault import DeviceKey
from vault import _primitives as p
from vault._primitives import hash32
from vault.errors import MalformedError, TestigoError

TOKEN_PREFIX: Final = "tg-token-"  # noqa: S105 - a prefix, not a secret
TOKEN_CONTEXT: Final = b"testigo/v1 relay-token"
TOKEN_BYTES: Final = 32
RECORD_VERSION: Final = 1
MAX_ALERT_TARGETS: Final = 32
MAX_TARGET_LENGTH: Final = 2048
UPLOAD_CHECK_S: Final = 2.0
MAY_UPLOAD_CACHE_SIZE: Final = 10_000
_EMAIL = re.compile(r"^[^@\s<>,;:\"()\[\]\\]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$")


def token_hash(token_bytes: bytes) -> bytes:
    """H("testigo/v1 relay-token" || token): BLAKE2b-256, as FORMAT.md's H."""
    return hash32(TOKEN_CONTEXT + token_bytes)


_DECOY_TOKEN: Final = bytes(TOKEN_BYTES)  # hashed in place of a malformed token
_DECOY_HASH: Final = token_hash(b"decoy")  # compared against when a device has no tokens


def parse_token(text: str) -> bytes | None:
    """The token's bytes, or None when text is not a well-formed token."""
    text = text.strip()
    if not text.startswith(TOKEN_PREFIX):
        return None
    encoded = text[len(TOKEN_PREFIX) :].upper()
    try:
        data = base64.b32decode(encoded + "=" * (-len(encoded) % 8))
    except ValueError:
        return None
    return data if len(data) == TOKEN_BYTES else None


def token_id_of(stored_hash: bytes) -> str:
    """A token's short public name (from its stored hash): what an operator lists and
    revokes it by. It says nothing that would let anyone use the token."""
    return stored_hash[:4].hex()


def new_token() -> tuple[str, bytes]:
    """A fresh token as (text shown to the operator, hash to store)."""
    raw = secrets.token_bytes(TOKEN_BYTES)
    text = TOKEN_PREFIX + base64.b32encode(raw).decode("ascii").rstrip("=").lower()
    return text, token_hash(raw)


class AlertKind(StrEnum):
    WEBHOOK = "webhook"
    EMAIL = "email"


class AlertTargetError(TestigoError):
    """Raised when an alert target is one the relay cannot use."""

    hint = "a webhook is an http(s):// URL, an email target is one address"


@dataclass(frozen=True)
class AlertTarget:
    """Where to say that a recording started: a webhook URL or an email address."""

    kind: AlertKind
    target: str

    def __post_init__(self) -> None:
        if not isinstance(self.kind, AlertKind):
            raise AlertTargetError(f"unknown alert kind {self.kind!r}")
        text = self.target
        if not text or len(text) > MAX_TARGET_LENGTH or text != text.strip():
            raise AlertTargetError(f"an alert target is 1..{MAX_TARGET_LENGTH} characters")
        if any(ord(c) < 0x21 or ord(c) == 0x7F for c in text):
            raise AlertTargetError("an alert target has no spaces or control characters")
        if self.kind is AlertKind.WEBHOOK:
            parts = urlsplit(text)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise AlertTargetError("a webhook target is an http:// or https:// URL")
        elif not _EMAIL.match(text):
            raise AlertTargetError("an email target is one address, like name@example.org")

    @classmethod
    def make(cls, kind: str, target: str) -> "AlertTarget":
        try:
            alert_kind = AlertKind(kind)
        except ValueError:
            raise AlertTargetError(f"unknown alert kind {kind!r}: webhook or email") from None
        return cls(alert_kind, target.strip())

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind.value, "target": self.target}


@dataclass(frozen=True)
class DeviceRecord:
    device: DeviceKey
    enrolled_ms: int
    token_hashes: tuple[bytes, ...] = ()
    alerts: tuple[AlertTarget, ...] = ()
    revoked_ms: int | None = None  # a seized device: no more uploads; reading still works

    def to_bytes(self) -> bytes:
        document: dict[str, object] = {
            "testigo-relay-device": RECORD_VERSION,
            "device": str(self.device),
            "enrolled_ms": self.enrolled_ms,
            "token_hashes": [h.hex() for h in self.token_hashes],
            "alerts": [a.to_json() for a in self.alerts],
            "revoked_ms": self.revoked_ms,
        }
        return (json.dumps(document, indent=2) + "\n").encode()

    @classmethod
    def parse(cls, data: bytes) -> Self:
        try:
            document = json.loads(data)
            if not isinstance(document, dict) or document.get("testigo-relay-device") != 1:
                raise MalformedError("not a relay device record")
            device = DeviceKey.parse(str(document["device"]))
            enrolled_ms = int(document["enrolled_ms"])
            hashes = tuple(bytes.fromhex(str(h)) for h in document["token_hashes"])
            alerts = tuple(
                AlertTarget.make(str(a["kind"]), str(a["target"]))
                for a in document.get("alerts", [])
            )
            revoked = document.get("revoked_ms")
            revoked_ms = None if revoked is None else int(revoked)
        except (ValueError, KeyError, TypeError, AlertTargetError):
            raise MalformedError("damaged relay device record") from None
        return cls(device, enrolled_ms, hashes, alerts, revoked_ms)


# Parsed in place of a missing device record, so that an unknown device and an enrolled
# one cost a reader the same work (bench/enrollment_oracle.py measures what is left).
_DECOY_RECORD: Final = DeviceRecord(
    DeviceKey(p.ed25519_keypair(bytes(32))[0]), 0, (bytes(32),)
).to_bytes()


class Enrollment:
    """The operator's view of enrolled devices; the relay asks `is_enrolled`."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage
        self._lock = asyncio.Lock()
        # bounded: every device key a stranger makes up would otherwise stay here
        self._may_upload: OrderedDict[bytes, tuple[float, bool]] = OrderedDict()

    async def record(self, device: bytes) -> DeviceRecord | None:
        data = await self._storage.read_device_record(device)
        if data is None:
            DeviceRecord.parse(_DECOY_RECORD)  # the same parsing work as for a known device
            return None
        record = DeviceRecord.parse(data)
        return record if record.device.raw == device else None

    async def is_enrolled(self, device: bytes) -> bool:
        return await self.record(device) is not None

    async def may_upload(self, device: bytes) -> bool:
        """Enrolled and not revoked. Cached for UPLOAD_CHECK_S, so a revocation made by
        another process (testigo relay revoke) takes effect within that time."""
        now = time.monotonic()
        cached = self._may_upload.get(device)
        if cached is not None and now - cached[0] < UPLOAD_CHECK_S:
            return cached[1]
        record = await self.record(device)
        allowed = record is not None and record.revoked_ms is None
        self._may_upload[device] = (now, allowed)
        self._may_upload.move_to_end(device)
        while len(self._may_upload) > MAY_UPLOAD_CACHE_SIZE:
            self._may_upload.popitem(last=False)
        return allowed

    async def revoke(self, device: DeviceKey) -> bool:
        """Refuse every further upload by device (its stored recordings stay readable).
        False when it already was revoked."""
        async with self._lock:
            record = await self.record(device.raw)
            if record is None:
                raise TestigoError("this device is not enrolled", hint="see testigo relay enroll")
            if record.revoked_ms is not None:
                return False
            updated = dataclasses.replace(record, revoked_ms=time.time_ns() // 1_000_000)
            await self._storage.write_device_record(device.raw, updated.to_bytes())
            self._may_upload.pop(device.raw, None)
            return True

    async def enroll(self, device: DeviceKey) -> bool:
        """Enroll device; False when it already was (its tokens are kept). A revoked
        device is not enrolled again by this: `reinstate` says so deliberately."""
        async with self._lock:
            record = await self.record(device.raw)
            if record is not None and record.revoked_ms is not None:
                raise TestigoError(
                    "this device was revoked; enrolling it again does not undo that",
                    hint="if its key is safe again (the phone is back and trusted): "
                    "testigo relay reinstate DEVICE_KEY",
                )
            if record is not None:
                return False
            record = DeviceRecord(device, time.time_ns() // 1_000_000)
            await self._storage.write_device_record(device.raw, record.to_bytes())
            self._may_upload.pop(device.raw, None)  # enrolled by this process: at once
            return True

    async def reinstate(self, device: DeviceKey) -> bool:
        """Let a revoked device upload again; False when it was not revoked."""
        async with self._lock:
            record = await self._known(device)
            if record.revoked_ms is None:
                return False
            updated = dataclasses.replace(record, revoked_ms=None)
            await self._storage.write_device_record(device.raw, updated.to_bytes())
            self._may_upload.pop(device.raw, None)
            return True

    async def devices(self) -> list[DeviceRecord]:
        """Every device record in the storage (damaged ones skipped)."""
        records = []
        for device in await self._storage.list_devices():
            try:
                record = await self.record(device)
            except MalformedError:
                continue
            if record is not None:
                records.append(record)
        return sorted(records, key=lambda r: r.enrolled_ms)

    async def revoke_token(self, device: DeviceKey, token_id: str) -> bool:
        """Withdraw the token whose id (`token_id`) is given; the others keep working.
        False when the device has no such token."""
        async with self._lock:
            record = await self._known(device)
            kept = tuple(h for h in record.token_hashes if token_id_of(h) != token_id.lower())
            if len(kept) == len(record.token_hashes):
                return False
            updated = dataclasses.replace(record, token_hashes=kept)
            await self._storage.write_device_record(device.raw, updated.to_bytes())
            return True

    async def remove_alert_target(self, device: DeviceKey, target: AlertTarget) -> bool:
        """Stop alerting target; False when it was not one."""
        async with self._lock:
            record = await self._known(device)
            if target not in record.alerts:
                return False
            kept = tuple(a for a in record.alerts if a != target)
            updated = dataclasses.replace(record, alerts=kept)
            await self._storage.write_device_record(device.raw, updated.to_bytes())
            return True

    async def _known(self, device: DeviceKey) -> DeviceRecord:
        record = await self.record(device.raw)
        if record is None:
            raise TestigoError(
                "this device is not enrolled", hint="list them with: testigo relay devices"
            )
        return record

    async def mint_token(self, device: DeviceKey) -> str:
        """A new capability token for reading device's recordings. Shown once."""
        async with self._lock:
            record = await self.record(device.raw)
            if record is None:
                raise TestigoError(
                    "this device is not enrolled", hint="enroll it first: testigo relay enroll"
                )
            text, hashed = new_token()
            updated = dataclasses.replace(record, token_hashes=(*record.token_hashes, hashed))
            await self._storage.write_device_record(device.raw, updated.to_bytes())
            return text

    async def add_alert_target(self, device: DeviceKey, target: AlertTarget) -> bool:
        """Alert target when device starts a recording; False when it already was one."""
        async with self._lock:
            record = await self.record(device.raw)
            if record is None:
                raise TestigoError(
                    "this device is not enrolled", hint="enroll it first: testigo relay enroll"
                )
            if target in record.alerts:
                return False
            if len(record.alerts) >= MAX_ALERT_TARGETS:
                raise AlertTargetError(f"a device has at most {MAX_ALERT_TARGETS} alert targets")
            updated = dataclasses.replace(record, alerts=(*record.alerts, target))
            await self._storage.write_device_record(device.raw, updated.to_bytes())
            return True

    async def alert_targets(self, device: bytes) -> tuple[AlertTarget, ...]:
        record = await self.record(device)
        return () if record is None else record.alerts

    async def check_token(self, device: bytes, token: str) -> bool:
        """True when token reads device's recordings. Constant time in the token."""
        raw = parse_token(token)
        record = await self.record(device)
        # The same work whether the device is unknown or the token wrong: a hash and a
        # comparison against at least one stored hash (a decoy when there is none).
        presented = token_hash(raw if raw is not None else _DECOY_TOKEN)
        stored_hashes = record.token_hashes if record is not None else ()
        found = False
        for stored in stored_hashes or (_DECOY_HASH,):
            found |= hmac.compare_digest(presented, stored)
        return found and raw is not None and record is not None
